"""The one casatools access layer: tables, the ms and msmetadata tools, row blocks,
and the lazy casatools/casatasks imports. No science here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# ~64 MB of complex128 visibilities per chunk. casatools' getcolslice briefly needs
# ~3x its output, so peak memory is ~250 MB over CASA's own, whatever the MS size.
CHUNK_BYTES = 64 * 2**20


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
    if mod is not None:
        return mod
    import casatasks as tasks

    return tasks


def casatasks() -> Any:
    """The casatasks module, each task's console chatter summarised in one terminal line
    (almacal.casatask.terminal.QuietTasks)."""
    from almacal.casatask.terminal import QuietTasks

    return QuietTasks(_casatasks_module())


@contextmanager
def opened_table(path: str, query: str | None = None, *, writable: bool = False) -> Iterator:
    """A casatools table (read-only unless writable), optionally restricted by a TaQL
    where-clause; closed on exit."""
    tb = casatools().table()
    tb.open(path, nomodify=not writable)
    sub = None
    try:
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
    """The casatools ms tool on path."""
    ms = casatools().ms()
    ms.open(path, nomodify=not writable)
    try:
        yield ms
    finally:
        ms.close()


@contextmanager
def opened_msmd(path: str) -> Iterator:
    """The casatools msmetadata tool on path."""
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
