"""Which FIELD rows of each MS are each calibrator (relcal_fit's field, fieldmatch and
matchradius), checked before any visibility is read.

Archive MSs break the naive rule "a calibrator is every FIELD row of its name":
a mosaic names many pointings alike, importuvfits appends '_0' to every name, an EB
has a typo, field ids differ between EBs, and a calibrator may not be observed in
every EB. Here:

- an entry of field is a name or a FIELD id. fieldmatch='name' takes, in every MS,
  the rows of that name (or that id); fieldmatch='position' takes the position of
  the entry in the first MS (date order) that has it and, in every MS, the rows
  within matchradius of it, whatever their names;
- the rows one entry selects in an MS must lie within matchradius of each other
  (and, for an id, of its position in the first MS): otherwise the entry is
  ambiguous and the error lists the rows and their positions;
- an entry without rows in an MS is missing there (relcal_fit excludes it in that
  epoch, "no data in <ms>"); an entry found in no MS is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.constants import ARCSEC_RAD
from almacal.msinfo import MsInfo

FIELD_MATCHES = ("name", "position")


@dataclass(frozen=True)
class FieldMatch:
    """field_index : per MS, (n_field,) calibrator index of each FIELD_ID, -1 elsewhere;
    missing : per MS, {calibrator index: why it has no rows there}; notes : what the
    matching decided that a user should read (renamed fields, missing ones)."""

    field_index: tuple[np.ndarray, ...]
    missing: tuple[dict[int, str], ...]
    notes: tuple[str, ...] = ()


def separation_arcsec(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (RA, Dec) positions in degrees (haversine)."""
    ra1, dec1, ra2, dec2 = np.radians([a[0], a[1], b[0], b[1]])
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return float(2 * np.arcsin(np.sqrt(min(h, 1.0))) / ARCSEC_RAD)


def format_position(radec: tuple[float, float] | None) -> str:
    """'18:29:48.070 +01:16:43.70' (J2000), or 'position unknown'."""
    if radec is None:
        return "position unknown"
    ra_h = (radec[0] % 360.0) / 15.0
    h, rem = divmod(ra_h * 3600.0, 3600.0)
    m, sec = divmod(rem, 60.0)
    sign = "-" if radec[1] < 0 else "+"
    d, rem = divmod(abs(radec[1]) * 3600.0, 3600.0)
    dm, ds = divmod(rem, 60.0)
    return f"{int(h):02d}:{int(m):02d}:{sec:06.3f} {sign}{int(d):02d}:{int(dm):02d}:{ds:05.2f}"


def _rows_of(info: MsInfo, entry: str) -> np.ndarray:
    """FIELD ids named entry, or the id entry when no field has that name."""
    ids = np.flatnonzero(np.array(info.field_names) == entry)
    if ids.size == 0 and entry.isdigit() and int(entry) < len(info.fields):
        ids = np.array([int(entry)])
    return ids


def _describe(info: MsInfo, ids: Sequence[int] | np.ndarray) -> str:
    return ", ".join(
        f"{i} '{info.fields[i].name}' ({format_position(info.fields[i].radec_deg)})" for i in ids
    )


def _spread_arcsec(info: MsInfo, ids: Sequence[int] | np.ndarray) -> float:
    pos = [info.fields[i].radec_deg for i in ids]
    known = [p for p in pos if p is not None]
    return max(
        (separation_arcsec(a, b) for k, a in enumerate(known) for b in known[k + 1 :]),
        default=0.0,
    )


def _refuse_ambiguous(info: MsInfo, entry: str, ids: np.ndarray, radius: float) -> None:
    spread = _spread_arcsec(info, ids)
    if spread > radius:
        raise ValueError(
            f"field {entry!r} names {ids.size} FIELD rows of {info.path} at different "
            f"positions ({spread:.1f} arcsec apart, more than matchradius={radius:g}): "
            f"{_describe(info, ids)}. Give one of them by id (e.g. field='{ids[0]}'; with "
            "several MSs add fieldmatch='position' to find it in the others by position)"
        )


@dataclass(frozen=True)
class _Reference:
    """Where an entry was first found: its MS and rows, and their mean position."""

    info: MsInfo
    ids: np.ndarray
    radec: tuple[float, float] | None


def _reference(infos: Sequence[MsInfo], entry: str, radius: float) -> _Reference:
    for info in infos:
        ids = _rows_of(info, entry)
        if ids.size:
            _refuse_ambiguous(info, entry, ids, radius)
            known = [info.fields[i].radec_deg for i in ids if info.fields[i].radec_deg]
            radec = tuple(np.mean(known, axis=0)) if known else None
            return _Reference(info, ids, radec)  # type: ignore[arg-type]
    others = f" (nor in the other {len(infos) - 1} MSs in vis)" if len(infos) > 1 else ""
    raise ValueError(
        f"field {entry!r} not found in {infos[0].path}; fields are: "
        f"{', '.join(dict.fromkeys(infos[0].field_names))}{others}"
    )


def _within(info: MsInfo, radec: tuple[float, float], radius: float) -> np.ndarray:
    return np.array(
        [
            f.id
            for f in info.fields
            if f.radec_deg is not None and separation_arcsec(f.radec_deg, radec) <= radius
        ],
        dtype=int,
    )


def _rows_by_name(info: MsInfo, entry: str, ref: _Reference, radius: float) -> np.ndarray:
    """The rows of entry in info; an id must point at the reference position."""
    ids = _rows_of(info, entry)
    _refuse_ambiguous(info, entry, ids, radius)
    named = entry in info.field_names
    if ids.size and not named and ref.radec is not None:
        here = info.fields[int(ids[0])].radec_deg
        if here is not None and separation_arcsec(here, ref.radec) > radius:
            raise ValueError(
                f"field {entry!r} is FIELD id {entry} in {ref.info.path} at "
                f"{format_position(ref.radec)} but in {info.path} at {format_position(here)} "
                f"({separation_arcsec(here, ref.radec):.1f} arcsec apart): field ids differ "
                "between these MSs; give the name, or fieldmatch='position'"
            )
    return ids


def _rows_by_position(info: MsInfo, entry: str, ref: _Reference, radius: float) -> np.ndarray:
    if ref.radec is None:
        raise ValueError(
            f"fieldmatch='position': field {entry!r} of {ref.info.path} has no J2000/ICRS "
            "position to match (PHASE_DIR in another frame); use fieldmatch='name'"
        )
    return _within(info, ref.radec, radius)


def _missing_reason(info: MsInfo, entry: str, ref: _Reference, how: str, radius: float) -> str:
    if how == "position":
        return f"no field within {radius:g} arcsec of {format_position(ref.radec)}"
    hint = ""
    if ref.radec is not None:
        near = _within(info, ref.radec, radius)
        if near.size:
            hint = f" (field {_describe(info, near)} is at its position: fieldmatch='position')"
    return f"no field named {entry!r}{hint}"


def match_fields(
    infos: Sequence[MsInfo], entries: Sequence[str], how: str, radius_arcsec: float
) -> FieldMatch:
    """The FIELD rows of each calibrator entry in each MS (module docstring)."""
    index = [np.full(len(info.fields), -1) for info in infos]
    missing: list[dict[int, str]] = [{} for _ in infos]
    notes: list[str] = []
    for j, entry in enumerate(entries):
        ref = _reference(infos, entry, radius_arcsec)
        for m, info in enumerate(infos):
            if how == "position":
                ids = _rows_by_position(info, entry, ref, radius_arcsec)
            else:
                ids = _rows_by_name(info, entry, ref, radius_arcsec)
            if ids.size == 0:
                missing[m][j] = _missing_reason(info, entry, ref, how, radius_arcsec)
                notes.append(f"field {entry!r}: {missing[m][j]} in {info.path}")
                continue
            taken = [int(i) for i in ids if index[m][i] >= 0]
            if taken:
                raise ValueError(
                    f"field {entries[index[m][taken[0]]]!r} and {entry!r} both match FIELD "
                    f"{_describe(info, taken)} of {info.path}: give each calibrator once"
                )
            index[m][ids] = j
            others = sorted({info.fields[i].name for i in ids} - {entry})
            if how == "position" and others:
                notes.append(
                    f"fieldmatch='position': {entry!r} is {_describe(info, ids)} in {info.path}"
                )
    return FieldMatch(tuple(index), tuple(missing), tuple(notes))
