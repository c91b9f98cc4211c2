"""Mean correction factors and relative flux calibration factors (seed 000, Eq. 1-3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def mean_correction_factors(flux: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MCF_ij = mean_l(F_lj) / F_ij and its sigma (seed 000, Eq. 1-2).

    flux, sigma : (n_epoch, n_cal[, n_spw]) Jy; the mean runs over epochs (axis 0).
    NaN marks a calibrator missing in an epoch, and N in Eq. 1-2 is then the
    number of epochs that have it. Returns two arrays shaped like flux.

    Eq. 2: sigma_MCF_ij = 1/(N F_ij) * sqrt( (sum_{l!=i} F_lj)^2 sigma_ij^2 / F_ij^2
                                             + sum_{l!=i} sigma_lj^2 )
    """
    have = np.isfinite(flux) & np.isfinite(sigma)
    f = np.where(have, flux, 0.0)
    s2 = np.where(have, sigma, 0.0) ** 2
    n = have.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mcf = f.sum(axis=0, keepdims=True) / n / flux
        others = f.sum(axis=0, keepdims=True) - f  # sum over l != i
        others_var = s2.sum(axis=0, keepdims=True) - s2
        mcf_sigma = np.sqrt(others**2 * s2 / flux**2 + others_var) / (n * np.abs(flux))
    mcf = np.where(have, mcf, np.nan)
    return mcf, np.where(have, mcf_sigma, np.nan)


@dataclass(frozen=True)
class EpochFactors:
    """Per-epoch relative flux calibration factors (seed 000, Eq. 3)."""

    rfcf: np.ndarray  # (n_epoch,) mean of the used MCFs
    rfcf_std: np.ndarray  # (n_epoch,) sample std of the used MCFs (their scatter)
    rfcf_sigma: np.ndarray  # (n_epoch,) sqrt(sum sigma_MCF^2) / n, propagated
    n_used: np.ndarray  # (n_epoch,) number of MCFs averaged


def relative_factors(mcf: np.ndarray, mcf_sigma: np.ndarray, used: np.ndarray) -> EpochFactors:
    """rFCF_i = mean_j MCF_ij over the used calibrators (Eq. 3).

    mcf, mcf_sigma : (n_epoch, n_cal); used : (n_epoch, n_cal) bool, False for
    excluded pairs (seed 000 Sect. 3.3) and calibrators without data.
    """
    use = used & np.isfinite(mcf) & np.isfinite(mcf_sigma)
    n = use.sum(axis=1)
    m = np.where(use, mcf, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rfcf = m.sum(axis=1) / n
        dev2 = np.where(use, (mcf - rfcf[:, None]) ** 2, 0.0).sum(axis=1)
        std = np.where(n > 1, np.sqrt(dev2 / np.maximum(n - 1, 1)), np.nan)
    prop = np.sqrt((np.where(use, mcf_sigma, 0.0) ** 2).sum(axis=1)) / np.where(n > 0, n, 1)
    return EpochFactors(
        rfcf=np.where(n > 0, rfcf, np.nan),
        rfcf_std=std,
        rfcf_sigma=np.where(n > 0, prop, np.nan),
        n_used=n,
    )
