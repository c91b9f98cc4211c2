"""Output files of the tasks: written under temporary names, renamed together at the end.

A task that fails half-way leaves neither partial files nor a mix of old and new
products; a user's earlier products survive until the new set is complete.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from almacal.casatask.log import casalog


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


def temporary_name(path: str) -> str:
    """The hidden temporary name a product is written under, next to its final path.

    It keeps the final extension: some writers choose their format from it.
    """
    head, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    return os.path.join(head or ".", f".{stem}.tmp{os.getpid()}{ext}")


def remove_path(path: str) -> None:
    """Remove a file or a directory tree (an MS, a caltable); nothing if absent."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


@contextmanager
def staged(paths: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Temporary names next to each final path; all renamed on success, removed on failure.

    A product may be a file or a directory (a caltable, a split MS). A final path
    that exists is replaced (the caller checked overwrite) with a warning.
    """
    tmp = {key: temporary_name(path) for key, path in paths.items()}
    try:
        yield tmp
        for key, path in paths.items():
            if os.path.isdir(path) and not os.path.islink(path):
                casalog.post("Replacing %s" % path, "WARN")
                shutil.rmtree(path)
            os.replace(tmp[key], path)
    finally:
        for t in tmp.values():
            remove_path(t)
