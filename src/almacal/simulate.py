"""Multi-epoch ACA Band 7 measurement sets of Serpens Main with injected truth.

The observation follows Francis et al. (seed 000): the ACA 7 m array, the
default Band 7 TDM continuum set-up (4 spw x 1.875 GHz, XX YY, Table 5), the
eight Serpens Main fields of Table 1 and the seven dates of Table 2. Each
epoch's visibilities are corrupted by a multiplicative flux-scale error
(observed = flux_scale x true), optionally a per-spw scale error, antenna
phase noise and thermal noise from the radiometer equation; the truth (and
the flux an ideal point-source fit must return) is written beside the MSs.

This module is numpy only: the casatools calls live in
:mod:`almacal.io.simulator`, imported when a data set is built.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

SPEED_OF_LIGHT_M_S = 299_792_458.0
BOLTZMANN_J_K = 1.380649e-23
JY_W_M2_HZ = 1.0e-26

REF_FREQ_HZ = 343.5e9
"""Band 7 LO1 of seed 000 Table 5; model fluxes and spectral indices refer to it."""

SPW_CENTRE_HZ = (336.5e9, 338.5e9, 348.5e9, 350.5e9)
"""Default Band 7 continuum spw centres (seed 000 Table 5)."""

SPW_BANDWIDTH_HZ = 1.875e9
"""Usable TDM bandwidth per spw (seed 000 section 2)."""

SPW_NAMES = tuple(f"ALMA_RB_07#BB_{k + 1}#SW-01#FULL_RES" for k in range(len(SPW_CENTRE_HZ)))

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


@dataclass(frozen=True)
class SimulatedSet:
    """A built multi-epoch data set and its truth (the content of truth_path)."""

    paths: tuple[str, ...]
    truth_path: str
    truth: dict
    calibrators: tuple[str, ...] = CALIBRATORS

    @property
    def true_rfcf(self) -> np.ndarray:
        """mean(flux_scale) / flux_scale per epoch, shape (n_epoch,)."""
        return true_rfcf([e["flux_scale"] for e in self.truth["epochs"]])

    @classmethod
    def from_truth(cls, truth_path: str | os.PathLike) -> SimulatedSet:
        """The set described by a truth.json, with MS paths beside it."""
        truth_path = os.path.abspath(truth_path)
        with open(truth_path, encoding="utf-8") as fh:
            truth = json.load(fh)
        outdir = os.path.dirname(truth_path)
        paths = tuple(os.path.join(outdir, e["vis"]) for e in truth["epochs"])
        return cls(paths, truth_path, truth, tuple(truth["calibrators"]))


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


def sefd_jy(
    tsys_k: float = TSYS_K,
    aperture_efficiency: float = APERTURE_EFFICIENCY,
    dish_diameter_m: float = DISH_DIAMETER_M,
) -> float:
    """System equivalent flux density 2 k Tsys / (eta_a A) in Jy (~1.5e4 Jy for 7 m, Band 7)."""
    area = math.pi * (dish_diameter_m / 2.0) ** 2
    return 2.0 * BOLTZMANN_J_K * tsys_k / (aperture_efficiency * area) / JY_W_M2_HZ


def radiometer_sigma_jy(channel_width_hz: float, integration_s: float, *, sefd: float) -> float:
    """Noise per real (or imaginary) part of one correlation: SEFD / sqrt(2 dnu tau)."""
    return sefd / math.sqrt(2.0 * channel_width_hz * integration_s)


def stokes_i_weight(w_xx: np.ndarray, w_yy: np.ndarray) -> np.ndarray:
    """Weight of I = (XX + YY) / 2: 1 / var(I) = 4 / (1/w_XX + 1/w_YY)."""
    return 4.0 / (1.0 / np.asarray(w_xx, dtype=float) + 1.0 / np.asarray(w_yy, dtype=float))


def spectral_scaling(freq_hz: np.ndarray, spectral_index: np.ndarray | float) -> np.ndarray:
    """(nu / REF_FREQ_HZ) ** alpha, broadcasting freq against alpha."""
    return (np.asarray(freq_hz, dtype=float) / REF_FREQ_HZ) ** spectral_index


def gaussian_visibility(uv_dist_lambda: np.ndarray, fwhm_rad: np.ndarray | float) -> np.ndarray:
    """Visibility of a unit-flux circular Gaussian at the phase centre.

    The image exp(-4 ln2 r^2 / fwhm^2) transforms to
    exp(-(pi fwhm q)^2 / (4 ln 2)) with q = sqrt(u^2 + v^2) in wavelengths; it
    is real and even, so independent of the exp(+-2 pi i (ul + vm)) sign.
    """
    q = np.asarray(uv_dist_lambda, dtype=float)
    return np.exp(-((math.pi * np.asarray(fwhm_rad, dtype=float) * q) ** 2) / (4.0 * math.log(2.0)))


def true_rfcf(flux_scale: Sequence[float] | np.ndarray) -> np.ndarray:
    """rFCF that undoes an injected flux scale: mean(flux_scale) / flux_scale.

    Multiplying epoch i by it brings every epoch to the mean scale, the
    normalisation of seed 000 Eq. 3 (rFCFs average to one over epochs).
    """
    scale = np.asarray(flux_scale, dtype=float)
    return scale.mean() / scale


@dataclass(frozen=True)
class EpochModel:
    """Noise-free sky x gains of one epoch, indexed by the MS's own ids.

    point_flux_jy, extended_flux_jy, extended_fwhm_rad, spectral_index : (n_field,)
    gain : (n_spw,) flux_scale x spw_scale
    chan_freq_hz : (n_spw, n_chan)
    ant_phase_rad : (n_time, n_ant) phase error of antenna a in integration t
    sigma_jy : (n_spw,) the sigma written as SIGMA (weights are 1/sigma^2)
    noise_jy : (n_spw,) the sigma of the noise actually added (0 when noise-free)
    """

    point_flux_jy: np.ndarray
    extended_flux_jy: np.ndarray
    extended_fwhm_rad: np.ndarray
    spectral_index: np.ndarray
    gain: np.ndarray
    chan_freq_hz: np.ndarray
    ant_phase_rad: np.ndarray
    sigma_jy: np.ndarray
    noise_jy: np.ndarray

    def visibilities(
        self,
        uvw_m: np.ndarray,
        field: np.ndarray,
        spw: np.ndarray,
        time_index: np.ndarray,
        ant1: np.ndarray,
        ant2: np.ndarray,
    ) -> np.ndarray:
        """Model visibility of every correlation (XX = YY = I), shape (row, chan).

        uvw_m : (3, row) m; field, spw, time_index, ant1, ant2 : (row,) ints.
        V = gain_spw S (nu/nu0)^alpha [1 + f G(q)] exp(i (phi_a1 - phi_a2)).
        """
        freq = self.chan_freq_hz[spw]
        uv_dist_lambda = np.hypot(uvw_m[0], uvw_m[1])[:, None] * freq / SPEED_OF_LIGHT_M_S
        envelope = self.extended_flux_jy[field][:, None] * gaussian_visibility(
            uv_dist_lambda, self.extended_fwhm_rad[field][:, None]
        )
        amplitude = (
            self.gain[spw][:, None]
            * spectral_scaling(freq, self.spectral_index[field][:, None])
            * (self.point_flux_jy[field][:, None] + envelope)
        )
        phase = self.ant_phase_rad[time_index, ant1] - self.ant_phase_rad[time_index, ant2]
        return amplitude * np.exp(1j * phase)[:, None]


@dataclass
class FitAccumulator:
    """Running sums of an ideal weighted point-source fit of Stokes I.

    For a point source at the phase centre the least-squares flux is
    sum(w_I Re V) / sum(w_I); its thermal sigma is 1 / sqrt(sum w_I).
    sum_w, sum_w_re : (n_field, n_spw), summed over rows and channels.
    """

    sum_w: np.ndarray
    sum_w_re: np.ndarray

    @classmethod
    def zeros(cls, n_field: int, n_spw: int) -> FitAccumulator:
        return cls(np.zeros((n_field, n_spw)), np.zeros((n_field, n_spw)))

    def add(self, model: np.ndarray, field: np.ndarray, spw: np.ndarray, w_i: np.ndarray) -> None:
        """model : (row, chan) noise-free I; field, spw : (row,); w_i : (row,) per channel."""
        n_field, n_spw = self.sum_w.shape
        cell = field * n_spw + spw
        size = n_field * n_spw
        n_chan = model.shape[1]
        self.sum_w += np.bincount(cell, weights=w_i * n_chan, minlength=size).reshape(
            n_field, n_spw
        )
        re_sum = model.real.sum(axis=1)
        self.sum_w_re += np.bincount(cell, weights=w_i * re_sum, minlength=size).reshape(
            n_field, n_spw
        )

    def flux(self) -> np.ndarray:
        """(n_field,) all spws together; NaN where a field has no data."""
        return _ratio(self.sum_w_re.sum(axis=1), self.sum_w.sum(axis=1))

    def flux_spw(self) -> np.ndarray:
        """(n_field, n_spw); NaN where a (field, spw) has no data."""
        return _ratio(self.sum_w_re, self.sum_w)

    def sigma(self) -> np.ndarray:
        """(n_field,) thermal sigma of flux() implied by the weights."""
        return _ratio(np.ones(self.sum_w.shape[0]), np.sqrt(self.sum_w.sum(axis=1)))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    return np.divide(num, den, out=out, where=den > 0)


@dataclass(frozen=True)
class ChunkResult:
    """Columns for one chunk of rows in casatools layout.

    data : (corr, chan, row) complex; weight, sigma : (corr, row) float.
    model : (row, chan) noise-free Stokes I; w_i : (row,) Stokes I weight per channel.
    """

    data: np.ndarray
    weight: np.ndarray
    sigma: np.ndarray
    model: np.ndarray
    w_i: np.ndarray


def simulate_chunk(
    model: EpochModel,
    rng: np.random.Generator,
    *,
    uvw_m: np.ndarray,
    field: np.ndarray,
    spw: np.ndarray,
    time_index: np.ndarray,
    ant1: np.ndarray,
    ant2: np.ndarray,
    n_corr: int = N_CORR,
) -> ChunkResult:
    """Model + complex Gaussian noise for a chunk of rows (shapes as in ChunkResult)."""
    vis = model.visibilities(uvw_m, field, spw, time_index, ant1, ant2)
    n_row, n_chan = vis.shape
    # complex64 like the DATA column on disk; float32 draws are ~2x faster.
    data = np.empty((n_corr, n_chan, n_row), dtype=np.complex64)
    data[...] = vis.T[None, :, :]
    noise_row = model.noise_jy[spw].astype(np.float32)
    if np.any(noise_row > 0):
        draws = rng.standard_normal((n_corr, n_chan, n_row, 2), dtype=np.float32)
        data += noise_row * draws.view(np.complex64)[..., 0]
    sigma = np.broadcast_to(model.sigma_jy[spw], (n_corr, n_row)).astype(float)
    weight = 1.0 / sigma**2
    return ChunkResult(data, weight, sigma, vis, stokes_i_weight(weight[0], weight[-1]))


@dataclass(frozen=True)
class ScanPlan:
    """One scan: field name and hour angles (s) of the first field at start and stop."""

    field: str
    start_ha_s: float
    stop_ha_s: float


def scan_plan(
    fields: Sequence[str],
    *,
    n_integration: int,
    integration_s: float,
    centre_ha_s: float = 0.0,
    gap_s: float = SCAN_GAP_S,
) -> tuple[ScanPlan, ...]:
    """One scan per field in order, the block centred on centre_ha_s."""
    scan_len = n_integration * integration_s
    total = block_duration_s(len(fields), n_integration, integration_s, gap_s)
    start = centre_ha_s - total / 2.0
    plans = []
    for k, name in enumerate(fields):
        t0 = start + k * (scan_len + gap_s)
        plans.append(ScanPlan(name, t0, t0 + scan_len))
    return tuple(plans)


def block_duration_s(n_field: int, n_integration: int, integration_s: float, gap_s: float) -> float:
    return n_field * n_integration * integration_s + (n_field - 1) * gap_s


def centre_within_day(transit_s: float, duration_s: float, margin_s: float = 600.0) -> float:
    """Hour angle (s) of the block centre: at transit unless that crosses a UTC midnight.

    transit_s : seconds after 00:00 UTC of the first field's transit on the date.
    The margin covers the simulator's own hour-angle origin, which differs from
    the apparent transit by up to ~2.5 min (measured -59 to +146 s on the 7 dates).
    """
    lo = margin_s + duration_s / 2.0 - transit_s
    hi = 86400.0 - margin_s - duration_s / 2.0 - transit_s
    return float(min(max(0.0, lo), hi))


def ms_name(epoch_index: int, date: str) -> str:
    """ep01_20181014.ms for epoch_index 0 on 2018-10-14."""
    return f"ep{epoch_index + 1:02d}_{date.replace('-', '')}.ms"


def project_code(date: str) -> str:
    """Seed 000 programmes: 2018.1.00917.S, then 2019.1.00475.S from Cycle 7 (Oct 2019)."""
    return "2019.1.00475.S" if date >= "2019-10-01" else "2018.1.00917.S"


@dataclass(frozen=True)
class _Params:
    outdir: str
    n_epoch: int
    size: str
    flux_scale: tuple[float, ...]
    spw_scale_sigma: float
    noise_scale: float
    phase_rms_deg: float
    extended_fraction: float
    weight_spectrum: bool
    n_chan: int
    integration_s: float
    n_integration: int
    seed: int
    overwrite: bool

    @property
    def scan_s(self) -> float:
        return round(self.n_integration * self.integration_s, 9)


def _bad(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"{name}={value!r} is invalid: expected {expected}")


def _finite_at_least(name: str, value: Any, lower: float, upper: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(name, value, f"a number in [{lower}, {upper}]")
    out = float(value)
    if not (math.isfinite(out) and lower <= out <= upper):
        raise _bad(name, value, f"a finite number in [{lower}, {upper}]")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate(
    outdir: Any,
    n_epoch: Any,
    size: Any,
    flux_scale: Any,
    spw_scale_sigma: Any,
    noise_scale: Any,
    phase_rms_deg: Any,
    extended_fraction: Any,
    weight_spectrum: Any,
    n_chan: Any,
    integration_s: Any,
    scan_s: Any,
    seed: Any,
    overwrite: Any,
) -> _Params:
    if not isinstance(outdir, (str, os.PathLike)) or not os.fspath(outdir):
        raise _bad("outdir", outdir, "a directory path")
    if not _is_int(n_epoch) or not 1 <= n_epoch <= len(EPOCH_DATES):
        raise _bad("n_epoch", n_epoch, f"an integer from 1 to {len(EPOCH_DATES)}")
    if size not in SIZE_PRESETS:
        raise _bad("size", size, f"one of {sorted(SIZE_PRESETS)}")
    preset = SIZE_PRESETS[size]
    if flux_scale is None:
        scales = (1.0,) * int(n_epoch)
    else:
        try:
            scales = tuple(float(s) for s in flux_scale)
        except (TypeError, ValueError):
            raise _bad("flux_scale", flux_scale, f"{n_epoch} positive numbers") from None
        if len(scales) != n_epoch or not all(math.isfinite(s) and s > 0 for s in scales):
            raise _bad("flux_scale", flux_scale, f"{n_epoch} finite positive numbers (n_epoch)")
    # Beyond 0.3 a normal draw around 1 can go negative: no longer a scale error.
    sigma = _finite_at_least("spw_scale_sigma", spw_scale_sigma, 0.0, 0.3)
    noise = _finite_at_least("noise_scale", noise_scale, 0.0)
    phase = _finite_at_least("phase_rms_deg", phase_rms_deg, 0.0, 180.0)
    ext = _finite_at_least("extended_fraction", extended_fraction, 0.0)
    if not isinstance(weight_spectrum, (bool, np.bool_)):
        raise _bad("weight_spectrum", weight_spectrum, "True or False")
    if n_chan is None:
        n_chan = preset.n_chan
    elif not _is_int(n_chan) or n_chan < 1:
        raise _bad("n_chan", n_chan, "a positive integer or None")
    if integration_s is None:
        integration_s = preset.integration_s
    integration = _finite_at_least("integration_s", integration_s, 0.0)
    if integration <= 0:
        raise _bad("integration_s", integration_s, "a positive number of seconds or None")
    scan = preset.scan_s if scan_s is None else _finite_at_least("scan_s", scan_s, 0.0)
    # scan_s is rounded down to whole integrations (1e-6 absorbs 60.6/10.1 = 5.9999...).
    n_integration = int(math.floor(scan / integration + 1e-6))
    if n_integration < 1:
        raise _bad("scan_s", scan_s, f"at least one integration ({integration} s)")
    duration = block_duration_s(len(SERPENS_FIELDS), n_integration, integration, SCAN_GAP_S)
    if duration > 20 * 3600.0:
        raise _bad("scan_s", scan_s, "8 scans that fit within one UTC day (< 20 h in all)")
    if not _is_int(seed) or seed < 0:
        raise _bad("seed", seed, "a non-negative integer")
    if not isinstance(overwrite, (bool, np.bool_)):
        raise _bad("overwrite", overwrite, "True or False")
    return _Params(
        outdir=os.path.abspath(os.fspath(outdir)),
        n_epoch=int(n_epoch),
        size=str(size),
        flux_scale=scales,
        spw_scale_sigma=sigma,
        noise_scale=noise,
        phase_rms_deg=phase,
        extended_fraction=ext,
        weight_spectrum=bool(weight_spectrum),
        n_chan=int(n_chan),
        integration_s=integration,
        n_integration=n_integration,
        seed=int(seed),
        overwrite=bool(overwrite),
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


def channel_frequencies(n_chan: int) -> np.ndarray:
    """Channel centres (n_spw, n_chan) in Hz, each spw centred on SPW_CENTRE_HZ."""
    width = SPW_BANDWIDTH_HZ / n_chan
    offsets = (np.arange(n_chan) - (n_chan - 1) / 2.0) * width
    return np.asarray(SPW_CENTRE_HZ)[:, None] + offsets[None, :]


def epoch_model(
    fields: Sequence[FieldModel],
    ms_field_names: Sequence[str],
    *,
    gain: np.ndarray,
    chan_freq_hz: np.ndarray,
    ant_phase_rad: np.ndarray,
    sigma_jy: np.ndarray,
    noise_jy: np.ndarray,
) -> EpochModel:
    """An EpochModel whose field axis follows the MS FIELD table."""
    by_name = {f.name: f for f in fields}
    ordered = [by_name[n] for n in ms_field_names]
    arcsec = math.pi / (180.0 * 3600.0)
    return EpochModel(
        point_flux_jy=np.array([f.flux_jy for f in ordered]),
        extended_flux_jy=np.array([f.extended_flux_jy for f in ordered]),
        extended_fwhm_rad=np.array([f.extended_fwhm_arcsec * arcsec for f in ordered]),
        spectral_index=np.array([f.spectral_index for f in ordered]),
        gain=np.asarray(gain, dtype=float),
        chan_freq_hz=np.asarray(chan_freq_hz, dtype=float),
        ant_phase_rad=np.asarray(ant_phase_rad, dtype=float),
        sigma_jy=np.asarray(sigma_jy, dtype=float),
        noise_jy=np.asarray(noise_jy, dtype=float),
    )


def chunk_writer(
    model: EpochModel,
    rng: np.random.Generator,
    accumulator: FitAccumulator,
    *,
    times: np.ndarray,
    ddid_spw: np.ndarray,
    n_spw_per_scan: int,
    weight_spectrum: bool,
) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """The per-chunk column rewrite handed to the I/O layer.

    Reads UVW FIELD_ID DATA_DESC_ID TIME ANTENNA1 ANTENNA2 SCAN_NUMBER; returns
    DATA WEIGHT SIGMA FLAG SCAN_NUMBER (and WEIGHT_SPECTRUM). The simulator
    numbers each (field visit, spw) as its own scan; one observe call per spw
    in visit order means visit = (scan - 1) // n_spw.
    """

    def rewrite(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        field = np.asarray(cols["FIELD_ID"], dtype=int)
        spw = ddid_spw[np.asarray(cols["DATA_DESC_ID"], dtype=int)]
        out = simulate_chunk(
            model,
            rng,
            uvw_m=np.asarray(cols["UVW"], dtype=float),
            field=field,
            spw=spw,
            time_index=np.searchsorted(times, cols["TIME"]),
            ant1=np.asarray(cols["ANTENNA1"], dtype=int),
            ant2=np.asarray(cols["ANTENNA2"], dtype=int),
        )
        accumulator.add(out.model, field, spw, out.w_i)
        scan = (np.asarray(cols["SCAN_NUMBER"], dtype=int) - 1) // n_spw_per_scan + 1
        new = {
            "DATA": out.data,
            "WEIGHT": out.weight,
            "SIGMA": out.sigma,
            "FLAG": np.zeros(out.data.shape, dtype=bool),
            "SCAN_NUMBER": scan,
        }
        if weight_spectrum:
            new["WEIGHT_SPECTRUM"] = np.broadcast_to(out.weight[:, None, :], out.data.shape).copy()
        return new

    return rewrite


def simulate_epochs(
    outdir: str | os.PathLike,
    *,
    n_epoch: int = 7,
    size: str = "test",
    flux_scale: Sequence[float] | None = None,
    spw_scale_sigma: float = 0.0,
    noise_scale: float = 1.0,
    phase_rms_deg: float = 0.0,
    extended_fraction: float = 0.0,
    weight_spectrum: bool = False,
    n_chan: int | None = None,
    integration_s: float | None = None,
    scan_s: float | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> SimulatedSet:
    """Build one ACA Band 7 MS per epoch (seed 000 Table 2 dates) with injected truth.

    outdir : created if missing; receives ep01_20181014.ms, ... and truth.json.
    flux_scale : (n_epoch,) observed = flux_scale x true; default all 1.
    spw_scale_sigma : extra per-(epoch, spw) scale ~ N(1, sigma) (seed 000 finds 0.008).
    noise_scale : multiplies the radiometer noise; 0 is noise-free (the weights
        then keep the unscaled radiometer values so weighted fits stay defined).
    phase_rms_deg : per-antenna, per-integration phase errors (decorrelation).
    extended_fraction : Gaussian envelope (FWHM 8 arcsec) on each calibrator,
        as a fraction of its point flux.
    weight_spectrum : also write a WEIGHT_SPECTRUM column.
    size : 'test' (16 chan, 20.2 s dumps, 545.4 s scans) or 'full' (128 chan,
        1.01 s dumps, 181.8 s scans); n_chan, integration_s, scan_s override it. Scans are
        rounded down to whole integrations.
    seed : np.random.default_rng(seed) draws the spw scales (n_epoch, n_spw)
        first; each epoch then uses rng.spawn(n_epoch)[i] for its phases and
        noise, so an epoch does not depend on n_epoch.

    Raises ValueError for an invalid argument and FileExistsError when an
    output exists and overwrite is False.
    """
    p = _validate(
        outdir,
        n_epoch,
        size,
        flux_scale,
        spw_scale_sigma,
        noise_scale,
        phase_rms_deg,
        extended_fraction,
        weight_spectrum,
        n_chan,
        integration_s,
        scan_s,
        seed,
        overwrite,
    )
    from almacal.io import simulator as sim_io

    dates = EPOCH_DATES[: p.n_epoch]
    paths = [os.path.join(p.outdir, ms_name(i, d)) for i, d in enumerate(dates)]
    truth_path = os.path.join(p.outdir, TRUTH_FILE)
    existing = [q for q in [*paths, truth_path] if os.path.exists(q)]
    if existing and not p.overwrite:
        raise FileExistsError(
            f"{len(existing)} output(s) exist, e.g. {existing[0]!r}; pass overwrite=True to replace"
        )
    os.makedirs(p.outdir, exist_ok=True)

    import casadata  # data package only: no casatools import

    setup = _Setup.from_params(p, os.path.join(casadata.datapath, ACA_CONFIG))
    rng = np.random.default_rng(p.seed)
    spw_scale = rng.normal(1.0, p.spw_scale_sigma, size=(p.n_epoch, len(SPW_CENTRE_HZ)))
    epoch_rngs = rng.spawn(p.n_epoch)
    results = [
        _build_epoch(
            sim_io, setup, path, date, gain=p.flux_scale[i] * spw_scale[i], rng=epoch_rngs[i]
        )
        for i, (date, path) in enumerate(zip(dates, paths, strict=True))
    ]
    truth = build_truth(p, setup, results, spw_scale)
    with open(truth_path, "w", encoding="utf-8") as fh:
        json.dump(truth, fh, indent=1)
    return SimulatedSet(tuple(paths), truth_path, truth, CALIBRATORS)


@dataclass(frozen=True)
class _Setup:
    """What every epoch shares: parameters, array, fields, spectral set-up, sigmas."""

    params: _Params
    antennas: AntennaConfig
    fields: tuple[FieldModel, ...]
    chan_freq_hz: np.ndarray  # (n_spw, n_chan)
    sefd: float
    sigma_jy: np.ndarray  # (n_spw,) written as SIGMA
    noise_jy: np.ndarray  # (n_spw,) added

    @classmethod
    def from_params(cls, p: _Params, antenna_config: str) -> _Setup:
        sefd = sefd_jy()
        sigma_rad = radiometer_sigma_jy(SPW_BANDWIDTH_HZ / p.n_chan, p.integration_s, sefd=sefd)
        n_spw = len(SPW_CENTRE_HZ)
        return cls(
            params=p,
            antennas=read_antenna_config(antenna_config),
            fields=field_models(p.extended_fraction),
            chan_freq_hz=channel_frequencies(p.n_chan),
            sefd=sefd,
            sigma_jy=np.full(n_spw, sigma_rad * (p.noise_scale if p.noise_scale > 0 else 1.0)),
            noise_jy=np.full(n_spw, sigma_rad * p.noise_scale),
        )


@dataclass(frozen=True)
class _EpochResult:
    """Ideal point-source fit of the noise-free model, fields as SERPENS_FIELDS.

    flux, sigma : (n_field,); flux_spw : (n_field, n_spw) in SPW_CENTRE_HZ order.
    """

    vis: str
    date: str
    flux: np.ndarray
    flux_spw: np.ndarray
    sigma: np.ndarray


def _build_epoch(
    sim_io: Any,
    setup: _Setup,
    path: str,
    date: str,
    *,
    gain: np.ndarray,
    rng: np.random.Generator,
) -> _EpochResult:
    """Create one MS, fill its columns in one chunked pass, return the ideal fit.

    gain : (n_spw,) flux_scale x spw_scale in SPW_CENTRE_HZ order; rng draws the
    antenna phases first, then the noise chunk by chunk.
    """
    p = setup.params
    t_start = time.perf_counter()
    if os.path.exists(path):
        sim_io.remove_ms(path)
    first = setup.fields[0]
    duration = block_duration_s(len(setup.fields), p.n_integration, p.integration_s, SCAN_GAP_S)
    transit_s = sim_io.transit_utc_seconds(date, first.ra_deg, first.dec_deg)
    sim_io.observe(
        path,
        antennas=setup.antennas,
        fields=setup.fields,
        spw_names=SPW_NAMES,
        chan_freq_hz=setup.chan_freq_hz,
        channel_width_hz=SPW_BANDWIDTH_HZ / p.n_chan,
        correlations=CORRELATIONS,
        date=date,
        integration_s=p.integration_s,
        scans=scan_plan(
            [f.name for f in setup.fields],
            n_integration=p.n_integration,
            integration_s=p.integration_s,
            centre_ha_s=centre_within_day(transit_s, duration),
        ),
        obs_mode=OBS_MODE,
        project=project_code(date),
    )
    layout = sim_io.read_layout(path)
    spw_order = [SPW_NAMES.index(n) for n in layout.spw_names]  # MS spw -> canonical
    ant_phase = rng.normal(
        0.0, math.radians(p.phase_rms_deg), size=(layout.times.size, layout.n_antenna)
    )
    model = epoch_model(
        setup.fields,
        layout.field_names,
        gain=np.asarray(gain)[spw_order],
        chan_freq_hz=setup.chan_freq_hz[spw_order],
        ant_phase_rad=ant_phase,
        sigma_jy=setup.sigma_jy[spw_order],
        noise_jy=setup.noise_jy[spw_order],
    )
    acc = FitAccumulator.zeros(len(layout.field_names), len(layout.spw_names))
    writer = chunk_writer(
        model,
        rng,
        acc,
        times=layout.times,
        ddid_spw=layout.ddid_spw,
        n_spw_per_scan=len(SPW_NAMES),
        weight_spectrum=p.weight_spectrum,
    )
    sim_io.finish_columns(path, writer, weight_spectrum=p.weight_spectrum)

    f_order = [layout.field_names.index(f.name) for f in setup.fields]
    s_order = [layout.spw_names.index(n) for n in SPW_NAMES]
    result = _EpochResult(
        vis=os.path.basename(path),
        date=date,
        flux=acc.flux()[f_order],
        flux_spw=acc.flux_spw()[f_order][:, s_order],
        sigma=acc.sigma()[f_order],
    )
    cal = [f.name for f in setup.fields].index(CALIBRATORS[0])
    sim_io.post(
        "%s: %d rows, %d spw x %d chan, sigma %.4g Jy per visibility, "
        "%s flux %.4f Jy (+- %.2g), %.1f s",
        result.vis,
        layout.n_row,
        len(layout.spw_names),
        p.n_chan,
        setup.sigma_jy[0],
        CALIBRATORS[0],
        result.flux[cal],
        result.sigma[cal],
        time.perf_counter() - t_start,
    )
    return result


def build_truth(
    p: _Params, setup: _Setup, results: Sequence[_EpochResult], spw_scale: np.ndarray
) -> dict:
    """The truth.json content (plain JSON types only).

    spw_scale : (n_epoch, n_spw). The expected_* entries are the ideal fits of
    the noise-free model with the weights as written, per [epoch][calibrator]
    (and [spw]).
    """
    names = [f.name for f in setup.fields]
    cal = [names.index(c) for c in CALIBRATORS]
    return {
        "fields": {
            f.name: {
                "ra_deg": f.ra_deg,
                "dec_deg": f.dec_deg,
                "role": f.role,
                "flux_jy": f.flux_jy,
                "spectral_index": f.spectral_index,
                "extended_flux_jy": f.extended_flux_jy,
                "extended_fwhm_arcsec": f.extended_fwhm_arcsec,
            }
            for f in setup.fields
        },
        "calibrators": list(CALIBRATORS),
        "ref_freq_hz": REF_FREQ_HZ,
        "spw_freq_hz": list(SPW_CENTRE_HZ),
        "spw_names": list(SPW_NAMES),
        "spw_bandwidth_hz": SPW_BANDWIDTH_HZ,
        "n_chan": p.n_chan,
        "integration_s": p.integration_s,
        "scan_s": p.scan_s,
        "size": p.size,
        "n_antenna": len(setup.antennas.pad),
        "epochs": [
            {
                "vis": r.vis,
                "date": r.date,
                "flux_scale": p.flux_scale[i],
                "spw_scale": [float(v) for v in spw_scale[i]],
            }
            for i, r in enumerate(results)
        ],
        "noise_scale": p.noise_scale,
        "phase_rms_deg": p.phase_rms_deg,
        "extended_fraction": p.extended_fraction,
        "spw_scale_sigma": p.spw_scale_sigma,
        "weight_spectrum": p.weight_spectrum,
        "seed": p.seed,
        "sefd_jy": setup.sefd,
        "sigma_jy": [float(s) for s in setup.sigma_jy],
        "true_rfcf": [float(r) for r in true_rfcf(p.flux_scale)],
        "expected_flux_jy": [[float(r.flux[j]) for j in cal] for r in results],
        "expected_flux_spw_jy": [[[float(v) for v in r.flux_spw[j]] for j in cal] for r in results],
        "expected_sigma_jy": [[float(r.sigma[j]) for j in cal] for r in results],
        "expected_field_flux_jy": {
            name: [float(r.flux[j]) for r in results] for j, name in enumerate(names)
        },
    }
