"""Output files of the tasks: written under temporary names, renamed together at the end.

A task that fails half-way leaves neither partial files nor a mix of old and new
products; a user's earlier products survive until the new set is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np


def json_safe(obj: Any) -> Any:
    """NaN and infinities are not JSON: write null; numpy values become Python ones."""
    if isinstance(obj, np.generic | np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_json(path: str, record: Mapping[str, Any]) -> None:
    """A task's return record as JSON (NaN as null)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(json_safe(dict(record)), fh, indent=1)


@contextmanager
def staged(paths: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Temporary names next to each final path; all renamed on success, removed on failure.

    The temporary names keep the final extension: some writers choose their
    format from it.
    """
    tmp = {}
    for key, path in paths.items():
        head, name = os.path.split(path)
        stem, ext = os.path.splitext(name)
        tmp[key] = os.path.join(head or ".", f".{stem}.tmp{os.getpid()}{ext}")
    try:
        yield tmp
        for key, path in paths.items():
            os.replace(tmp[key], path)
    finally:
        for t in tmp.values():
            if os.path.exists(t):
                os.remove(t)


def check_outfile(
    outfile: str, overwrite: bool, paths_of: Callable[[str], Mapping[str, str]]
) -> str:
    """The absolute output stem ('' for none), checked before any work starts.

    paths_of(stem) gives the files a task writes for that stem; existing ones are
    refused unless overwrite.
    """
    if not outfile.strip():
        return ""
    stem = os.path.abspath(os.path.expanduser(outfile))
    parent = os.path.dirname(stem)
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"outfile {outfile!r}: directory {parent!r} does not exist")
    existing = [p for p in paths_of(stem).values() if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f"outfile {outfile!r}: {', '.join(existing)} exist; set overwrite=True to replace"
        )
    return stem
