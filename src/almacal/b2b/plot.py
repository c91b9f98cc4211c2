"""PNGs of a B2B transfer: DGC phases per antenna, residuals after the transfer."""

from __future__ import annotations

import numpy as np

from almacal.b2b.diagnostics import Diagnostics
from almacal.figures import new_figure


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

    fig = new_figure(figsize=(9, 7))
    (ax0, ax1) = fig.subplots(2, 1, sharex=True)
    t0 = times.min() if times.size else 0.0
    for a, name in enumerate(antenna_names):
        (line,) = ax0.plot((times - t0) / 60.0, phase_deg[:, a], ".-", lw=0.6, ms=2)
        ax1.plot(
            (block_times - t0) / 60.0, offset_deg[:, a], "o-", color=line.get_color(), label=name
        )
    ax0.set_ylabel("scaled DGC low-freq. phase (deg)")
    ax1.set_ylabel("band offset per block (deg)")
    ax1.set_xlabel("minutes from first DGC scan")
    ax1.legend(ncol=6, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_residuals(path: str, diagnostics: Diagnostics) -> None:
    """Residual DGC phase RMS per antenna after the transfer, with the expected RMS."""

    d = diagnostics
    fig = new_figure(figsize=(9, 4))
    ax = fig.subplots()
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
    ax.set_xticks(x, d.antenna_names, rotation=90, fontsize=7)
    ax.set_ylabel("phase RMS (deg)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
