"""The only place that opens measurement sets for reading (casatools table and ms tools)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from almacal.io.msinfo import read_ms_info
from almacal.io.tables import CHUNK_BYTES, casatools, opened_table
from almacal.msinfo import MsInfo
from almacal.relcal.fluxfit import N_SUMS, point_sums, row_sums, stokes_i, stokes_i_weight
from almacal.relcal.uvgrid import N_GRID_SUMS, UvGrid, grid_sums
from almacal.relcal.uvmodel import N_BIN_SUMS, bin_sums
from almacal.uvrange import C_M_S, UvRange


def read_info(path: str) -> MsInfo:
    """The MS model (almacal.io.msinfo); ValueError naming vis if it is not an MS."""
    return read_ms_info(path)


def select_channels(info: MsInfo, spw: str) -> dict[int, np.ndarray]:
    """CASA spw selection -> {spw id: (n_chan,) bool channel mask}; ValueError naming spw."""
    if not spw.strip():
        return {int(s): np.ones(info.chan_freq_hz[s].size, bool) for s in np.unique(info.ddid_spw)}
    ms = casatools().ms()
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
    channels : {spw: channel mask}, in output order; a mask is (n_chan,) for every
        calibrator or (n_cal, n_chan) per calibrator (line channels, fitspw='auto').
    Returns (n_cal, n_spw, N_SUMS).
    """
    return read_fit_sums(info, field_index, n_cal, channels, column, uvrange)[0]


def read_fit_sums(
    info: MsInfo,
    field_index: np.ndarray,
    n_cal: int,
    channels: dict[int, np.ndarray],
    column: str,
    uvrange: UvRange | None,
    edges_lambda: np.ndarray | None = None,
    grid: UvGrid | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One chunked pass: the point sums (n_cal, n_spw, N_SUMS), and when asked the
    uv-distance bin sums (n_cal, n_spw, n_bin, N_BIN_SUMS; edges in wavelengths, per
    channel; see almacal.relcal.uvmodel) and the (u, v) grid sums per calibrator, all
    spws together (n_cal, grid.n_cells, N_GRID_SUMS)."""
    n_spw = len(channels)
    point = np.zeros((n_cal, n_spw, N_SUMS))
    binned = None
    if edges_lambda is not None:
        binned = np.zeros((n_cal, n_spw, edges_lambda.size - 1, N_BIN_SUMS))
    gridded = None if grid is None else np.zeros((n_cal, grid.n_cells, N_GRID_SUMS))
    need_uv = binned is not None or gridded is not None
    for c in _chunks(info, field_index, channels, column, uvrange, need_uv=need_uv):
        point[:, c.spw_pos] += point_sums(row_sums(c.v_i, c.valid, c.w_i), c.group, n_cal)
        k = c.freq_hz[None, :] / C_M_S
        if binned is not None and edges_lambda is not None:
            q = c.uvdist_m[:, None] * k
            binned[:, c.spw_pos] += bin_sums(c.v_i, c.valid, c.w_i, q, c.group, n_cal, edges_lambda)
            del q
        if gridded is not None and grid is not None:
            u, v = c.uv_m[0][:, None] * k, c.uv_m[1][:, None] * k
            gridded += grid_sums(c.v_i, c.valid, c.w_i, u, v, c.group, n_cal, grid)
            del u, v
        del c  # before the generator reads the next chunk
    return point, binned, gridded


def read_max_uv_lambda(
    info: MsInfo,
    field_index: np.ndarray,
    channels: dict[int, np.ndarray],
    uvrange: UvRange | None,
) -> float:
    """Longest projected baseline of the calibrator rows x highest selected frequency
    (wavelengths), within uvrange's upper limit; reads UVW only, spw by spw."""
    ids = np.flatnonzero(field_index >= 0).tolist()
    out = 0.0
    for spw, mask in channels.items():
        chans = mask.any(axis=0) if mask.ndim == 2 else mask
        if not chans.any():
            continue
        ddids = np.flatnonzero(info.ddid_spw == spw).tolist()
        where = f"DATA_DESC_ID IN {ddids} && FIELD_ID IN {ids} && ANTENNA1 != ANTENNA2 && !FLAG_ROW"
        with opened_table(info.path, where) as sub:
            if sub.nrows() == 0:
                continue
            uvw = sub.getcol("UVW")
        f_max = float(info.chan_freq_hz[spw][chans].max())
        q = float(np.hypot(uvw[0], uvw[1]).max()) * f_max / C_M_S
        if uvrange is not None:
            q = min(q, uvrange.hi * (1.0 if uvrange.in_wavelengths else f_max / C_M_S))
        out = max(out, q)
    return out


def read_spectra(
    info: MsInfo,
    field_index: np.ndarray,
    n_cal: int,
    channels: dict[int, np.ndarray],
    column: str,
    uvrange: UvRange | None,
) -> dict[int, np.ndarray]:
    """Vector-averaged Stokes I spectra: {spw: (n_cal, 3, n_chan)} with sum(w), sum(w V)
    real and imaginary per channel over all rows of each calibrator (uv plane)."""
    out = {spw: np.zeros((n_cal, 3, info.chan_freq_hz[spw].size)) for spw in channels}
    for c in _chunks(info, field_index, channels, column, uvrange):
        w = np.where(c.valid, c.w_i if c.w_i.ndim == 2 else c.w_i[:, None], 0.0)
        wv = w * c.v_i
        dest = out[c.spw][:, :, c.chan0 : c.chan0 + w.shape[1]]
        for j in range(n_cal):
            rows = c.group == j
            dest[j, 0] += w[rows].sum(axis=0)
            dest[j, 1] += wv[rows].real.sum(axis=0)
            dest[j, 2] += wv[rows].imag.sum(axis=0)
        del c, w, wv
    return out


def read_uv_limits(
    info: MsInfo,
    field_index: np.ndarray,
    channels: dict[int, np.ndarray],
    column: str,
    uvrange: UvRange | None,
) -> tuple[float, float]:
    """Shortest and longest projected baseline (wavelengths) of the usable calibrator data."""
    lo, hi = np.inf, 0.0
    n_cal = int(field_index.max()) + 1
    for c in _chunks(info, field_index, channels, column, uvrange, need_uv=True):
        q = c.uvdist_m[:, None] * (c.freq_hz[None, :] / C_M_S)
        ok = c.valid & (c.w_i > 0 if c.w_i.ndim == 2 else (c.w_i > 0)[:, None])
        if ok.any() and n_cal > 0:
            lo, hi = min(lo, float(q[ok].min())), max(hi, float(q[ok].max()))
        del c, q, ok
    return lo, hi


@dataclass
class _Chunk:
    """Stokes I of one chunk of rows of one spw; arrays are (row, chan) or (row,)."""

    spw: int
    spw_pos: int  # position of spw in the channels dict
    chan0: int  # first channel of the read range
    freq_hz: np.ndarray  # (chan,)
    v_i: np.ndarray
    valid: np.ndarray
    w_i: np.ndarray
    group: np.ndarray  # calibrator index of each row
    uvdist_m: np.ndarray
    uv_m: np.ndarray  # (2, row) u, v in metres when need_uv, else empty


def _chunks(
    info: MsInfo,
    field_index: np.ndarray,
    channels: dict[int, np.ndarray],
    column: str,
    uvrange: UvRange | None,
    need_uv: bool = False,
) -> Iterator[_Chunk]:
    """Chunks of the calibrator cross-correlations, spw by spw, only the parallel
    hands and the selected channel range; memory stays flat."""
    ids = np.flatnonzero(field_index >= 0)
    for k, spw in enumerate(channels):
        mask = channels[spw]
        chans = np.flatnonzero(mask.any(axis=0) if mask.ndim == 2 else mask)
        if chans.size == 0:
            continue
        c0, c1 = int(chans[0]), int(chans[-1])
        chan_ok = mask[..., c0 : c1 + 1]
        freq = info.chan_freq_hz[spw][c0 : c1 + 1]
        for dd in np.flatnonzero(info.ddid_spw == spw):
            par = info.parallel_hands(int(info.ddid_pol[dd]))
            q = (
                f"DATA_DESC_ID == {dd} && FIELD_ID IN {ids.tolist()} "
                "&& ANTENNA1 != ANTENNA2 && !FLAG_ROW"
            )
            with opened_table(info.path, q) as sub:
                inc = int(par[1] - par[0]) if par.size == 2 else 1
                slicer = ([int(par[0]), c0], [int(par[-1]), c1], [inc, 1])
                n_rows = sub.nrows()
                step = max(1, CHUNK_BYTES // (16 * par.size * (c1 - c0 + 1)))
                for start in range(0, n_rows, step):
                    rows = (start, min(step, n_rows - start))
                    # no local names for the arrays: one chunk in memory at a time
                    yield _Chunk(
                        spw,
                        k,
                        c0,
                        freq,
                        *_read_chunk(
                            sub,
                            info,
                            par,
                            slicer,
                            rows,
                            chan_ok,
                            freq,
                            column,
                            uvrange,
                            need_uv,
                            field_index,
                        ),
                    )


def _read_chunk(sub, info, par, slicer, rows, chan_ok, freq, column, uvrange, need_uv, field_index):
    """Stokes I of one chunk; the raw columns are freed before the caller reduces it."""
    # casatools returns (corr, chan, row); .T views it as (row, chan, corr)
    vis = sub.getcolslice(column, *slicer, *rows).T
    flag = sub.getcolslice("FLAG", *slicer, *rows).T
    if info.has_weight_spectrum:
        w_i = stokes_i_weight(sub.getcolslice("WEIGHT_SPECTRUM", *slicer, *rows).T)
    else:  # one weight per row and hand: no (row, chan) weight array needed
        w_i = stokes_i_weight(sub.getcol("WEIGHT", *rows)[par].T)
    group = field_index[sub.getcol("FIELD_ID", *rows)]
    bad = ~chan_ok[group] if chan_ok.ndim == 2 else ~chan_ok[None, :]
    uvdist = np.empty(0)
    uv = np.empty((2, 0))
    if uvrange is not None or need_uv:
        uv = sub.getcol("UVW", *rows)[:2]
        uvdist = np.hypot(uv[0], uv[1])
    if uvrange is not None:
        bad = bad | ~uvrange.mask(uvdist, freq)
    if bad.any():
        flag = flag | bad[..., None]
    v_i, valid = stokes_i(vis, flag)
    del vis, flag  # before the reductions allocate
    return v_i, valid, w_i, group, uvdist, uv
