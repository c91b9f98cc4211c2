"""Catalog light curves around each observing date, like seed 000 Fig. 6."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from almacal.figures import new_figure, save, styled
from almacal.gridflux.catalog import days_between

if TYPE_CHECKING:
    from almacal.gridflux.results import GridfluxResult

# Fig. 6 colours: Band 3 red, Band 6 green, Band 7 blue
BAND_COLOURS = {3: "tab:red", 6: "tab:green", 7: "tab:blue"}


def plot_light_curves(result: GridfluxResult, light_curves: dict, path: str) -> None:
    """One panel per EB: measurements vs date, used ones circled, observing date dashed,
    the catalog and pipeline fluxes (mean over spws) at the observation.

    light_curves : {ms: measurements of the EB's calibrator} (all that were fetched).
    """
    with styled():
        n = max(1, len(result.checks))
        fig = new_figure(figsize=(9, 3.6 * n + 0.4), layout="constrained")
        axes = fig.subplots(n, 1, squeeze=False)
        for ax, c in zip(axes[:, 0], result.checks, strict=False):
            _eb_panel(ax, c, light_curves)
        save(fig, path)


def _eb_panel(ax: Any, c: Any, light_curves: dict) -> None:
    """One EB: its calibrator's catalog measurements around the observing date."""
    obs = c.target.obs_date
    used = {(u["date"], u["freq_hz"]) for u in c.extrapolation.selection.used()}
    meas = light_curves.get(c.target.ms, ())
    for band in sorted({m.band for m in meas}):
        ms = [m for m in meas if m.band == band]
        ax.errorbar(
            [days_between(obs, m.date) for m in ms],
            [m.flux_jy for m in ms],
            yerr=[m.error_jy for m in ms],
            fmt="o",
            ms=4,
            capsize=2,
            color=BAND_COLOURS.get(band, "0.4"),
            label=f"Band {band}",
        )
    mark = [m for m in meas if (m.date.isoformat(), m.freq_hz) in used]
    ax.plot(
        [days_between(obs, m.date) for m in mark],
        [m.flux_jy for m in mark],
        "o",
        ms=11,
        mfc="none",
        mec="k",
        label="used by the flux rule",
    )
    # like Fig. 7: the pipeline's and the updated value at the observation (spw mean)
    ax.plot(
        0.0,
        float(c.extrapolation.flux.mean()),
        "s",
        ms=8,
        color="k",
        label="catalog now (spw mean)",
    )
    if c.comparison is not None:
        ax.plot(
            0.0,
            float(c.comparison.pipe_flux.mean()),
            "^",
            ms=8,
            color="m",
            label="pipeline flux.csv (spw mean)",
        )
    ax.axvline(0.0, ls="--", color="k", lw=0.8, label="observation")
    ax.set_xlim(-30, 30)
    ax.set_ylabel("flux density (Jy)")
    ax.set_xlabel("days from the observation")
    ax.set_title(
        f"{c.target.field}: catalog light curve around {c.target.ms} ({obs.date()}), "
        f"spectral index α = {c.extrapolation.spix:+.3f}"
    )
    ax.legend(ncol=3, fontsize=8.5)
