"""Checks every task shares: the MS list, name lists, output locations.

Each raises before any work, naming the parameter and the value given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping


def check_vis(vis: list[str], param: str = "vis") -> tuple[str, ...]:
    """Absolute paths of existing MSs; FileNotFoundError/ValueError naming the parameter.

    Two names of one MS (a symlink, a relative and an absolute path) are a duplicate:
    they are compared by their real paths.
    """
    if not vis or any(not v.strip() for v in vis):
        raise ValueError(f"{param} must list one or more measurement sets, got {vis!r}")
    paths = tuple(os.path.abspath(os.path.expanduser(v)) for v in vis)
    for given, p in zip(vis, paths, strict=True):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{param}: measurement set {given!r} does not exist")
        if not (os.path.isdir(p) and os.path.isfile(os.path.join(p, "table.dat"))):
            raise ValueError(f"{param}: {given!r} is not a measurement set (no table.dat)")
    names: dict[str, list[str]] = {}
    for given, p in zip(vis, paths, strict=True):
        names.setdefault(os.path.realpath(p), []).append(given)
    dup = [given for given in names.values() if len(given) > 1]
    if dup:
        raise ValueError(
            f"{param} lists the same measurement set twice: "
            + "; ".join(" and ".join(repr(g) for g in given) for given in dup)
        )
    return paths


def split_names(values: list[str]) -> tuple[str, ...]:
    """['a,b', 'c'] -> ('a', 'b', 'c'): CASA users write lists and comma strings."""
    return tuple(s.strip() for v in values for s in v.split(",") if s.strip())


def check_writable_dir(directory: str, what: str) -> None:
    """PermissionError (OSError) starting with `what` when no file can be made in directory.

    A probe file is created and removed: os.access cannot see everything that refuses a
    write (an immutable flag, a server that squashes root, some ACLs).
    """
    probe = os.path.join(directory, f".almacal-probe{os.getpid()}")
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise type(exc)(f"{what}: cannot write in {directory!r} ({exc.strerror})") from None
    os.close(fd)
    os.remove(probe)


def check_writable_ms(
    path: str, param: str = "vis", tables: tuple[str, ...] = ("HISTORY",)
) -> None:
    """PermissionError naming param when the MS (its main table and these subtables: the
    task adds columns, writes cells, appends HISTORY rows) cannot be written."""
    for table in ("", *tables):
        directory = os.path.join(path, table)
        what = f"{param} {path!r}" + (f" ({table} table)" if table else "")
        check_writable_dir(directory, f"{what} is not writable")
        with os.scandir(directory) as entries:
            files = [e.path for e in entries if e.is_file(follow_symlinks=False)]
        for f in files:
            if not os.access(f, os.W_OK):
                raise PermissionError(f"{what} is not writable: {f} is read-only")


def check_outfile(
    outfile: str, overwrite: bool, paths_of: Callable[[str], Mapping[str, str]]
) -> str:
    """The absolute output stem ('' for none), checked before any work starts.

    paths_of(stem) gives the files a task writes for that stem; existing ones are
    refused unless overwrite; their directory must exist and be writable.
    """
    if not outfile.strip():
        return ""
    stem = os.path.abspath(os.path.expanduser(outfile))
    parent = os.path.dirname(stem)
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"outfile {outfile!r}: directory {parent!r} does not exist")
    check_writable_dir(parent, f"outfile {outfile!r}")
    existing = [p for p in paths_of(stem).values() if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f"outfile {outfile!r}: {', '.join(existing)} exist; set overwrite=True to replace"
        )
    return stem
