"""Building a data set: argument validation, the per-epoch MS build through
:mod:`almacal.io.simulator` (imported only when a set is built) and the truth.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.simulate.gridcal import check_calibrator_fields, obs_modes
from almacal.simulate.model import (
    FitAccumulator,
    chunk_writer,
    epoch_model,
    radiometer_sigma_jy,
    sefd_jy,
    true_rfcf,
)
from almacal.simulate.realworld import (
    EpochVariation,
    correlate_in_time,
    epoch_variations,
    line_spectrum,
    offset_lm_rad,
    source_offsets,
    truth_entries,
)
from almacal.simulate.schedule import (
    block_duration_s,
    centre_within_day,
    ms_name,
    project_code,
    scan_plan,
)
from almacal.simulate.serpens import (
    ACA_CONFIG,
    CALIBRATORS,
    CORRELATIONS,
    EPOCH_DATES,
    OBS_MODE,
    REF_FREQ_HZ,
    SCAN_GAP_S,
    SERPENS_FIELDS,
    SIZE_PRESETS,
    SPW_BANDWIDTH_HZ,
    SPW_CENTRE_HZ,
    SPW_NAMES,
    TRUTH_FILE,
    AntennaConfig,
    FieldModel,
    channel_frequencies,
    field_models,
    read_antenna_config,
)


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
    epoch_phase_rms_deg: Sequence[float] | None = None,
    antenna_config: Sequence[str | None] | None = None,
    cal_flux_scale: Sequence[Sequence[float]] | None = None,
    line_peak_jy: Sequence[float] | None = None,
    phase_coherence_s: float = 0.0,
    spw_scale_factor: Sequence[Sequence[float]] | None = None,
    calibrator_fields: Sequence[FieldModel] | None = None,
    source_offset_arcsec: Mapping[str, Sequence[float]] | None = None,
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
    epoch_phase_rms_deg, antenna_config, cal_flux_scale, line_peak_jy : per-epoch
        phase noise, pad file, calibrator flux multipliers (n_epoch, n_cal) and
        line peak; see almacal.simulate.realworld.epoch_variations. None keeps
        the shared set-up (and the exact output of a call without them).
    phase_coherence_s : 0 (default) keeps the phases independent per integration;
        > 0 makes them a random walk with that coherence time (same rms).
    spw_scale_factor : (n_epoch, n_spw) positive factors multiplying the drawn spw
        scales, e.g. a power law in one epoch; truth's spw_scale is the product.
        None: all 1 (unchanged output).
    calibrator_fields : quasars observed after the Serpens fields in each block,
        scaled by flux_scale like every field; role 'flux_calibrator' gets intent
        CALIBRATE_FLUX, 'phase_calibrator' CALIBRATE_PHASE (almacal.simulate.gridcal).
        None: the eight Serpens fields only.
    source_offset_arcsec : {field: (east, north)} arcsec offsets of a field's
        emission (point, envelope and line) from its phase centre, every epoch;
        truth gets 'source_offset_arcsec'. None: all at the phase centre (unchanged).

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
    extra_spw_scale = _spw_scale_factor(spw_scale_factor, p.n_epoch)
    quasars = check_calibrator_fields(calibrator_fields, SERPENS_FIELDS)
    offsets = source_offsets(source_offset_arcsec, [f.name for f in (*SERPENS_FIELDS, *quasars)])
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

    variations = epoch_variations(
        p.n_epoch,
        epoch_phase_rms_deg=epoch_phase_rms_deg,
        antenna_config=antenna_config,
        cal_flux_scale=cal_flux_scale,
        line_peak_jy=line_peak_jy,
        datapath=casadata.datapath,
        phase_coherence_s=phase_coherence_s,
    )
    setup = _Setup.from_params(p, os.path.join(casadata.datapath, ACA_CONFIG))
    if quasars:
        setup = dataclasses.replace(setup, fields=(*setup.fields, *quasars))
    rng = np.random.default_rng(p.seed)
    spw_scale = rng.normal(1.0, p.spw_scale_sigma, size=(p.n_epoch, len(SPW_CENTRE_HZ)))
    spw_scale = spw_scale * extra_spw_scale  # x 1.0 is exact: no change by default
    epoch_rngs = rng.spawn(p.n_epoch)
    results = [
        _build_epoch(
            sim_io,
            setup,
            path,
            date,
            gain=p.flux_scale[i] * spw_scale[i],
            rng=epoch_rngs[i],
            variation=None if variations is None else variations[i],
            offsets=offsets,
        )
        for i, (date, path) in enumerate(zip(dates, paths, strict=True))
    ]
    truth = build_truth(p, setup, results, spw_scale)
    if variations is not None:
        top, per_epoch = truth_entries(variations)
        truth.update(top)
        for entry, extra in zip(truth["epochs"], per_epoch, strict=True):
            entry.update(extra)
    if offsets:
        truth["source_offset_arcsec"] = {k: list(v) for k, v in offsets.items()}
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
    variation: EpochVariation | None = None,
    offsets: Mapping[str, tuple[float, float]] | None = None,
) -> _EpochResult:
    """Create one MS, fill its columns in one chunked pass, return the ideal fit.

    gain : (n_spw,) flux_scale x spw_scale in SPW_CENTRE_HZ order; rng draws the
    antenna phases first, then the noise chunk by chunk. variation: this epoch's
    departures from the shared set-up (None: none); offsets: {field: (east, north)}
    arcsec of its emission from the phase centre (None or {}: none).
    """
    p = setup.params
    v = variation if variation is not None else EpochVariation()
    fields = v.fields(setup.fields)
    t_start = time.perf_counter()
    if os.path.exists(path):
        sim_io.remove_ms(path)
    first = setup.fields[0]
    duration = block_duration_s(len(setup.fields), p.n_integration, p.integration_s, SCAN_GAP_S)
    transit_s = sim_io.transit_utc_seconds(date, first.ra_deg, first.dec_deg)
    sim_io.observe(
        path,
        antennas=v.antennas or setup.antennas,
        fields=fields,
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
        field_obs_mode=obs_modes(fields),
    )
    layout = sim_io.read_layout(path)
    spw_order = [SPW_NAMES.index(n) for n in layout.spw_names]  # MS spw -> canonical
    phase_rms = p.phase_rms_deg if v.phase_rms_deg is None else v.phase_rms_deg
    ant_phase = rng.normal(0.0, math.radians(phase_rms), size=(layout.times.size, layout.n_antenna))
    if v.phase_coherence_s > 0:
        ant_phase = correlate_in_time(ant_phase, layout.times, v.phase_coherence_s)
    model = epoch_model(
        fields,
        layout.field_names,
        gain=np.asarray(gain)[spw_order],
        chan_freq_hz=setup.chan_freq_hz[spw_order],
        ant_phase_rad=ant_phase,
        sigma_jy=setup.sigma_jy[spw_order],
        noise_jy=setup.noise_jy[spw_order],
    )
    line = line_spectrum(
        layout.field_names, setup.chan_freq_hz[spw_order], spw_order, v.line_peak_jy
    )
    if line is not None:
        model = dataclasses.replace(model, line_jy=line)
    lm = offset_lm_rad(offsets or {}, layout.field_names)
    if lm is not None:
        model = dataclasses.replace(model, offset_lm_rad=lm)
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
