"""The ALMA pipeline's flux.csv (hifa_importdata output, hifa_gfluxscale reffile).

Two layouts exist: ``ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment`` and the
older one without uvmin/uvmax. ``ms`` is the MS base name, ``field`` and ``spw``
are ids, I Q U V are Jy at the spw centre frequency and spix is the index used
around it. The pipeline writes the comment as
``# field=<name> intents=<A,B> origin=<DB|...> age=<days> queried_at=<YYYY-MM-DD hh:mm:ss UTC>``,
with pipeline intent names (AMPLITUDE is the flux calibrator); older pipelines
wrote ``'<name>' intent=<A,B>``. The pipeline re-reads the file with
csv.DictReader (hifa_importdata, fluxes.import_flux): field and spw as integer
ids, queried_at matched as ``YYYY-MM-DD hh:mm:ss UTC``; csv.writer here quotes
the comment, whose intents contain commas, as the pipeline's own writer does.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, replace

COLUMNS = ("ms", "field", "spw", "I", "Q", "U", "V", "spix", "uvmin", "uvmax", "comment")
OLD_COLUMNS = COLUMNS[:8] + COLUMNS[10:]

_COMMENT_KEYS = {
    "field": re.compile(r"field=(\S+)"),
    "intents": re.compile(r"intents?=(\S+)"),
    "origin": re.compile(r"origin=(\S+)"),
    "age": re.compile(r"age=(\S+)"),
    "queried_at": re.compile(r"queried_at=(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \w{3}|\S+)"),
}
_OLD_FIELD = re.compile(r"^'([^']+)'")  # older comment: 'J1924-2914' intent=...


@dataclass(frozen=True)
class FluxRow:
    """One flux.csv row; line is its line number in the file (1 = header)."""

    ms: str
    field: str  # field id as written (the pipeline writes ids)
    spw: int
    stokes: tuple[float, float, float, float]  # I Q U V, Jy
    spix: float
    uvmin: float | None  # None in the older layout
    uvmax: float | None
    comment: str
    line: int = 0

    @property
    def flux(self) -> float:
        return self.stokes[0]

    def note(self, key: str) -> str | None:
        """A value from the pipeline comment (field, intents, origin, age, queried_at)."""
        m = _COMMENT_KEYS[key].search(self.comment)
        return m.group(1) if m and m.group(1) != "N/A" else None

    @property
    def field_name(self) -> str | None:
        old = _OLD_FIELD.match(self.comment)
        return self.note("field") or (old.group(1) if old else None)

    @property
    def intents(self) -> tuple[str, ...]:
        text = self.note("intents")
        return tuple(text.split(",")) if text else ()

    @property
    def age_days(self) -> float | None:
        text = self.note("age")
        try:
            return float(text) if text else None
        except ValueError:
            return None

    def cells(self, with_uv: bool) -> list[str]:
        uv = [_num(self.uvmin or 0.0), _num(self.uvmax or 0.0)] if with_uv else []
        return [
            self.ms,
            self.field,
            str(self.spw),
            *(_num(v) for v in self.stokes),
            _num(self.spix),
            *uv,
            self.comment,
        ]


@dataclass(frozen=True)
class FluxCsv:
    path: str
    with_uv: bool  # True: current layout with uvmin/uvmax
    rows: tuple[FluxRow, ...]

    def for_ms(self, ms_name: str) -> tuple[FluxRow, ...]:
        base = os.path.basename(os.path.normpath(ms_name))
        return tuple(r for r in self.rows if r.ms == base)

    def ms_names(self) -> list[str]:
        return list(dict.fromkeys(r.ms for r in self.rows))


def _num(v: float) -> str:
    return repr(float(v))


def read_flux_csv(path: str) -> FluxCsv:
    """Parse a flux.csv of either layout; ValueError naming the file and line on bad rows."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"fluxcsv {path!r} does not exist")
    lines = _csv_lines(path)
    if not lines:
        raise ValueError(f"fluxcsv {path!r} is empty; expected the header {','.join(COLUMNS)}")
    header = tuple(c.strip() for c in lines[0])
    if header == COLUMNS:
        with_uv = True
    elif header == OLD_COLUMNS:
        with_uv = False
    else:
        raise ValueError(
            f"fluxcsv {path!r} line 1: header {','.join(header)!r} is neither "
            f"{','.join(COLUMNS)!r} nor the older {','.join(OLD_COLUMNS)!r}"
        )
    n = len(header)
    rows = []
    for k, cells in enumerate(lines[1:], start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        where = f"fluxcsv {path!r} line {k}"
        if len(cells) < n:
            raise ValueError(f"{where}: {len(cells)} values, expected {n} ({','.join(header)})")
        # an unquoted comment with commas (intents=A,B) spills over: it is the last column
        cells = [*cells[: n - 1], ",".join(cells[n - 1 :])]
        rows.append(_row(cells, with_uv, where, k))
    if not rows:
        raise ValueError(f"fluxcsv {path!r} has a header but no flux rows")
    return FluxCsv(path=os.path.abspath(path), with_uv=with_uv, rows=tuple(rows))


def _csv_lines(path: str) -> list[list[str]]:
    """The cells of every line; ValueError naming fluxcsv and the file when it is not a
    UTF-8 text CSV (a binary file, another encoding, a line no CSV reader can split)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            return list(reader)
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"fluxcsv {path!r} is not a UTF-8 text file (it holds bytes such as "
                f"{exc.object[exc.start : exc.start + 1]!r}): expected the pipeline's "
                f"flux.csv, header {','.join(COLUMNS)}"
            ) from None
        except csv.Error as exc:
            raise ValueError(
                f"fluxcsv {path!r} line {reader.line_num}: not a CSV line ({exc}); expected "
                f"the pipeline's flux.csv, header {','.join(COLUMNS)}"
            ) from None


def _row(cells: list[str], with_uv: bool, where: str, line: int) -> FluxRow:
    def number(i: int, name: str) -> float:
        try:
            v = float(cells[i])
        except ValueError:
            raise ValueError(f"{where}: {name} is {cells[i]!r}, not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{where}: {name} is {cells[i]!r}; expected a finite number")
        return v

    ms, field, spw = (c.strip() for c in cells[:3])
    if not ms:
        raise ValueError(f"{where}: empty ms name")
    if not spw.isdigit():
        raise ValueError(f"{where}: spw is {spw!r}, expected a spectral window id")
    # I > 0 is checked for the rows gridflux_check uses (targets): other fields' rows are
    # copied as they are, so a valid pipeline file is never refused for them
    stokes = (number(3, "I"), number(4, "Q"), number(5, "U"), number(6, "V"))
    return FluxRow(
        ms=ms,
        field=field,
        spw=int(spw),
        stokes=stokes,
        spix=number(7, "spix"),
        uvmin=number(8, "uvmin") if with_uv else None,
        uvmax=number(9, "uvmax") if with_uv else None,
        comment=cells[-1].strip(),
        line=line,
    )


def updated_row(
    row: FluxRow, *, field: str, flux: float, spix: float, age_days: float, stamp: str
) -> FluxRow:
    """The row with the catalog flux of field (its name); Q, U, V keep their fractions of I."""
    scale = flux / row.flux
    i, q, u, v = (x * scale for x in row.stokes)
    comment = (
        f"# field={field} intents={','.join(row.intents) or 'N/A'} "
        f"origin=almacal.gridflux_check age={age_days:.2f} queried_at={stamp}"
    )
    return replace(row, stokes=(i, q, u, v), spix=spix, comment=comment)


def write_flux_csv(path: str, table: FluxCsv, rows: tuple[FluxRow, ...]) -> None:
    """Write rows in table's layout (the pipeline re-reads either)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS if table.with_uv else OLD_COLUMNS)
        for r in rows:
            w.writerow(r.cells(table.with_uv))
