"""Multi-epoch ACA Band 7 measurement sets of Serpens Main with injected truth.

The observation follows Francis et al. (seed 000): the ACA 7 m array, the
default Band 7 TDM continuum set-up (4 spw x 1.875 GHz, XX YY, Table 5), the
eight Serpens Main fields of Table 1 and the seven dates of Table 2. Each
epoch's visibilities are corrupted by a multiplicative flux-scale error
(observed = flux_scale x true), optionally a per-spw scale error, antenna
phase noise and thermal noise from the radiometer equation; the truth (and
the flux an ideal point-source fit must return) is written beside the MSs.

The package is numpy only: the MSs are written by :mod:`almacal.datasets`
(``from almacal.datasets import simulate_epochs, simulate_b2b``), which calls
casatools through :mod:`almacal.io.simulator`.

- :mod:`.serpens`: what is observed (constants, fields, dates, spws, ACA pads)
- :mod:`.model`: the physics (noise, weights, sky model, chunk of visibilities)
- :mod:`.schedule`: timing (scans, block placement, MS names, project codes)
- :mod:`.config`: EpochSetConfig, a validated simulate_epochs call
- :mod:`.build`: the shared set-up, one epoch's column rewrite and ideal fit, the truth
- :mod:`.b2b`: a band-to-band (Band 7 + Band 3) observation with DGC blocks (seed 003)
"""

from almacal.simulate.b2b import SimulatedB2B
from almacal.simulate.build import SimulatedSet
from almacal.simulate.config import EpochSetConfig
from almacal.simulate.model import (
    EpochModel,
    FitAccumulator,
    gaussian_visibility,
    radiometer_sigma_jy,
    sefd_jy,
    simulate_chunk,
    spectral_scaling,
    stokes_i_weight,
    true_rfcf,
)
from almacal.simulate.schedule import (
    ScanPlan,
    centre_within_day,
    ms_name,
    project_code,
    scan_plan,
)
from almacal.simulate.serpens import (
    ACA_CONFIG,
    CALIBRATORS,
    EPOCH_DATES,
    EXTENDED_FWHM_ARCSEC,
    OBS_MODE,
    REF_FREQ_HZ,
    SERPENS_FIELDS,
    SPEED_OF_LIGHT_M_S,
    SPW_BANDWIDTH_HZ,
    SPW_CENTRE_HZ,
    TRUTH_FILE,
    AntennaConfig,
    FieldModel,
    channel_frequencies,
    field_models,
    read_antenna_config,
    sexagesimal_to_deg,
)

__all__ = [
    "ACA_CONFIG",
    "CALIBRATORS",
    "EPOCH_DATES",
    "EXTENDED_FWHM_ARCSEC",
    "OBS_MODE",
    "REF_FREQ_HZ",
    "SERPENS_FIELDS",
    "SPEED_OF_LIGHT_M_S",
    "SPW_BANDWIDTH_HZ",
    "SPW_CENTRE_HZ",
    "TRUTH_FILE",
    "AntennaConfig",
    "EpochModel",
    "EpochSetConfig",
    "FieldModel",
    "FitAccumulator",
    "ScanPlan",
    "SimulatedB2B",
    "SimulatedSet",
    "centre_within_day",
    "channel_frequencies",
    "field_models",
    "gaussian_visibility",
    "ms_name",
    "project_code",
    "radiometer_sigma_jy",
    "read_antenna_config",
    "scan_plan",
    "sefd_jy",
    "sexagesimal_to_deg",
    "simulate_chunk",
    "spectral_scaling",
    "stokes_i_weight",
    "true_rfcf",
]
