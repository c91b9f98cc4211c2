"""Figures like seed 000 Figs. 3-5: normalized MCFs vs frequency, the three histograms, MC alpha."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from almacal.figures import new_figure

if TYPE_CHECKING:
    from almacal.spwcons.results import SpwConsistencyResult


def plot_normalized(result: SpwConsistencyResult, path: str) -> None:
    """Fig. 3: one panel per epoch, calibrators coloured, calibrator means as black bars."""
    f = result.fits
    n_e, n_c, n_s = result.norm.shape
    ncol = min(n_e, 4)
    nrow = -(-n_e // ncol)
    fig = new_figure(figsize=(3.2 * ncol, 2.8 * nrow))
    axes = fig.subplots(nrow, ncol, sharey=True, squeeze=False)
    ghz = f.spw_freq_hz / 1e9
    step = np.diff(np.sort(ghz)).min() if n_s > 1 else 1.0
    offsets = (np.arange(n_c) - (n_c - 1) / 2) * 0.08 * step
    grid = np.linspace(ghz.min(), ghz.max(), 50)
    for i, ax in enumerate(axes.flat):
        if i >= n_e:
            ax.set_visible(False)
            continue
        for j, name in enumerate(f.fields):
            ax.errorbar(
                ghz + offsets[j],
                result.norm[i, j],
                yerr=result.norm_sigma[i, j],
                fmt="^",
                ms=4,
                capsize=2,
                label=name,
            )
        ax.hlines(result.decomposition.spw_mean[i], ghz - 0.3 * step, ghz + 0.3 * step, color="k")
        p = result.powerlaws[i]
        ax.plot(
            grid,
            p.c * (grid * 1e9 / p.nu0_hz) ** p.alpha,
            color="0.4",
            lw=1,
            ls="-" if not result.slope_flagged[i] else "--",
        )
        ax.axhline(1.0, color="0.7", lw=0.8, zorder=0)
        ax.set_title(
            "epoch %d %s: alpha = %+.2f +- %.2f"
            % (f.epochs[i], f.dates[i], p.alpha, p.alpha_error),
            fontsize=8,
        )
        ax.set_xlabel("frequency (GHz)", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0, 0].set_ylabel("MCF(spw) / MCF(all spw)")
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")


def plot_histograms(result: SpwConsistencyResult, path: str) -> None:
    """Fig. 4: normalized MCFs, Eq. 4 residuals, Eq. 5 means, Gaussians of the sample widths."""
    d = result.decomposition
    panels = (
        ("normalized MCF - 1", result.norm - 1.0, d.width_total, "C0"),
        ("minus calibrator mean (Eq. 4)", d.residual, d.width_fit, "C0"),
        ("calibrator mean - 1 (Eq. 5)", d.spw_mean - 1.0, d.width_spw, "C3"),
    )
    fig = new_figure(figsize=(11, 3.4))
    axes = fig.subplots(1, 3)
    for ax, (title, values, width, colour) in zip(axes, panels, strict=True):
        v = 100 * values.ravel()
        ax.hist(v, bins=max(5, int(np.sqrt(v.size)) + 2), color=colour, alpha=0.6)
        mu, s = v.mean(), 100 * width.sigma
        if s > 0:
            counts, edges = np.histogram(v, bins=max(5, int(np.sqrt(v.size)) + 2))
            x = np.linspace(edges[0], edges[-1], 200)
            area = v.size * (edges[1] - edges[0])
            ax.plot(x, area * np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * np.sqrt(2 * np.pi)), "k")
        ax.set_title("%s\nwidth %.2f +- %.2f %%" % (title, s, 100 * width.error), fontsize=9)
        ax.set_xlabel("%")
    spw = (
        "sigma_spw = %.2f %%" % (100 * d.sigma_spw)
        if d.spw_error_detected
        else "sigma_spw < %.2f %% (95 %%)" % (100 * d.sigma_spw_upper)
    )
    fig.suptitle(
        "sigma_fit = %.2f %%, %s (corrected for degrees of freedom)" % (100 * d.fit.sigma, spw),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")


def plot_montecarlo(result: SpwConsistencyResult, path: str) -> None:
    """Fig. 5: MC alpha distribution with each epoch's measured alpha."""
    null = result.null
    fig = new_figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.hist(null.alpha, bins=60, color="0.6")
    for i, p in enumerate(result.powerlaws):
        ax.axvline(p.alpha, color="C3" if result.slope_flagged[i] else "C0", lw=1)
        ax.text(p.alpha, ax.get_ylim()[1] * 0.95, str(result.fits.epochs[i]), fontsize=7)
    ax.set_xlabel("alpha")
    ax.set_title(
        "alpha from fit noise + sigma_spw alone (all epochs): sigma_alpha = %.2f (N = %d)\n"
        "each epoch is tested against the other epochs' sigmas (red: flagged)"
        % (null.sigma_alpha, null.alpha.size),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
