"""simulate_epochs: one ACA Band 7 MS per epoch with injected truth (almacal.simulate's
models, casatools through almacal.io.simulator)."""

from __future__ import annotations

import json
import os
import time
from functools import partial
from typing import Any

import numpy as np

from almacal.casatask.terminal import say
from almacal.io import simulator as sim_io
from almacal.simulate.archive import mosaic_offsets_rad, pointing_of_rows
from almacal.simulate.build import (
    EpochResult,
    EpochSetup,
    SimulatedSet,
    draw_spw_scales,
    epoch_result,
    epoch_set_truth,
    epoch_writer,
)
from almacal.simulate.config import EpochSetConfig
from almacal.simulate.realworld import EpochVariation
from almacal.simulate.schedule import ms_name
from almacal.simulate.serpens import (
    ACA_CONFIG,
    CALIBRATORS,
    EPOCH_DATES,
    SERPENS_FIELDS,
    TRUTH_FILE,
)


def simulate_epochs(outdir: str | os.PathLike, **options: Any) -> SimulatedSet:
    """Build one ACA Band 7 MS per epoch (seed 000 Table 2 dates) with injected truth.

    options : the keyword arguments of almacal.simulate.config.DEFAULTS (n_epoch,
    size, flux_scale, noise_scale, seed, ...), documented in EpochSetConfig.

    Raises ValueError for an invalid argument, TypeError for an unknown one and
    FileExistsError when an output exists and overwrite is False, before anything
    is written.
    """
    import casadata  # data package only: no casatools import

    config = EpochSetConfig.from_keywords(outdir, datapath=casadata.datapath, **options)
    return build_epoch_set(config)


def build_epoch_set(config: EpochSetConfig) -> SimulatedSet:
    """The MSs and truth.json of a checked configuration."""
    import casadata

    dates = EPOCH_DATES[: config.n_epoch]
    paths = [os.path.join(config.outdir, ms_name(i, d)) for i, d in enumerate(dates)]
    truth_path = os.path.join(config.outdir, TRUTH_FILE)
    existing = [q for q in [*paths, truth_path] if os.path.exists(q)]
    if existing and not config.overwrite:
        raise FileExistsError(
            f"{len(existing)} output(s) exist, e.g. {existing[0]!r}; pass overwrite=True to replace"
        )
    os.makedirs(config.outdir, exist_ok=True)
    setup = EpochSetup.from_config(config, os.path.join(casadata.datapath, ACA_CONFIG))
    spw_scale, epoch_rngs = draw_spw_scales(config)
    variations = config.variations or (EpochVariation(),) * config.n_epoch
    results = [
        _build_epoch(
            setup,
            path,
            date,
            gain=config.flux_scale[i] * spw_scale[i],
            rng=epoch_rngs[i],
            variation=variations[i],
            index=f"[{i + 1}/{config.n_epoch}] ",
        )
        for i, (date, path) in enumerate(zip(dates, paths, strict=True))
    ]
    apply_archive_traits(config, paths, variations)
    truth = epoch_set_truth(setup, results, spw_scale)
    with open(truth_path, "w", encoding="utf-8") as fh:
        json.dump(truth, fh, indent=1)
    return SimulatedSet(tuple(paths), truth_path, truth, CALIBRATORS)


def _build_epoch(
    setup: EpochSetup,
    path: str,
    date: str,
    *,
    gain: np.ndarray,
    rng: np.random.Generator,
    variation: EpochVariation,
    index: str = "",
) -> EpochResult:
    """Create one MS, fill its columns in one chunked pass, return the ideal fit.

    gain : (n_spw,) flux_scale x spw_scale in SPW_CENTRE_HZ order.
    """
    t_start = time.perf_counter()
    if os.path.exists(path):
        sim_io.remove_ms(path)
    first = setup.fields[0]
    transit_s = sim_io.transit_utc_seconds(date, first.ra_deg, first.dec_deg)
    sim_io.observe(path, **setup.observation(date, transit_s, variation))
    layout = sim_io.read_layout(path)
    writer, acc = epoch_writer(
        setup,
        layout,
        gain=gain,
        rng=rng,
        variation=variation,
        offsets=setup.config.source_offset_arcsec,
    )
    sim_io.finish_columns(path, writer, weight_spectrum=setup.config.weight_spectrum)
    result = epoch_result(setup, layout, acc, path, date, setup.spectral(variation.band)[0])
    cal = [f.name for f in setup.fields].index(CALIBRATORS[0])
    # one line per MS on the terminal too: building an epoch takes seconds to minutes
    say(
        "%s%s: %d rows, %d spw x %d chan, sigma %.4g Jy per visibility, "
        "%s flux %.4f Jy (+- %.2g), %.1f s"
        % (
            index,
            result.vis,
            layout.n_row,
            len(layout.spw_names),
            setup.config.n_chan,
            setup.sigma_jy[0],
            CALIBRATORS[0],
            result.flux[cal],
            result.sigma[cal],
            time.perf_counter() - t_start,
        ),
        source=sim_io.ORIGIN,
    )
    return result


def apply_archive_traits(
    config: EpochSetConfig, paths: list[str], variations: tuple[EpochVariation, ...]
) -> None:
    """The archive-like edits made after the build (almacal.simulate.archive): field
    renames per epoch, the mosaic pointings, and the first epoch's OBSERVATION
    TIME_RANGE in every MS (split_observation)."""
    decs = {f.name: f.dec_deg for f in (*SERPENS_FIELDS, *config.calibrator_fields)}
    for path, variation in zip(paths, variations, strict=True):
        for field, n in config.mosaic:
            off = mosaic_offsets_rad(n, decs[field])
            sim_io.split_field_into_pointings(path, field, off, partial(pointing_of_rows, n=n))
        sim_io.rename_fields(path, dict(variation.field_rename))
    if config.split_observation:
        first = sim_io.observation_time_range(paths[0])
        for path in paths[1:]:
            sim_io.set_observation_time_range(path, first)
