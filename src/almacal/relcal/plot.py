"""MCF per calibrator and rFCF vs date, like seed 000 Fig. 2, with the residuals visible."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from almacal.figures import new_figure, save, styled
from almacal.relcal.dates import utc

if TYPE_CHECKING:
    from almacal.relcal.results import RelcalResult


def _x_positions(result: RelcalResult) -> tuple[np.ndarray, bool]:
    """Observing times (as datetime64: the epochs' first usable calibrator data,
    relcal.dates), or epoch numbers when they span < 3 days."""
    dates = np.array([_when(e) for e in result.epochs])
    if dates.size and (dates.max() - dates.min()) >= np.timedelta64(3, "D"):
        return dates, True
    return np.arange(1, len(result.epochs) + 1, dtype=float), False


def _title(result: RelcalResult) -> str:
    """What the data were: the column asked for and the MSs (a refit after relcal_apply
    reads datacolumn='corrected' of the .rescaled.ms copies)."""
    vis = [os.path.basename(str(v).rstrip("/")) for v in result.params.get("vis", [])]
    names = vis[0] if len(vis) == 1 else f"{vis[0]} ... {vis[-1]}" if vis else "?"
    column = result.params.get("datacolumn", "auto")
    worst = 100 * np.nanmax(np.abs(result.factors.rfcf - 1.0))
    return (
        f"MCF and rFCF per epoch (Eq. 1-3): largest |rFCF - 1| = {worst:.3f} %\n"
        f"datacolumn={column!r} of {len(vis)} MS: {names}"
    )


def plot_factors(result: RelcalResult, path: str) -> None:
    """Write a PNG: MCFs and rFCFs per epoch (top) and MCF / rFCF - 1 in % (bottom)."""
    with styled():
        fig = new_figure(figsize=(9, 7.5), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        x, is_date = _x_positions(result)
        n_cal = len(result.fields)
        span = (x.max() - x.min()) if x.size > 1 else np.timedelta64(1, "D") if is_date else 1
        step = span / max(60, 15 * n_cal)
        offsets = [(j - (n_cal - 1) / 2) * step for j in range(n_cal)]
        _top_panel(top, result, x, offsets)
        _residual_panel(bottom, result, x, offsets)
        if is_date:
            import matplotlib.dates as mdates

            bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
            bottom.set_xlabel("observing date (UTC)")
            for label in bottom.get_xticklabels():
                label.set_rotation(25)
                label.set_horizontalalignment("right")
        else:
            bottom.set_xlabel("epoch")
            bottom.set_xticks(x)
        top.set_title(_title(result))
        fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncol=4)
        save(fig, path)


def _top_panel(ax: Any, result: RelcalResult, x: np.ndarray, offsets: list[Any]) -> None:
    mcf, sig = result.total.mcf, result.total.mcf_sigma
    excluded = False
    for j, name in enumerate(result.fields):
        xj = x + offsets[j]
        ax.errorbar(xj, mcf[:, j], yerr=sig[:, j], fmt="o", ms=5, label=f"MCF {name}")
        out = ~result.used[:, j] & np.isfinite(mcf[:, j])
        if out.any():
            excluded = True
            ax.plot(xj[out], mcf[out, j], "o", ms=13, mfc="none", mec="red", mew=1.5)
    f = result.factors
    ax.errorbar(
        x,
        f.rfcf,
        yerr=f.rfcf_std,
        fmt="s",
        color="k",
        mfc="none",
        ms=12,
        mew=1.3,
        label="rFCF (error bar: MCF scatter)",
    )
    if excluded:
        ax.plot([], [], "o", ms=13, mfc="none", mec="red", mew=1.5, label="left out of the rFCF")
    ax.axhline(1.0, color="0.6", lw=0.8, zorder=0, label="1: mean flux scale")
    near = _near_one(mcf)
    ax.set_ylim(
        *_limits(
            np.r_[f.rfcf - f.rfcf_std, (mcf - sig)[near]],
            np.r_[f.rfcf + f.rfcf_std, (mcf + sig)[near]],
        )
    )
    # epoch numbers as a top axis: they never overlap the points or each other
    top = ax.secondary_xaxis("top")
    top.set_xticks(_as_numbers(x), [str(e.number) for e in result.epochs])
    top.set_xlabel("epoch")
    ax.set_ylabel("MCF, rFCF")


def _as_numbers(x: np.ndarray) -> np.ndarray:
    """x in the axis' own units (matplotlib's day numbers for dates)."""
    if np.issubdtype(x.dtype, np.datetime64):
        import matplotlib.dates as mdates

        return np.asarray(mdates.date2num(x))
    return x


def _residual_panel(ax: Any, result: RelcalResult, x: np.ndarray, offsets: list[Any]) -> None:
    f = result.factors
    mcf, sig = result.total.mcf, result.total.mcf_sigma
    for j, name in enumerate(result.fields):
        ax.errorbar(
            x + offsets[j],
            100 * (mcf[:, j] / f.rfcf - 1.0),
            yerr=100 * sig[:, j] / f.rfcf,
            fmt="o",
            ms=5,
            label=name,
        )
    ax.axhline(0.0, color="0.6", lw=0.8, zorder=0)
    near = _near_one(mcf)
    res, res_sig = 100 * (mcf / f.rfcf[:, None] - 1.0), 100 * sig / f.rfcf[:, None]
    ax.set_ylim(*_limits(np.r_[(res - res_sig)[near], 0.0], np.r_[(res + res_sig)[near], 0.0]))
    ax.set_ylabel("MCF / rFCF - 1 (%)")
    ax.set_title(
        "each MCF relative to its epoch's rFCF; 1-sigma error bars (Eq. 2), "
        "which the markers above can hide"
    )


def _when(epoch: Any) -> np.datetime64:
    if np.isfinite(epoch.start_mjd_s):
        return np.datetime64(utc(epoch.start_mjd_s).replace(tzinfo=None), "s")
    return np.datetime64(epoch.date, "s")


def _near_one(mcf: np.ndarray) -> np.ndarray:
    """MCFs within a factor 3 of 1: an excluded weak or negative flux's MCF (any value)
    must not set the axis range and squash the others; a variable calibrator's stays."""
    return np.isfinite(mcf) & (mcf > 1 / 3) & (mcf < 3)


def _limits(lo_values: np.ndarray, hi_values: np.ndarray) -> tuple[float, float]:
    with np.errstate(invalid="ignore"):
        lo, hi = float(np.nanmin(lo_values)), float(np.nanmax(hi_values))
    pad = 0.08 * max(hi - lo, 1e-4)
    return lo - pad, hi + pad
