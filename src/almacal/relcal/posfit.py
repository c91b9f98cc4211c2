"""fitposition: point / Gaussian / point+Gaussian fits with a fitted position offset.

On the gridded sums of almacal.relcal.uvgrid, per (epoch, calibrator):

    V(u, v) = A(q) exp(+2 pi i (u l + v m)),    q = sqrt(u^2 + v^2)
    point: A = P;  gaussian: A = G exp(-(pi theta q)^2 / (4 ln 2));  point+gaussian: A = P + G ...

One offset (l east, m north, arcsec on the sky) is shared by both components
of 'point+gaussian' (a compact source and its envelope are co-centred; two
free positions are degenerate at ACA resolution). Weighted least squares on
the cells' mean visibilities (real and imaginary parts, weight sum(w)), started
at the peak of the dirty image over offsets within the grid's limit; the
covariance from the Jacobian is scaled by chi2_red. The flux for the MCF is the
total flux A(0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.relcal.uvgrid import (
    ARCSEC,
    G_N,
    G_W,
    G_W_ABS2,
    G_W_IM,
    G_W_RE,
    G_W_U,
    G_W_V,
    UvGrid,
)
from almacal.relcal.uvmodel import ModelFit, fit_problem, gaussian_bounds, gaussian_vis

START_TRIALS = 33
"""Offsets per axis of the dirty-image search that starts the fit."""


@dataclass(frozen=True)
class PositionFit:
    """ModelFit plus the offsets (n_epoch, n_cal) in arcsec; sigmas include chi2_red."""

    fit: ModelFit
    dra_arcsec: np.ndarray
    ddec_arcsec: np.ndarray
    dra_sigma_arcsec: np.ndarray
    ddec_sigma_arcsec: np.ndarray
    at_limit: np.ndarray  # (n_epoch, n_cal) bool: offset on the grid's limit
    grid: UvGrid

    def to_record(self) -> dict:
        return self.fit.to_record() | {
            "model_dra_arcsec": self.dra_arcsec.tolist(),
            "model_ddec_arcsec": self.ddec_arcsec.tolist(),
            "model_dra_sigma_arcsec": self.dra_sigma_arcsec.tolist(),
            "model_ddec_sigma_arcsec": self.ddec_sigma_arcsec.tolist(),
            "model_position_at_limit": self.at_limit.tolist(),
            "model_position_limit_arcsec": self.grid.max_offset_arcsec,
            "model_grid_cell_lambda": self.grid.cell_lambda,
        }


def _amplitude(model: str, x: np.ndarray, q: np.ndarray) -> np.ndarray:
    if model == "point":
        return np.full(q.shape, x[0])
    if model == "gaussian":
        return x[0] * gaussian_vis(q, x[1] * ARCSEC)
    return x[0] + x[1] * gaussian_vis(q, x[2] * ARCSEC)


def _start_offset(
    s_re: np.ndarray, s_im: np.ndarray, u: np.ndarray, v: np.ndarray, limit: float
) -> tuple[float, float]:
    """Peak of Re sum(w V exp(-2 pi i (u l + v m))) on a START_TRIALS^2 grid of offsets.

    The phase factor separates in l and m, so the dirty image is one matrix product.
    """
    trial = np.linspace(-limit, limit, START_TRIALS) * ARCSEC
    a = np.exp(-2j * np.pi * u[:, None] * trial[None, :]) * (s_re + 1j * s_im)[:, None]
    b = np.exp(-2j * np.pi * v[:, None] * trial[None, :])
    dirty = (a.T @ b).real  # (l, m)
    i, j = np.unravel_index(np.argmax(dirty), dirty.shape)
    return float(trial[i] / ARCSEC), float(trial[j] / ARCSEC)


_N_PARAMS = {"point": 3, "gaussian": 4, "point+gaussian": 5}


def fit_positions(cells: Sequence[Sequence[np.ndarray]], grid: UvGrid, model: str) -> PositionFit:
    """cells[epoch][cal] : (k, N_GRID_SUMS) sums of the occupied cells (uvgrid.occupied_cells);
    model : 'point', 'gaussian' or 'point+gaussian'. NaN where a pair has too few
    cells or the fit fails."""
    shape = (len(cells), len(cells[0]))
    keys = ("t", "tsw", "chi", "p", "g", "fwhm", "l", "m", "ls", "ms")
    out = {k: np.full(shape, np.nan) for k in keys}
    at_limit = np.zeros(shape, bool)
    n_vis = np.array([[c[:, G_N].sum() for c in row] for row in cells]).astype(np.int64)
    lim = grid.max_offset_arcsec
    status = np.full(shape, "", dtype=object)
    for idx in np.ndindex(*shape):
        s = cells[idx[0]][idx[1]]
        s = s[s[:, G_W] > 0]
        if s.shape[0] == 0:
            continue
        if s.shape[0] < _N_PARAMS[model]:
            status[idx] = f"only {s.shape[0]} (u, v) cells with data, {_N_PARAMS[model]} needed"
            continue
        fitted, status[idx] = _fit_pair(s, model, lim)
        for k, v in fitted.items():
            out[k][idx] = v
        at_limit[idx] = max(abs(fitted["l"]), abs(fitted["m"])) >= 0.999 * lim
        if at_limit[idx] and not status[idx]:
            status[idx] = (
                "offset (%+.2f, %+.2f) arcsec at the grid limit %.2f arcsec: the source is "
                "not where the fit can follow it" % (fitted["l"], fitted["m"], lim)
            )
    return PositionFit(
        fit=ModelFit.from_columns(model, out, n_vis, status),
        dra_arcsec=out["l"],
        ddec_arcsec=out["m"],
        dra_sigma_arcsec=out["ls"],
        ddec_sigma_arcsec=out["ms"],
        at_limit=at_limit,
        grid=grid,
    )


def _fit_pair(s: np.ndarray, model: str, lim: float) -> tuple[dict[str, float], str]:
    """Least squares on one pair's cells s (k, N_GRID_SUMS), offsets within +-lim arcsec;
    the ModelFit columns (see ModelFit.from_columns) and l, m and their sigmas, and the
    fit's problem ('' when none, uvmodel.fit_problem)."""
    from scipy.optimize import least_squares

    w = s[:, G_W]
    u, v = s[:, G_W_U] / w, s[:, G_W_V] / w
    y = (s[:, G_W_RE] + 1j * s[:, G_W_IM]) / w
    q = np.hypot(u, v)
    sw = np.sqrt(w)
    l0, m0 = _start_offset(s[:, G_W_RE], s[:, G_W_IM], u, v, lim)
    ph0 = np.exp(-2j * np.pi * (u * l0 + v * m0) * ARCSEC)
    a0 = max(float((w * (y * ph0).real).sum() / w.sum()), 0.0)

    def resid(x):
        r = _amplitude(model, x, q) * np.exp(2j * np.pi * (u * x[-2] + v * x[-1]) * ARCSEC) - y
        return np.concatenate([sw * r.real, sw * r.imag])

    lo, hi, fwhm0 = gaussian_bounds(float(q.min()))
    if model == "point":
        start, lo, hi = [a0], lo[:1], hi[:1]
        grad = np.array([1.0, 0.0, 0.0])
    elif model == "gaussian":
        start, lo, hi = [a0, fwhm0], lo[1:], hi[1:]
        grad = np.array([1.0, 0.0, 0.0, 0.0])
    else:
        start = [a0, 0.0, fwhm0]
        grad = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    fit = least_squares(
        resid, [*start, l0, m0], bounds=([*lo, -lim, -lim], [*hi, lim, lim]), x_scale="jac"
    )
    x = fit.x
    cov = np.linalg.pinv(fit.jac.T @ fit.jac)
    # chi2 of the visibilities: scatter within cells plus the cells' residuals
    chi2 = (s[:, G_W_ABS2] - w * np.abs(y) ** 2).sum() + 2 * fit.cost
    dof = 2 * s[:, G_N].sum() - x.size
    chi2_red = max(chi2, 0.0) / dof if dof > 0 else np.nan
    scale = math.sqrt(chi2_red)
    g = 0.0 if model == "point" else x[0] if model == "gaussian" else x[1]
    fwhm = np.nan if model == "point" else x[-3]
    problem = fit_problem(fit, hi[-1] if model != "point" else np.inf, g, fwhm)
    return {
        "t": x[0] if model != "point+gaussian" else x[0] + x[1],
        "tsw": math.sqrt(max(float(grad @ cov @ grad), 0.0)),
        "chi": chi2_red,
        "p": 0.0 if model == "gaussian" else x[0],
        "g": g,
        "fwhm": fwhm,
        "l": x[-2],
        "m": x[-1],
        "ls": math.sqrt(max(cov[-2, -2], 0.0)) * scale,
        "ms": math.sqrt(max(cov[-1, -1], 0.0)) * scale,
    }, problem
