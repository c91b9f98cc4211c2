"""simulate_b2b: a band-to-band observation like seed 003's, written as an MS with its
truth (almacal.simulate.b2b's models, casatools through almacal.io.b2b_simulator)."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from almacal.io import b2b_simulator as sim_io
from almacal.simulate.b2b import (
    B2B_TRUTH_FILE,
    FIELDS,
    LONG_BASELINE_CONFIG,
    B2BScan,
    B2BSpectral,
    SimulatedB2B,
    antenna_names,
    b2b_fill,
    b2b_schedule,
    b2b_truth,
    check_options,
    pick_antennas,
)
from almacal.simulate.serpens import AntennaConfig, read_antenna_config


def simulate_b2b(
    outdir: str | os.PathLike,
    *,
    size: str = "test",
    date: str = "2017-09-26",
    path_rms_um: float = 100.0,
    drift_deg_per_hour: float = 40.0,
    noise_scale: float = 1.0,
    blocks: int = 2,
    seed: int = 2017,
    overwrite: bool = False,
) -> SimulatedB2B:
    """Build b2b_<size>.ms and b2b_truth.json in outdir; returns both with the truth.

    path_rms_um : zenith path RMS between two pierce points 240 m apart (24 s of
    10 m/s flow), ~35-60 um in seed 003 Table 1. blocks : 2 DGC blocks, or 1 (no
    end block). noise_scale multiplies the radiometer noise.
    """
    preset = check_options(size, blocks, path_rms_um, noise_scale)
    outdir = os.path.abspath(os.fspath(outdir))
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, f"b2b_{size}.ms")
    _remove_old(path, overwrite)
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    antennas = _antennas(preset.n_antenna)
    spectral = B2BSpectral.of(preset)
    scans = b2b_schedule(preset, blocks=blocks)
    transit = _observe(path, antennas, spectral, scans, date, preset.integration_s)
    layout = sim_io.read_layout(path)
    _, spw_index, _ = spectral.in_ms_order(layout.spw_names)
    sim_io.set_basebands(path, [int(i) + 1 for i in spw_index])
    fill = b2b_fill(
        layout,
        scans,
        preset,
        antennas,
        spectral,
        rng=rng,
        path_rms_um=path_rms_um,
        drift_deg_per_hour=drift_deg_per_hour,
        noise_scale=noise_scale,
    )
    sim_io.finish_columns(path, fill.writer, weight_spectrum=False)
    sim_io.write_alma_metadata(path)
    truth = b2b_truth(
        fill,
        scans,
        antennas,
        layout,
        vis=os.path.basename(path),
        size=size,
        seed=seed,
        path_rms_um=path_rms_um,
        drift_deg_per_hour=drift_deg_per_hour,
        blocks=blocks,
        transit_utc_s=transit,
    )
    return _written(path, truth, layout.n_row, len(scans), time.perf_counter() - t_start)


def _written(path: str, truth: dict, n_row: int, n_scan: int, seconds: float) -> SimulatedB2B:
    """Write the truth beside the MS and log what was built."""
    truth_path = os.path.join(os.path.dirname(path), B2B_TRUTH_FILE)
    with open(truth_path, "w", encoding="utf-8") as fh:
        json.dump(truth, fh, indent=1)
    sim_io.post(
        "%s: %d rows, %d antennas, %d scans, target residual %.1f deg (coherence %.3f), %.1f s",
        path,
        n_row,
        len(truth["antennas"]),
        n_scan,
        truth["target_residual_phase_rms_deg"],
        truth["target_expected_coherence"],
        seconds,
    )
    return SimulatedB2B(path, truth_path, truth)


def _antennas(n: int) -> AntennaConfig:
    """n pads of the long-baseline configuration (casadata), short to longest baselines."""
    import casadata

    pads = read_antenna_config(os.path.join(casadata.datapath, LONG_BASELINE_CONFIG))
    return pick_antennas(pads, n)


def _remove_old(path: str, overwrite: bool) -> None:
    if os.path.exists(path):
        if not overwrite:
            raise FileExistsError(f"{path} exists; set overwrite=True to replace it")
        sim_io.remove_ms(path)


def _observe(
    path: str,
    antennas: AntennaConfig,
    spectral: B2BSpectral,
    scans: list[B2BScan],
    date: str,
    integration_s: float,
) -> float:
    """The empty MS, observed around the target's transit; returns that transit
    (seconds after 00:00 UTC)."""
    target = FIELDS[2]
    transit = sim_io.transit_utc_seconds(date, target.ra_deg, target.dec_deg)
    sim_io.observe_b2b(
        path,
        antennas=antennas,
        antenna_names=antenna_names(len(antennas.pad)),
        fields=FIELDS,
        spw_names=spectral.names,
        chan_freq_hz=spectral.freqs,
        channel_width_hz=spectral.width_hz,
        date=date,
        integration_s=integration_s,
        scans=scans,
        project="uid://A001/X1/Xb2b",
    )
    return transit
