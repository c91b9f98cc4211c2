"""Figures for the task outputs, made without pyplot.

A task runs inside the user's CASA session: switching matplotlib's backend or
leaving figures registered with pyplot would change their interactive plots.
A bare Figure renders to PNG through its own Agg canvas.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


def new_figure(**kwargs: Any) -> Figure:
    """A Figure (figsize=..., ...) that pyplot does not know about; add axes with fig.subplots."""
    return Figure(**kwargs)
