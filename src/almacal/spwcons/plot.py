"""Figures like seed 000 Figs. 3-5: normalized MCFs vs frequency, the three histograms, MC alpha.

One definition of the index's spread throughout: sigma_alpha(MC) is the standard
deviation of alpha that fit noise and sigma_spw alone give (Monte Carlo); each
epoch's alpha carries delta_alpha, its least-squares error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.lines import Line2D

from almacal.figures import new_figure, save, styled

if TYPE_CHECKING:
    from almacal.spwcons.results import SpwConsistencyResult

SIGMA_ALPHA_MC = "σ_α(MC)"
DELTA_ALPHA = "δα"


def plot_normalized(result: SpwConsistencyResult, path: str) -> None:
    """Fig. 3: one panel per epoch, calibrators coloured, calibrator means as black bars."""
    n_e = result.norm.shape[0]
    ncol = min(n_e, 4)
    nrow = -(-n_e // ncol)
    with styled():
        fig = new_figure(figsize=(3.6 * ncol, 3.3 * nrow + 0.9), layout="constrained")
        axes = fig.subplots(nrow, ncol, sharey=True, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i < n_e:
                _epoch_panel(ax, result, i)
            else:
                ax.set_visible(False)
        for row in axes:
            row[0].set_ylabel("MCF(spw) / MCF(all spws)")
        handles = [
            *[
                Line2D([], [], marker="^", ls="none", color=f"C{j}", label=name)
                for j, name in enumerate(result.fits.fields)
            ],
            Line2D([], [], color="k", lw=2, label="mean of the calibrators per spw (Eq. 5)"),
            Line2D([], [], color="0.35", label="power law fitted to the epoch"),
            Line2D([], [], color="0.35", ls="--", label="power law, slope flagged"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
        fig.suptitle(
            "Normalized MCFs per spw and epoch (error bars 1 sigma); panel titles: "
            f"α ± {DELTA_ALPHA} (fit)"
        )
        save(fig, path)


def _epoch_panel(ax: Any, result: SpwConsistencyResult, i: int) -> None:
    f = result.fits
    n_c, n_s = result.norm.shape[1:]
    ghz = f.spw_freq_hz / 1e9
    step = np.diff(np.sort(ghz)).min() if n_s > 1 else 1.0
    offsets = (np.arange(n_c) - (n_c - 1) / 2) * 0.08 * step
    for j in range(n_c):
        ax.errorbar(
            ghz + offsets[j],
            result.norm[i, j],
            yerr=result.norm_sigma[i, j],
            fmt="^",
            ms=5,
            color=f"C{j}",
        )
    ax.hlines(result.decomposition.spw_mean[i], ghz - 0.3 * step, ghz + 0.3 * step, color="k", lw=2)
    p = result.powerlaws[i]
    grid = np.linspace(ghz.min(), ghz.max(), 50)
    ax.plot(
        grid,
        p.c * (grid * 1e9 / p.nu0_hz) ** p.alpha,
        color="0.35",
        lw=1.2,
        ls="--" if result.slope_flagged[i] else "-",
    )
    ax.axhline(1.0, color="0.75", lw=0.8, zorder=0)
    ax.set_title(
        "epoch %d (%s)\nα = %+.3f ± %.3f" % (f.epochs[i], f.dates[i], p.alpha, p.alpha_error)
    )
    ax.set_xlabel("frequency (GHz)")


def _gaussian(ax: Any, values: np.ndarray, sigma: float, edges: np.ndarray) -> None:
    """The Gaussian of the sample's width, scaled to the histogram's counts."""
    x = np.linspace(edges[0], edges[-1], 200)
    area = values.size * (edges[1] - edges[0])
    mu = values.mean()
    ax.plot(x, area * np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)), "k")


def plot_histograms(result: SpwConsistencyResult, path: str) -> None:
    """Fig. 4: normalized MCFs, Eq. 4 residuals, Eq. 5 means, Gaussians of the sample widths."""
    d = result.decomposition
    panels = (
        ("normalized MCF - 1", result.norm - 1.0, d.width_total, "C0", "normalized MCFs"),
        ("minus calibrator mean (Eq. 4)", d.residual, d.width_fit, "C0", "normalized MCFs"),
        ("calibrator mean - 1 (Eq. 5)", d.spw_mean - 1.0, d.width_spw, "C3", "(epoch, spw) means"),
    )
    with styled():
        fig = new_figure(figsize=(13, 4.6), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, (title, values, width, colour, unit) in zip(axes, panels, strict=True):
            v = 100 * values.ravel()
            counts, edges, _ = ax.hist(
                v, bins=max(5, int(np.sqrt(v.size)) + 2), color=colour, alpha=0.6, label="data"
            )
            s = 100 * width.sigma
            if s > 0:
                _gaussian(ax, v, s, edges)
            ax.set_title("%s\nsample width %.3f ± %.3f %%" % (title, s, 100 * width.error))
            ax.set_xlabel("deviation (%)")
            ax.set_ylabel(f"number of {unit} per bin")
        handles = [
            Line2D([], [], color="C0", lw=8, alpha=0.6, label="histogram of normalized MCFs"),
            Line2D([], [], color="C3", lw=8, alpha=0.6, label="histogram of (epoch, spw) means"),
            Line2D([], [], color="k", label="Gaussian of the sample width"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncol=3)
        fig.suptitle(
            "σ_fit = %.3f %%, %s (Eq. 4-5, corrected for the degrees of freedom)"
            % (100 * d.fit.sigma, _sigma_spw_text(d))
        )
        save(fig, path)


def _sigma_spw_text(d: Any) -> str:
    if d.spw_error_detected:
        return "σ_spw = %.3f %%" % (100 * d.sigma_spw)
    return "σ_spw < %.3f %% (95 %%)" % (100 * d.sigma_spw_upper)


def plot_montecarlo(result: SpwConsistencyResult, path: str) -> None:
    """Fig. 5: MC alpha distribution, ± sigma_alpha(MC), each epoch's alpha ± delta_alpha."""
    null = result.null
    alpha = np.array([p.alpha for p in result.powerlaws])
    err = np.array([p.alpha_error for p in result.powerlaws])
    flagged = np.asarray(result.slope_flagged)
    with styled():
        fig = new_figure(figsize=(9, 5.4), layout="constrained")
        ax = fig.subplots()
        s = null.sigma_alpha
        ax.axvspan(-s, s, color="C0", alpha=0.12, label=f"± {SIGMA_ALPHA_MC} = ± {s:.3f}")
        ax.hist(
            null.alpha, bins=60, color="0.6", label=f"MC: noise alone ({null.alpha.size} draws)"
        )
        ax.set_xlabel("power-law index α")
        ax.set_ylabel("MC draws per bin")
        # the epochs on a second axis, one row each: their labels never overlap
        ep = ax.twinx()
        rows = np.arange(1, alpha.size + 1)
        for flag, colour, label in ((False, "C0", "epoch α ± δα"), (True, "C3", "flagged")):
            m = flagged == flag
            if m.any():
                ep.errorbar(alpha[m], rows[m], xerr=err[m], fmt="o", color=colour, label=label)
        ep.set_ylim(0.3, alpha.size + 0.7)
        ep.set_yticks(rows, [str(e) for e in result.fits.epochs])
        ep.set_ylabel("epoch")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ep.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper left", framealpha=0.9)
        ax.set_title(
            f"α from fit noise + σ_spw alone vs each epoch's α ± {DELTA_ALPHA}\n"
            f"{SIGMA_ALPHA_MC} = {s:.3f}: spread of α from noise alone (all epochs); "
            "each epoch is tested against the others' sigmas"
        )
        save(fig, path)
