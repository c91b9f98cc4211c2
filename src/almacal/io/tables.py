"""The one casatools access layer: tables, the ms and msmetadata tools, row blocks,
the lazy casatools/casatasks imports, and the bounded wait for table locks. No science.

Locks: casacore locks a table with an fcntl lock on byte 0 of `<table>/table.lock`
(a reader holds a read lock, a writer a write lock, as long as its table stays open
with the default auto-locking), and casatools then waits for it without a bound:
lockoptions' maxwait does not limit it (checked, casatools 6.7.0.31: still waiting
after 50 s). So every open here, and every casatasks call given a vis, first asks
the kernel (F_GETLK) whether another process holds a conflicting lock, waits at most
LOCK_WAIT_S for it to go, and then raises TableLockedError naming the MS and the
process. A lock taken between that probe and the open is still waited for.
"""

from __future__ import annotations

import fcntl
import functools
import os
import struct
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from almacal.casatask.log import casalog

# 8 MiB of complex128 visibilities per chunk. glibc serves an allocation over its mmap
# threshold (at most 32 MiB) from fresh pages, faulted in one by one (~1.5 us per
# 4 KiB page on our VMs); casatools' getcolslice allocates ~3x its output, so 64 MiB
# chunks made every read pay its page faults again (a 2-4x slower read). 8 MiB
# chunks stay on the heap, and larger ones buy nothing: the per-call cost is small.
CHUNK_BYTES = 8 * 2**20

LOCK_WAIT_S = 30.0
"""The longest almacal waits for another process to release a table lock (seconds),
per table open or casatasks call. Long enough for another task's short step (an
applycal of one table on a 2 GB MS takes ~20 s), short enough that a run never hangs."""

_LOCK_POLL_S = 0.25

# struct flock: Linux (short type, short whence, off_t start, off_t len, pid_t pid) and
# macOS (off_t start, off_t len, pid_t pid, short type, short whence).
_FLOCK = {"linux": ("hhqqi", (0, 1, 2, 3, 4)), "darwin": ("qqihh", (3, 4, 0, 1, 2))}

# casatasks that write the MS given as vis; the others only read it.
_WRITES_VIS = frozenset(
    ("applycal", "clearcal", "delmod", "flagdata", "flagmanager", "ft", "setjy", "statwt", "uvsub")
)


class TableLockedError(TimeoutError):
    """A table stayed locked by another process for longer than LOCK_WAIT_S."""


def casatools() -> Any:
    """The casatools module, imported on first use (import almacal must not need it).

    casatasks comes first: until it makes its casalog the global log sink, casatools'
    tools (the simulator's INFO lines) write to the terminal instead of the log file."""
    _casatasks_module()
    import casatools as tools

    return tools


def _casatasks_module() -> Any:
    """Under casampi, `import casatasks` inside a server command never returns (the
    server loop runs inside casatasks' own import, CASA_NOTES), so an already-imported
    module is taken from sys.modules."""
    mod = sys.modules.get("casatasks")
    if mod is None:
        import casatasks

        mod = casatasks
    return mod


class _LockAwareTasks:
    """casatasks, with wait_unlocked(vis) before each call that names a vis."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._module, name)
        if name.startswith("_") or not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            vis = kwargs.get("vis")
            if isinstance(vis, str) and vis:
                wait_unlocked(vis, write=name in _WRITES_VIS, subtables=True)
            return attr(*args, **kwargs)

        return call


def _open_here(lock_file: str) -> bool:
    """Whether this process has lock_file open (Linux; False where unknown).

    Closing any descriptor of a file drops every fcntl lock this process holds on it:
    probing a table that casacore keeps open here (a user's tb at the prompt) would
    silently release casacore's own lock, so such a table is not probed.
    """
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return False
    target = os.path.realpath(lock_file)
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def lock_holder(lock_file: str, *, write: bool) -> int | None:
    """pid of a process holding a lock on lock_file that conflicts with ours (a write lock
    when we read; any lock when we write), 0 when the pid is unknown; None when free."""
    layout = _FLOCK.get(sys.platform)
    if layout is None or not os.path.isfile(lock_file) or _open_here(lock_file):
        return None
    fmt, order = layout
    want = fcntl.F_WRLCK if write else fcntl.F_RDLCK
    fields = (want, os.SEEK_SET, 0, 1, 0)
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except OSError:
        return None  # unreadable: casatools will say so when it opens the table
    try:
        got = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(fmt, *(fields[i] for i in order)))
    except OSError:
        return None  # no fcntl locks here (some network file systems): nothing to probe
    finally:
        os.close(fd)
    values = struct.unpack(fmt, got)
    l_type, pid = values[order.index(0)], values[order.index(4)]
    return None if l_type == fcntl.F_UNLCK else max(int(pid), 0)


def _lock_files(path: str, subtables: bool) -> list[str]:
    files = [os.path.join(path, "table.lock")]
    if subtables and os.path.isdir(path):
        with os.scandir(path) as entries:
            dirs = [e.path for e in entries if e.is_dir()]
        files += [
            os.path.join(d, "table.lock")
            for d in sorted(dirs)
            if os.path.isfile(os.path.join(d, "table.dat"))
        ]
    return files


def ms_of(table: str) -> tuple[str, str]:
    """(MS, subtable name or '') of a table path: FIELD of an MS names the MS."""
    parent, name = os.path.split(os.path.normpath(table))
    if os.path.isfile(os.path.join(parent, "table.dat")):
        return parent, name
    return os.path.normpath(table), ""


def wait_unlocked(
    path: str, *, write: bool = False, param: str = "vis", subtables: bool = False
) -> None:
    """Return once no other process holds a conflicting lock on the table at path (and
    on its subtables); TableLockedError naming param after LOCK_WAIT_S."""
    deadline = time.monotonic() + LOCK_WAIT_S
    for lock_file in _lock_files(path, subtables):
        logged = False
        while (pid := lock_holder(lock_file, write=write)) is not None:
            ms, sub = ms_of(os.path.dirname(lock_file))
            what = f"{param} {ms!r}" + (f" ({sub} table)" if sub else "")
            who = f"another process (pid {pid})" if pid else "another process"
            if time.monotonic() >= deadline:
                raise TableLockedError(
                    f"{what} is locked by {who} and stayed locked for {LOCK_WAIT_S:g} s: close "
                    "it in that process (tb.close(), ms.close(), or let its task finish) and run "
                    "again; almacal.io.tables.LOCK_WAIT_S sets how long almacal waits"
                )
            if not logged:
                casalog.post(
                    "%s is locked by %s; waiting up to %g s" % (what, who, LOCK_WAIT_S), "WARN"
                )
                logged = True
            time.sleep(min(_LOCK_POLL_S, max(deadline - time.monotonic(), 0.0)))


class UnreadableTableError(ValueError):
    """casacore could not read a table: a damaged, truncated or missing file."""


def unreadable(path: str, exc: Exception, param: str = "vis") -> UnreadableTableError:
    """The error for a table casacore could not open or read: the MS, the subtable, why."""
    ms, sub = ms_of(path)
    where = f"its {sub} table" if sub else "its main table"
    reason = str(exc).strip() or type(exc).__name__
    what = "measurement set" if param == "vis" else "table"
    return UnreadableTableError(
        f"{param} {ms!r} is not a readable {what}: {where} cannot be read, a file "
        f"of it is damaged, truncated or missing (casacore: {reason})"
    )


def _from_casatools(exc: BaseException) -> bool:
    """Whether exc was raised inside casatools (not by almacal code in a with-block)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    package = os.path.dirname(casatools().__file__)
    return tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(package)


def casatasks() -> Any:
    """The casatasks module, each task of which first waits (bounded) for the locks of
    the vis it is given, then runs with its console chatter summarised in one terminal
    line (almacal.casatask.terminal.QuietTasks). The wait comes first so that its
    warning reaches the terminal."""
    from almacal.casatask.terminal import QuietTasks

    return _LockAwareTasks(QuietTasks(_casatasks_module()))


@contextmanager
def _reading(path: str, param: str, writable: bool) -> Iterator[None]:
    """casacore's RuntimeError while reading path -> UnreadableTableError naming param."""
    try:
        yield
    except RuntimeError as exc:
        if writable or type(exc) is not RuntimeError or not _from_casatools(exc):
            raise
        raise unreadable(path, exc, param) from None


@contextmanager
def opened_table(
    path: str, query: str | None = None, *, writable: bool = False, param: str = "vis"
) -> Iterator:
    """A casatools table (read-only unless writable), optionally restricted by a TaQL
    where-clause; closed on exit. Waits (bounded) for other processes' locks; a read that
    casacore fails on raises UnreadableTableError naming param."""
    wait_unlocked(path, write=writable, param=param)
    tb = casatools().table()
    with _reading(path, param, writable):
        tb.open(path, nomodify=not writable)
    sub = None
    try:
        with _reading(path, param, writable):
            if query is None:
                yield tb
            else:
                sub = tb.query(query)
                yield sub
    finally:
        if sub is not None:
            sub.close()
        tb.close()


@contextmanager
def taql_result(path: str, query: str) -> Iterator:
    """The table a full TaQL statement gives; `$MS` in query stands for the table."""
    with opened_table(path) as tb:
        sub = tb.taql(query.replace("$MS", "'%s'" % path))
        try:
            yield sub
        finally:
            sub.close()


@contextmanager
def opened_ms(path: str, *, writable: bool = False) -> Iterator:
    """The casatools ms tool on path (it opens every subtable too)."""
    wait_unlocked(path, write=writable, subtables=True)
    ms = casatools().ms()
    ms.open(path, nomodify=not writable)
    try:
        yield ms
    finally:
        ms.close()


@contextmanager
def opened_msmd(path: str) -> Iterator:
    """The casatools msmetadata tool on path."""
    wait_unlocked(path, subtables=True)
    md = casatools().msmetadata()
    md.open(path)
    try:
        yield md
    finally:
        md.done()


def row_blocks(n_rows: int, row_bytes: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple]:
    """(start, n) blocks of rows whose cells take about chunk_bytes together."""
    step = max(1, chunk_bytes // max(int(row_bytes), 1))
    for start in range(0, n_rows, step):
        yield start, min(step, n_rows - start)
