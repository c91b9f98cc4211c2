"""What a report body shows: the context every body template receives.

Cells are text already formatted (a number with its error, a date): the standalone
report and the pipeline weblog show the same digits as the terminal summary.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Headline:
    """One headline number: label, value with its error and unit, and what it means."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Table:
    """A table: caption, column headings (with units), rows of text cells."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Figure:
    """A figure: its caption (what every symbol means) and src, a data: URI in the
    standalone report or a URL relative to the page in the weblog."""

    caption: str
    src: str


@dataclass(frozen=True)
class Warning:
    """A warning or an exclusion: what happened and why (or where)."""

    message: str
    reason: str = ""


@dataclass(frozen=True)
class QaScore:
    """A QA score in [0, 1] (1 good, pipeline convention) and what it measures."""

    name: str
    score: float
    meaning: str


@dataclass(frozen=True)
class Parts:
    """What a task's record gives its report: title, headline numbers, tables,
    warnings, QA scores, and the caption of each figure by its product key."""

    title: str
    headline: tuple[Headline, ...]
    tables: tuple[Table, ...]
    warnings: tuple[Warning, ...]
    qa: tuple[QaScore, ...]
    figures: dict[str, str]


@dataclass(frozen=True)
class Body:
    """The body-template context of one task run (see almacal.report's docstring)."""

    task: str
    title: str
    record: dict[str, Any]
    headline: tuple[Headline, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    warnings: tuple[Warning, ...] = ()
    qa: tuple[QaScore, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """The names a body template sees."""
        return {
            "task": self.task,
            "title": self.title,
            "record": self.record,
            "headline": self.headline,
            "tables": self.tables,
            "figures": self.figures,
            "warnings": self.warnings,
            "qa": self.qa,
            "params": self.params,
            "provenance": self.provenance,
        }


def png_data_uri(path: str) -> str:
    """A PNG file as a data: URI (the standalone report embeds its figures)."""
    with open(path, "rb") as fh:
        return "data:image/png;base64," + base64.b64encode(fh.read()).decode("ascii")


def num(value: Any, fmt: str = "%.4f") -> str:
    """A number as text; '-' for a missing or non-finite one (JSON null)."""
    if value is None or isinstance(value, bool):
        return "-" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    return fmt % value


def pm(value: Any, error: Any, fmt: str = "%.4f") -> str:
    """'1.0235 ± 0.0005' (a sign in fmt is the value's only)."""
    return f"{num(value, fmt)} ± {num(error, fmt.replace('+', ''))}"
