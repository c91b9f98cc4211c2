"""Seed 000 App. C: a second opinion on the flux scale from the phase calibrator.

rFCF_phase = catalog flux of the phase calibrator / its flux in the calibrated
EB. Phase calibrators are variable quasars monitored less often than the grid,
so this is a consistency check, not a better scale: a large value suggests a
poor flux calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from almacal.gridflux.extrapolate import Extrapolation


@dataclass(frozen=True)
class PhaseCheck:
    ms: str
    field: str
    measured_jy: float  # point fit of the calibrated visibilities, all spws together
    measured_sigma_jy: float
    catalog_jy: float  # catalog flux per spw, averaged with the fit's spw weights
    catalog_sigma_jy: float
    band3_age_days: float
    warnings: tuple[str, ...] = ()

    @property
    def rfcf(self) -> float:
        return self.catalog_jy / self.measured_jy

    @property
    def rfcf_sigma(self) -> float:
        return self.rfcf * float(
            np.hypot(
                self.catalog_sigma_jy / self.catalog_jy, self.measured_sigma_jy / self.measured_jy
            )
        )

    def to_record(self) -> dict:
        return {
            "ms": self.ms,
            "field": self.field,
            "measured_jy": self.measured_jy,
            "measured_sigma_jy": self.measured_sigma_jy,
            "catalog_jy": self.catalog_jy,
            "catalog_sigma_jy": self.catalog_sigma_jy,
            "rfcf": self.rfcf,
            "rfcf_sigma": self.rfcf_sigma,
            "band3_age_days": self.band3_age_days,
            "warnings": list(self.warnings),
        }


def phase_check(
    ms: str,
    field: str,
    ex: Extrapolation,
    flux_spw: np.ndarray,
    weight_spw: np.ndarray,
) -> PhaseCheck:
    """flux_spw, weight_spw : (n_spw,) point fit per spw and its sum of weights (ex's spws).

    The all-spw point fit is the weight-averaged spw flux, so the catalog flux is
    averaged with the same weights; spws without data (weight 0) drop out.
    """
    w = np.where(np.isfinite(flux_spw), weight_spw, 0.0)
    if not w.sum() > 0:
        raise ValueError(f"{ms}: phase calibrator {field} has no unflagged data in the spws")
    f = np.where(w > 0, flux_spw, 0.0)
    return PhaseCheck(
        ms=ms,
        field=field,
        measured_jy=float((w * f).sum() / w.sum()),
        measured_sigma_jy=float(1.0 / np.sqrt(w.sum())),
        catalog_jy=float((w * ex.flux).sum() / w.sum()),
        catalog_sigma_jy=float((w * ex.flux_sigma).sum() / w.sum()),
        band3_age_days=ex.band3_age_days,
        warnings=ex.warnings,
    )
