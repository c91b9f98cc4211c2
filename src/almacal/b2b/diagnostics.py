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

from almacal.b2b.coherence import (
    EXPECTED_RMS_MIN_BASELINE_M,
    dgc_loss_fraction,
    elevation_scaled,
    expected_coherence,
    paired_scan_std,
)
from almacal.b2b.phases import circular_rms, wrap

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
