"""Resolved calibrators: Stokes I binned in uv distance, point / Gaussian /
point+Gaussian fits at the phase centre, and a model-free amplitude-ratio check.

A source at the phase centre whose brightness is circularly symmetric has a
real visibility that depends only on the uv distance q. Binning the weighted
real parts in q (per calibrator and spw) keeps everything a fit needs:

    point:            V(q) = P
    gaussian:         V(q) = G exp(-(pi theta q)^2 / (4 ln 2))      theta = FWHM (rad)
    point+gaussian:   V(q) = P + G exp(-(pi theta q)^2 / (4 ln 2))

The flux used for the MCF is the total flux V(0) (P, G or P + G), which does
not depend on which baselines an epoch had. The model-free check is the
inverse-variance weighted mean over common uv bins of A_i(q) / mean_l A_l(q),
the ratio of an epoch's binned amplitude to the mean of all epochs (as
DSHARP's reduction utilities compare observations of one source).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from almacal.constants import ARCSEC_RAD as ARCSEC
from almacal.relcal.fluxfit import PointFit

# Columns of a binned sums array (..., n_bin, N_BIN_SUMS).
B_W, B_W_RE, B_W_IM, B_W_ABS2, B_N, B_W_Q = range(6)
N_BIN_SUMS = 6
BINS_PER_DECADE = 40
"""6 % wide bins: a Gaussian that falls by e between bins is still sampled."""

_G = math.pi**2 / (4.0 * math.log(2.0))


def uv_edges_lambda(lo: float = 1.0e2, hi: float = 1.0e8) -> np.ndarray:
    """Log-spaced bin edges in wavelengths, the same for every epoch."""
    n = int(round(math.log10(hi / lo) * BINS_PER_DECADE))
    return np.logspace(math.log10(lo), math.log10(hi), n + 1)


def bin_sums(
    v_i: np.ndarray,
    valid: np.ndarray,
    w_i: np.ndarray,
    q_lambda: np.ndarray,
    group: np.ndarray,
    n_group: int,
    edges: np.ndarray,
) -> np.ndarray:
    """Weighted sums per (group, uv bin): (n_group, n_bin, N_BIN_SUMS).

    v_i, valid, q_lambda : (row, chan); w_i : (row,) or (row, chan); group : (row,).
    """
    n_bin = edges.size - 1
    b = np.searchsorted(edges, q_lambda, side="right") - 1
    w = np.where(valid, w_i if w_i.ndim == 2 else w_i[:, None], 0.0)
    use = (w > 0) & (b >= 0) & (b < n_bin)
    key = (np.broadcast_to(group[:, None], b.shape) * n_bin + b)[use]
    w, v, q = w[use], v_i[use], q_lambda[use]
    size = n_group * n_bin
    out = np.zeros((size, N_BIN_SUMS))
    for col, weights in (
        (B_W, w),
        (B_W_RE, w * v.real),
        (B_W_IM, w * v.imag),
        (B_W_ABS2, w * (v.real**2 + v.imag**2)),
        (B_N, None),
        (B_W_Q, w * q),
    ):
        out[:, col] = np.bincount(key, weights=weights, minlength=size)
    return out.reshape(n_group, n_bin, N_BIN_SUMS)


def gaussian_vis(q_lambda: np.ndarray, fwhm_rad: float) -> np.ndarray:
    return np.exp(-_G * (fwhm_rad * q_lambda) ** 2)


MIN_GAUSSIAN_VISIBILITY = 0.1
"""A Gaussian must keep this fraction of its flux on the shortest baseline present.

A wider one is resolved out on every baseline: its flux is then unconstrained and
the fit can return any total (seen: -5.8e8 Jy on a calibrator with no envelope),
which an unweighted Eq. 3 mean cannot survive. At 0.1 its flux error is at most
~10x that of a point source.
"""


def gaussian_bounds(q_min_lambda: float) -> tuple[list[float], list[float], float]:
    """(lower, upper, start) for [point flux, Gaussian flux, FWHM arcsec] of a fit.

    Fluxes are non-negative (calibrators); the FWHM is limited so that the
    Gaussian keeps MIN_GAUSSIAN_VISIBILITY of its flux at q_min_lambda.
    """
    if q_min_lambda <= 0:  # zero-spacing data measure any width
        return [0.0, 0.0, 0.0], [np.inf, np.inf, np.inf], 5.0
    limit = math.sqrt(-math.log(MIN_GAUSSIAN_VISIBILITY) / _G) / q_min_lambda / ARCSEC
    return [0.0, 0.0, 0.0], [np.inf, np.inf, limit], min(5.0, 0.5 * limit)


@dataclass(frozen=True)
class ModelFit:
    """Fits per (epoch, calibrator); NaN where no data.

    total : V(0) in Jy, the flux used for the MCF; point, gaussian : the two
    components (0 when the model lacks one); fwhm_arcsec : Gaussian FWHM;
    status : '' for a good fit, else why it is not one (fit_problem), with the values
    where the fit stopped.
    """

    model: str
    total: np.ndarray
    total_sigma_weights: np.ndarray
    total_sigma: np.ndarray  # sigma_weights x sqrt(chi2_red)
    chi2_red: np.ndarray
    n_vis: np.ndarray
    point: np.ndarray
    gaussian: np.ndarray
    fwhm_arcsec: np.ndarray
    status: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=object))

    @classmethod
    def from_columns(
        cls,
        model: str,
        out: dict[str, np.ndarray],
        n_vis: np.ndarray,
        status: np.ndarray | None = None,
    ) -> ModelFit:
        """out : t (total), tsw (its sigma from the weights), chi (chi2_red), p, g, fwhm;
        status : per pair '' or the fit's problem (all '' when None)."""
        if status is None:
            status = np.full(out["t"].shape, "", dtype=object)
        return cls(
            model=model,
            total=out["t"],
            total_sigma_weights=out["tsw"],
            total_sigma=out["tsw"] * np.sqrt(out["chi"]),
            chi2_red=out["chi"],
            n_vis=n_vis,
            point=out["p"],
            gaussian=out["g"],
            fwhm_arcsec=out["fwhm"],
            status=status,
        )

    def total_fit(self) -> PointFit:
        """The total flux V(0) as the flux of the MCFs."""
        return PointFit(
            flux=self.total,
            sigma_weights=self.total_sigma_weights,
            sigma_chi2=self.total_sigma,
            chi2_red=self.chi2_red,
            n_vis=self.n_vis,
        )

    def to_record(self) -> dict:
        return {
            "model": self.model,
            "model_flux_point": self.point.tolist(),
            "model_flux_gaussian": self.gaussian.tolist(),
            "model_fwhm_arcsec": self.fwhm_arcsec.tolist(),
        }


MIN_BINS = 4
"""uv bins with data a Gaussian (plus point) fit needs: one more than its parameters."""

FWHM_AT_BOUND = 0.999
"""A fitted FWHM this close to its upper bound sits at the bound."""

LSQ_STATUS = {
    -1: "improper input to scipy least_squares",
    0: "stopped at the evaluation limit without converging",
}


def fit_problem(fit, hi_fwhm: float, g_flux: float, fwhm: float) -> str:
    """Why a least_squares result is not a usable fit, '' when it is.

    Not converged (status <= 0), a non-finite solution, or a Gaussian FWHM at its
    upper bound while the Gaussian has flux: then its total flux is extrapolated from
    where it keeps 10 % of its visibility and is not measured (a Gaussian without
    flux, or a FWHM at the lower bound, reduces to a point source and is fine).
    """
    if not fit.success:
        return "did not converge: %s (status %d)" % (
            LSQ_STATUS.get(fit.status, fit.message),
            fit.status,
        )
    if not np.all(np.isfinite(fit.x)):
        return "gave a non-finite solution"
    if g_flux > 0 and np.isfinite(hi_fwhm) and fwhm >= FWHM_AT_BOUND * hi_fwhm:
        return (
            "Gaussian FWHM %.2f arcsec at its upper bound (the widest the shortest baseline "
            "can measure): the total flux is not constrained" % fwhm
        )
    return ""


def _fit_binned(s: np.ndarray, model: str) -> tuple[dict[str, float], str] | None:
    """One pair's bins s (n_bin, N_BIN_SUMS): the ModelFit columns and the fit's problem
    ('' when none); None without data."""
    from scipy.optimize import least_squares

    have = s[:, B_W] > 0
    if not have.any():
        return None
    if have.sum() < MIN_BINS:
        return {}, f"only {int(have.sum())} uv bins with data, {MIN_BINS} needed"
    w = s[have, B_W]
    y = s[have, B_W_RE] / w
    q = s[have, B_W_Q] / w
    sw = np.sqrt(w)
    lo, hi, fwhm0 = gaussian_bounds(float(q.min()))
    p0 = max(float(y.mean()), 0.0)
    if model == "gaussian":

        def resid(x):
            return sw * (x[0] * gaussian_vis(q, x[1] * ARCSEC) - y)

        start, lo, hi = [p0, fwhm0], lo[1:], hi[1:]
        grad = np.array([1.0, 0.0])
    else:

        def resid(x):
            return sw * (x[0] + x[1] * gaussian_vis(q, x[2] * ARCSEC) - y)

        start = [p0, 0.0, fwhm0]
        grad = np.array([1.0, 1.0, 0.0])
    fit = least_squares(resid, start, bounds=(lo, hi), x_scale="jac")
    x = fit.x
    cov = np.linalg.pinv(fit.jac.T @ fit.jac)
    # chi2 of the visibilities: within-bin scatter plus the binned residuals
    chi2 = (s[have, B_W_ABS2] - w * y**2 - s[have, B_W_IM] ** 2 / w).sum() + 2 * fit.cost
    dof = 2 * s[have, B_N].sum() - len(start)
    g = x[0] if model == "gaussian" else x[1]
    values = {
        "t": x[0] if model == "gaussian" else x[0] + x[1],
        "tsw": math.sqrt(max(float(grad @ cov @ grad), 0.0)),
        "chi": max(chi2, 0.0) / dof if dof > 0 else np.nan,
        "p": 0.0 if model == "gaussian" else x[0],
        "g": g,
        "fwhm": x[-1],
    }
    return values, fit_problem(fit, hi[-1], g, x[-1])


def fit_models(sums: np.ndarray, model: str) -> ModelFit:
    """Fit model ('gaussian' or 'point+gaussian') to sums (n_epoch, n_cal, n_bin, N_BIN_SUMS).

    Each (epoch, calibrator) is fitted on its own (weighted least squares on the
    binned real parts; the bin means carry weight sum(w)). Fluxes are kept
    non-negative and the FWHM below the width the shortest baseline can still
    measure (gaussian_bounds). A fit that failed keeps where it stopped and says
    why in status (fit_problem).
    """
    shape = sums.shape[:2]
    out = {k: np.full(shape, np.nan) for k in ("t", "tsw", "chi", "p", "g", "fwhm")}
    status = np.full(shape, "", dtype=object)
    n_vis = sums[..., B_N].sum(axis=-1).astype(np.int64)
    for idx in np.ndindex(*shape):
        fitted = _fit_binned(sums[idx], model)
        if fitted is None:
            continue
        values, status[idx] = fitted
        for k, v in values.items():
            out[k][idx] = v
    return ModelFit.from_columns(model, out, n_vis, status)


@dataclass(frozen=True)
class RatioCheck:
    """Model-free MCF per (epoch, calibrator): mean_l A_l(q) / A_i(q) averaged over common bins."""

    mcf: np.ndarray
    mcf_sigma: np.ndarray
    rfcf: np.ndarray  # (n_epoch,) mean over the calibrators used for the rFCF
    uv_klambda: tuple[float, float]  # range of the bins every epoch shares
    n_bin: np.ndarray  # (n_cal,) common bins

    def to_record(self) -> dict:
        return {
            "check_mcf": self.mcf.tolist(),
            "check_mcf_sigma": self.mcf_sigma.tolist(),
            "check_rfcf": self.rfcf.tolist(),
            "check_uv_klambda": list(self.uv_klambda),
            "check_n_bin": self.n_bin.tolist(),
        }


def ratio_check(sums: np.ndarray, edges: np.ndarray, used: np.ndarray) -> RatioCheck:
    """sums : (n_epoch, n_cal, n_spw, n_bin, N_BIN_SUMS); used : (n_epoch, n_cal) bool.

    Per calibrator and spw, the bins where every epoch has data; in each, the
    epoch's mean real part A_i and the epochs' mean; r_b = mean_l A_l / A_i and
    MCF_i = sum w_b r_b / sum w_b with w_b = 1 / sigma(r_b)^2 over the bins of
    all spws. Spws are kept apart because a bin holds a different mix of spws
    (and so of source spectrum) in each configuration.
    """
    n_ep, n_cal, n_spw = sums.shape[:3]
    flat = _ratio_per_cell(sums.reshape(n_ep, n_cal * n_spw, *sums.shape[3:]))
    r = flat[0].reshape(n_ep, n_cal, n_spw)
    rs = flat[1].reshape(n_ep, n_cal, n_spw)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(np.isfinite(r), 1.0 / rs**2, 0.0)
        mcf = np.where(
            w.sum(axis=2) > 0, (w * np.nan_to_num(r)).sum(axis=2) / w.sum(axis=2), np.nan
        )
        sig = 1.0 / np.sqrt(w.sum(axis=2))
    common = flat[2].reshape(n_cal, n_spw, -1)
    use = used & np.isfinite(mcf)
    n = use.sum(axis=1)
    rfcf = np.where(n > 0, np.where(use, mcf, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
    any_common = np.flatnonzero(common.any(axis=(0, 1)))
    uv = (
        (float(edges[any_common[0]] / 1e3), float(edges[any_common[-1] + 1] / 1e3))
        if any_common.size
        else (float("nan"), float("nan"))
    )
    return RatioCheck(mcf, sig, rfcf, uv, common.any(axis=1).sum(axis=1))


def _ratio_per_cell(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sums (n_epoch, n_cell, n_bin, N_BIN_SUMS) -> ratio (n_epoch, n_cell), its sigma,
    and the common bins (n_cell, n_bin)."""
    n_ep, n_cal = sums.shape[:2]
    sw = sums[..., B_W]
    with np.errstate(invalid="ignore", divide="ignore"):
        amp = sums[..., B_W_RE] / sw  # (e, j, b)
        amp_sigma = 1.0 / np.sqrt(sw)
    common = np.all(sw > 0, axis=0)  # (j, b)
    mcf = np.full((n_ep, n_cal), np.nan)
    sig = np.full((n_ep, n_cal), np.nan)
    for j in range(n_cal):
        b = common[j]
        if not b.any():
            continue
        a, s = amp[:, j, b], amp_sigma[:, j, b]
        mean = a.mean(axis=0)
        r = mean / a
        rs = r * np.hypot(s / a, np.sqrt((s**2).sum(axis=0)) / n_ep / mean)
        w = 1.0 / rs**2
        mcf[:, j] = (w * r).sum(axis=1) / w.sum(axis=1)
        sig[:, j] = 1.0 / np.sqrt(w.sum(axis=1))
    return mcf, sig, common
