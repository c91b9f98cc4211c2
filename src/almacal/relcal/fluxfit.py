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

from almacal.scratch import Scratch, memory_order

# Columns of a sums array (..., N_SUMS).
SUM_W, SUM_W_RE, SUM_W_ABS2, SUM_N = range(4)
N_SUMS = 4


def stokes_i(
    vis: np.ndarray, flag: np.ndarray, scratch: Scratch | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stokes I = (P1 + P2) / 2 from the parallel hands, and where it is usable.

    vis, flag : (row, chan, n_par) with n_par 1 or 2 (XX,YY or RR,LL).
    Returns I (row, chan) complex, 0 where not usable, and valid (row, chan):
    neither hand flagged and I finite (a NaN or inf in either hand propagates).
    With a scratch, both are its arrays (valid until its next use; valid read-only).
    """
    scratch = Scratch() if scratch is None else scratch
    shape = vis.shape[:2]
    order = memory_order(vis)
    v_i = scratch.get("v_i", shape, np.complex128, order)
    if vis.shape[-1] == 1:
        np.copyto(v_i, vis[..., 0])
    else:
        # explicit hand arithmetic: numpy reductions over a length-2 axis are ~10x slower
        np.add(vis[..., 0], vis[..., 1], out=v_i)
        v_i *= 0.5
    if not flag.any():
        # the sum of finite values is finite (or overflows: the check below settles it)
        with np.errstate(over="ignore", invalid="ignore"):
            finite = bool(np.isfinite(v_i.sum()))
        if finite:
            true = scratch.constant("true", v_i.size, np.bool_, np.ones)
            return v_i, true.reshape(shape, order=order)
    good = scratch.get("good", shape, np.bool_, order)
    if vis.shape[-1] == 1:
        np.logical_not(flag[..., 0], out=good)
    else:
        np.logical_or(flag[..., 0], flag[..., 1], out=good)
        np.logical_not(good, out=good)
    valid = np.isfinite(v_i, out=scratch.get("valid", shape, np.bool_, order))
    valid &= good
    if not valid.all():  # a masked copy of a chunk is not free: skip it when none is needed
        np.copyto(v_i, 0.0, where=np.logical_not(valid, out=good))
    return v_i, valid


def stokes_i_weight(weight: np.ndarray) -> np.ndarray:
    """Weight of I from the hands' weights (..., n_par): var(I) = (var1 + var2) / 4.

    w_I = 4 w1 w2 / (w1 + w2); 0 where a hand has no positive, finite weight.
    """
    if weight.shape[-1] == 1:
        w = weight[..., 0]
        return np.where(np.isfinite(w) & (w > 0), w, 0.0)
    w1, w2 = weight[..., 0], weight[..., 1]
    ok = np.isfinite(w1) & np.isfinite(w2) & (w1 > 0) & (w2 > 0)
    return np.where(ok, 4.0 * w1 * w2 / np.where(ok, w1 + w2, 1.0), 0.0)


def row_sums(v_i: np.ndarray, valid: np.ndarray, w_i: np.ndarray) -> np.ndarray:
    """The fit's sums over channels, per row.

    v_i, valid : (row, chan) from stokes_i; w_i : (row,) when the weight is the
    same in every channel (WEIGHT), or (row, chan) (WEIGHT_SPECTRUM).
    Returns (row, N_SUMS).
    """
    re, im = v_i.real, v_i.imag
    out = np.empty((v_i.shape[0], N_SUMS))
    if w_i.ndim == 1:
        n = np.count_nonzero(valid, axis=1) * (w_i > 0)
        out[:, SUM_W] = w_i * n
        out[:, SUM_W_RE] = w_i * re.sum(axis=1)
        out[:, SUM_W_ABS2] = w_i * (np.einsum("rc,rc->r", re, re) + np.einsum("rc,rc->r", im, im))
    else:
        w = np.where(valid, w_i, 0.0)
        n = np.count_nonzero(w, axis=1)
        out[:, SUM_W] = w.sum(axis=1)
        out[:, SUM_W_RE] = np.einsum("rc,rc->r", w, re)
        out[:, SUM_W_ABS2] = np.einsum("rc,rc->r", w, re * re + im * im)
    out[:, SUM_N] = n
    return out


def point_sums(per_row: np.ndarray, group: np.ndarray, n_group: int) -> np.ndarray:
    """Add up row sums (row, N_SUMS) per group, e.g. the calibrator index of each row.

    group : (row,) int in [0, n_group). Returns (n_group, N_SUMS) float64.
    """
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
