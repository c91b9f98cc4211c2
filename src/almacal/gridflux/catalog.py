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
        # UTF-8 as _data_lines reads it, not the locale's encoding (ASCII under LANG=C)
        table = Table.read(path, format=fmt, encoding="utf-8")
    except Exception as exc:  # astropy raises many types for a malformed table
        raise ValueError(f"catalog file {path!r} is not a readable {fmt} table: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.colnames]
    if missing:
        raise ValueError(
            f"catalog file {path!r} lacks column(s) {', '.join(missing)}; "
            f"columns are {', '.join(table.colnames)} (expected {', '.join(REQUIRED_COLUMNS)}, "
            "optional band, ingested)"
        )
    lines = _data_lines(path, fmt)
    freq = [f * 1e9 for f in _in_unit(table["frequency"], "GHz", path, lines)]
    flux = _in_unit(table["flux"], "Jy", path, lines)
    err = _in_unit(table["error"], "Jy", path, lines)
    cols = {"frequency": freq, "flux": flux, "error": err}
    return tuple(_measurement(path, table, k, row, cols, lines) for k, row in enumerate(table))


def _data_lines(path: str, fmt: str) -> list[int]:
    """The file line (1-based) of each data row: the non-blank lines after the column
    names (ECSV: its '#' header lines are not rows; a CSV has no comment lines)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read().splitlines()
    ecsv = fmt == "ascii.ecsv"
    content = [
        n
        for n, line in enumerate(text, start=1)
        if line.strip() and not (ecsv and line.lstrip().startswith("#"))
    ]
    return content[1:]


def _where(path: str, k: int, lines: Sequence[int]) -> str:
    line = f"line {lines[k]} " if k < len(lines) else ""
    return f"catalog file {path!r} {line}(data row {k + 1})"


def _measurement(
    path: str, table, k: int, row, cols: dict[str, list[float]], lines: Sequence[int]
) -> Measurement:
    """Data row k of a catalog file (frequencies in Hz, fluxes in Jy in cols)."""
    where = _where(path, k, lines)
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


def _in_unit(column, unit: str, path: str, lines: Sequence[int]) -> list[float]:
    """Column values in unit: an ECSV unit is converted, a bare column is taken as unit.

    ValueError naming the file, the line and the value of the first cell that is empty
    or not a number (an empty error cell must not read as 0, 'exact')."""
    import numpy as np

    bad = [(k, v) for k, v in enumerate(column) if not _is_number(v)]
    if bad:
        k, value = bad[0]
        shown = "empty" if np.ma.is_masked(value) else f"{str(value)!r}, not a number"
        more = ""
        if len(bad) > 1:
            others = ", ".join(
                str(lines[j]) if j < len(lines) else f"row {j + 1}" for j, _ in bad[1:6]
            )
            more = f" ({len(bad) - 1} more: line {others}{', ...' if len(bad) > 6 else ''})"
        raise ValueError(f"{_where(path, k, lines)}: {column.name} is {shown}{more}")
    values = np.asarray(column, dtype=float)
    if getattr(column, "unit", None) is not None:
        return [float(v) for v in (values * column.unit).to_value(unit)]
    return [float(v) for v in values]


def _is_number(value) -> bool:
    import numpy as np

    if np.ma.is_masked(value):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


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
