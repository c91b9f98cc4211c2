"""gridflux_check's steps (almacal.casatask.skeleton): MsInfo per EB -> targets ->
catalog (file or service) -> rule and comparison per EB -> optional ingestion delays
and phase-calibrator check -> ECSV/JSON/PNG/flux.csv.

The MS model, the catalog service client and the calibrated point flux of a field
are passed in (GridfluxReaders), so the whole run works in unit tests without CASA
or a network. The per-EB reads (MsInfo, the phase calibrator's point flux) go through
a mapper (almacal.parallel): here, or on casampi servers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from almacal.catalog_query import ServiceConfig, ServiceError, utc_stamp
from almacal.gridflux.check import EbCheck, EbTarget, check_eb, run_checks
from almacal.gridflux.delays import DelayStats, ingestion_delays
from almacal.gridflux.ebselect import check_alma
from almacal.gridflux.fluxcsv import FluxCsv, read_flux_csv
from almacal.gridflux.params import SERVICE, GridfluxParams
from almacal.gridflux.phase import PhaseCheck, phase_check
from almacal.gridflux.results import GridfluxResult, write_outputs
from almacal.gridflux.service import CatalogClient
from almacal.gridflux.sources import FileSource, ServiceSource
from almacal.gridflux.targets import build_targets, phase_calibrators
from almacal.msinfo import MsInfo
from almacal.parallel import SERIAL, Mapper
from almacal.report.build import html_path, write_html


class GridfluxReaders(Protocol):
    """What gridflux_check reads, and its log."""

    def read_info(self, vis: str) -> MsInfo: ...

    def catalog_client(self, config: ServiceConfig) -> CatalogClient: ...

    def point_flux(
        self, info: MsInfo, field: str, spws: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point-source fit of field per spw of the calibrated column (CORRECTED_DATA,
        else DATA), all channels: (flux, sum of weights), each (n_spw,) in spws order;
        NaN flux where a spw has no data."""
        ...

    def post(self, message: str, priority: str = "INFO") -> None: ...


@dataclass(frozen=True)
class GridfluxData:
    """What is read before the check: one MsInfo per EB, flux.csv, the catalog."""

    infos: tuple[MsInfo, ...]
    table: FluxCsv | None
    source: FileSource | ServiceSource


@dataclass(frozen=True)
class PointFlux:
    """The phase calibrator's point flux in one EB, a unit a casampi server can run:
    (MsInfo, field, spws) -> (flux, sum of weights)."""

    readers: GridfluxReaders

    def __call__(self, job: tuple[MsInfo, str, tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray]:
        return self.readers.point_flux(*job)


@dataclass(frozen=True)
class GridfluxCheckTask:
    readers: GridfluxReaders
    mapper: Mapper = SERIAL
    name: str = "gridflux_check"

    def params(self, args: dict[str, Any]) -> GridfluxParams:
        # parallel chose the mapper (tasks/task_gridflux_check.py); the record keeps it
        checked = GridfluxParams.from_task_args({k: v for k, v in args.items() if k != "parallel"})
        return replace(checked, call=dict(args))

    def products(self, params: GridfluxParams) -> dict[str, str]:
        if not params.outfile:
            return params.products()
        return params.products() | html_path(params.outfile, params.overwrite)

    def read(self, params: GridfluxParams) -> GridfluxData:
        """flux.csv, then each EB's MsInfo (ALMA data only), then the catalog source."""
        table = read_flux_csv(params.fluxcsv) if params.fluxcsv else None
        infos = []
        for info in self.mapper.map(self.readers.read_info, params.vis, params.vis):
            check_alma(info)
            infos.append(info)
        if params.catalog == SERVICE:
            source: FileSource | ServiceSource = ServiceSource(
                self.readers.catalog_client(params.service)
            )
        else:
            source = FileSource.open(params.catalog)
        return GridfluxData(tuple(infos), table, source)

    def compute(
        self, params: GridfluxParams, data: GridfluxData, staged: Mapping[str, str]
    ) -> GridfluxResult:
        targets = build_targets(data.infos, data.table, params.field)
        phase_targets = phase_calibrators(data.infos) if params.phasecheck else ()
        checks = run_checks(
            targets,
            lambda t: data.source.for_target(t, params.options),
            params.options,
            progress=self._log_check,
        )
        delays = self._delays(checks) if params.delays else ()
        phase, skipped = self._phase_checks(phase_targets, data, params)
        return GridfluxResult(
            checks=checks,
            delays=delays,
            phase=phase,
            phase_skipped=skipped,
            params=params.call | {"vis": list(params.vis)},
            run_at=utc_stamp(),
        )

    def write(
        self,
        params: GridfluxParams,
        data: GridfluxData,
        result: GridfluxResult,
        staged: Mapping[str, str],
    ) -> None:
        if not params.outfile:
            return
        write_outputs(result, staged, data.table, result.light_curves)
        write_html(self.name, result.to_record(), staged)
        self.readers.post("Wrote %s" % ", ".join(self.products(params).values()))

    def report(self, result: GridfluxResult) -> None:
        self.readers.post("gridflux_check: %s" % result.summary())

    def _delays(self, checks: tuple[EbCheck, ...]) -> tuple[DelayStats, ...]:
        """Ingestion lags of every catalog entry of each EB's calibrator (App. D)."""
        stats = tuple(ingestion_delays(c.catalog.every_entry, c.target.field) for c in checks)
        for d in stats:
            self.readers.post(
                "%s catalog ingestion lag: median %.1f d, 90th percentile %.1f d, max %.1f d (%d)"
                % (d.source, d.median_days, d.p90_days, d.max_days, d.n)
            )
        return stats

    def _phase_checks(
        self, targets: tuple[EbTarget, ...], data: GridfluxData, params: GridfluxParams
    ) -> tuple[tuple[PhaseCheck, ...], tuple[str, ...]]:
        """App. C per phase calibrator; one the catalog cannot give is skipped with a warning."""
        infos = {info.path: info for info in data.infos}
        ready, skipped = [], []
        for t in targets:
            try:
                cat = data.source.catalog(t.field, t.obs_date, params.options, t.radec_deg)
                ex = check_eb(t, cat, params.options)
            # unknown to the catalog, outside it, or the service and cache cannot answer:
            # App. C is a side check, so the flux calibrator's result is kept
            except (ValueError, ServiceError) as exc:
                skipped.append(f"{t.ms} {t.field}: {exc}")
                self.readers.post(
                    "Phase check skipped for %s %s: %s" % (t.ms, t.field, exc), "WARN"
                )
                continue
            ready.append((t, ex))
        jobs = [(infos[t.vis], t.field, t.spws) for t, _ in ready]
        fluxes = self.mapper.map(PointFlux(self.readers), jobs, [t.vis for t, _ in ready])
        done = []
        for (t, ex), (flux, weight) in zip(ready, fluxes, strict=True):
            pc = phase_check(t.ms, t.field, ex.extrapolation, flux, weight)
            self.readers.post(_phase_line(t, pc))
            done.append(pc)
        return tuple(done), tuple(skipped)

    def _log_check(self, c: EbCheck) -> None:
        for line, priority in check_lines(c):
            self.readers.post(line, priority)


def _phase_line(t: EbTarget, pc: PhaseCheck) -> str:
    return (
        "%s phase calibrator %s: catalog %.4f +- %.4f Jy, calibrated %.4f +- %.4f Jy, "
        "rFCF %.3f +- %.3f (Band 3 %.1f d away)"
        % (
            t.ms,
            t.field,
            pc.catalog_jy,
            pc.catalog_sigma_jy,
            pc.measured_jy,
            pc.measured_sigma_jy,
            pc.rfcf,
            pc.rfcf_sigma,
            pc.band3_age_days,
        )
    )


def check_lines(c: EbCheck) -> list[tuple[str, str]]:
    """The log of one EB's check: (line, priority), one line per spw."""
    t, ex, comp = c.target, c.extrapolation, c.comparison
    lines = [
        (
            "%s %s %s: Band 3 %.1f d from the observation, index %+.3f +- %.3f%s (%s fit; "
            "catalog: %s %s, queried %s)"
            % (
                t.ms,
                t.field,
                t.obs_date.date(),
                ex.band3_age_days,
                ex.spix,
                ex.spix_sigma,
                " (default)" if ex.default_index else "",
                ex.indexfit,
                c.catalog.origin,
                c.catalog.location,
                c.catalog.queried_at,
            ),
            "INFO",
        )
    ]
    for k, spw in enumerate(t.spws):
        line = "  spw %d %.3f GHz: catalog %.4f +- %.4f Jy" % (
            spw,
            t.freq_hz[k] / 1e9,
            ex.flux[k],
            ex.flux_sigma[k],
        )
        if ex.au is not None and ex.au.mc is not None:
            line += " (getALMAFlux %.4f +- %.4f, Monte Carlo median %.4f)" % (
                ex.au.flux[k],
                ex.au.mc.sigma[k],
                ex.au.mc.median[k],
            )
        if comp is not None:
            line += ", pipeline %.4f Jy (spix %+.3f): %+.1f +- %.1f %%" % (
                comp.pipe_flux[k],
                comp.pipe_spix[k],
                comp.change_pct[k],
                comp.change_sigma_pct[k],
            )
        lines.append((line, "INFO"))
    if comp is not None:
        lines.append(
            (
                "  rescale factor %.4f +- %.4f, QA %.2f: %s"
                % (comp.factor, comp.factor_sigma, comp.qa_score, comp.qa_reason),
                "INFO",
            )
        )
    lines += [("  %s: %s" % (t.ms, w), "WARN") for w in c.warnings]
    return lines
