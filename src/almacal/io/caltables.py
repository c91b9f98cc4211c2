"""split / gencal / applycal calls, and the MS HISTORY that records them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from almacal.io.msinfo import check_readable
from almacal.io.tables import UnreadableTableError, casatasks, opened_ms, opened_table


def split_column(vis: str, outputvis: str, column: str) -> None:
    """Copy vis to outputvis with `column` (DATA or CORRECTED_DATA) as its DATA column."""
    with _input_checked_on_failure(vis):
        ok = casatasks().split(
            vis=vis,
            outputvis=outputvis,
            datacolumn=column.replace("_DATA", "").lower(),
            keepflags=True,
        )
        if ok is False or not os.path.isdir(outputvis):
            raise RuntimeError(f"split of {vis} to {outputvis} failed; see the CASA log")


def make_amp_table(vis: str, caltable: str, gain: float) -> None:
    """gencal caltype='amp': the same amplitude gain for every antenna, spw and pol."""
    casatasks().gencal(vis=vis, caltable=caltable, caltype="amp", parameter=[gain])
    if not os.path.isdir(caltable):
        raise RuntimeError(f"gencal did not write {caltable}; see the CASA log")


def apply_table(vis: str, caltable: str) -> None:
    """applycal writing CORRECTED_DATA and scaling WEIGHT (calwt); flags untouched.

    applymode='calonly' never flags data for missing solutions, and flagbackup
    is off so no .flagversions appear beside the MS.
    """
    with _input_checked_on_failure(vis):
        casatasks().applycal(
            vis=vis, gaintable=[caltable], calwt=[True], applymode="calonly", flagbackup=False
        )


@contextmanager
def _input_checked_on_failure(vis: str) -> Iterator[None]:
    """When a CASA task fails on vis, a damaged vis (a storage file truncated or lost
    since the task's checks passed it) is said in the reader's words, naming the MS and
    the column, not as casacore's bare RuntimeError; any other failure is re-raised."""
    try:
        yield
    except RuntimeError:
        try:
            check_readable(vis)
        except UnreadableTableError as damaged:
            raise damaged from None
        raise


def history_messages(vis: str) -> list[str]:
    with opened_table(os.path.join(vis, "HISTORY")) as tb:
        return list(tb.getcol("MESSAGE")) if tb.nrows() else []


def write_history(vis: str, messages: list[str], origin: str) -> None:
    with opened_ms(vis, writable=True) as ms:
        for m in messages:
            ms.writehistory(message=m, origin=origin)
