"""MCF per calibrator and rFCF vs date, like seed 000 Fig. 2."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from almacal.figures import new_figure
from almacal.relcal.dates import utc

if TYPE_CHECKING:
    from almacal.relcal.results import RelcalResult


def plot_factors(result: RelcalResult, path: str) -> None:
    """Write a PNG: MCFs (coloured, excluded ones circled red) and rFCFs (black) per epoch."""
    import matplotlib.dates as mdates

    # the epochs' first usable calibrator data (relcal.dates), to the second
    dates = np.array([_when(e) for e in result.epochs])
    n_cal = len(result.fields)
    # small horizontal offsets so error bars of different calibrators do not overlap
    offsets = (np.arange(n_cal) - (n_cal - 1) / 2) * 2
    fig = new_figure(figsize=(8, 4.5))
    ax = fig.subplots()
    mcf, sig = result.total.mcf, result.total.mcf_sigma
    for j, name in enumerate(result.fields):
        x = dates + np.timedelta64(int(offsets[j]), "D")
        ax.errorbar(x, mcf[:, j], yerr=sig[:, j], fmt="o", ms=4, capsize=2, label=name)
        out = ~result.used[:, j] & np.isfinite(mcf[:, j])
        if out.any():
            ax.plot(x[out], mcf[out, j], "o", ms=12, mfc="none", mec="red")
    f = result.factors
    ax.errorbar(
        dates,
        f.rfcf,
        yerr=f.rfcf_std,
        fmt="s",
        color="k",
        mfc="none",
        ms=10,
        capsize=3,
        label="rFCF (error bar: MCF scatter)",
    )
    ax.axhline(1.0, color="0.6", lw=0.8, zorder=0)
    ax.set_ylim(*_limits(mcf, f.rfcf))
    ax.set_ylabel("MCF / rFCF")
    ax.set_xlabel("observing date (UTC)")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    fig.autofmt_xdate()
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("Relative flux calibration (MCF Eq. 1, rFCF Eq. 3)")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")


def _when(epoch) -> np.datetime64:
    if np.isfinite(epoch.start_mjd_s):
        return np.datetime64(utc(epoch.start_mjd_s).replace(tzinfo=None), "s")
    return np.datetime64(epoch.date, "s")


def _limits(mcf: np.ndarray, rfcf: np.ndarray) -> tuple[float, float]:
    """y range of the MCFs within a factor 3 of 1 and the rFCFs, with a margin: an
    excluded weak or negative flux's MCF (any value) must not squash the others, while
    an outlier (a variable calibrator) stays in view."""
    near = mcf[np.isfinite(mcf) & (mcf > 1 / 3) & (mcf < 3)]
    v = np.concatenate([near, rfcf[np.isfinite(rfcf)], [1.0]])
    lo, hi = float(v.min()), float(v.max())
    pad = 0.15 * max(hi - lo, 0.02)
    return lo - pad, hi + pad
