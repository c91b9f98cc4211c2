"""gridflux_check results: the plain-dict record, ECSV, JSON, PNG and updated flux.csv."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from almacal.gridflux.aufit import au_record
from almacal.gridflux.catalog import Measurement
from almacal.gridflux.check import EbCheck
from almacal.gridflux.delays import DelayStats
from almacal.gridflux.fluxcsv import FluxCsv, FluxRow, updated_row, write_flux_csv
from almacal.gridflux.phase import PhaseCheck
from almacal.outputs import write_json


@dataclass(frozen=True)
class GridfluxResult:
    checks: tuple[EbCheck, ...]
    delays: tuple[DelayStats, ...] = ()
    phase: tuple[PhaseCheck, ...] = ()
    phase_skipped: tuple[str, ...] = ()  # phase calibrators the catalog could not give
    params: dict = field(default_factory=dict)
    run_at: str = ""  # UTC time of the check

    @property
    def light_curves(self) -> dict[str, tuple[Measurement, ...]]:
        """The catalog measurements of each EB's calibrator (what the plot shows)."""
        return {c.target.ms: c.catalog.measurements for c in self.checks}

    def vis_factors(self) -> dict[str, float]:
        """F_catalog / F_pipeline per EB, keyed by MS path (or name): relcal_apply's factorfile."""
        return {
            (c.target.vis or c.target.ms): c.comparison.factor
            for c in self.checks
            if c.comparison is not None
        }

    def to_record(self) -> dict:
        ebs = []
        for c in self.checks:
            t, ex, comp = c.target, c.extrapolation, c.comparison
            rec = {
                "ms": t.ms,
                "vis": t.vis,
                "field": t.field,
                "obs_date": t.obs_date.isoformat(),
                "spw": list(t.spws),
                "freq_hz": list(t.freq_hz),
                "catalog_flux_jy": ex.flux.tolist(),
                "catalog_flux_mc_jy": ex.flux_mc.tolist(),
                "catalog_flux_sigma_jy": ex.flux_sigma.tolist(),
                "catalog_spix": ex.spix,
                "catalog_spix_mc": ex.spix_mc,
                "catalog_spix_sigma": ex.spix_sigma,
                "default_index": ex.default_index,
                "band3_age_days": ex.band3_age_days,
                "pair_age_days": ex.pair_age_days,
                "window_days": ex.selection.window_days,
                "indexfit": ex.indexfit,
                "used_measurements": ex.selection.used(),
                "catalog": c.catalog.provenance(),
                "service_answers": list(c.catalog.service_answers),
                "warnings": list(c.warnings),
            } | au_record(ex.au)
            if comp is not None:
                rec |= {
                    "pipeline_flux_jy": comp.pipe_flux.tolist(),
                    "pipeline_spix": comp.pipe_spix.tolist(),
                    "flux_change_pct": comp.change_pct.tolist(),
                    "flux_change_sigma_pct": comp.change_sigma_pct.tolist(),
                    "spix_change": (ex.spix - comp.pipe_spix).tolist(),
                    "factor_spw": comp.factor_spw.tolist(),
                    "factor": comp.factor,
                    "factor_sigma": comp.factor_sigma,
                    "qa_score": comp.qa_score,
                    "qa_reason": comp.qa_reason,
                }
            ebs.append(rec)
        return {
            "task": "gridflux_check",
            "run_at": self.run_at,
            "eb": ebs,
            "vis_factors": self.vis_factors(),
            "delays": [d.to_record() for d in self.delays],
            "phase_check": [p.to_record() for p in self.phase],
            "phase_check_skipped": list(self.phase_skipped),
            "params": self.params,
        }

    def to_table(self):
        """astropy Table, one row per EB and spw."""
        from astropy.table import Table

        rows = [row for c in self.checks for row in _table_rows(c)]
        tab = Table(rows=rows) if rows else Table()
        for col, unit in (
            ("freq", "GHz"),
            ("pipeline_flux", "Jy"),
            ("catalog_flux", "Jy"),
            ("catalog_flux_mc", "Jy"),
            ("catalog_flux_sigma", "Jy"),
            ("au_flux", "Jy"),
            ("au_flux_sigma", "Jy"),
            ("band3_age_days", "d"),
            ("pair_age_days", "d"),
        ):
            if col in tab.colnames:
                tab[col].unit = unit
        tab.meta["description"] = (
            "gridflux_check: catalog flux of the amplitude calibrator (seed 000 §1 rule, "
            "Monte Carlo median and 1.4826 MAD; estimator in column indexfit) vs the "
            "pipeline's flux.csv; factor = catalog/pipeline; au_*: what analysisUtils "
            "getALMAFlux prints (its result and its pair-fit Monte Carlo sigma)"
        )
        tab.meta["run_at"] = self.run_at
        return tab

    def summary(self) -> str:
        parts = []
        for c in self.checks:
            if c.comparison is None:
                parts.append(f"{c.target.ms}: no pipeline value")
            else:
                parts.append(
                    "%s: factor %.4f +- %.4f (QA %.2f)"
                    % (
                        c.target.ms,
                        c.comparison.factor,
                        c.comparison.factor_sigma,
                        c.comparison.qa_score,
                    )
                )
        return "; ".join(parts)


NAN = float("nan")


def _table_rows(c: EbCheck) -> list[dict]:
    """One ECSV row per spw of an EB's check (NaN where there is no value)."""
    t, ex, comp, au = c.target, c.extrapolation, c.comparison, c.extrapolation.au
    rows = []
    for k, spw in enumerate(t.spws):
        rows.append(
            {
                "ms": t.ms,
                "field": t.field,
                "obs_date": t.obs_date.isoformat(),
                "spw": spw,
                "freq": t.freq_hz[k] / 1e9,
                "pipeline_flux": comp.pipe_flux[k] if comp else NAN,
                "pipeline_spix": comp.pipe_spix[k] if comp else NAN,
                "catalog_flux": ex.flux[k],
                "catalog_flux_mc": ex.flux_mc[k],
                "catalog_flux_sigma": ex.flux_sigma[k],
                "catalog_spix": ex.spix,
                "catalog_spix_sigma": ex.spix_sigma,
                "flux_change_pct": comp.change_pct[k] if comp else NAN,
                "flux_change_sigma_pct": comp.change_sigma_pct[k] if comp else NAN,
                "factor_spw": comp.factor_spw[k] if comp else NAN,
                "factor": comp.factor if comp else NAN,
                "qa_score": comp.qa_score if comp else NAN,
                "band3_age_days": ex.band3_age_days,
                "pair_age_days": NAN if ex.pair_age_days is None else ex.pair_age_days,
                "catalog_origin": c.catalog.origin,
                "catalog_version": c.catalog.version,
                "queried_at": c.catalog.queried_at,
                # added columns go last: readers that take columns by position keep working
                "indexfit": ex.indexfit,
                "au_flux": au.flux[k] if au else NAN,
                "au_flux_sigma": au.mc.sigma[k] if au and au.mc else NAN,
                "au_spix": au.spix if au else NAN,
            }
        )
    return rows


def output_paths(outfile: str, with_fluxcsv: bool = True) -> dict[str, str]:
    """What gridflux_check writes for an output stem (the updated flux.csv only when a
    flux.csv was given)."""
    out = {"ecsv": f"{outfile}.ecsv", "json": f"{outfile}.json", "png": f"{outfile}.png"}
    if with_fluxcsv:
        out["fluxcsv"] = f"{outfile}.flux.csv"
    return out


def updated_flux_rows(result: GridfluxResult, table: FluxCsv) -> tuple[FluxRow, ...]:
    """Every row of table; the checked calibrators' rows carry the catalog values."""
    stamp = result.run_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    new: dict[int, FluxRow] = {}
    for c in result.checks:
        ex = c.extrapolation
        for k, row in enumerate(c.target.pipe_rows):
            new[row.line] = updated_row(
                row,
                field=c.target.field,
                flux=float(ex.flux[k]),
                spix=ex.spix,
                age_days=ex.band3_age_days,
                stamp=stamp,
            )
    return tuple(new.get(r.line, r) for r in table.rows)


def write_outputs(
    result: GridfluxResult,
    paths: Mapping[str, str],
    fluxcsv: FluxCsv | None,
    light_curves: Mapping[str, Sequence[Measurement]],
) -> None:
    """ECSV, JSON, PNG and (with a flux.csv) the updated flux.csv at paths (keys as
    output_paths; the task stages them under temporary names).

    light_curves : {ms: (measurements around the date,)} for the plot.
    """
    from almacal.gridflux.plot import plot_light_curves

    result.to_table().write(paths["ecsv"], format="ascii.ecsv", overwrite=True)
    write_json(paths["json"], result.to_record())
    plot_light_curves(result, dict(light_curves), paths["png"])
    if fluxcsv is not None:
        write_flux_csv(paths["fluxcsv"], fluxcsv, updated_flux_rows(result, fluxcsv))
