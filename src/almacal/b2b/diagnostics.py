"""Diagnostics of a B2B transfer (seed 003 sections 2.3, 3.1.1, 3.1.2), from arrays.

residual: phases of the high-frequency DGC visibilities after the transfer
(scaled low-frequency DGC phases + interpolated band offset), circular
statistics per antenna and overall. expected: the phase RMS over pairs of
consecutive low-frequency DGC scans, scaled to the target frequency and
elevation, and its Eq. 2 coherence. The DGC loss uses the section 3.1.1 fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.b2b.blocks import DgcBlock
from almacal.b2b.coherence import (
    EXPECTED_RMS_MIN_BASELINE_M,
    dgc_loss_fraction,
    elevation_scaled,
    expected_coherence,
    paired_scan_std,
)
from almacal.b2b.geometry import elevation_rad
from almacal.b2b.phases import circular_rms, wrap
from almacal.b2b.structure import B2BStructure
from almacal.b2b.transfer import TransferSolutions
from almacal.baselinevis import BaselineVis
from almacal.msinfo import MsInfo

# QA: band offsets that move by more than this between blocks (deg) score 0.
OFFSET_CHANGE_SCALE_DEG = 60.0


def residual_phases(
    vis: np.ndarray, antenna1: np.ndarray, antenna2: np.ndarray, correction: np.ndarray
) -> np.ndarray:
    """arg(V) - (c1 - c2) per row (rad, NaN where V is NaN).

    vis : (n_row,) complex; correction : (n_row, n_ant) antenna phase corrections (rad).
    """
    rows = np.arange(vis.size)
    model = correction[rows, antenna1] - correction[rows, antenna2]
    return wrap(np.angle(vis) - model)


def per_antenna_rms(
    residual: np.ndarray, antenna1: np.ndarray, antenna2: np.ndarray, n_antenna: int
) -> np.ndarray:
    """(n_ant,) RMS about zero of the residual phases of the baselines to each antenna (rad)."""
    out = np.full(n_antenna, np.nan)
    ok = np.isfinite(residual)
    sq = np.where(ok, wrap(np.where(ok, residual, 0.0)) ** 2, 0.0)
    num = np.bincount(antenna1, sq, n_antenna) + np.bincount(antenna2, sq, n_antenna)
    cnt = np.bincount(antenna1, ok, n_antenna) + np.bincount(antenna2, ok, n_antenna)
    np.divide(num, cnt, out=out, where=cnt > 0)
    return np.sqrt(out)


def expected_phase_rms(
    scan_phases: Sequence[Sequence[np.ndarray]],
    baseline_length_m: np.ndarray,
    *,
    freq_ratio: float,
) -> float:
    """Mean paired-scan phase std over blocks and baselines > 1.5 km, x nu_target / nu_low (rad).

    scan_phases : per block, per low scan, (n_int, n_bl) baseline phases; falls back
    to all baselines when none is longer than 1.5 km.
    """
    pairs = [paired_scan_std(block) for block in scan_phases if len(block) > 1]
    pairs = [p for p in pairs if p.size]
    if not pairs:
        return float("nan")
    std = np.concatenate(pairs, axis=0)
    long = baseline_length_m > EXPECTED_RMS_MIN_BASELINE_M
    if not np.any(long):
        long = np.ones_like(long, dtype=bool)
    return float(np.nanmean(std[:, long])) * freq_ratio


@dataclass(frozen=True)
class Diagnostics:
    """Numbers a user acts on; angles in degrees, coherence as fractions."""

    antenna_names: tuple[str, ...]
    residual_rms_deg: float
    residual_rms_antenna_deg: np.ndarray  # (n_ant,)
    offset_block_times: np.ndarray  # (n_block,) MJD s
    offset_deg: np.ndarray  # (n_block, n_ant, n_spw) polarization-averaged
    offset_change_deg: np.ndarray  # (n_ant,) RMS over spws of the change between blocks
    offset_change_rms_deg: float
    expected_rms_dgc_deg: float  # at the target frequency and the DGC elevation
    expected_rms_target_deg: float  # scaled to the target elevation
    elevation_dgc_deg: float
    elevation_target_deg: float
    expected_coherence: float
    dgc_loss: float
    qa: dict[str, float]

    def to_record(self) -> dict:
        def clean(a: np.ndarray) -> list:
            return np.where(np.isfinite(a), np.round(a, 4), np.nan).tolist()

        return {
            "antennas": list(self.antenna_names),
            "residual_rms_deg": self.residual_rms_deg,
            "residual_rms_antenna_deg": clean(self.residual_rms_antenna_deg),
            "offset_block_times_mjd_s": self.offset_block_times.tolist(),
            "offset_deg": clean(self.offset_deg),
            "offset_change_deg": clean(self.offset_change_deg),
            "offset_change_rms_deg": self.offset_change_rms_deg,
            "expected_rms_dgc_deg": self.expected_rms_dgc_deg,
            "expected_rms_target_deg": self.expected_rms_target_deg,
            "elevation_dgc_deg": self.elevation_dgc_deg,
            "elevation_target_deg": self.elevation_target_deg,
            "expected_coherence": self.expected_coherence,
            "dgc_loss": self.dgc_loss,
            "qa": dict(self.qa),
        }


def summarize(
    *,
    antenna_names: Sequence[str],
    residual: np.ndarray,
    antenna1: np.ndarray,
    antenna2: np.ndarray,
    offsets_rad: np.ndarray,
    offset_times: np.ndarray,
    expected_rms_dgc_rad: float,
    elevation_dgc_rad: float,
    elevation_target_rad: float,
) -> Diagnostics:
    """offsets_rad : (n_block, n_ant, n_spw, n_pol) band offsets, NaN where unsolved."""
    n_ant = len(antenna_names)
    res_ant = per_antenna_rms(residual, antenna1, antenna2, n_ant)
    res_all = float(circular_rms(residual[np.isfinite(residual)]))
    off = np.angle(np.nanmean(np.exp(1j * offsets_rad), axis=3))
    if off.shape[0] > 1:
        change = wrap(np.diff(off, axis=0))
        change_ant = np.sqrt(np.nanmean(change**2, axis=(0, 2)))
        change_rms = float(np.sqrt(np.nanmean(change**2)))
    else:
        change_ant = np.full(n_ant, np.nan)
        change_rms = float("nan")
    tgt = elevation_scaled(expected_rms_dgc_rad, elevation_dgc_rad, elevation_target_rad)
    coh = float(expected_coherence(tgt))
    loss = dgc_loss_fraction(np.degrees(res_all))
    qa = {
        # Eq. 2 of the residual itself: 1 when the transfer leaves no phase error.
        "dgc_residual": float(expected_coherence(res_all)),
        "dgc_loss": 1.0 - loss,
        # One block cannot show a drift: a neutral 0.5 (the warning says why).
        "offset_stability": 0.5
        if not np.isfinite(change_rms)
        else float(np.clip(1.0 - np.degrees(change_rms) / OFFSET_CHANGE_SCALE_DEG, 0.0, 1.0)),
        "expected_coherence": coh,
    }
    return Diagnostics(
        antenna_names=tuple(antenna_names),
        residual_rms_deg=float(np.degrees(res_all)),
        residual_rms_antenna_deg=np.degrees(res_ant),
        offset_block_times=np.asarray(offset_times),
        offset_deg=np.degrees(off),
        offset_change_deg=np.degrees(change_ant),
        offset_change_rms_deg=float(np.degrees(change_rms)),
        expected_rms_dgc_deg=float(np.degrees(expected_rms_dgc_rad)),
        expected_rms_target_deg=float(np.degrees(tgt)),
        elevation_dgc_deg=float(np.degrees(elevation_dgc_rad)),
        elevation_target_deg=float(np.degrees(elevation_target_rad)),
        expected_coherence=coh,
        dgc_loss=loss,
        qa=qa,
    )


def field_radec_deg(info: MsInfo, name: str) -> tuple[float, float]:
    """J2000 (or ICRS) position of a field; ValueError for another frame (the elevation
    formula takes J2000)."""
    f = info.fields[info.field_id(name)]
    if f.radec_deg is None:
        raise ValueError(
            f"vis {info.path}: field {name!r} has its phase centre in frame {f.frame!r}; "
            "the elevations need J2000 or ICRS"
        )
    return f.radec_deg


def mean_elevation(info: MsInfo, name: str, scans: Sequence[int]) -> float:
    """Mean elevation (rad) of a field over the integrations of scans."""
    t = np.concatenate([info.scan_times[s] for s in scans])
    ra, dec = field_radec_deg(info, name)
    return float(np.mean(elevation_rad(t, ra, dec)))


def dgc_residuals(hi: BaselineVis, phase: np.ndarray, spws: Sequence[int]) -> np.ndarray:
    """(n_row,) residual phases (rad) of the high-frequency DGC rows after the transfer.

    phase : (n_t, n_ant, n_spw) transferred phase at np.unique(hi.time), spws in its order.
    """
    ti = np.searchsorted(np.unique(hi.time), hi.time)
    residual = np.full(hi.vis.size, np.nan)
    for j, h in enumerate(spws):
        m = hi.spw == h
        residual[m] = residual_phases(hi.vis[m], hi.antenna1[m], hi.antenna2[m], phase[ti[m], :, j])
    return residual


def low_scan_phases(
    lo: BaselineVis, blocks: Sequence[DgcBlock], n_antenna: int
) -> tuple[list[list[np.ndarray]], np.ndarray]:
    """Per block, per low DGC scan, (n_int, n_bl) baseline phases (spws vector-summed;
    NaN where nothing is unflagged), and the (n_bl,) baseline keys a1 * n_antenna + a2."""
    bl = lo.antenna1 * n_antenna + lo.antenna2
    baselines = np.unique(bl)
    bi = np.searchsorted(baselines, bl)
    per_block = []
    for block in blocks:
        scans = []
        for s in block.low_scans:
            m = lo.scan == s
            t = np.unique(lo.time[m])
            z = np.zeros((t.size, baselines.size), dtype=complex)
            np.add.at(z, (np.searchsorted(t, lo.time[m]), bi[m]), np.nan_to_num(lo.vis[m]))
            scans.append(np.where(z != 0, np.angle(z), np.nan))
        per_block.append(scans)
    return per_block, baselines


def expected_rms_from_low_scans(st: B2BStructure, lo: BaselineVis, info: MsInfo) -> float:
    """Section 2.3 expected phase RMS (rad) at the mean high frequency, from the paired
    low-frequency DGC scans."""
    n_ant = len(info.antenna_names)
    per_block, baselines = low_scan_phases(lo, st.blocks, n_ant)
    pos = info.antenna_itrf_m
    length = np.linalg.norm(pos[baselines // n_ant] - pos[baselines % n_ant], axis=1)
    nu_high = float(np.mean([st.spw_freq_hz[h] for h in st.high_spws]))
    nu_low = float(np.mean([st.spw_freq_hz[s] for s in st.low_spws]))
    return expected_phase_rms(per_block, length, freq_ratio=nu_high / nu_low)


@dataclass(frozen=True)
class DgcPhases:
    """The phase the transfer gives the DGC source at the low-frequency DGC solution
    times: what the DGC plot shows. phase : (n_t, n_ant, n_spw) rad, high spws in order."""

    times: np.ndarray  # (n_t,) MJD s
    phase: np.ndarray


def assess(
    st: B2BStructure, solved: TransferSolutions, dgc_vis: BaselineVis, info: MsInfo
) -> tuple[Diagnostics, DgcPhases]:
    """Diagnostics of a transfer from the DGC visibilities of both bands (one read).

    The transferred phase is computed once, at the high-frequency DGC integrations
    (for the residuals) and the low-frequency solution times (for the plot).
    """
    n_ant = len(info.antenna_names)
    hi = dgc_vis.subset(
        np.isin(dgc_vis.spw, st.high_spws) & np.isin(dgc_vis.scan, st.dgc_high_scans)
    )
    lo = dgc_vis.subset(np.isin(dgc_vis.spw, st.low_spws) & np.isin(dgc_vis.scan, st.dgc_low_scans))
    hi_times, sol_times = np.unique(hi.time), np.unique(solved.dgc_low.time)
    times = np.union1d(hi_times, sol_times)
    phase = solved.transferred_phase(times, n_ant)
    residual = dgc_residuals(hi, phase[np.searchsorted(times, hi_times)], solved.offsets.spws)
    diagnostics = summarize(
        antenna_names=info.antenna_names,
        residual=residual,
        antenna1=hi.antenna1,
        antenna2=hi.antenna2,
        offsets_rad=solved.offsets.offset,
        offset_times=solved.offsets.times,
        expected_rms_dgc_rad=expected_rms_from_low_scans(st, lo, info),
        elevation_dgc_rad=mean_elevation(info, st.dgc_field, st.dgc_low_scans + st.dgc_high_scans),
        elevation_target_rad=mean_elevation(info, st.targets[0], st.target_scans),
    )
    return diagnostics, DgcPhases(sol_times, phase[np.searchsorted(times, sol_times)])
