"""PNGs of a B2B transfer: DGC phases per antenna, residuals after the transfer."""

from __future__ import annotations

from typing import Any

import numpy as np

from almacal.b2b.diagnostics import Diagnostics
from almacal.figures import new_figure, save, styled


def plot_dgc_phases(
    path: str,
    *,
    times: np.ndarray,
    phase_deg: np.ndarray,
    block_times: np.ndarray,
    offset_deg: np.ndarray,
    antenna_names: tuple[str, ...],
) -> None:
    """Scaled low-frequency DGC phases vs time, one line per antenna, with the band offsets.

    times : (n_t,) MJD s; phase_deg : (n_t, n_ant); offset_deg : (n_block, n_ant).
    """

    with styled():
        fig = new_figure(figsize=(10, 8), layout="constrained")
        _dgc_panels(fig, times, phase_deg, block_times, offset_deg, antenna_names)
        save(fig, path)


def _dgc_panels(
    fig: Any,
    times: np.ndarray,
    phase_deg: np.ndarray,
    block_times: np.ndarray,
    offset_deg: np.ndarray,
    antenna_names: tuple[str, ...],
) -> None:
    import matplotlib

    (ax0, ax1) = fig.subplots(2, 1, sharex=True)
    t0 = times.min() if times.size else 0.0
    # one colour and marker per antenna: tab20 has 20 colours, the markers tell repeats apart
    tab20 = matplotlib.colormaps["tab20"]
    colours = [tab20(i) for i in range(20)]
    for a, name in enumerate(antenna_names):
        style = {"color": colours[a % 20], "marker": "osD^v"[(a // 20) % 5]}
        ax0.plot((times - t0) / 60.0, phase_deg[:, a], "-", lw=0.8, ms=3, **style)
        ax1.plot((block_times - t0) / 60.0, offset_deg[:, a], "-", ms=6, label=name, **style)
    ax0.set_ylabel("phase (deg)")
    ax0.set_title("DGC source: low-frequency phases scaled by ν_high/ν_low, per antenna")
    ax1.set_ylabel("band offset (deg)")
    ax1.set_title("band offset solved per DGC block, per antenna")
    ax1.set_xlabel("minutes from the first DGC scan")
    fig.legend(
        *ax1.get_legend_handles_labels(),
        loc="outside right upper",
        ncol=1 + len(antenna_names) // 30,
        fontsize=8,
        title="antenna",
    )


def plot_residuals(path: str, diagnostics: Diagnostics) -> None:
    """Residual DGC phase RMS per antenna after the transfer, with the expected RMS."""

    with styled():
        fig = new_figure(figsize=(10, 4.8), layout="constrained")
        _residual_bars(fig.subplots(), diagnostics)
        save(fig, path)


def _residual_bars(ax: Any, d: Diagnostics) -> None:
    x = np.arange(len(d.antenna_names))
    ax.bar(x, d.residual_rms_antenna_deg, color="tab:blue", label="residual (high-freq. DGC)")
    ax.axhline(d.residual_rms_deg, color="tab:blue", ls="--", lw=1, label="overall residual")
    ax.axhline(
        d.expected_rms_dgc_deg,
        color="tab:red",
        ls=":",
        lw=1,
        label="expected over cycle (DGC elevation)",
    )
    ax.set_xticks(x, d.antenna_names, rotation=90, fontsize=8)
    ax.set_xlabel("antenna")
    ax.set_ylabel("phase RMS (deg)")
    ax.set_title("Residual high-frequency DGC phase RMS after the B2B transfer")
    ax.legend()
