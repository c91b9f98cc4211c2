"""Output files of the tasks: written under temporary names, renamed together at the end.

A task that fails half-way leaves neither partial files nor a mix of old and new
products; a user's earlier products survive until the new set is complete.

Crash safety (issue 11):
- each final name (and each input MS a task changes) is *claimed* for the whole run by
  an flock on a hidden `.<name>.almacal-claim` file beside it: a second run that
  would write the same name fails at once with OutputBusyError instead of silently
  replacing the first run's work. The kernel drops the flock when its process dies,
  so a killed run never leaves a claim that blocks the next one; the file itself is
  removed by whoever releases it, or by the next run that claims it.
- temporary products `.<stem>.tmp<PID><ext>` of processes that no longer run (a killed
  run) are removed, with a log line, by the next run that stages the same names.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
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


def temporary_name(path: str, pid: int | None = None) -> str:
    """The hidden temporary name a product is written under, next to its final path.

    It keeps the final extension: some writers choose their format from it.
    """
    head, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    return os.path.join(head or ".", f".{stem}.tmp{os.getpid() if pid is None else pid}{ext}")


def remove_path(path: str) -> None:
    """Remove a file or a directory tree (an MS, a caltable); nothing if absent."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def run_stamp() -> str:
    """Who runs and since when: 'pid N on host, YYYY-MM-DD HH:MM:SS UTC'."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()} on {socket.gethostname()}, {now}"


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def remove_stale_temporaries(paths: Iterable[str]) -> list[str]:
    """Remove the temporary products of dead processes for these final paths; their names."""
    removed = []
    for path in paths:
        head, name = os.path.split(path)
        stem, ext = os.path.splitext(name)
        pattern = re.compile(re.escape(f".{stem}.tmp") + r"(\d+)" + re.escape(ext))
        try:
            entries = os.listdir(head or ".")
        except OSError:
            continue
        for entry in entries:
            m = pattern.fullmatch(entry)
            if m is None or int(m.group(1)) == os.getpid() or process_alive(int(m.group(1))):
                continue
            stale = os.path.join(head or ".", entry)
            remove_path(stale)
            casalog.post(
                "Removed %s: a temporary product of process %s, which no longer runs "
                "(an interrupted run)" % (stale, m.group(1)),
                "WARN",
            )
            removed.append(stale)
    return removed


class OutputBusyError(FileExistsError):
    """Another run holds the claim on an output name (or on an MS it is changing)."""


def claim_name(path: str) -> str:
    """The hidden file whose flock claims path for one run."""
    head, name = os.path.split(path)
    return os.path.join(head or ".", f".{name}.almacal-claim")


# Claims of this process: flock excludes other open files, but a path claimed twice in
# one process (two threads) must be refused here, whatever the file system's flock does.
_HELD: set[str] = set()
_HELD_LOCK = threading.Lock()


class _Claim:
    """An flock on claim_name(path), held until release()."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.file = claim_name(self.path)
        with _HELD_LOCK:
            if self.path in _HELD:
                raise OutputBusyError(
                    f"{self.path!r} is in use by another almacal run in this process"
                )
            _HELD.add(self.path)
        try:
            self.fd = self._lock()
        except BaseException:
            with _HELD_LOCK:
                _HELD.discard(self.path)
            raise

    def _lock(self) -> int:
        while True:
            try:
                fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise type(exc)(
                    f"{self.path!r}: cannot write in {os.path.dirname(self.file)!r} "
                    f"({exc.strerror}), where almacal claims it for this run"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                os.close(fd)
                raise OutputBusyError(
                    f"{self.path!r} is in use by another almacal run ({holder or 'unknown'}): "
                    "wait until it finishes, or choose another output name"
                ) from None
            if self._still_there(fd):
                os.ftruncate(fd, 0)
                os.write(fd, run_stamp().encode())
                return fd
            os.close(fd)  # its last holder removed it after we opened it: claim the new one

    def _still_there(self, fd: int) -> bool:
        try:
            return os.stat(self.file).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        try:
            os.remove(self.file)  # while still locked: nobody claims a file about to vanish
        except FileNotFoundError:
            pass
        os.close(self.fd)
        with _HELD_LOCK:
            _HELD.discard(self.path)


@contextmanager
def claimed(paths: Iterable[str]) -> Iterator[None]:
    """Exclusive claims on paths for the duration of the block (OutputBusyError if another
    run holds one); released in reverse order, also on failure."""
    held: list[_Claim] = []
    try:
        for p in dict.fromkeys(os.path.abspath(p) for p in paths):
            held.append(_Claim(p))
        yield
    finally:
        for c in reversed(held):
            c.release()


class Staged(Mapping[str, str]):
    """key -> the temporary name each product is written under; commit() renames them.

    A task that changes an input MS commits the products that belong to it before the
    MS's HISTORY says so (relcal_apply inplace per MS, b2b_phasetransfer), so a failure
    later on leaves each MS either untouched or complete with its products.
    """

    def __init__(self, paths: Mapping[str, str]) -> None:
        self.final = dict(paths)
        self._tmp = {key: temporary_name(path) for key, path in paths.items()}
        self._committed: set[str] = set()

    def __getitem__(self, key: str) -> str:
        return self._tmp[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tmp)

    def __len__(self) -> int:
        return len(self._tmp)

    def commit(self, keys: Iterable[str] | None = None) -> None:
        """Rename these products (all not yet committed when None) into place now."""
        for key in self._tmp if keys is None else keys:
            if key in self._committed:
                continue
            path = self.final[key]
            if os.path.isdir(path) and not os.path.islink(path):
                casalog.post("Replacing %s" % path, "WARN")
                shutil.rmtree(path)
            os.replace(self._tmp[key], path)
            self._committed.add(key)

    def discard(self) -> None:
        """Remove what was not committed."""
        for key, t in self._tmp.items():
            if key not in self._committed:
                remove_path(t)


@contextmanager
def staged(paths: Mapping[str, str], *, modifies: Iterable[str] = ()) -> Iterator[Staged]:
    """Temporary names next to each final path; all renamed on success, removed on failure.

    Every final path, and every input MS in modifies, is claimed for the run first; then
    stale temporaries of earlier, killed runs are removed. A product may be a file or a
    directory (a caltable, a split MS). A final path that exists is replaced (the caller
    checked overwrite) with a warning.
    """
    with claimed([*paths.values(), *modifies]):
        remove_stale_temporaries(paths.values())
        tmp = Staged(paths)
        try:
            yield tmp
            tmp.commit()
        finally:
            tmp.discard()
