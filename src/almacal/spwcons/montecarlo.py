"""The alpha that fit noise and spw calibration errors alone produce (seed 000 Sect. 3.4, Fig. 5).

Each draw is one epoch's set of n_cal x n_spw normalized MCFs (16 in the paper):
1 + d_k + e_jk with d_k ~ N(0, sigma_spw) shared by the calibrators of spw k and
e_jk ~ N(0, sigma_fit p_jk). p_jk is the relative fit noise of each point (all 1
in the paper): a faint calibrator is noisier, and the draws are fitted with
the same 1 / p_jk^2 weights as the measured alpha (curve_fit with the normalized-MCF
errors), so the null describes the statistic that is tested. All draws are fitted
at once by least squares in log space, so 10 000 draws take a few ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from almacal.spwcons.powerlaw import loglin_slopes


@dataclass(frozen=True)
class AlphaNull:
    """Monte Carlo alpha distribution under 'no frequency dependence'."""

    alpha: np.ndarray  # (n_mc,)
    sigma_spw: float
    sigma_fit: float
    n_cal: int
    freq_hz: np.ndarray  # (n_spw,)

    @property
    def sigma_alpha(self) -> float:
        return float(self.alpha.std(ddof=1))

    def p_one(self, alpha_obs: float | np.ndarray, *, two_sided: bool = True) -> np.ndarray:
        """P(|alpha| >= |alpha_obs|) (or P(alpha >= alpha_obs) one-sided, same sign).

        (k + 1) / (n_mc + 1): never exactly 0 with a finite number of draws.
        """
        obs = np.atleast_1d(np.asarray(alpha_obs, dtype=float))
        if two_sided:
            a = np.sort(np.abs(self.alpha))
            k = a.size - np.searchsorted(a, np.abs(obs), side="left")
        else:
            sign = np.where(obs < 0, -1.0, 1.0)
            k = ((self.alpha[None, :] * sign[:, None]) >= np.abs(obs)[:, None]).sum(axis=1)
        return (k + 1.0) / (self.alpha.size + 1.0)

    def to_record(self) -> dict:
        return {
            "n_mc": int(self.alpha.size),
            "sigma_alpha": self.sigma_alpha,
            "sigma_spw": self.sigma_spw,
            "sigma_fit": self.sigma_fit,
            "n_cal": self.n_cal,
            "spw_freq_hz": self.freq_hz.tolist(),
        }


def p_any_of(p_one: np.ndarray | float, n_epoch: int) -> np.ndarray:
    """Probability that at least one of n_epoch independent epochs is that extreme."""
    return 1.0 - (1.0 - np.asarray(p_one, dtype=float)) ** n_epoch


def simulate_alpha(
    *,
    freq_hz: np.ndarray,
    sigma_spw: float,
    sigma_fit: float,
    n_cal: int,
    n_mc: int,
    rng: np.random.Generator,
    noise_pattern: np.ndarray | None = None,
) -> AlphaNull:
    """Draw n_mc epochs of normalized MCFs (n_mc, n_cal, n_spw) and fit alpha to each.

    noise_pattern : (n_cal, n_spw) fit noise of each point in units of sigma_fit, p_jk
    (module docstring); None for all 1.
    """
    freq = np.asarray(freq_hz, dtype=float)
    n_spw = freq.size
    pattern = np.ones((n_cal, n_spw))
    if noise_pattern is not None:
        pattern = pattern * np.asarray(noise_pattern, dtype=float)
    spw = rng.normal(0.0, sigma_spw, size=(n_mc, 1, n_spw))
    fit = rng.normal(0.0, sigma_fit, size=(n_mc, n_cal, n_spw)) * pattern
    norm = (1.0 + spw + fit).reshape(n_mc, n_cal * n_spw)
    log_x = np.tile(np.log(freq / freq.mean()), n_cal)
    alpha = loglin_slopes(np.log(np.clip(norm, 1e-12, None)), log_x, pattern.ravel() ** -2)
    return AlphaNull(
        alpha=alpha, sigma_spw=sigma_spw, sigma_fit=sigma_fit, n_cal=n_cal, freq_hz=freq
    )
