"""Power law C (nu/nu0)^alpha through the normalized MCFs of one epoch (seed 000 Sect. 3.4).

The fit uses scipy.optimize.curve_fit with the normalized-MCF errors as absolute
sigmas ("the uncertainty in the normalized MCFs is entirely due to the point
source fitting"). Footnote 1's residual bootstrap is vectorized: the
standardized residuals (inflated by sqrt(n / (n - 2)) for the two fitted
parameters) are resampled with replacement (nboot, n) and every
resample is refitted at once by weighted least squares in log space, which for
percent-level deviations is the same fit as curve_fit's.

alpha is the slope of the normalized MCFs, i.e. of the correction factors (MCF =
mean / F): an epoch whose fluxes carry a spurious nu^beta gets alpha ~ -beta
(plus beta / n_epoch, which Eq. 1's mean over epochs spreads to every epoch).
Multiplying that epoch's fluxes by (nu/nu0)^alpha removes the slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class PowerLaw:
    """One epoch's fit. alpha_boot_* are the bootstrap median and 16th/84th percentiles."""

    c: float
    alpha: float
    alpha_error: float  # curve_fit, fit noise only
    p_value: float  # two-sided P(|alpha| >= |observed|) for fit noise only (Gaussian)
    alpha_boot: float
    alpha_boot_minus: float  # median - 16th percentile
    alpha_boot_plus: float  # 84th percentile - median
    boot_interval95: tuple[float, float]
    chi2_red: float
    nu0_hz: float

    @property
    def consistent_with_zero(self) -> bool:
        """|alpha| < 2 alpha_error, fit noise only (the paper's criterion)."""
        return abs(self.alpha) < 2.0 * self.alpha_error

    def to_record(self) -> dict:
        return {
            "c": self.c,
            "alpha": self.alpha,
            "alpha_error": self.alpha_error,
            "p_value_fit": self.p_value,
            "alpha_boot": self.alpha_boot,
            "alpha_boot_minus": self.alpha_boot_minus,
            "alpha_boot_plus": self.alpha_boot_plus,
            "alpha_boot_interval95": list(self.boot_interval95),
            "chi2_red": self.chi2_red,
            "nu0_hz": self.nu0_hz,
            "consistent_with_zero": self.consistent_with_zero,
            "zero_in_boot_interval95": self.boot_interval95[0] <= 0.0 <= self.boot_interval95[1],
        }


def loglin_slopes(log_y: np.ndarray, log_x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted least-squares slope of log_y vs log_x along the last axis, for every row.

    log_y : (..., n); log_x, weight : (n,). Returns (...). Closed form, no loop.
    """
    w = weight / weight.sum()
    dx = log_x - (w * log_x).sum()
    return (log_y * (w * dx)).sum(axis=-1) / (w * dx * dx).sum()


def fit_power_law(
    freq_hz: np.ndarray,
    norm: np.ndarray,
    sigma: np.ndarray,
    *,
    nboot: int,
    rng: np.random.Generator,
) -> PowerLaw:
    """Fit C (nu/nu0)^alpha to one epoch's normalized MCFs.

    freq_hz : (n_spw,); norm, sigma : (n_cal, n_spw). nu0 is the geometric mean
    frequency, which decorrelates C and alpha.
    """
    nu0 = float(np.exp(np.log(freq_hz).mean()))
    x = np.broadcast_to(freq_hz / nu0, norm.shape).ravel()
    y, s = norm.ravel(), sigma.ravel()

    def model(xv: np.ndarray, c: float, alpha: float) -> np.ndarray:
        return c * xv**alpha

    (c, alpha), cov = optimize.curve_fit(model, x, y, p0=(1.0, 0.0), sigma=s, absolute_sigma=True)
    alpha_error = float(np.sqrt(cov[1, 1]))
    fitted = model(x, c, alpha)
    z = (y - fitted) / s
    chi2_red = float((z**2).sum() / (y.size - 2))

    # residual bootstrap: resampled standardized residuals on the fitted curve, inflated
    # by sqrt(n / (n - 2)) because fitted residuals are smaller than the noise
    pick = rng.integers(0, y.size, size=(nboot, y.size))
    y_star = fitted + s * z[pick] * np.sqrt(y.size / (y.size - 2))
    boot = loglin_slopes(np.log(np.clip(y_star, 1e-12, None)), np.log(x), (fitted / s) ** 2)
    p16, p50, p84, p2, p97 = np.percentile(boot, [15.865, 50, 84.135, 2.5, 97.5])
    return PowerLaw(
        c=float(c),
        alpha=float(alpha),
        alpha_error=alpha_error,
        p_value=float(2 * stats.norm.sf(abs(alpha) / alpha_error)),
        alpha_boot=float(p50),
        alpha_boot_minus=float(p50 - p16),
        alpha_boot_plus=float(p84 - p50),
        boot_interval95=(float(p2), float(p97)),
        chi2_red=chi2_red,
        nu0_hz=nu0,
    )
