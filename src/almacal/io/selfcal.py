"""The CASA steps of relcal_fit's self-calibration (split, clearcal, MODEL_DATA, gaincal,
applycal, the solved phases); the rounds and their decisions are almacal.relcal.selfcal.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from almacal.io.tables import casatasks, opened_table, row_blocks
from almacal.msinfo import MsInfo


@contextmanager
def scratch_directory(near: str) -> Iterator[str]:
    """A temporary directory (beside the first MS when writable, else $TMPDIR), removed at exit."""
    parent = os.path.dirname(near) if os.access(os.path.dirname(near), os.W_OK) else None
    path = tempfile.mkdtemp(prefix="relcal_fit_selfcal_", dir=parent)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def scratch_copy(vis: str, field_ids: Sequence[int], column: str, workdir: str) -> str:
    """split the fields of vis (column becomes DATA, flags kept) into a directory of its
    own under workdir, then add MODEL_DATA (clearcal); the copy's path."""
    # a directory per MS: MSs of one epoch (groupby='day') may share a basename
    msdir = tempfile.mkdtemp(dir=workdir)
    scratch = os.path.join(msdir, os.path.basename(vis.rstrip("/")) + ".selfcal.ms")
    casatasks().split(
        vis=vis,
        outputvis=scratch,
        field=",".join(str(i) for i in field_ids),
        datacolumn=column.replace("_DATA", "").lower(),
        keepflags=True,
    )
    if not os.path.isdir(scratch):
        raise RuntimeError(f"split of {vis} to {scratch} failed; see the CASA log")
    casatasks().clearcal(vis=scratch, addmodel=True)
    return scratch


def antennas_with_data(vis: str) -> np.ndarray:
    """ANTENNA ids in unflagged cross-correlation rows."""
    with opened_table(vis, "ANTENNA1 != ANTENNA2 && !FLAG_ROW") as sub:
        return np.union1d(sub.getcol("ANTENNA1"), sub.getcol("ANTENNA2"))


def write_model(info: MsInfo, model_jy: np.ndarray) -> None:
    """MODEL_DATA = model_jy[DATA_DESC_ID, FIELD_ID] on the parallel hands, 0 on the others."""
    for dd, spw in enumerate(info.ddid_spw):
        with opened_table(info.path, f"DATA_DESC_ID == {dd}", writable=True) as sub:
            par = info.parallel_hands(int(info.ddid_pol[dd]))
            n_corr = info.corr_types[int(info.ddid_pol[dd])].size
            n_chan = info.chan_freq_hz[spw].size
            for start, n in row_blocks(sub.nrows(), 16 * n_corr * n_chan):
                value = model_jy[dd, sub.getcol("FIELD_ID", start, n)]
                model = np.zeros((n_corr, n_chan, n), dtype=complex)
                model[par] = value[None, None, :]
                sub.putcol("MODEL_DATA", model, start, n)


def gaincal(**params: Any) -> None:
    """casatasks.gaincal; RuntimeError when it wrote no table."""
    casatasks().gaincal(**params)
    if not os.path.isdir(params["caltable"]):
        raise RuntimeError(
            f"gaincal solint={params.get('solint')!r} wrote no table for {params['vis']}; "
            "see the CASA log"
        )


def applycal(**params: Any) -> None:
    casatasks().applycal(**params)


def solved_phases(caltable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(CPARAM (pol, 1, row), FLAG, FIELD_ID (row,)) of a gaincal table; None without rows."""
    with opened_table(caltable) as tb:
        if tb.nrows() == 0:
            return None
        return (
            np.asarray(tb.getcol("CPARAM")),
            np.asarray(tb.getcol("FLAG")),
            np.asarray(tb.getcol("FIELD_ID"), dtype=int),
        )


class CasaSelfcal:
    """The casatasks implementation of relcal.selfcal.SelfcalCalls."""

    scratch_directory = staticmethod(scratch_directory)
    scratch_copy = staticmethod(scratch_copy)
    antennas_with_data = staticmethod(antennas_with_data)
    write_model = staticmethod(write_model)
    gaincal = staticmethod(gaincal)
    applycal = staticmethod(applycal)
    solved_phases = staticmethod(solved_phases)
