"""Calibrator catalog measurements: records, ALMA bands, the offline catalog file.

An offline catalog is an ECSV or CSV table with one row per measurement:

==========  ======================================================================
column      meaning
==========  ======================================================================
source      calibrator name as in the ALMA catalog, e.g. J1924-2914
date        UTC date (and time) of the observation, ISO: 2019-03-06 or 2019-03-06T04:12:00
frequency   GHz (an ECSV unit, e.g. Hz, is converted)
flux        Jy (ECSV unit converted)
error       Jy, 1 sigma (ECSV unit converted); 0 means exact
band        ALMA band number (optional: derived from frequency)
ingested    UTC date the entry reached the catalog (optional; asof and delay statistics)
==========  ======================================================================
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from almacal.constants import DAY_S
from almacal.msinfo import alma_band

REQUIRED_COLUMNS = ("source", "date", "frequency", "flux", "error")


def parse_date(text: str, what: str) -> dt.datetime:
    """ISO date or date-time (UTC); the catalog's dd-Month-YYYY also accepted."""
    s = str(text).strip()
    for fmt in ("%d-%B-%Y", "%d-%b-%Y"):
        try:
            return dt.datetime.strptime(s, fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "").replace(" UTC", ""))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a date (expected e.g. 2019-03-06)") from None
    return d.replace(tzinfo=dt.timezone.utc) if d.tzinfo is None else d


def days_between(a: dt.datetime, b: dt.datetime) -> float:
    """b - a in days."""
    return (b - a).total_seconds() / DAY_S


@dataclass(frozen=True)
class Measurement:
    """One catalog flux measurement of a calibrator."""

    source: str
    date: dt.datetime  # UTC, of the observation
    freq_hz: float
    flux_jy: float
    error_jy: float
    band: int
    ingested: dt.datetime | None = None  # UTC, when it entered the catalog

    def age_days(self, when: dt.datetime) -> float:
        """|when - date| in days."""
        return abs(days_between(self.date, when))

    def to_record(self) -> dict:
        return {
            "source": self.source,
            "date": self.date.isoformat(),
            "freq_hz": self.freq_hz,
            "flux_jy": self.flux_jy,
            "error_jy": self.error_jy,
            "band": self.band,
            "ingested": self.ingested.isoformat() if self.ingested else None,
        }


def make_measurement(
    *,
    source: str,
    date: str | dt.datetime,
    freq_hz: float,
    flux_jy: float,
    error_jy: float,
    band: int | None = None,
    ingested: str | dt.datetime | None = None,
    where: str = "measurement",
) -> Measurement:
    """A checked Measurement; ValueError naming where (file and row) on bad values."""
    when = date if isinstance(date, dt.datetime) else parse_date(date, f"{where}: date")
    ing = ingested
    if isinstance(ing, str):
        ing = parse_date(ing, f"{where}: ingested") if ing.strip() else None
    values = {"frequency": freq_hz, "flux": flux_jy, "error": error_jy}
    for name, v in values.items():
        if not math.isfinite(v):
            raise ValueError(f"{where}: {name} is {v!r}; expected a finite number")
    if freq_hz <= 0 or flux_jy <= 0 or error_jy < 0:
        raise ValueError(
            f"{where}: need frequency > 0, flux > 0 and error >= 0, got "
            f"{freq_hz / 1e9:g} GHz, {flux_jy!r} Jy +- {error_jy!r} Jy"
        )
    b = alma_band(freq_hz) if band is None or band <= 0 else int(band)
    return Measurement(str(source).strip(), when, float(freq_hz), flux_jy, error_jy, b, ing)


def read_catalog_file(path: str) -> tuple[Measurement, ...]:
    """All measurements of an offline catalog file (ECSV, or CSV with a header row)."""
    from astropy.table import Table

    if not os.path.isfile(path):
        raise FileNotFoundError(f"catalog file {path!r} does not exist")
    fmt = "ascii.ecsv" if path.lower().endswith(".ecsv") else "ascii.csv"
    try:
        table = Table.read(path, format=fmt)
    except Exception as exc:  # astropy raises many types for a malformed table
        raise ValueError(f"catalog file {path!r} is not a readable {fmt} table: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise ValueError(
            f"catalog file {path!r} lacks column(s) {', '.join(missing)}; "
            f"columns are {', '.join(table.colnames)} (expected {', '.join(REQUIRED_COLUMNS)}, "
            "optional band, ingested)"
        )
    freq = [f * 1e9 for f in _in_unit(table["frequency"], "GHz")]
    flux = _in_unit(table["flux"], "Jy")
    err = _in_unit(table["error"], "Jy")
    cols = {"frequency": freq, "flux": flux, "error": err}
    return tuple(_measurement(path, table, k, row, cols) for k, row in enumerate(table))


def _measurement(path: str, table, k: int, row, cols: dict[str, list[float]]) -> Measurement:
    """Data row k of a catalog file (frequencies in Hz, fluxes in Jy in cols)."""
    # header is line 1 of a CSV: row k is on line k + 2 (ECSV: data row k + 1)
    where = f"catalog file {path!r}, data row {k + 1}"
    band = int(row["band"]) if "band" in table.colnames and _present(row["band"]) else None
    ing = str(row["ingested"]) if "ingested" in table.colnames else None
    if ing is not None and not _present(row["ingested"]):
        ing = None
    try:
        return make_measurement(
            source=str(row["source"]),
            date=str(row["date"]),
            freq_hz=float(cols["frequency"][k]),
            flux_jy=float(cols["flux"][k]),
            error_jy=float(cols["error"][k]),
            band=band,
            ingested=ing,
            where=where,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc) if where in str(exc) else f"{where}: {exc}") from None


def _in_unit(column, unit: str) -> list[float]:
    """Column values in unit: an ECSV unit is converted, a bare column is taken as unit."""
    import numpy as np

    try:
        values = np.asarray(column, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"catalog column {column.name!r} has non-numeric values: {list(column)[:5]}"
        ) from None
    if getattr(column, "unit", None) is not None:
        return [float(v) for v in (values * column.unit).to_value(unit)]
    return [float(v) for v in values]


def _present(value) -> bool:
    import numpy as np

    return not (np.ma.is_masked(value) or str(value).strip() in ("", "--", "nan", "None"))


def for_source(
    measurements: Iterable[Measurement], source: str, *, asof: dt.datetime | None = None
) -> tuple[Measurement, ...]:
    """The measurements of one source, optionally only those ingested by asof.

    Without an ingestion date a measurement counts as ingested asof only if it
    was observed by then (the catalog cannot hold a future measurement).
    """
    out = []
    for m in measurements:
        if m.source != source:
            continue
        if asof is not None and (m.ingested or m.date) > asof:
            continue
        out.append(m)
    return tuple(sorted(out, key=lambda m: (m.date, m.freq_hz)))


def known_sources(measurements: Sequence[Measurement]) -> list[str]:
    return sorted({m.source for m in measurements})
