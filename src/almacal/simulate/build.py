"""The pure side of building a data set: the set-up every epoch shares, the spw scale
draws, one epoch's column rewrite and ideal fit, and the truth. The MSs themselves
are built by almacal.datasets (casatools through almacal.io.simulator).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from almacal.simulate.archive import archive_truth
from almacal.simulate.config import EpochSetConfig
from almacal.simulate.gridcal import obs_modes
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
    line_spectrum,
    offset_lm_rad,
    truth_entries,
)
from almacal.simulate.schedule import (
    ScanPlan,
    block_duration_s,
    centre_within_day,
    project_code,
    scan_plan,
)
from almacal.simulate.serpens import (
    CALIBRATORS,
    CORRELATIONS,
    OBS_MODE,
    REF_FREQ_HZ,
    SCAN_GAP_S,
    SPW_BANDWIDTH_HZ,
    SPW_CENTRE_HZ,
    SPW_NAMES,
    AntennaConfig,
    FieldModel,
    band_spws,
    channel_frequencies,
    field_models,
    read_antenna_config,
)

if TYPE_CHECKING:
    from almacal.io.simulator import MsLayout


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
class EpochSetup:
    """What every epoch shares: the call, array, fields, spectral set-up, sigmas."""

    config: EpochSetConfig
    antennas: AntennaConfig
    fields: tuple[FieldModel, ...]  # Serpens fields, then the calibrator quasars
    chan_freq_hz: np.ndarray  # (n_spw, n_chan)
    sefd: float
    sigma_jy: np.ndarray  # (n_spw,) written as SIGMA
    noise_jy: np.ndarray  # (n_spw,) added

    @classmethod
    def from_config(cls, config: EpochSetConfig, antenna_config: str) -> EpochSetup:
        """antenna_config : path of the shared pad file."""
        sefd = sefd_jy()
        sigma_rad = radiometer_sigma_jy(
            SPW_BANDWIDTH_HZ / config.n_chan, config.integration_s, sefd=sefd
        )
        n_spw = len(SPW_CENTRE_HZ)
        noise = config.noise_scale
        return cls(
            config=config,
            antennas=read_antenna_config(antenna_config),
            fields=(*field_models(config.extended_fraction), *config.calibrator_fields),
            chan_freq_hz=channel_frequencies(config.n_chan),
            sefd=sefd,
            sigma_jy=np.full(n_spw, sigma_rad * (noise if noise > 0 else 1.0)),
            noise_jy=np.full(n_spw, sigma_rad * noise),
        )

    def spectral(self, band: int) -> tuple[tuple[str, ...], np.ndarray]:
        """(spw names, channel frequencies (n_spw, n_chan)) of an epoch in band."""
        if band == 7:
            return SPW_NAMES, self.chan_freq_hz
        names, centres = band_spws(band)
        return names, channel_frequencies(self.config.n_chan, centres)

    def observation(self, date: str, transit_s: float, variation: EpochVariation) -> dict[str, Any]:
        """The simulator's observe() arguments for one epoch (but the MS path).

        transit_s : seconds after 00:00 UTC of the first field's transit on date.
        """
        c = self.config
        observed = [f.name for f in self.fields if f.name not in variation.missing_fields]
        duration = block_duration_s(len(observed), c.n_integration, c.integration_s, SCAN_GAP_S)
        fields = variation.fields(self.fields)
        scans: tuple[ScanPlan, ...] = scan_plan(
            observed,
            n_integration=c.n_integration,
            integration_s=c.integration_s,
            centre_ha_s=centre_within_day(transit_s, duration),
        )
        spw_names, chan_freq_hz = self.spectral(variation.band)
        return {
            "antennas": variation.antennas or self.antennas,
            "fields": fields,
            "spw_names": spw_names,
            "chan_freq_hz": chan_freq_hz,
            "channel_width_hz": SPW_BANDWIDTH_HZ / c.n_chan,
            "correlations": CORRELATIONS,
            "date": date,
            "integration_s": c.integration_s,
            "scans": scans,
            "obs_mode": OBS_MODE,
            "project": project_code(date),
            "field_obs_mode": obs_modes(fields),
        }


def draw_spw_scales(config: EpochSetConfig) -> tuple[np.ndarray, list[np.random.Generator]]:
    """(n_epoch, n_spw) spw scales (x spw_scale_factor) and one generator per epoch.

    The spw scales are drawn first from default_rng(seed); epoch i then uses
    rng.spawn(n_epoch)[i], so an epoch does not depend on n_epoch.
    """
    rng = np.random.default_rng(config.seed)
    spw_scale = rng.normal(1.0, config.spw_scale_sigma, size=(config.n_epoch, len(SPW_CENTRE_HZ)))
    spw_scale = spw_scale * config.spw_scale_factor  # x 1.0 is exact: no change by default
    return spw_scale, rng.spawn(config.n_epoch)


@dataclass(frozen=True)
class EpochResult:
    """Ideal point-source fit of the noise-free model, fields as EpochSetup.fields.

    flux, sigma : (n_field,); flux_spw : (n_field, n_spw) in SPW_CENTRE_HZ order.
    """

    vis: str
    date: str
    flux: np.ndarray
    flux_spw: np.ndarray
    sigma: np.ndarray


def epoch_writer(
    setup: EpochSetup,
    layout: MsLayout,
    *,
    gain: np.ndarray,
    rng: np.random.Generator,
    variation: EpochVariation,
    offsets: Mapping[str, tuple[float, float]],
) -> tuple[Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]], FitAccumulator]:
    """The column rewrite of one epoch's MS and the ideal fit it accumulates.

    gain : (n_spw,) flux_scale x spw_scale in SPW_CENTRE_HZ order; rng draws the
    antenna phases first, then the noise chunk by chunk; offsets: {field: (east,
    north)} arcsec of its emission from the phase centre ({}: none).
    """
    c = setup.config
    spw_names, chan_freq_hz = setup.spectral(variation.band)
    spw_order = [spw_names.index(n) for n in layout.spw_names]  # MS spw -> canonical
    phase_rms = c.phase_rms_deg if variation.phase_rms_deg is None else variation.phase_rms_deg
    ant_phase = rng.normal(0.0, math.radians(phase_rms), size=(layout.times.size, layout.n_antenna))
    if variation.phase_coherence_s > 0:
        ant_phase = correlate_in_time(ant_phase, layout.times, variation.phase_coherence_s)
    model = epoch_model(
        variation.fields(setup.fields),
        layout.field_names,
        gain=np.asarray(gain)[spw_order],
        chan_freq_hz=chan_freq_hz[spw_order],
        ant_phase_rad=ant_phase,
        sigma_jy=setup.sigma_jy[spw_order],
        noise_jy=setup.noise_jy[spw_order],
    )
    line = line_spectrum(
        layout.field_names, chan_freq_hz[spw_order], spw_order, variation.line_peak_jy
    )
    if line is not None:
        model = dataclasses.replace(model, line_jy=line)
    lm = offset_lm_rad(offsets, layout.field_names)
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
        weight_spectrum=c.weight_spectrum,
    )
    return writer, acc


def epoch_result(
    setup: EpochSetup,
    layout: MsLayout,
    acc: FitAccumulator,
    path: str,
    date: str,
    spw_names: Sequence[str] = SPW_NAMES,
) -> EpochResult:
    """The accumulated ideal fit in setup's field and canonical spw order (spw_names:
    the epoch's band's, band_spws)."""
    f_order = [layout.field_names.index(f.name) for f in setup.fields]
    s_order = [layout.spw_names.index(n) for n in spw_names]
    return EpochResult(
        vis=os.path.basename(path),
        date=date,
        flux=acc.flux()[f_order],
        flux_spw=acc.flux_spw()[f_order][:, s_order],
        sigma=acc.sigma()[f_order],
    )


def epoch_set_truth(
    setup: EpochSetup, results: Sequence[EpochResult], spw_scale: np.ndarray
) -> dict:
    """truth.json: build_truth, with the variations and source offsets when any."""
    config = setup.config
    truth = build_truth(config, setup, results, spw_scale)
    if config.variations is not None:
        top, per_epoch = truth_entries(config.variations)
        truth.update(top)
        for entry, extra in zip(truth["epochs"], per_epoch, strict=True):
            entry.update(extra)
        if any(v.band != 7 or v.missing_fields or v.field_rename for v in config.variations):
            archive = archive_truth(config.variations, config.n_chan)
            for entry, extra in zip(truth["epochs"], archive, strict=True):
                entry.update(extra)
    if config.split_observation:
        truth["split_observation"] = True
    if config.mosaic:
        truth["mosaic"] = dict(config.mosaic)
    if config.source_offset_arcsec:
        truth["source_offset_arcsec"] = {k: list(v) for k, v in config.source_offset_arcsec.items()}
    return truth


def build_truth(
    p: EpochSetConfig, setup: EpochSetup, results: Sequence[EpochResult], spw_scale: np.ndarray
) -> dict:
    """The truth.json content (plain JSON types only).

    spw_scale : (n_epoch, n_spw). The expected_* entries are the ideal fits of
    the noise-free model with the weights as written, per [epoch][calibrator]
    (and [spw]).
    """
    return {
        "fields": {f.name: _field_truth(f) for f in setup.fields},
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
        **_expected_fits([f.name for f in setup.fields], results),
    }


def _field_truth(f: FieldModel) -> dict[str, Any]:
    return {
        "ra_deg": f.ra_deg,
        "dec_deg": f.dec_deg,
        "role": f.role,
        "flux_jy": f.flux_jy,
        "spectral_index": f.spectral_index,
        "extended_flux_jy": f.extended_flux_jy,
        "extended_fwhm_arcsec": f.extended_fwhm_arcsec,
    }


def _expected_fits(names: list[str], results: Sequence[EpochResult]) -> dict[str, Any]:
    """The ideal fits per [epoch][calibrator] ([spw]) and per field name [epoch]."""
    cal = [names.index(c) for c in CALIBRATORS]
    return {
        "expected_flux_jy": [[float(r.flux[j]) for j in cal] for r in results],
        "expected_flux_spw_jy": [[[float(v) for v in r.flux_spw[j]] for j in cal] for r in results],
        "expected_sigma_jy": [[float(r.sigma[j]) for j in cal] for r in results],
        "expected_field_flux_jy": {
            name: [float(r.flux[j]) for r in results] for j, name in enumerate(names)
        },
    }
