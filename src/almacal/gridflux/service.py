"""Queries to the ALMA calibrator source catalogue web service and what its answers say.

The flux query is the one the ALMA pipeline makes (hifa_importdata, dbfluxes):
GET <url>?NAME=<source>&DATE=<dd-Month-YYYY>&FREQUENCY=<Hz>&WEIGHTED=true&RESULT=1
&VERBOSE=1&CATALOGUE=5 on https://almascience.org/sc/flux, then the backup
https://asa.alma.cl/sc/flux. The answer is a VOTable with one row whose FIELDs
are StatusCode, [Clarification,] SourceName, Frequency, Date, FluxDensity,
FluxDensityError, SpectralIndex, SpectralIndexError, [Curvature, CurvatureError,]
DataConditions, the age of the nearest monitor point, Verbose and Version. The
pipeline's code writes DATE with the full month name (06-March-2019); its own
docstring example and other clients use 06-Mar-2019, so the service takes both.

The raw measurements (light curve) come from the JSON search behind the
catalogue's web page https://almascience.eso.org/sc/ (backup, by analogy with
the flux service: https://asa.alma.cl/sc/search). What is known of it was seen
in a public client of the live service, not in ALMA documentation:
HTTP POST to <url> with the form fields internalVersion=false,
readOnlyVersion=true, ra and dec (degrees, J2000), radius (cone radius in
degrees), selectedCatalogues=5 (the ALMA catalogue), dateObservedFrom and
dateObservedTo (YYYY-MM-DD; without them only the latest measurement per band
is returned). The answer is a JSON object {status: 'ok' | ..., errorFields,
data: [row, ...]}, a row per measurement with (among others) id, sourceId,
names [{name}], separationInDegrees, bandName ('ALMA-Band 3'), dateObserved
('YYYY-MM-DD HH:MM:SS' UTC), flux and fluxUncertainty (Jy), frequency (Hz) and
valid. Only valid rows with positive flux and uncertainty are used. Not known:
whether a row carries the date it entered the catalogue (only the keys above
are read, so service measurements have no ingestion date) and a catalogue
version (recorded as unknown). The cone is SEARCH_RADIUS_DEG around the
calibrator's MS position; of the sources in it, the one named like the
calibrator is kept, else the nearest, with a note saying which.

The HTTP side (hosts in order, timeouts, the cache) is almacal.io.catalog_service;
this module builds the queries and reads the answers, through any client with the
CatalogClient methods (a fake one in the unit tests).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from almacal.catalog_query import Answer
from almacal.gridflux.catalog import Measurement, make_measurement, parse_date

SEARCH_RADIUS_DEG = 5.0 / 3600.0
"""Cone radius of the light-curve search, 5 arcsec in degrees: far above the difference
between an MS phase centre (J2000 or ICRS) and the catalogue position of a calibrator
(milliarcseconds), far below the separation of two catalogue sources (arcminutes)."""

SEARCH_VERSION = "unknown (the /sc/search answer has no version field)"

# Column aliases of the flux answer (lower case); the pipeline reads the same
# columns by position from the end of the row.
_FLUX_COLUMNS = {
    "statuscode": ("statuscode",),
    "clarification": ("clarification",),
    "sourcename": ("sourcename",),
    "frequency": ("frequency",),
    "date": ("date",),
    "fluxdensity": ("fluxdensity",),
    "fluxdensityerror": ("fluxdensityerror",),
    "spectralindex": ("spectralindex",),
    "spectralindexerror": ("spectralindexerror",),
    "dataconditions": ("dataconditions",),
    "age": ("nearest measurement date", "ageofnearestmonitorpoint", "age"),
    "version": ("version",),
}


class CatalogClient(Protocol):
    """The catalogue service: one answer per query, already checked by check (which
    raises ValueError for an unusable one); ServiceError when no host nor the cache
    can answer."""

    def flux(self, params: dict, check: Callable[[str], object]) -> Answer: ...

    def search(self, params: dict, check: Callable[[str], object]) -> Answer: ...


def service_date(when: dt.datetime) -> str:
    """dd-Month-YYYY, the DATE format of the pipeline's queries (e.g. 06-March-2019)."""
    return f"{when.day:02d}-{when.strftime('%B')}-{when.year}"


def read_votable(text: str):
    """First table of a VOTable as an astropy Table; ValueError if it is not one."""
    from astropy.io.votable import parse

    try:
        # verify='ignore': the service's VOTables omit version/namespace details
        # astropy would otherwise warn about; the content is what matters here.
        vot = parse(io.BytesIO(text.encode("utf-8")), verify="ignore")
        return vot.get_first_table().to_table(use_names_over_ids=True)
    except Exception as exc:  # the parser raises many types for non-VOTable input
        raise ValueError(f"not a VOTable answer: {exc}") from exc


def flux_params(source: str, when: dt.datetime, freq_hz: float) -> dict:
    """The pipeline's flux query parameters."""
    return {
        "NAME": source.split(";")[0],
        "DATE": service_date(when),
        "FREQUENCY": repr(float(freq_hz)),
        "WEIGHTED": "true",
        "RESULT": 1,
        "VERBOSE": 1,
        "CATALOGUE": 5,
    }


def query_flux(source: str, when: dt.datetime, freq_hz: float, client: CatalogClient) -> dict:
    """The service's own flux at freq_hz on the date (what the pipeline would write)."""
    ans = client.flux(flux_params(source, when, freq_hz), read_votable)
    table = read_votable(ans.text)
    names = {n.lower(): n for n in table.colnames}
    if len(table) == 0:
        raise ValueError(f"catalog service answered no row for {source} ({ans.url})")
    row = table[0]
    out: dict = {"url": ans.url, "queried_at": ans.queried_at, "origin": ans.origin}
    for key, aliases in _FLUX_COLUMNS.items():
        col = next((names[a] for a in aliases if a in names), None)
        out[key] = None if col is None else _plain(row[col])
    out["freq_hz"] = float(freq_hz)
    return out


def lightcurve_params(radec_deg: tuple[float, float], start: dt.datetime, end: dt.datetime) -> dict:
    """The form of the catalogue search: one cone, ALMA catalogue, observing dates."""
    ra, dec = radec_deg
    return {
        "internalVersion": "false",
        "readOnlyVersion": "true",
        "ra": f"{ra % 360.0:.7f}",
        "dec": f"{dec:.7f}",
        "radius": f"{SEARCH_RADIUS_DEG:.7f}",
        "selectedCatalogues": 5,
        "dateObservedFrom": start.strftime("%Y-%m-%d"),
        "dateObservedTo": end.strftime("%Y-%m-%d"),
    }


def read_search(text: str) -> list:
    """The measurement rows of a /sc/search answer; ValueError if it is not an 'ok' one."""
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not a JSON search answer: {exc}") from None
    if not isinstance(answer, dict):
        raise ValueError(f"not a JSON search answer: a {type(answer).__name__}, not an object")
    if answer.get("status") != "ok":
        raise ValueError(
            f"search status {answer.get('status')!r}, errorFields {answer.get('errorFields')!r}"
        )
    rows = answer.get("data")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("search answer 'data' is not a list of measurement rows")
    return rows


def query_lightcurve(
    source: str,
    radec_deg: tuple[float, float],
    start: dt.datetime,
    end: dt.datetime,
    client: CatalogClient,
) -> tuple[tuple[Measurement, ...], Answer, tuple[str, ...]]:
    """(valid measurements of source between start and end, the answer, notes).

    The measurements carry the name source; notes say when the cone held no source of
    that name and the nearest one was used.
    """
    params = lightcurve_params(radec_deg, start, end)
    ans = client.search(params, read_search)
    rows, notes = source_rows(read_search(ans.text), source, radec_deg)
    out = []
    for row in rows:
        if not _usable(row):
            continue
        where = f"{ans.url} measurement id {row.get('id')}"
        try:
            out.append(
                make_measurement(
                    source=source,  # the calibrator asked for, whatever the row names
                    date=parse_date(str(row["dateObserved"]), f"{where}: dateObserved"),
                    freq_hz=float(row["frequency"]),
                    flux_jy=float(row["flux"]),
                    error_jy=float(row["fluxUncertainty"]),
                    band=_band(row.get("bandName")),
                    where=where,
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{where}: lacks a usable {exc} in {sorted(row)}") from None
    return tuple(out), ans, notes


def source_rows(rows: list, source: str, radec_deg: tuple[float, float]) -> tuple[list, tuple]:
    """The rows of the cone's source named source (several sources may lie in the cone),
    else of the nearest source, with a note naming it."""
    name = source.split(";")[0].strip().lower()
    by_id: dict = {}
    for r in rows:
        by_id.setdefault(r.get("sourceId"), []).append(r)
    if not by_id:
        return [], ()

    def sep(sid) -> float:
        seps = [r.get("separationInDegrees") for r in by_id[sid]]
        return min((float(s) for s in seps if isinstance(s, int | float)), default=math.inf)

    named = [sid for sid in by_id if name in {n.lower() for n in _names(by_id[sid])}]
    if named:
        return by_id[min(named, key=sep)], ()
    nearest = min(by_id, key=sep)
    ra, dec = radec_deg
    note = (
        f"the catalogue search found no source named {source} within "
        f"{SEARCH_RADIUS_DEG * 3600:g} arcsec of RA {ra:.5f} Dec {dec:+.5f} deg; used the "
        f"nearest, source id {nearest} ({', '.join(sorted(_names(by_id[nearest]))) or 'no name'}) "
        f"at {sep(nearest) * 3600:.2f} arcsec"
    )
    return by_id[nearest], (note,)


def _names(rows: list) -> set[str]:
    return {
        str(n["name"]).strip()
        for r in rows
        for n in (r.get("names") or [])
        if isinstance(n, dict) and n.get("name")
    }


def _usable(row: dict) -> bool:
    """valid true, flux and uncertainty positive finite numbers."""
    values = (row.get("flux"), row.get("fluxUncertainty"))
    return row.get("valid") is True and all(
        isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values
    )


def _band(name) -> int | None:
    """ALMA band number of 'ALMA-Band 3'; None (band from frequency) otherwise."""
    match = re.search(r"band\s*(\d+)", str(name or ""), re.IGNORECASE)
    return int(match.group(1)) if match else None


def _plain(value: Any) -> Any:
    """A VOTable cell as a plain Python value (masked -> None)."""
    if np.ma.is_masked(value):
        return None
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value
