"""Widths of the normalized MCFs: total, fit noise (Eq. 4) and spw calibration error (Eq. 5).

Model (seed 000 Sect. 3.4): a normalized MCF r_ijk (epoch i, calibrator j, spw k)
is 1 + d_ik + e_ijk, with d_ik the spw calibration error of that epoch and spw
(shared by all calibrators, variance sigma_spw^2) and e_ijk the point-fit noise
(variance sigma_fit^2). The construction removes degrees of freedom: Eq. 1
divides by the mean over epochs and the normalization by the all-spw MCF
divides by the mean over spws, so both terms arrive centred over epochs and
over spws, and Eq. 4 also centres the fit noise over calibrators. To first
order (equal weights), with n_e epochs, n_c calibrators and n_s spws:

    E[sum (r - mean_j r)^2]     = sigma_fit^2 (n_e-1)(n_s-1)(n_c-1)          (Eq. 4)
    E[sum (mean_j r - 1)^2]     = (sigma_spw^2 + sigma_fit^2/n_c)(n_e-1)(n_s-1)  (Eq. 5)
    E[sum (r - 1)^2]            = n_c (sigma_spw^2 + sigma_fit^2)(n_e-1)(n_s-1)

so the unbiased variance estimates divide by those degrees of freedom, and
sigma_spw^2 subtracts the fit noise that the calibrator means still carry.
Errors are those of a Gaussian variance with that many degrees of freedom,
var(s^2) = 2 sigma^4 / dof (for sigma_total, the effective dof of its two independent
parts: the spw error is shared by the calibrators). The paper's histogram widths
(Fig. 4: 0.9 %, 0.5 %, 0.8 %) are the plain widths of the three distributions; they
are reported too (``width_*``), and are smaller than the model sigmas by the centring factors.

Eq. 4 as printed divides MCF_ijk - mean_j MCF_ijk by each calibrator's own MCF_ij,
which would leave each calibrator's MCF offset from the others of its epoch in the
residual (percent level, wider than Fig. 4's 0.5 %). The text subtracts the black
bars of Fig. 3, the calibrator mean of the normalized MCFs; so do we (Eq. 5 alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# One-sided 95 % Gaussian quantile, for the upper limit on sigma_spw.
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class Width:
    """A Gaussian width and its 1-sigma error."""

    sigma: float
    error: float

    def to_record(self) -> dict[str, float]:
        return {"sigma": self.sigma, "error": self.error}


@dataclass(frozen=True)
class Decomposition:
    """Seed 000 Sect. 3.4 decomposition of the normalized MCF scatter.

    residual : (n_epoch, n_cal, n_spw), Eq. 4; spw_mean : (n_epoch, n_spw), Eq. 5.
    sigma_spw_var is the unbiased estimate of sigma_spw^2 (may be < 0 by noise);
    sigma_spw is sqrt(max(0, sigma_spw_var)).
    """

    residual: np.ndarray
    spw_mean: np.ndarray
    total: Width  # sqrt(sigma_spw^2 + sigma_fit^2) per normalized MCF
    fit: Width  # sigma_fit
    sigma_spw_var: float
    sigma_spw_var_error: float
    width_total: Width  # plain widths of the three histograms (Fig. 4)
    width_fit: Width
    width_spw: Width
    dof_fit: int
    dof_spw: int

    @property
    def sigma_spw(self) -> float:
        return float(np.sqrt(max(self.sigma_spw_var, 0.0)))

    @property
    def sigma_spw_interval(self) -> tuple[float, float]:
        """sigma_spw at the variance estimate -/+ its 1-sigma error, each clipped at 0.

        The variance is the estimated quantity (unbiased, Gaussian-like error); its
        square root is not, and its delta-method error var_error / (2 sigma) diverges
        as sigma_spw -> 0. Mapping the variance's interval keeps both sides finite.
        """
        var, err = max(self.sigma_spw_var, 0.0), self.sigma_spw_var_error
        return float(np.sqrt(max(var - err, 0.0))), float(np.sqrt(var + err))

    @property
    def sigma_spw_error(self) -> float:
        """The larger side of sigma_spw_interval: always a finite number >= 0.

        Equals the delta-method error (to ~10 %) when sigma_spw is well measured, and
        the 1-sigma upper value sqrt(variance_error) when the estimate is 0.
        """
        low, high = self.sigma_spw_interval
        return max(self.sigma_spw - low, high - self.sigma_spw)

    @property
    def sigma_spw_upper(self) -> float:
        """One-sided 95 % upper limit on sigma_spw."""
        return float(np.sqrt(max(self.sigma_spw_var, 0.0) + Z95 * self.sigma_spw_var_error))

    @property
    def spw_error_detected(self) -> bool:
        """sigma_spw^2 more than 2 sigma above 0 (otherwise 'consistent with 0')."""
        return self.sigma_spw_var > 2.0 * self.sigma_spw_var_error

    def leave_one_out(self) -> tuple[np.ndarray, np.ndarray]:
        """(sigma_spw, sigma_fit) per epoch from the other epochs only, each (n_epoch,).

        The centred terms have the same variance in every epoch, so dropping one
        epoch leaves (n_epoch - 1) / n_epoch of the degrees of freedom. An epoch
        judged against these cannot hide its own error by inflating sigma_spw.
        """
        n_e, n_c, _ = self.residual.shape
        keep = (n_e - 1) / n_e
        ss_fit = (self.residual**2).sum(axis=(1, 2))
        ss_mean = ((self.spw_mean - 1.0) ** 2).sum(axis=1)
        fit_var = (ss_fit.sum() - ss_fit) / (self.dof_fit * keep)
        mean_var = (ss_mean.sum() - ss_mean) / (self.dof_spw * keep)
        return np.sqrt(np.maximum(mean_var - fit_var / n_c, 0.0)), np.sqrt(fit_var)

    def to_record(self) -> dict:
        return {
            "sigma_total": self.total.to_record(),
            "sigma_fit": self.fit.to_record(),
            "sigma_spw": {
                "sigma": self.sigma_spw,
                "error": self.sigma_spw_error,
                "error_minus": self.sigma_spw - self.sigma_spw_interval[0],
                "error_plus": self.sigma_spw_interval[1] - self.sigma_spw,
                "upper95": self.sigma_spw_upper,
                "variance": self.sigma_spw_var,
                "variance_error": self.sigma_spw_var_error,
                "detected": self.spw_error_detected,
            },
            "width_total": self.width_total.to_record(),
            "width_fit": self.width_fit.to_record(),
            "width_spw": self.width_spw.to_record(),
            "dof_fit": self.dof_fit,
            "dof_spw": self.dof_spw,
        }


def decompose(norm: np.ndarray, sigma: np.ndarray | None = None) -> Decomposition:
    """Decompose normalized MCFs (n_epoch, n_cal, n_spw) into fit noise and spw error.

    sigma : optional (n_epoch, n_cal, n_spw) errors of the normalized MCFs. They do
    not weight the estimates (sigma_fit is the rms fit noise, like the paper's
    histogram width) but make the error of sigma_fit honest when the noise differs
    between points: a few noisy calibrators leave fewer effective degrees of
    freedom, dof x mean(s^2)^2 / mean(s^4). Needs n_epoch, n_cal, n_spw >= 2.
    """
    n_e, n_c, n_s = norm.shape
    if min(n_e, n_c, n_s) < 2:
        raise ValueError(f"need >= 2 epochs, calibrators and spws, got shape {norm.shape}")
    spw_mean = norm.mean(axis=1)  # Eq. 5, the black bars of Fig. 3
    residual = norm - spw_mean[:, None, :]  # Eq. 4
    dof_spw = (n_e - 1) * (n_s - 1)
    dof_fit = dof_spw * (n_c - 1)
    fit_var = float((residual**2).sum() / dof_fit)
    mean_var = float(((spw_mean - 1.0) ** 2).sum() / dof_spw)
    total_var = float(((norm - 1.0) ** 2).sum() / (n_c * dof_spw))
    spw_var = mean_var - fit_var / n_c
    s2 = np.ones(1) if sigma is None else np.asarray(sigma, dtype=float) ** 2
    dof_fit_eff = dof_fit * float(s2.mean() ** 2 / (s2**2).mean())
    spw_var_error = float(
        np.sqrt(2 * mean_var**2 / dof_spw + 2 * (fit_var / n_c) ** 2 / dof_fit_eff)
    )
    return Decomposition(
        residual=residual,
        spw_mean=spw_mean,
        total=_width(total_var, _total_dof(fit_var, mean_var, dof_fit, dof_fit_eff, n_c, dof_spw)),
        fit=_width(fit_var, dof_fit_eff),
        sigma_spw_var=spw_var,
        sigma_spw_var_error=spw_var_error,
        width_total=_sample_width(norm),
        width_fit=_sample_width(residual),
        width_spw=_sample_width(spw_mean),
        dof_fit=dof_fit,
        dof_spw=dof_spw,
    )


def _total_dof(
    fit_var: float, mean_var: float, dof_fit: int, dof_fit_eff: float, n_c: int, dof_spw: int
) -> float:
    """Effective degrees of freedom of the total variance, 2 var^2 / var(var).

    sum (r - 1)^2 = SS_fit + n_c SS_mean (Eq. 4 and 5 sums, independent): the spw error
    d_ik is shared by the n_c calibrators, so it enters with dof_spw terms, not
    n_c dof_spw. Without an spw error this is n_c dof_spw; when it dominates, dof_spw.
    """
    var_ss_fit = 2.0 * fit_var**2 * dof_fit**2 / dof_fit_eff
    var_ss_mean = 2.0 * mean_var**2 * dof_spw
    total = fit_var * dof_fit + n_c * mean_var * dof_spw
    var_total = var_ss_fit + n_c**2 * var_ss_mean
    if not var_total > 0:
        return float(n_c * dof_spw)
    return float(2.0 * total**2 / var_total)


def _width(var: float, dof: float) -> Width:
    """sigma = sqrt(var) from dof degrees of freedom; error sigma / sqrt(2 dof)."""
    sigma = float(np.sqrt(var))
    return Width(sigma, float(sigma / np.sqrt(2.0 * dof)))


def _sample_width(values: np.ndarray) -> Width:
    """Maximum-likelihood Gaussian width of a histogram's values (centre free)."""
    v = values.ravel()
    return _width(float(v.var(ddof=1)), v.size - 1)


def sigmas_from_widths(
    width_fit: float, width_spw: float, *, n_epoch: int, n_cal: int, n_spw: int
) -> tuple[float, float]:
    """(sigma_fit, sigma_spw) from the plain histogram widths of Eq. 4 and Eq. 5.

    Undoes the centring (module docstring) for published widths such as seed 000's
    0.5 % and 0.8 % (7 epochs, 4 calibrators, 4 spws -> 0.72 % and 0.91 %).
    """
    dof_spw = (n_epoch - 1) * (n_spw - 1)
    fit_var = width_fit**2 * (n_epoch * n_cal * n_spw - 1) / (dof_spw * (n_cal - 1))
    mean_var = width_spw**2 * (n_epoch * n_spw - 1) / dof_spw
    return float(np.sqrt(fit_var)), float(np.sqrt(max(mean_var - fit_var / n_cal, 0.0)))
