"""Checks every task shares: the MS list, name lists, the output stem.

Each raises before any work, naming the parameter and the value given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping


def check_vis(vis: list[str], param: str = "vis") -> tuple[str, ...]:
    """Absolute paths of existing MSs; FileNotFoundError/ValueError naming the parameter."""
    if not vis or any(not v.strip() for v in vis):
        raise ValueError(f"{param} must list one or more measurement sets, got {vis!r}")
    paths = tuple(os.path.abspath(os.path.expanduser(v)) for v in vis)
    for given, p in zip(vis, paths, strict=True):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{param}: measurement set {given!r} does not exist")
        if not (os.path.isdir(p) and os.path.isfile(os.path.join(p, "table.dat"))):
            raise ValueError(f"{param}: {given!r} is not a measurement set (no table.dat)")
    dup = {p for p in paths if paths.count(p) > 1}
    if dup:
        raise ValueError(f"{param} lists the same measurement set twice: {sorted(dup)}")
    return paths


def split_names(values: list[str]) -> tuple[str, ...]:
    """['a,b', 'c'] -> ('a', 'b', 'c'): CASA users write lists and comma strings."""
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


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
