"""Spectral consistency scores: the ALMA pipeline's (seed 004) and one scaled to sigma_spw.

hifa_gfluxscale (seed 004 Notes): R_spw = derived / catalog flux, K_spw = R_spw /
R_spw(highest-SNR spw), QA = 1.0 if max|1 - K_spw| < 0.1, 0.75 if 0.1-0.2, 0.5
above. Our calibrators are stable, so the "catalog" flux of calibrator j in spw k
is its mean over epochs, mean_l F_ljk: R_ijk = F_ijk / mean_l F_ljk = 1 / MCF_ijk.

The finer score asks the same question at the size of the errors actually
present: per epoch, K is averaged over calibrators and its deviations are
compared with their expected scatter from the measured sigma_spw and sigma_fit
(per epoch: those of the other epochs), sigma_K = sqrt(2 (sigma_spw^2 +
sigma_fit^2 / n_cal) (n_epoch - 1) / n_epoch) (two spws, each with its calibration
error and calibrator-averaged fit noise, centred over epochs by the "catalog"
mean). The levels mirror the pipeline's: 1.0 below 3 sigma_K, 0.75 up to 5
sigma_K, 0.5 beyond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PIPELINE_LIMITS = (0.1, 0.2)  # max|1 - K_spw| levels of hifa_gfluxscale (seed 004)
FINE_LIMITS = (3.0, 5.0)  # the same levels in units of sigma_K
SCORES = (1.0, 0.75, 0.5)


def _score(deviation: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    return np.select([deviation < limits[0], deviation <= limits[1]], SCORES[:2], default=SCORES[2])


@dataclass(frozen=True)
class SpectralConsistency:
    """k_spw : (n_epoch, n_cal, n_spw); ref_spw : (n_epoch, n_cal) index of the highest-SNR spw.

    pipeline_* are per (epoch, calibrator) like the pipeline's per-field scores;
    fine_* are per epoch.
    """

    k_spw: np.ndarray
    ref_spw: np.ndarray
    pipeline_deviation: np.ndarray
    pipeline_score: np.ndarray
    fine_k: np.ndarray  # (n_epoch, n_spw) calibrator mean of K against the epoch's reference
    fine_ref_spw: np.ndarray  # (n_epoch,)
    fine_z: np.ndarray  # (n_epoch,) max|1 - K| / sigma_K
    fine_score: np.ndarray
    sigma_k: np.ndarray  # (n_epoch,) or scalar, as sigma_spw and sigma_fit

    def verdicts(self) -> list[str]:
        words = {1.0: "consistent", 0.75: "marginal", 0.5: "outlier"}
        return [words[float(s)] for s in self.fine_score]


def spectral_consistency(
    flux_spw: np.ndarray,
    flux_sigma_spw: np.ndarray,
    *,
    sigma_spw: float | np.ndarray,
    sigma_fit: float | np.ndarray,
) -> SpectralConsistency:
    """flux_spw, flux_sigma_spw : (n_epoch, n_cal, n_spw) Jy; sigmas scalar or (n_epoch,)."""
    n_e, n_c, _ = flux_spw.shape
    r = flux_spw / flux_spw.mean(axis=0, keepdims=True)
    snr = flux_spw / flux_sigma_spw
    ref = np.argmax(snr, axis=2)
    r_ref = np.take_along_axis(r, ref[..., None], axis=2)
    k = r / r_ref
    dev = np.abs(1.0 - k).max(axis=2)

    fine_ref = np.argmax(snr.sum(axis=1), axis=1)
    fine_k = (r / r[np.arange(n_e), :, fine_ref][..., None]).mean(axis=1)
    per_spw_var = np.asarray(sigma_spw) ** 2 + np.asarray(sigma_fit) ** 2 / n_c
    sigma_k = np.sqrt(2.0 * per_spw_var * (n_e - 1) / n_e)
    z = np.abs(1.0 - fine_k).max(axis=1) / sigma_k
    return SpectralConsistency(
        k_spw=k,
        ref_spw=ref,
        pipeline_deviation=dev,
        pipeline_score=_score(dev, PIPELINE_LIMITS),
        fine_k=fine_k,
        fine_ref_spw=fine_ref,
        fine_z=z,
        fine_score=_score(z, FINE_LIMITS),
        sigma_k=sigma_k,
    )
