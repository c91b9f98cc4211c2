"""Figures for the task outputs, made without pyplot, in one readable style.

A task runs inside the user's CASA session: switching matplotlib's backend or
leaving figures registered with pyplot would change their interactive plots.
A bare Figure renders to PNG through its own Agg canvas. The style is applied
only while a figure is made and saved (``styled``), never to the user's rcParams.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
from matplotlib.figure import Figure

# sizes a referee reads on a laptop screen and in print at the figure's width
STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9.5,
    "figure.titlesize": 12.5,
    "lines.markersize": 6,
    "errorbar.capsize": 2.5,
    "axes.grid": False,
}

DPI = 110


@contextmanager
def styled() -> Iterator[None]:
    """almacal's figure style while the block makes and saves a figure."""
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def new_figure(**kwargs: Any) -> Figure:
    """A Figure (figsize=..., ...) that pyplot does not know about; add axes with fig.subplots."""
    return Figure(**kwargs)


def save(fig: Figure, path: str) -> None:
    """Write fig as PNG (layout without overlapping labels)."""
    fig.savefig(path, dpi=DPI, format="png")
