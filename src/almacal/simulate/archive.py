"""Archive-like traits of simulated epochs (issue 11): what real archive MSs do that a
clean simulation does not, each off by default (simulate_epochs then builds exactly
what it built before).

Per epoch (EpochVariation fields): the receiver band (an epoch in Band 9 beside Band 7
ones), fields left unobserved (a calibrator missing in one epoch: its FIELD row stays,
it has no rows), and field names changed after the build (importuvfits appends '_0';
a typo in one EB; two FIELD rows sharing a name). For the whole set: the MSs split
from one multi-day MS, whose OBSERVATION table still names the first day, and a
mosaic: one field's rows split by time over pointings that share its name.
numpy only; the MS edits are almacal.io.simulator's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from almacal.constants import ARCSEC_RAD
from almacal.simulate.realworld import EpochVariation
from almacal.simulate.serpens import BAND_LO_HZ, band_spws

MOSAIC_SPACING_ARCSEC = 12.0
"""Pointing spacing of a mosaic: about half the ACA 7 m primary beam in Band 7 (Nyquist)."""


def archive_variations(
    variations: tuple[EpochVariation, ...] | None,
    n_epoch: int,
    field_names: Sequence[str],
    *,
    epoch_band: Sequence[int] | None,
    missing_fields: Sequence[Sequence[str]] | None,
    field_rename: Sequence[Mapping[str, str]] | None,
) -> tuple[EpochVariation, ...] | None:
    """variations with the per-epoch archive traits set; None when none is given either.

    epoch_band : (n_epoch,) ALMA band of each epoch (BAND_LO_HZ's keys, 7 by default);
    missing_fields : (n_epoch,) field names without scans in that epoch;
    field_rename : (n_epoch,) {name: new name} applied to the FIELD and SOURCE tables
    after the build.
    """
    if epoch_band is None and missing_fields is None and field_rename is None:
        return variations
    base = variations or (EpochVariation(),) * n_epoch
    bands = _per_epoch("epoch_band", epoch_band, n_epoch, 7)
    missing = _per_epoch("missing_fields", missing_fields, n_epoch, ())
    rename = _per_epoch("field_rename", field_rename, n_epoch, {})
    out = []
    for i, v in enumerate(base):
        if bands[i] not in BAND_LO_HZ or isinstance(bands[i], bool):
            raise ValueError(
                f"epoch_band contains {bands[i]!r}: expected one of {sorted(BAND_LO_HZ)}"
            )
        out.append(
            dataclasses.replace(
                v,
                band=int(bands[i]),
                missing_fields=_names("missing_fields", missing[i], field_names),
                field_rename=_renames(rename[i], field_names),
            )
        )
    if any(set(v.missing_fields) >= set(field_names) for v in out):
        raise ValueError("missing_fields leaves no field observed in some epoch")
    return tuple(out)


def _per_epoch(name: str, value: Any, n_epoch: int, default: Any) -> list:
    if value is None:
        return [default] * n_epoch
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != n_epoch:
        raise ValueError(f"{name}={value!r} is invalid: expected a sequence of {n_epoch} values")
    return list(value)


def _names(param: str, value: Any, field_names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{param} contains {value!r}: expected a list of field names")
    unknown = [n for n in value if n not in field_names]
    if unknown:
        raise ValueError(f"{param}: unknown field(s) {unknown}; fields are {list(field_names)}")
    return tuple(str(n) for n in value)


def _renames(value: Any, field_names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ValueError(f"field_rename contains {value!r}: expected {{name: new name}}")
    for old, new in value.items():
        if old not in field_names or not isinstance(new, str) or not new.strip():
            raise ValueError(
                f"field_rename: {old!r} -> {new!r} must rename a field ({list(field_names)}) "
                "to a non-empty name"
            )
    return tuple((str(k), str(v)) for k, v in value.items())


def check_mosaic(value: Any, field_names: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """{field: n_pointings} (n >= 2) validated; () for None."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ValueError(f"mosaic={value!r} is invalid: expected {{field: n_pointings}}")
    out = []
    for name, n in value.items():
        if name not in field_names:
            raise ValueError(f"mosaic: unknown field {name!r}; fields are {list(field_names)}")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 2 <= n <= 100:
            raise ValueError(f"mosaic[{name!r}]={n!r}: expected 2 to 100 pointings")
        out.append((str(name), int(n)))
    return tuple(out)


def mosaic_offsets_arcsec(n: int, spacing: float = MOSAIC_SPACING_ARCSEC) -> np.ndarray:
    """(n, 2) (east, north) offsets of n pointings on a hexagonal grid, the first at
    the field's own position (so pointing 0 keeps its FIELD row)."""
    side = math.ceil(math.sqrt(n))
    rows, cols = np.divmod(np.arange(side * side), side)
    east = (cols + 0.5 * (rows % 2)) * spacing
    north = rows * spacing * math.sqrt(3.0) / 2.0
    grid = np.column_stack([east, north])[:n]
    return grid - grid[0]


def mosaic_offsets_rad(n: int, dec_deg: float) -> np.ndarray:
    """mosaic_offsets_arcsec as (RA, Dec) offsets in radians at declination dec_deg."""
    off = mosaic_offsets_arcsec(n) * ARCSEC_RAD
    off[:, 0] /= math.cos(math.radians(dec_deg))  # east on the sky -> RA
    return off


def pointing_of_rows(times: np.ndarray, n: int) -> np.ndarray:
    """(row,) pointing index of each row: the field's rows in time order split into n
    blocks of (nearly) equal size (a mosaic visits its pointings one after the other).
    A test-size scan can have fewer integrations than pointings, so the rows of one
    integration may fall in two pointings: every pointing gets rows, and only the FIELD
    metadata matters here (the visibilities stay those of the field's phase centre)."""
    order = np.argsort(times, kind="stable")
    out = np.empty(times.size, np.int64)
    out[order] = (np.arange(times.size) * n) // max(times.size, 1)
    return out


def archive_truth(variations: Sequence[EpochVariation], n_chan: int) -> list[dict]:
    """Per-epoch truth.json entries of the archive traits."""
    from almacal.simulate.serpens import channel_frequencies

    out = []
    for v in variations:
        _, centres = band_spws(v.band)
        out.append(
            {
                "band": v.band,
                "spw_freq_hz": [float(f) for f in channel_frequencies(n_chan, centres).mean(1)],
                "missing_fields": list(v.missing_fields),
                "field_rename": dict(v.field_rename),
            }
        )
    return out
