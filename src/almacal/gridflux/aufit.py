"""The spectral index and flux the way analysisUtils getALMAFlux computes them.

Checked against getALMAFlux printouts published in public reduction scripts
(tests/unit/test_gridflux_aufit.py):

- the index is a weighted least-squares line log10 S = a + b log10 nu through every
  point of the Band 3/Band 7 pair (both Band 3 sidebands and the Band 7 point), with
  the uncertainty of log10 S taken as sigma / (S ln 10) (current versions; older ones
  used sigma / S, which leaves the line unchanged but makes its covariance (ln 10)^2
  larger);
- the flux is the mean of the closest-day Band 3 fluxes at their mean frequency,
  F(nu) = mean(S3) (nu / mean(nu3))^b: "Result using spectral index";
- its "+-" is a Monte Carlo of the pair fit alone: (a, b) drawn from their covariance,
  10^(a + b log10 nu) per draw, the standard deviation of the draws below median +
  6 scaled MAD. The median of those draws ("Median Monte-Carlo result") is the pair
  fit at nu, not the flux above: the two differ when the flux session is not the
  pair's Band 3 session.

The covariance is the unscaled one (the catalogue errors taken as they are), which is
what reproduces the printed "+-".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.gridflux.catalog import Measurement

LN10 = math.log(10.0)
MAD_TO_SIGMA = 1.4826
CLIP_MADS = 6.0
"""getALMAFlux leaves draws above median + 6 scaled MAD out of its standard deviation."""

LOG_SIGMA_FLOOR = 1e-9
"""sigma of log10 S for a catalogue error of 0 ('exact'): such points dominate the fit."""

GHZ = 1e9


@dataclass(frozen=True)
class LogFit:
    """log10 S = intercept + slope log10(nu / 1 GHz) by weighted least squares.

    cov : (2, 2) covariance of (intercept, slope). coeffs : (2, n_point), the linear
    map (intercept, slope) = coeffs @ log10 S for the fit's fixed weights.
    """

    intercept: float
    slope: float
    cov: np.ndarray
    coeffs: np.ndarray

    @property
    def slope_sigma(self) -> float:
        return float(math.sqrt(self.cov[1, 1]))

    def flux(self, freq_hz) -> np.ndarray:
        """The fitted power law at freq_hz (Hz)."""
        x = np.log10(np.asarray(freq_hz, dtype=float) / GHZ)
        return np.asarray(10.0 ** (self.intercept + self.slope * x))


def log_fit(
    freq_hz: Sequence[float], flux_jy: Sequence[float], error_jy: Sequence[float]
) -> LogFit:
    """The weighted line through (log10 nu, log10 S), sigma(log10 S) = sigma / (S ln 10).

    freq_hz, flux_jy, error_jy : (n_point,), at least two distinct frequencies.
    """
    x = np.log10(np.asarray(freq_hz, dtype=float) / GHZ)
    flux = np.asarray(flux_jy, dtype=float)
    sigma = np.maximum(np.asarray(error_jy, dtype=float) / (flux * LN10), LOG_SIGMA_FLOOR)
    # the floor alone would weight exact points by 1e18: rescale the weights (the line
    # does not change) so the normal matrix stays well conditioned; the unscaled
    # covariance is restored below
    w = (sigma.min() / sigma) ** 2
    design = np.stack([np.ones_like(x), x])  # (2, n_point)
    normal = (design * w) @ design.T
    coeffs = np.linalg.solve(normal, design * w)
    intercept, slope = coeffs @ np.log10(flux)
    cov = np.linalg.inv(normal) * sigma.min() ** 2
    return LogFit(float(intercept), float(slope), cov, coeffs)


def session_mean(members: Sequence[Measurement]) -> tuple[float, float]:
    """(mean flux in Jy, mean frequency in Hz) of a session: getALMAFlux's reference."""
    return (
        float(np.mean([m.flux_jy for m in members])),
        float(np.mean([m.freq_hz for m in members])),
    )


def fit_measurements(points: Sequence[Measurement]) -> LogFit:
    """log_fit through catalogue measurements."""
    return log_fit(
        [m.freq_hz for m in points], [m.flux_jy for m in points], [m.error_jy for m in points]
    )


@dataclass(frozen=True)
class PairFitMonteCarlo:
    """getALMAFlux's Monte Carlo of the pair fit; arrays are (n_freq,) Jy."""

    median: np.ndarray  # "Median Monte-Carlo result": the pair fit at nu
    sigma: np.ndarray  # its "+-": std of the draws below median + 6 scaled MAD
    mad_sigma: np.ndarray  # "scaled MAD": 1.4826 median |draw - median|


def pair_fit_monte_carlo(
    fit: LogFit, freq_hz: Sequence[float] | np.ndarray, *, n_mc: int, rng: np.random.Generator
) -> PairFitMonteCarlo:
    """(intercept, slope) drawn from fit.cov, the power law evaluated at freq_hz (Hz)."""
    # a square root of cov that tolerates the rounding of a near-singular one
    vals, vecs = np.linalg.eigh(fit.cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    draws = np.array([fit.intercept, fit.slope]) + rng.standard_normal((n_mc, 2)) @ root.T
    x = np.log10(np.asarray(freq_hz, dtype=float) / GHZ)
    y = 10.0 ** (draws[:, :1] + draws[:, 1:] * x[None, :])  # (n_mc, n_freq)
    median = np.median(y, axis=0)
    mad = MAD_TO_SIGMA * np.median(np.abs(y - median), axis=0)
    # '<=' where getALMAFlux has '<': the same draws unless the MAD is 0 (exact catalogue
    # values), where '<' would leave no draw at all
    kept = np.where(y <= median + CLIP_MADS * mad, y, np.nan)
    return PairFitMonteCarlo(median=median, sigma=np.nanstd(kept, axis=0), mad_sigma=mad)


@dataclass(frozen=True)
class AuEstimate:
    """What getALMAFlux prints for one date at the requested frequencies; (n_freq,) Jy.

    Without a Band 3/Band 7 pair there is no pair fit: the index is the default one and
    the Monte Carlo fields are None.
    """

    spix: float
    spix_sigma: float
    ref_flux_jy: float  # mean of the closest-day Band 3 fluxes
    ref_freq_hz: float  # their mean frequency
    flux: np.ndarray  # "Result using spectral index"
    mc: PairFitMonteCarlo | None = None


AU_RECORD_KEYS = (
    "au_spix",
    "au_spix_sigma",
    "au_ref_flux_jy",
    "au_ref_freq_hz",
    "au_flux_jy",
    "au_flux_mc_jy",
    "au_flux_sigma_jy",
    "au_flux_mad_sigma_jy",
)


def au_record(est: AuEstimate | None) -> dict:
    """The record keys of getALMAFlux's numbers (always present; None where it has none)."""
    if est is None:
        return dict.fromkeys(AU_RECORD_KEYS)
    mc = est.mc
    values = (
        est.spix,
        est.spix_sigma,
        est.ref_flux_jy,
        est.ref_freq_hz,
        est.flux.tolist(),
        None if mc is None else mc.median.tolist(),
        None if mc is None else mc.sigma.tolist(),
        None if mc is None else mc.mad_sigma.tolist(),
    )
    return dict(zip(AU_RECORD_KEYS, values, strict=True))
