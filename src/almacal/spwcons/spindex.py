"""In-band spectral index uncertainty from a relative flux error (seed 000 Sect. 4.1, Table 5)."""

from __future__ import annotations

import numpy as np

TABLE5_SPW_GHZ = {
    3: (90.5, 92.5, 102.5, 104.5),
    4: (138.0, 140.0, 150.0, 152.0),
    5: (196.0, 198.0, 208.0, 210.0),
    6: (224.0, 226.0, 240.0, 242.0),
    7: (336.5, 338.5, 348.5, 350.5),
}
"""Seed 000 Table 5: default continuum spw centres per band (spw 1, 2, 3, 4; LO1 omitted)."""


def sigma_alpha(sigma_f: float | np.ndarray, nu1, nu2) -> np.ndarray | float:
    """sigma_alpha = sqrt(2) sigma_F / ln(nu2 / nu1) (Sect. 4.1).

    sigma_f : relative flux error of each of the two measurements (0.008 = 0.8 %);
    nu1, nu2 : frequencies in any one unit, nu1 != nu2 (order does not matter).
    """
    nu1, nu2 = np.asarray(nu1, dtype=float), np.asarray(nu2, dtype=float)
    if np.any(nu1 <= 0) or np.any(nu2 <= 0) or np.any(nu1 == nu2):
        raise ValueError(f"need positive, different frequencies, got nu1={nu1}, nu2={nu2}")
    out = np.sqrt(2.0) * np.asarray(sigma_f, dtype=float) / np.abs(np.log(nu2 / nu1))
    return float(out) if out.ndim == 0 else out


def table5_sigma_alpha(sigma_f: float = 0.008) -> dict[int, float]:
    """sigma_alpha between spw 1 and spw 4 of each Table 5 band (0.08 in Band 3, 0.28 in 7)."""
    return {band: float(sigma_alpha(sigma_f, f[0], f[-1])) for band, f in TABLE5_SPW_GHZ.items()}
