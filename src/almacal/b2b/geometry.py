"""Source elevation at ALMA from time and J2000 position (no casatools).

A mean-sidereal-time formula good to ~0.1 deg in elevation: enough for the
sin(elevation) scaling of phase RMS (seed 003 section 3.1.2) and for the
simulator's airmass; precession is ignored (< 0.4 deg over decades).
"""

from __future__ import annotations

import numpy as np

from almacal.constants import DAY_S

ALMA_LAT_DEG = -23.0229
ALMA_LON_DEG = -67.7549

# J2000.0 in MJD days: the epoch of the GMST formula below.
_MJD_J2000 = 51544.5


def local_sidereal_rad(time_mjd_s: np.ndarray) -> np.ndarray:
    """Local mean sidereal time at ALMA (radians) for MS TIME values (MJD seconds, UTC)."""
    d = np.asarray(time_mjd_s, dtype=float) / DAY_S - _MJD_J2000
    gmst_deg = 280.46061837 + 360.98564736629 * d
    return np.radians(np.mod(gmst_deg + ALMA_LON_DEG, 360.0))


def alt_az(time_mjd_s: np.ndarray, ra_deg: float, dec_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth (radians, azimuth from north through east) at ALMA."""
    ha = local_sidereal_rad(time_mjd_s) - np.radians(ra_deg)
    lat, dec = np.radians(ALMA_LAT_DEG), np.radians(dec_deg)
    sin_el = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(ha)
    el = np.arcsin(np.clip(sin_el, -1.0, 1.0))
    az = np.arctan2(
        -np.cos(dec) * np.sin(ha),
        np.sin(dec) * np.cos(lat) - np.cos(dec) * np.sin(lat) * np.cos(ha),
    )
    return el, np.mod(az, 2.0 * np.pi)


def elevation_rad(time_mjd_s: np.ndarray, ra_deg: float, dec_deg: float) -> np.ndarray:
    return alt_az(time_mjd_s, ra_deg, dec_deg)[0]
