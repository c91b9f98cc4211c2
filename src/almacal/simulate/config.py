"""A validated simulate_epochs call: what is built, checked before anything is written.

EpochSetConfig.from_keywords takes simulate_epochs' keyword arguments (the table
DEFAULTS) and raises one ValueError per bad value, naming it (``name=value is
invalid: expected ...``); an unknown keyword is a TypeError.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.simulate.archive import archive_variations, check_mosaic
from almacal.simulate.gridcal import check_calibrator_fields
from almacal.simulate.realworld import EpochVariation, epoch_variations, source_offsets
from almacal.simulate.schedule import block_duration_s
from almacal.simulate.serpens import (
    EPOCH_DATES,
    SCAN_GAP_S,
    SERPENS_FIELDS,
    SIZE_PRESETS,
    SPW_CENTRE_HZ,
    FieldModel,
    SizePreset,
)

DEFAULTS: dict[str, Any] = {
    "n_epoch": 7,
    "size": "test",
    "flux_scale": None,
    "spw_scale_sigma": 0.0,
    "noise_scale": 1.0,
    "phase_rms_deg": 0.0,
    "extended_fraction": 0.0,
    "weight_spectrum": False,
    "n_chan": None,
    "integration_s": None,
    "scan_s": None,
    "seed": 0,
    "overwrite": False,
    "epoch_phase_rms_deg": None,
    "antenna_config": None,
    "cal_flux_scale": None,
    "line_peak_jy": None,
    "phase_coherence_s": 0.0,
    "spw_scale_factor": None,
    "calibrator_fields": None,
    "source_offset_arcsec": None,
    "epoch_band": None,
    "missing_fields": None,
    "field_rename": None,
    "split_observation": False,
    "mosaic": None,
}
"""simulate_epochs' keyword arguments and their defaults (see EpochSetConfig)."""


@dataclass(frozen=True)
class EpochSetConfig:
    """One ACA Band 7 MS per epoch (seed 000 Table 2 dates) with injected truth.

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
        rounded down to whole integrations (n_integration; scan_s is the result).
    seed : np.random.default_rng(seed) draws the spw scales (n_epoch, n_spw)
        first; each epoch then uses rng.spawn(n_epoch)[i] for its phases and
        noise, so an epoch does not depend on n_epoch.
    variations : from epoch_phase_rms_deg, antenna_config, cal_flux_scale,
        line_peak_jy, phase_coherence_s (per-epoch phase noise, pad file,
        calibrator flux multipliers (n_epoch, n_cal), line peak, phase coherence
        time; see almacal.simulate.realworld.epoch_variations); None keeps the
        shared set-up (and the exact output of a call without them).
    spw_scale_factor : (n_epoch, n_spw) positive factors multiplying the drawn spw
        scales, e.g. a power law in one epoch; truth's spw_scale is the product.
        All 1 by default (unchanged output).
    calibrator_fields : quasars observed after the Serpens fields in each block,
        scaled by flux_scale like every field; role 'flux_calibrator' gets intent
        CALIBRATE_FLUX, 'phase_calibrator' CALIBRATE_PHASE (almacal.simulate.gridcal).
        () : the eight Serpens fields only.
    source_offset_arcsec : {field: (east, north)} arcsec offsets of a field's
        emission (point, envelope and line) from its phase centre, every epoch;
        truth gets 'source_offset_arcsec'. {}: all at the phase centre (unchanged).
    Archive-like traits (almacal.simulate.archive; all off by default): epoch_band,
        missing_fields, field_rename (per epoch, in variations), split_observation
        (every MS's OBSERVATION TIME_RANGE is the first epoch's, as split leaves it)
        and mosaic ({field: n}: that field's rows split in time over n pointings
        sharing its name, 12 arcsec apart; their visibilities stay those of the
        field's phase centre, so fit such a field only to test name handling).
    """

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
    spw_scale_factor: np.ndarray
    calibrator_fields: tuple[FieldModel, ...]
    source_offset_arcsec: Mapping[str, tuple[float, float]]
    variations: tuple[EpochVariation, ...] | None
    split_observation: bool = False
    mosaic: tuple[tuple[str, int], ...] = ()

    @property
    def scan_s(self) -> float:
        return round(self.n_integration * self.integration_s, 9)

    @classmethod
    def from_keywords(cls, outdir: Any, *, datapath: str, **options: Any) -> EpochSetConfig:
        """Check simulate_epochs' arguments (DEFAULTS for those not given).

        datapath : casadata's data directory, where relative antenna_config pad
        files are looked up.
        """
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise TypeError(f"simulate_epochs() got unexpected keyword arguments: {unknown}")
        kw = DEFAULTS | options
        if not isinstance(outdir, str | os.PathLike) or not os.fspath(outdir):
            raise _bad("outdir", outdir, "a directory path")
        n_epoch = _n_epoch(kw["n_epoch"])
        size = _size(kw["size"])
        scales = _flux_scale(kw["flux_scale"], n_epoch)
        levels = _levels(kw)
        timing = _timing(kw, SIZE_PRESETS[size])
        seed, overwrite = _seed_overwrite(kw["seed"], kw["overwrite"])
        spw_factor = _spw_scale_factor(kw["spw_scale_factor"], n_epoch)
        quasars = check_calibrator_fields(kw["calibrator_fields"], SERPENS_FIELDS)
        names = [f.name for f in (*SERPENS_FIELDS, *quasars)]
        return cls(
            outdir=os.path.abspath(os.fspath(outdir)),
            n_epoch=n_epoch,
            size=size,
            flux_scale=scales,
            **levels,
            **timing,
            seed=seed,
            overwrite=overwrite,
            spw_scale_factor=spw_factor,
            calibrator_fields=quasars,
            source_offset_arcsec=source_offsets(kw["source_offset_arcsec"], names),
            variations=archive_variations(
                epoch_variations(
                    n_epoch,
                    epoch_phase_rms_deg=kw["epoch_phase_rms_deg"],
                    antenna_config=kw["antenna_config"],
                    cal_flux_scale=kw["cal_flux_scale"],
                    line_peak_jy=kw["line_peak_jy"],
                    datapath=datapath,
                    phase_coherence_s=kw["phase_coherence_s"],
                ),
                n_epoch,
                names,
                epoch_band=kw["epoch_band"],
                missing_fields=kw["missing_fields"],
                field_rename=kw["field_rename"],
            ),
            split_observation=_bool("split_observation", kw["split_observation"]),
            mosaic=check_mosaic(kw["mosaic"], names),
        )


def _bad(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"{name}={value!r} is invalid: expected {expected}")


def _finite_at_least(name: str, value: Any, lower: float, upper: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise _bad(name, value, f"a number in [{lower}, {upper}]")
    out = float(value)
    if not (math.isfinite(out) and lower <= out <= upper):
        raise _bad(name, value, f"a finite number in [{lower}, {upper}]")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _n_epoch(value: Any) -> int:
    if not _is_int(value) or not 1 <= value <= len(EPOCH_DATES):
        raise _bad("n_epoch", value, f"an integer from 1 to {len(EPOCH_DATES)}")
    return int(value)


def _size(value: Any) -> str:
    if value not in SIZE_PRESETS:
        raise _bad("size", value, f"one of {sorted(SIZE_PRESETS)}")
    return str(value)


def _flux_scale(value: Any, n_epoch: int) -> tuple[float, ...]:
    if value is None:
        return (1.0,) * n_epoch
    try:
        scales = tuple(float(s) for s in value)
    except (TypeError, ValueError):
        raise _bad("flux_scale", value, f"{n_epoch} positive numbers") from None
    if len(scales) != n_epoch or not all(math.isfinite(s) and s > 0 for s in scales):
        raise _bad("flux_scale", value, f"{n_epoch} finite positive numbers (n_epoch)")
    return scales


def _levels(kw: Mapping[str, Any]) -> dict[str, Any]:
    """Noise, phase, envelope levels and weight_spectrum, checked in that order."""
    out: dict[str, Any] = {
        # Beyond 0.3 a normal draw around 1 can go negative: no longer a scale error.
        "spw_scale_sigma": _finite_at_least("spw_scale_sigma", kw["spw_scale_sigma"], 0.0, 0.3),
        "noise_scale": _finite_at_least("noise_scale", kw["noise_scale"], 0.0),
        "phase_rms_deg": _finite_at_least("phase_rms_deg", kw["phase_rms_deg"], 0.0, 180.0),
        "extended_fraction": _finite_at_least("extended_fraction", kw["extended_fraction"], 0.0),
    }
    if not _is_bool(kw["weight_spectrum"]):
        raise _bad("weight_spectrum", kw["weight_spectrum"], "True or False")
    out["weight_spectrum"] = bool(kw["weight_spectrum"])
    return out


def _timing(kw: Mapping[str, Any], preset: SizePreset) -> dict[str, Any]:
    """Channels, integration time and whole integrations per scan (the size preset's
    unless given); the block of scans must fit within one UTC day."""
    n_chan = kw["n_chan"]
    if n_chan is None:
        n_chan = preset.n_chan
    elif not _is_int(n_chan) or n_chan < 1:
        raise _bad("n_chan", n_chan, "a positive integer or None")
    given = kw["integration_s"]
    integration = _finite_at_least(
        "integration_s", preset.integration_s if given is None else given, 0.0
    )
    if integration <= 0:
        raise _bad("integration_s", given, "a positive number of seconds or None")
    scan_s = kw["scan_s"]
    scan = preset.scan_s if scan_s is None else _finite_at_least("scan_s", scan_s, 0.0)
    # scan_s is rounded down to whole integrations (1e-6 absorbs 60.6/10.1 = 5.9999...).
    n_integration = int(math.floor(scan / integration + 1e-6))
    if n_integration < 1:
        raise _bad("scan_s", scan_s, f"at least one integration ({integration} s)")
    duration = block_duration_s(len(SERPENS_FIELDS), n_integration, integration, SCAN_GAP_S)
    if duration > 20 * 3600.0:
        raise _bad("scan_s", scan_s, "8 scans that fit within one UTC day (< 20 h in all)")
    return {"n_chan": int(n_chan), "integration_s": integration, "n_integration": n_integration}


def _bool(name: str, value: Any) -> bool:
    if not _is_bool(value):
        raise _bad(name, value, "True or False")
    return bool(value)


def _seed_overwrite(seed: Any, overwrite: Any) -> tuple[int, bool]:
    if not _is_int(seed) or seed < 0:
        raise _bad("seed", seed, "a non-negative integer")
    if not _is_bool(overwrite):
        raise _bad("overwrite", overwrite, "True or False")
    return int(seed), bool(overwrite)


def _spw_scale_factor(value: Any, n_epoch: int) -> np.ndarray:
    shape = (n_epoch, len(SPW_CENTRE_HZ))
    if value is None:
        return np.ones(shape)
    try:
        out = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise _bad("spw_scale_factor", value, f"{shape} positive numbers") from None
    if out.shape != shape or not np.all(np.isfinite(out) & (out > 0)):
        raise _bad("spw_scale_factor", value, f"{shape} (n_epoch, n_spw) finite positive numbers")
    return out
