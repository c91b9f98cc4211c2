"""The only place that opens measurement sets for reading (casatools table and ms tools)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from almacal.msinfo import MsInfo
from almacal.relcal.fluxfit import N_SUMS, point_sums, row_sums, stokes_i, stokes_i_weight
from almacal.uvrange import UvRange

# ~64 MB of complex128 visibilities per chunk. casatools' getcolslice briefly needs
# ~3x its output, so peak memory is ~250 MB over CASA's own, whatever the MS size.
CHUNK_BYTES = 64 * 2**20


@contextmanager
def opened_table(path: str, query: str | None = None) -> Iterator:
    """A read-only casatools table, optionally restricted by a TaQL where-clause."""
    import casatools

    tb = casatools.table()
    tb.open(path, nomodify=True)
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


def read_info(path: str) -> MsInfo:
    """Subtable metadata of an MS; raises ValueError naming vis if it is not an MS."""
    try:
        with opened_table(os.path.join(path, "FIELD")) as tb:
            field_names = tuple(str(n) for n in tb.getcol("NAME"))
        with opened_table(os.path.join(path, "SPECTRAL_WINDOW")) as tb:
            chan_freq = tuple(
                np.asarray(tb.getcell("CHAN_FREQ", r), dtype=float) for r in range(tb.nrows())
            )
        with opened_table(os.path.join(path, "DATA_DESCRIPTION")) as tb:
            ddid_spw = np.asarray(tb.getcol("SPECTRAL_WINDOW_ID"), dtype=int)
            ddid_pol = np.asarray(tb.getcol("POLARIZATION_ID"), dtype=int)
        with opened_table(os.path.join(path, "POLARIZATION")) as tb:
            corr = tuple(np.asarray(tb.getcell("CORR_TYPE", r)) for r in range(tb.nrows()))
        with opened_table(os.path.join(path, "OBSERVATION")) as tb:
            tr = np.asarray(tb.getcol("TIME_RANGE"), dtype=float)
        with opened_table(path) as tb:
            columns = frozenset(tb.colnames())
            has_ws = (
                "WEIGHT_SPECTRUM" in columns
                and tb.nrows() > 0
                and bool(tb.iscelldefined("WEIGHT_SPECTRUM", 0))
            )
            start = (
                float(tr[0].min()) if tr.size and tr[0].min() > 0 else float(tb.getcell("TIME", 0))
            )
    except RuntimeError as exc:
        raise ValueError(f"vis {path!r} is not a readable measurement set: {exc}") from exc
    return MsInfo(
        path=path,
        field_names=field_names,
        chan_freq_hz=chan_freq,
        ddid_spw=ddid_spw,
        ddid_pol=ddid_pol,
        corr_types=corr,
        columns=columns,
        has_weight_spectrum=has_ws,
        start_mjd_s=start,
    )


def select_channels(info: MsInfo, spw: str) -> dict[int, np.ndarray]:
    """CASA spw selection -> {spw id: (n_chan,) bool channel mask}; ValueError naming spw."""
    import casatools

    if not spw.strip():
        return {int(s): np.ones(info.chan_freq_hz[s].size, bool) for s in np.unique(info.ddid_spw)}
    ms = casatools.ms()
    try:
        sel = ms.msseltoindex(vis=info.path, spw=spw)
    except RuntimeError as exc:
        raise ValueError(f"spw {spw!r} does not select data in {info.path}: {exc}") from exc
    finally:
        ms.done()
    masks: dict[int, np.ndarray] = {}
    for s, start, stop, step in np.atleast_2d(sel["channel"]):
        m = masks.setdefault(int(s), np.zeros(info.chan_freq_hz[s].size, bool))
        m[start : stop + 1 : max(step, 1)] = True
    if not masks:
        raise ValueError(f"spw {spw!r} selects no data in {info.path}")
    return masks


def fields_with_data(info: MsInfo, field_ids: np.ndarray, ddids: np.ndarray) -> set[int]:
    """FIELD_IDs that have at least one unflagged cross-correlation (reads FLAG only)."""
    q = (
        f"FIELD_ID IN {field_ids.tolist()} && DATA_DESC_ID IN {ddids.tolist()} "
        "&& ANTENNA1 != ANTENNA2 && !FLAG_ROW && !ALL(FLAG)"
    )
    with opened_table(info.path, q) as sub:
        if sub.nrows() == 0:
            return set()
        return set(np.unique(sub.getcol("FIELD_ID")).tolist())


def read_point_sums(
    info: MsInfo,
    field_index: np.ndarray,
    n_cal: int,
    channels: dict[int, np.ndarray],
    column: str,
    uvrange: UvRange | None,
) -> np.ndarray:
    """One chunked pass: point-source fit sums per calibrator and selected spw.

    field_index : (n_field,) calibrator index of each FIELD_ID, -1 for fields not fitted.
    channels : {spw: channel mask}, in output order.
    Returns (n_cal, n_spw, N_SUMS).
    """
    spws = list(channels)
    out = np.zeros((n_cal, len(spws), N_SUMS))
    ids = np.flatnonzero(field_index >= 0)
    for k, spw in enumerate(spws):
        chans = np.flatnonzero(channels[spw])
        c0, c1 = int(chans[0]), int(chans[-1])
        chan_ok = channels[spw][c0 : c1 + 1]
        freq = info.chan_freq_hz[spw][c0 : c1 + 1]
        for dd in np.flatnonzero(info.ddid_spw == spw):
            par = info.parallel_hands(int(info.ddid_pol[dd]))
            q = (
                f"DATA_DESC_ID == {dd} && FIELD_ID IN {ids.tolist()} "
                "&& ANTENNA1 != ANTENNA2 && !FLAG_ROW"
            )
            with opened_table(info.path, q) as sub:
                out[:, k] += _sums_of_selection(
                    sub, info, par, (c0, c1), chan_ok, freq, field_index, n_cal, column, uvrange
                )
    return out


def _sums_of_selection(
    sub, info, par, chan_range, chan_ok, freq, field_index, n_cal, column, uvrange
):
    """Read a row selection in chunks; only the parallel hands and selected channels."""
    c0, c1 = chan_range
    inc = int(par[1] - par[0]) if par.size == 2 else 1
    slicer = ([int(par[0]), c0], [int(par[-1]), c1], [inc, 1])
    n_rows = sub.nrows()
    step = max(1, CHUNK_BYTES // (16 * par.size * (c1 - c0 + 1)))
    sums = np.zeros((n_cal, N_SUMS))
    for start in range(0, n_rows, step):
        rows = (start, min(step, n_rows - start))
        sums += _chunk_sums(
            sub, info, par, slicer, rows, chan_ok, freq, column, uvrange, field_index, n_cal
        )
    return sums


def _chunk_sums(sub, info, par, slicer, rows, chan_ok, freq, column, uvrange, field_index, n_cal):
    """Sums of one chunk of rows; its arrays are freed before the next chunk is read."""
    # casatools returns (corr, chan, row); .T views it as (row, chan, corr)
    vis = sub.getcolslice(column, *slicer, *rows).T
    flag = sub.getcolslice("FLAG", *slicer, *rows).T
    if info.has_weight_spectrum:
        w_i = stokes_i_weight(sub.getcolslice("WEIGHT_SPECTRUM", *slicer, *rows).T)
    else:  # one weight per row and hand: no (row, chan) weight array needed
        w_i = stokes_i_weight(sub.getcol("WEIGHT", *rows)[par].T)
    bad = ~chan_ok[None, :]
    if uvrange is not None:
        uvw = sub.getcol("UVW", *rows)
        bad = bad | ~uvrange.mask(np.hypot(uvw[0], uvw[1]), freq)
    if bad.any():
        flag = flag | bad[..., None]
    v_i, valid = stokes_i(vis, flag)
    del vis, flag  # before the reductions allocate
    group = field_index[sub.getcol("FIELD_ID", *rows)]
    return point_sums(row_sums(v_i, valid, w_i), group, n_cal)
