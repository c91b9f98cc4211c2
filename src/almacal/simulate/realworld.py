"""Per-epoch departures from the ideal observation (issue 6): epoch-dependent
phase noise, array configuration, a variable calibrator and a spectral line.

Every option is off by default; simulate_epochs then builds exactly what it
built before. numpy only.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.constants import ARCSEC_RAD
from almacal.simulate.serpens import (
    CALIBRATORS,
    AntennaConfig,
    FieldModel,
    read_antenna_config,
)

LINE_FIELD = CALIBRATORS[0]
"""The calibrator that gets the line (CAL 1 of seed 000)."""

LINE_SPW = 0
"""Canonical spw index (SPW_CENTRE_HZ order) holding the line."""

LINE_FWHM_HZ = 200.0e6
"""~170 km/s at 345 GHz: a broad outflow/hot-core line, ~2 TDM channels of a 16-channel spw."""


@dataclass(frozen=True)
class EpochVariation:
    """What differs in one epoch; None / empty / 0 means as the shared set-up."""

    phase_rms_deg: float | None = None
    phase_coherence_s: float = 0.0
    antenna_config: str | None = None
    antennas: AntennaConfig | None = None
    field_scale: tuple[tuple[str, float], ...] = ()
    line_peak_jy: float = 0.0
    # archive-like traits (almacal.simulate.archive)
    band: int = 7
    missing_fields: tuple[str, ...] = ()
    field_rename: tuple[tuple[str, str], ...] = ()

    def fields(self, fields: Sequence[FieldModel]) -> tuple[FieldModel, ...]:
        """fields with this epoch's calibrator flux multipliers (point and envelope)."""
        scale = dict(self.field_scale)
        return tuple(
            dataclasses.replace(
                f,
                flux_jy=f.flux_jy * scale[f.name],
                extended_flux_jy=f.extended_flux_jy * scale[f.name],
            )
            if f.name in scale
            else f
            for f in fields
        )


def _per_epoch(name: str, value: Any, n_epoch: int) -> list | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != n_epoch:
        raise ValueError(f"{name}={value!r} is invalid: expected a sequence of {n_epoch} values")
    return list(value)


def _number(name: str, value: Any, lower: float, upper: float = math.inf) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or not lower <= float(value) <= upper:
        raise ValueError(f"{name} contains {value!r}: expected a number in [{lower}, {upper}]")
    return float(value)


def epoch_variations(
    n_epoch: int,
    *,
    epoch_phase_rms_deg: Sequence[float] | None,
    antenna_config: Sequence[str | None] | None,
    cal_flux_scale: Sequence[Sequence[float]] | None,
    line_peak_jy: Sequence[float] | None,
    datapath: str,
    phase_coherence_s: float = 0.0,
) -> tuple[EpochVariation, ...] | None:
    """Validated per-epoch variations, or None when every option is off.

    epoch_phase_rms_deg : (n_epoch,) replaces phase_rms_deg per epoch.
    antenna_config : (n_epoch,) pad files (absolute, or relative to casadata's
        datapath like 'alma/simmos/aca.i.cfg'); None keeps ACA_CONFIG.
    cal_flux_scale : (n_epoch, n_cal) multipliers of each CALIBRATORS flux.
    line_peak_jy : (n_epoch,) peak of a Gaussian line (FWHM LINE_FWHM_HZ) at the
        centre of spw LINE_SPW of LINE_FIELD, before the epoch's flux scale.
    phase_coherence_s : > 0 turns the per-integration antenna phases into a
        stationary random walk (AR(1)) with this coherence time, same rms.
    """
    coherence = _number("phase_coherence_s", phase_coherence_s, 0.0)
    phase = _per_epoch("epoch_phase_rms_deg", epoch_phase_rms_deg, n_epoch)
    cfg = _per_epoch("antenna_config", antenna_config, n_epoch)
    scale = _per_epoch("cal_flux_scale", cal_flux_scale, n_epoch)
    line = _per_epoch("line_peak_jy", line_peak_jy, n_epoch)
    if phase is None and cfg is None and scale is None and line is None and coherence == 0:
        return None
    return tuple(
        EpochVariation(
            phase_coherence_s=coherence,
            **_phase(phase, i),
            **_pads(cfg, i, datapath),
            **_scales(scale, i, n_epoch),
            **_line(line, i),
        )
        for i in range(n_epoch)
    )


def _phase(phase: list | None, i: int) -> dict[str, Any]:
    if phase is None:
        return {}
    return {"phase_rms_deg": _number("epoch_phase_rms_deg", phase[i], 0.0, 180.0)}


def _pads(cfg: list | None, i: int, datapath: str) -> dict[str, Any]:
    if cfg is None or cfg[i] is None:
        return {}
    path = cfg[i] if os.path.isabs(cfg[i]) else os.path.join(datapath, cfg[i])
    if not os.path.isfile(path):
        raise ValueError(f"antenna_config contains {cfg[i]!r}: no such pad file")
    return {"antenna_config": cfg[i], "antennas": read_antenna_config(path)}


def _scales(scale: list | None, i: int, n_epoch: int) -> dict[str, Any]:
    if scale is None:
        return {}
    row = scale[i]
    if isinstance(row, str) or not isinstance(row, Sequence) or len(row) != len(CALIBRATORS):
        raise ValueError(
            f"cal_flux_scale={scale!r} is invalid: expected {n_epoch} rows of "
            f"{len(CALIBRATORS)} multipliers ({', '.join(CALIBRATORS)})"
        )
    return {
        "field_scale": tuple(
            (c, _number("cal_flux_scale", s, 1e-6)) for c, s in zip(CALIBRATORS, row, strict=True)
        )
    }


def _line(line: list | None, i: int) -> dict[str, Any]:
    if line is None:
        return {}
    return {"line_peak_jy": _number("line_peak_jy", line[i], 0.0)}


def correlate_in_time(white: np.ndarray, times_s: np.ndarray, coherence_s: float) -> np.ndarray:
    """AR(1) phases from white ones, same stationary rms: x_t = r x_(t-1) + sqrt(1 - r^2) w_t
    with r = exp(-dt / coherence_s). white : (n_time, n_ant); times_s : (n_time,) sorted.

    Phase errors from the atmosphere drift over tens of seconds: a solint shorter
    than the coherence time follows them (seed 000: 5.05 s solints).
    """
    r = np.exp(-np.diff(times_s) / coherence_s)
    out = np.empty_like(white)
    out[0] = white[0]
    for t in range(1, white.shape[0]):  # over integrations, each a vector of antennas
        out[t] = r[t - 1] * out[t - 1] + math.sqrt(1.0 - r[t - 1] ** 2) * white[t]
    return out


def line_spectrum(
    ms_field_names: Sequence[str],
    chan_freq_hz: np.ndarray,
    spw_canonical: Sequence[int],
    peak_jy: float,
) -> np.ndarray | None:
    """Line flux (n_field, n_spw, n_chan) in MS field/spw order, or None without a line.

    chan_freq_hz : (n_spw, n_chan) in MS order; spw_canonical : canonical index of each MS spw.
    The line is centred on the middle channel of spw LINE_SPW.
    """
    if peak_jy <= 0 or LINE_FIELD not in ms_field_names:
        return None
    out = np.zeros((len(ms_field_names),) + chan_freq_hz.shape)
    k = list(spw_canonical).index(LINE_SPW)
    freq = chan_freq_hz[k]
    centre = freq[freq.size // 2]
    profile = np.exp(-4.0 * math.log(2.0) * ((freq - centre) / LINE_FWHM_HZ) ** 2)
    out[list(ms_field_names).index(LINE_FIELD), k] = peak_jy * profile
    return out


def truth_entries(variations: Sequence[EpochVariation]) -> tuple[dict, list[dict]]:
    """Top-level and per-epoch truth.json entries describing the variations."""
    top = {"line_field": LINE_FIELD, "line_spw": LINE_SPW, "line_fwhm_hz": LINE_FWHM_HZ}
    per_epoch = [
        {
            "phase_rms_deg": v.phase_rms_deg,
            "phase_coherence_s": v.phase_coherence_s,
            "antenna_config": v.antenna_config,
            "cal_flux_scale": [dict(v.field_scale).get(c, 1.0) for c in CALIBRATORS],
            "line_peak_jy": v.line_peak_jy,
        }
        for v in variations
    ]
    return top, per_epoch


def source_offsets(value: Any, field_names: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Validated {field: (east, north)} offsets in arcsec of a field's emission from its
    phase centre, the same in every epoch; {} for None."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(
            f"source_offset_arcsec={value!r} is invalid: expected {{field: (east, north)}}"
        )
    out = {}
    for name, off in value.items():
        if name not in field_names:
            raise ValueError(f"source_offset_arcsec: unknown field {name!r}")
        if isinstance(off, str) or not isinstance(off, Sequence) or len(off) != 2:
            raise ValueError(f"source_offset_arcsec[{name!r}]={off!r}: expected (east, north)")
        out[str(name)] = (
            _number("source_offset_arcsec", off[0], -3600.0, 3600.0),
            _number("source_offset_arcsec", off[1], -3600.0, 3600.0),
        )
    return out


def offset_lm_rad(
    offsets: Mapping[str, tuple[float, float]], ms_field_names: Sequence[str]
) -> np.ndarray | None:
    """(n_field, 2) offsets in radians in MS field order, or None without offsets."""
    if not offsets:
        return None
    return np.array([offsets.get(n, (0.0, 0.0)) for n in ms_field_names]) * ARCSEC_RAD
