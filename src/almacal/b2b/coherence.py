"""Phase RMS and coherence (seed 003 Eq. 2, sections 2.3, 3.1.1, 3.1.2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from almacal.b2b.phases import wrap

# Section 3.1.1: coherence difference (%) in-band minus B2B against the residual
# DGC phase RMS (deg): 17.9 log10(sigma) - 19.4, ~0 at 12 deg.
DGC_LOSS_SLOPE = 17.9
DGC_LOSS_OFFSET = 19.4

# Section 2.3: the expected phase RMS "combines all baselines > 1.5 km".
EXPECTED_RMS_MIN_BASELINE_M = 1500.0


def expected_coherence(sigma_rad: float | np.ndarray) -> float | np.ndarray:
    """Eq. 2: <V>/<V0> = exp(-sigma^2 / 2) for Gaussian phase errors of RMS sigma (rad)."""
    return np.exp(-0.5 * np.square(sigma_rad))


def dgc_loss_fraction(sigma_deg: float) -> float:
    """Section 3.1.1: coherence lost to the DGC step, as a fraction (>= 0).

    17.9 log10(sigma) - 19.4 percent: ~4 % at 20 deg, ~7 % at 30 deg.
    """
    if not sigma_deg > 0:
        return 0.0
    return max(0.0, (DGC_LOSS_SLOPE * np.log10(sigma_deg) - DGC_LOSS_OFFSET) / 100.0)


def elevation_scaled(sigma: float, el_dgc_rad: float, el_target_rad: float) -> float:
    """Section 3.1.2: sigma(theta_tar) = sigma(theta_dgc) sin(theta_dgc) / sin(theta_tar)."""
    return float(sigma * np.sin(el_dgc_rad) / np.sin(el_target_rad))


def paired_scan_std(scan_phases: Sequence[np.ndarray]) -> np.ndarray:
    """Phase standard deviation over pairs of consecutive low-frequency DGC scans.

    scan_phases : per low scan in time order (within one block), (n_int, n_bl)
    baseline phases (rad, NaN where flagged). Each pair joins two consecutive
    scans (the high scan between them excluded, ~30 s in seed 003) and removes
    its own mean (footnote 5: a standard deviation, not an RMS about zero).
    Returns (n_pair, n_bl).
    """
    out = []
    for a, b in zip(scan_phases[:-1], scan_phases[1:], strict=True):
        ph = np.concatenate([a, b], axis=0)
        valid = np.isfinite(ph)
        n = valid.sum(axis=0)
        filled = np.where(valid, ph, 0.0)
        # Flagged samples (NaN) take no part in the circular mean either.
        mean = np.angle(np.where(valid, np.exp(1j * filled), 0.0).sum(axis=0))
        dev = wrap(filled - mean[None, :])
        var = np.where(valid, dev**2, 0.0).sum(axis=0) / np.maximum(n - 1, 1)
        out.append(np.where(n > 1, np.sqrt(var), np.nan))
    return np.array(out).reshape(len(out), -1) if out else np.zeros((0, 0))
