"""Point-source flux density at the phase centre by weighted linear least squares.

A point source of flux S at the phase centre has the visibility S (real, no
phase) on every baseline. With per-visibility weights w = 1/sigma^2 (sigma the
noise of the real and of the imaginary part, CASA's convention), the weighted
least-squares estimate and its chi^2 follow from four running sums, so one
chunked pass over an MS is enough and no visibilities are kept:

    S = sum(w Re V) / sum(w)              sigma_S = 1 / sqrt(sum(w))
    chi2 = sum(w |V|^2) - S^2 sum(w)      dof = 2 N - 1 (real and imaginary parts)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Columns of a sums array (..., N_SUMS).
SUM_W, SUM_W_RE, SUM_W_ABS2, SUM_N = range(4)
N_SUMS = 4


def stokes_i(
    vis: np.ndarray, weight: np.ndarray, flag: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stokes I = (P1 + P2) / 2 from the two parallel hands, with its weight.

    vis, weight, flag : (row, chan, n_par) with n_par 1 or 2 (XX,YY or RR,LL).
    Returns I (row, chan) complex and w_I (row, chan); w_I is 0 wherever a hand
    is flagged, has no positive weight, or is not finite, so those points drop
    out of every sum. var(I) = (var1 + var2) / 4, so w_I = 4 / (1/w1 + 1/w2).
    """
    good = ~flag & np.isfinite(vis) & (weight > 0) & np.isfinite(weight)
    if vis.shape[-1] == 1:
        w_i = np.where(good[..., 0], weight[..., 0], 0.0)
        return np.where(good[..., 0], vis[..., 0], 0.0), w_i
    both = good[..., 0] & good[..., 1]
    with np.errstate(divide="ignore"):
        inv = 1.0 / weight[..., 0] + 1.0 / weight[..., 1]
        w_i = np.where(both, 4.0 / np.where(both, inv, 1.0), 0.0)
    v_i = np.where(both, 0.5 * (vis[..., 0] + vis[..., 1]), 0.0)
    return v_i, w_i


def point_sums(v_i: np.ndarray, w_i: np.ndarray, group: np.ndarray, n_group: int) -> np.ndarray:
    """Running sums of the point-source fit, per group of rows.

    v_i, w_i : (row, chan) Stokes I and its weight (0 = not used).
    group : (row,) int in [0, n_group), e.g. the field index of each row.
    Returns (n_group, N_SUMS) float64.
    """
    per_row = np.stack(
        [
            w_i.sum(axis=1),
            (w_i * v_i.real).sum(axis=1),
            (w_i * (v_i.real**2 + v_i.imag**2)).sum(axis=1),
            np.count_nonzero(w_i > 0, axis=1).astype(np.float64),
        ],
        axis=1,
    )
    out = np.zeros((n_group, N_SUMS))
    for k in range(N_SUMS):
        out[:, k] = np.bincount(group, weights=per_row[:, k], minlength=n_group)
    return out


@dataclass(frozen=True)
class PointFit:
    """Fitted flux densities; every array has the shape of the sums minus the last axis."""

    flux: np.ndarray  # Jy
    sigma_weights: np.ndarray  # Jy, from the weights alone
    sigma_chi2: np.ndarray  # Jy, sigma_weights * sqrt(reduced chi^2)
    chi2_red: np.ndarray
    n_vis: np.ndarray  # number of Stokes I visibilities used


def fit_point(sums: np.ndarray) -> PointFit:
    """Solve the point-source fit from its sums (..., N_SUMS); NaN where no data."""
    sum_w = sums[..., SUM_W]
    n = sums[..., SUM_N]
    has = (sum_w > 0) & (n > 0)
    safe_w = np.where(has, sum_w, 1.0)
    flux = np.where(has, sums[..., SUM_W_RE] / safe_w, np.nan)
    chi2 = sums[..., SUM_W_ABS2] - np.where(has, flux, 0.0) ** 2 * sum_w
    dof = 2.0 * n - 1.0
    chi2_red = np.where(
        has & (dof > 0), np.maximum(chi2, 0.0) / np.where(dof > 0, dof, 1.0), np.nan
    )
    sigma_w = np.where(has, 1.0 / np.sqrt(safe_w), np.nan)
    return PointFit(
        flux=flux,
        sigma_weights=sigma_w,
        sigma_chi2=sigma_w * np.sqrt(chi2_red),
        chi2_red=chi2_red,
        n_vis=n.astype(np.int64),
    )
