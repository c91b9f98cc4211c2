"""What is observed: the ACA Band 7 set-up and the Serpens Main fields of seed 000.

Physical and instrument constants, the default Band 7 TDM continuum spws
(Table 5), the eight Serpens Main fields of Table 1 with their invented
models, the seven dates of Table 2, the ACA 7 m pad file and the size presets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from almacal.constants import C_M_S

SPEED_OF_LIGHT_M_S = C_M_S
"""Exported by almacal.simulate since before almacal.constants: kept as an alias."""
BOLTZMANN_J_K = 1.380649e-23
JY_W_M2_HZ = 1.0e-26

REF_FREQ_HZ = 343.5e9
"""Band 7 LO1 of seed 000 Table 5; model fluxes and spectral indices refer to it."""

SPW_CENTRE_HZ = (336.5e9, 338.5e9, 348.5e9, 350.5e9)
"""Default Band 7 continuum spw centres (seed 000 Table 5)."""

SPW_BANDWIDTH_HZ = 1.875e9
"""Usable TDM bandwidth per spw (seed 000 section 2)."""

SPW_NAMES = tuple(f"ALMA_RB_07#BB_{k + 1}#SW-01#FULL_RES" for k in range(len(SPW_CENTRE_HZ)))

BAND_LO_HZ = {7: REF_FREQ_HZ, 9: 669.0e9}
"""LO1 of each band an epoch can be observed in: Band 7 as seed 000; Band 9 invented,
with the spws at the same IF offsets (-7, -5, +5, +7 GHz) as Band 7's."""


def band_spws(band: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(spw names, spw centres Hz) of a band's continuum set-up; Band 7 is SPW_NAMES,
    SPW_CENTRE_HZ exactly."""
    if band == 7:
        return SPW_NAMES, SPW_CENTRE_HZ
    offsets = np.asarray(SPW_CENTRE_HZ) - REF_FREQ_HZ
    names = tuple(f"ALMA_RB_{band:02d}#BB_{k + 1}#SW-01#FULL_RES" for k in range(offsets.size))
    return names, tuple(float(BAND_LO_HZ[band] + off) for off in offsets)


CORRELATIONS = "XX YY"
N_CORR = 2

TSYS_K = 150.0
APERTURE_EFFICIENCY = 0.7
DISH_DIAMETER_M = 7.0

EPOCH_DATES = (
    "2018-10-14",
    "2019-03-06",
    "2019-04-07",
    "2019-05-18",
    "2019-08-04",
    "2019-09-20",
    "2019-10-29",
)
"""Observing dates of seed 000 Table 2."""

CALIBRATORS = ("SMM9", "SMM4", "SMM3", "SMM11")
"""The YSO calibrators CAL 1-4 of seed 000 Table 1."""

OBS_MODE = "OBSERVE_TARGET#ON_SOURCE"
"""All eight fields are science targets of the ALMA programme (the YSO
calibrators are science fields to the online system, seed 000 section 2)."""

ACA_CONFIG = "alma/simmos/aca.cycle7.cfg"
"""ACA 7 m pad file under casadata.datapath (local tangent-plane x y z diam pad)."""

EXTENDED_FWHM_ARCSEC = 8.0
"""FWHM of the optional extended calibrator envelope: resolved by the ACA in
Band 7 (visibility 0.58 at the shortest 9 m baselines, < 1 % beyond 30 m)."""

SCAN_GAP_S = 5.0
"""Slew and set-up time between consecutive scans."""

TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class FieldModel:
    """One Serpens field: Table 1 position and an invented (plausible) model.

    flux_jy is the compact (point) flux at REF_FREQ_HZ; the optional extended
    component is a circular Gaussian at the same centre with the same spectral
    index.
    """

    name: str
    ra_hms: str
    dec_dms: str
    role: str
    flux_jy: float
    spectral_index: float
    extended_flux_jy: float = 0.0
    extended_fwhm_arcsec: float = 0.0

    @property
    def ra_deg(self) -> float:
        return 15.0 * sexagesimal_to_deg(self.ra_hms)

    @property
    def dec_deg(self) -> float:
        return sexagesimal_to_deg(self.dec_dms)


# Positions: seed 000 Table 1 (ICRS). Fluxes and spectral indices are not in
# the seed: target fluxes > 300 mJy except SMM2, which is too faint and
# extended at ACA resolution; thermal dust indices 2-3.
SERPENS_FIELDS = (
    FieldModel("SMM1", "18:29:49.79", "+01:15:20.4", "target", 1.80, 2.5),
    FieldModel("EC53", "18:29:51.18", "+01:16:40.4", "target", 0.35, 2.7),
    FieldModel("SMM10", "18:29:52.00", "+01:15:50.0", "target", 0.40, 2.4),
    FieldModel("SMM2", "18:30:00.30", "+01:12:59.4", "faint", 0.04, 2.3, 0.25, 12.0),
    FieldModel("SMM9", "18:29:48.07", "+01:16:43.7", "calibrator", 0.95, 2.6),
    FieldModel("SMM4", "18:29:56.72", "+01:13:15.6", "calibrator", 0.75, 2.3),
    FieldModel("SMM3", "18:29:59.32", "+01:14:00.5", "calibrator", 0.55, 2.5),
    FieldModel("SMM11", "18:30:00.38", "+01:11:44.6", "calibrator", 0.35, 2.8),
)


@dataclass(frozen=True)
class SizePreset:
    n_chan: int
    integration_s: float
    scan_s: float


SIZE_PRESETS = {
    # Thermal sigma ~0.6 mJy per calibrator flux and epoch (9 min per field), so
    # rFCFs propagate to ~5e-4; the per-visibility sigma (0.22 Jy) stays large
    # enough that fitting one flat-spectrum flux to alpha ~2.5 sources raises
    # chi2_red by < 0.05, as with real 1.01 s TDM data. ~39k small rows/epoch:
    # the simulator's observe costs ~25 us per row, more channels are ~free.
    "test": SizePreset(n_chan=16, integration_s=20.2, scan_s=545.4),
    # ACA TDM: 128 channels, 1.01 s dumps; 3 min per field gives ~1 mJy (seed 000 section 2).
    "full": SizePreset(n_chan=128, integration_s=1.01, scan_s=181.8),
}


@dataclass(frozen=True)
class AntennaConfig:
    """Antenna pads of a simobserve .cfg file; x, y, z in m in the file's frame."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    z: tuple[float, ...]
    diameter_m: tuple[float, ...]
    pad: tuple[str, ...]
    coordsys: str

    @property
    def names(self) -> tuple[str, ...]:
        """ACA 7 m antennas are CM01, CM02, ..."""
        return tuple(f"CM{i + 1:02d}" for i in range(len(self.pad)))


def sexagesimal_to_deg(text: str) -> float:
    """'dd:mm:ss.s' (or 'hh:mm:ss.s') -> decimal units of the first field."""
    sign = -1.0 if text.strip().startswith("-") else 1.0
    d, m, s = (abs(float(p)) for p in text.strip().lstrip("+-").split(":"))
    return sign * (d + m / 60.0 + s / 3600.0)


def read_antenna_config(path: str) -> AntennaConfig:
    """Parse a simobserve antenna file: '# coordsys=...' header, rows 'x y z diam pad'."""
    coordsys = ""
    rows: list[list[str]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            text = line.strip()
            if text.startswith("#"):
                key, _, value = text.lstrip("# ").partition("=")
                if key.strip().lower() == "coordsys":
                    coordsys = value.split()[0].upper() if value.split() else ""
            elif text:
                rows.append(text.split())
    if not rows or any(len(r) < 5 for r in rows):
        raise ValueError(f"antenna config {path!r}: expected rows 'x y z diam pad'")
    return AntennaConfig(
        x=tuple(float(r[0]) for r in rows),
        y=tuple(float(r[1]) for r in rows),
        z=tuple(float(r[2]) for r in rows),
        diameter_m=tuple(float(r[3]) for r in rows),
        pad=tuple(r[4] for r in rows),
        coordsys=coordsys,
    )


def field_models(extended_fraction: float) -> tuple[FieldModel, ...]:
    """SERPENS_FIELDS with the calibrators' optional extended envelope set."""
    out = []
    for f in SERPENS_FIELDS:
        if f.role == "calibrator" and extended_fraction > 0:
            f = dataclasses.replace(
                f,
                extended_flux_jy=extended_fraction * f.flux_jy,
                extended_fwhm_arcsec=EXTENDED_FWHM_ARCSEC,
            )
        out.append(f)
    return tuple(out)


def channel_frequencies(n_chan: int, centre_hz: tuple[float, ...] = SPW_CENTRE_HZ) -> np.ndarray:
    """Channel centres (n_spw, n_chan) in Hz, each spw centred on centre_hz."""
    width = SPW_BANDWIDTH_HZ / n_chan
    offsets = (np.arange(n_chan) - (n_chan - 1) / 2.0) * width
    return np.asarray(centre_hz)[:, None] + offsets[None, :]
