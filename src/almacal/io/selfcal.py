"""Phase-only self-calibration of calibrator fields in a scratch copy (casatasks).

The user's MS is only read: split copies the calibrator fields (the chosen data
column becomes DATA) into a temporary directory, and MODEL_DATA, gaincal tables
and CORRECTED_DATA live in that copy, which is deleted when the task ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from almacal.casatask.log import casalog
from almacal.io import ms as ms_io
from almacal.msinfo import MsInfo
from almacal.relcal.fluxfit import fit_point
from almacal.relcal.selfcal_plan import central_antenna, phase_rms_deg, spw_map
from almacal.uvrange import UvRange


def _casatasks():
    import casatasks

    return casatasks


@contextmanager
def scratch_directory(near: str) -> Iterator[str]:
    """A temporary directory (beside the first MS when writable, else $TMPDIR), removed at exit."""
    parent = os.path.dirname(near) if os.access(os.path.dirname(near), os.W_OK) else None
    path = tempfile.mkdtemp(prefix="relcal_fit_selfcal_", dir=parent)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class ReadTarget:
    """Where relcal_fit reads one MS: the user's MS or its self-calibrated scratch copy."""

    info: MsInfo
    field_index: np.ndarray  # (n_field,) calibrator index, -1 elsewhere
    channels: dict[int, np.ndarray]
    column: str


@dataclass(frozen=True)
class SelfcalOutcome:
    target: ReadTarget  # the scratch copy, CORRECTED_DATA
    refant: str
    flux_before: np.ndarray  # (n_cal,) Jy
    flux_after: np.ndarray  # (n_cal,) Jy
    phase_rms_deg: np.ndarray  # (n_cal, n_round)
    seconds: float


def selfcal_ms(
    user: ReadTarget,
    *,
    fields: tuple[str, ...],
    uvrange: UvRange | None,
    solints: tuple[str, ...],
    refant: str,
    gaintype: str,
    minsnr: float,
    combine: str,
    workdir: str,
) -> SelfcalOutcome:
    """Split, then per solint: MODEL_DATA = fitted point flux per (calibrator, spw),
    gaincal calmode='p' on top of the earlier tables, applycal of all, refit."""
    t0 = time.perf_counter()
    n_cal = len(fields)
    ids = np.flatnonzero(user.field_index >= 0)
    # a directory per MS: MSs of one epoch (groupby='day') may share a basename
    msdir = tempfile.mkdtemp(dir=workdir)
    scratch = os.path.join(msdir, os.path.basename(user.info.path.rstrip("/")) + ".selfcal.ms")
    _casatasks().split(
        vis=user.info.path,
        outputvis=scratch,
        field=",".join(str(i) for i in ids),
        datacolumn=user.column.replace("_DATA", "").lower(),
        keepflags=True,
    )
    if not os.path.isdir(scratch):
        raise RuntimeError(f"split of {user.info.path} to {scratch} failed; see the CASA log")
    _casatasks().clearcal(vis=scratch, addmodel=True)
    info = ms_io.read_info(scratch)
    names = {user.info.field_names[i]: int(user.field_index[i]) for i in ids}
    field_index = np.array([names.get(n, -1) for n in info.field_names])
    target = ReadTarget(info, field_index, _match_spws(user, info), "DATA")
    ant = refant or _central_antenna_name(scratch)

    flux = _fit(target, n_cal, uvrange)
    before = flux[:, 0, 0]
    tables: list[str] = []
    maps: list[list[int]] = []
    rms = np.full((n_cal, len(solints)), np.nan)
    spw_ids = sorted(int(s) for s in np.unique(info.ddid_spw))
    for k, solint in enumerate(solints):
        _write_model(info, field_index, flux[:, 1], target.channels)
        table = os.path.join(msdir, f"{os.path.basename(scratch)}.p{k}")
        _casatasks().gaincal(
            vis=scratch,
            caltable=table,
            solint=solint,
            combine=combine,
            refant=ant,
            gaintype=gaintype,
            calmode="p",
            minsnr=minsnr,
            gaintable=list(tables),
            spwmap=list(maps),
        )
        if not os.path.isdir(table):
            raise RuntimeError(
                f"gaincal solint={solint!r} wrote no table for {user.info.path}; see the CASA log"
            )
        tables.append(table)
        maps.append(spw_map(spw_ids, combine))
        _casatasks().applycal(
            vis=scratch, gaintable=list(tables), spwmap=list(maps), calwt=False, flagbackup=False
        )
        rms[:, k] = _phase_rms(table, field_index, n_cal)
        target = ReadTarget(info, field_index, target.channels, "CORRECTED_DATA")
        flux = _fit(target, n_cal, uvrange)
        casalog.post(
            "selfcal %s round %d (solint %s, refant %s): phase rms %s deg; flux %s Jy"
            % (
                os.path.basename(user.info.path),
                k + 1,
                solint,
                ant,
                ", ".join("%.1f" % r for r in rms[:, k]),
                ", ".join("%.4f" % f for f in flux[:, 0, 0]),
            )
        )
    return SelfcalOutcome(
        target=target,
        refant=ant,
        flux_before=before,
        flux_after=flux[:, 0, 0],
        phase_rms_deg=rms,
        seconds=time.perf_counter() - t0,
    )


def _fit(target: ReadTarget, n_cal: int, uvrange: UvRange | None) -> np.ndarray:
    """(n_cal, 2, n_spw): [:, 0, 0] the all-spw flux (others 0), [:, 1, :] per-spw fluxes."""
    sums = ms_io.read_point_sums(
        target.info, target.field_index, n_cal, target.channels, target.column, uvrange
    )
    out = np.zeros((n_cal, 2, sums.shape[1]))
    out[:, 0, 0] = fit_point(sums.sum(axis=1)).flux
    out[:, 1, :] = fit_point(sums).flux
    return out


def _match_spws(user: ReadTarget, info: MsInfo) -> dict[int, np.ndarray]:
    """The user's channel masks keyed by the scratch copy's spw ids (matched by frequency)."""
    out = {}
    for spw, mask in user.channels.items():
        freq = user.info.chan_freq_hz[spw]
        hits = [
            s
            for s, f in enumerate(info.chan_freq_hz)
            if f.shape == freq.shape and np.allclose(f, freq, rtol=0, atol=1.0)
        ]
        if not hits:
            raise RuntimeError(f"spw {spw} of {user.info.path} is missing from its split copy")
        out[hits[0]] = mask
    return out


def _central_antenna_name(vis: str) -> str:
    with ms_io.opened_table(os.path.join(vis, "ANTENNA")) as tb:
        names = [str(n) for n in tb.getcol("NAME")]
        pos = np.asarray(tb.getcol("POSITION"), dtype=float).T
    with ms_io.opened_table(vis, "ANTENNA1 != ANTENNA2 && !FLAG_ROW") as sub:
        present = np.zeros(len(names), bool)
        present[np.unique(sub.getcol("ANTENNA1"))] = True
        present[np.unique(sub.getcol("ANTENNA2"))] = True
    return names[central_antenna(pos, present)]


def _write_model(
    info: MsInfo, field_index: np.ndarray, flux_spw: np.ndarray, channels: dict[int, np.ndarray]
) -> None:
    """MODEL_DATA = flux of (calibrator, spw) on the parallel hands, 0 on cross hands.

    flux_spw : (n_cal, n_spw) in the order of channels; spws not fitted get the mean.
    """
    import casatools

    spw_pos = {s: k for k, s in enumerate(channels)}
    tb = casatools.table()
    tb.open(info.path, nomodify=False)
    try:
        for dd, spw in enumerate(info.ddid_spw):
            sub = tb.query(f"DATA_DESC_ID == {dd}")
            try:
                n_rows = sub.nrows()
                if n_rows == 0:
                    continue
                par = info.parallel_hands(int(info.ddid_pol[dd]))
                n_corr = info.corr_types[int(info.ddid_pol[dd])].size
                n_chan = info.chan_freq_hz[spw].size
                k = spw_pos.get(int(spw))
                flux = np.nanmean(flux_spw, axis=1) if k is None else flux_spw[:, k]
                flux = np.where(np.isfinite(flux), flux, 0.0)
                step = max(1, ms_io.CHUNK_BYTES // (16 * n_corr * n_chan))
                for start in range(0, n_rows, step):
                    n = min(step, n_rows - start)
                    cal = field_index[sub.getcol("FIELD_ID", start, n)]
                    value = np.where(cal >= 0, flux[np.maximum(cal, 0)], 0.0)
                    model = np.zeros((n_corr, n_chan, n), dtype=complex)
                    model[par] = value[None, None, :]
                    sub.putcol("MODEL_DATA", model, start, n)
            finally:
                sub.close()
    finally:
        tb.close()


def _phase_rms(caltable: str, field_index: np.ndarray, n_cal: int) -> np.ndarray:
    """(n_cal,) RMS in degrees of the unflagged phases a gaincal table holds."""
    with ms_io.opened_table(caltable) as tb:
        if tb.nrows() == 0:
            return np.full(n_cal, np.nan)
        g = np.asarray(tb.getcol("CPARAM"))  # (pol, 1, row)
        flag = np.asarray(tb.getcol("FLAG"))
        field = np.asarray(tb.getcol("FIELD_ID"), dtype=int)
    group = np.broadcast_to(field_index[field][None, None, :], g.shape)
    return phase_rms_deg(np.angle(g).ravel(), ~flag.ravel(), group.ravel(), n_cal)
