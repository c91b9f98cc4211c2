"""gridflux_check implementation. Parameters are defined in xml/gridflux_check.xml."""

from __future__ import annotations

from almacal.casatask.log import casalog
from almacal.gridflux.check import EbCheck, check_eb, run_checks
from almacal.gridflux.delays import ingestion_delays
from almacal.gridflux.fluxcsv import read_flux_csv
from almacal.gridflux.params import SERVICE, GridfluxParams
from almacal.gridflux.phase import PhaseCheck, phase_check
from almacal.gridflux.results import GridfluxResult, write_outputs
from almacal.gridflux.service import ServiceError, utc_stamp
from almacal.gridflux.sources import FileSource, ServiceSource
from almacal.gridflux.targets import build_targets, phase_calibrators
from almacal.io import msmeta


def gridflux_check(
    vis,
    fluxcsv,
    field,
    catalog,
    serviceurl,
    lightcurveurl,
    cachedir,
    timeout,
    window,
    maxage,
    defaultindex,
    nmc,
    seed,
    asof,
    delays,
    phasecheck,
    outfile,
    overwrite,
):
    """Grid calibrator flux vs the catalog now (seed 000 §3.2, §4.2). Parameters: the XML."""
    call = dict(locals())  # recorded in the JSON output: the MSs are only read
    casalog.origin("gridflux_check")
    p = GridfluxParams.build(**call)
    table = read_flux_csv(p.fluxcsv) if p.fluxcsv else None
    metas = [msmeta.read_calibrator_meta(v) for v in p.vis]
    targets = build_targets(metas, table, p.field)
    phase_targets = phase_calibrators(metas) if p.phasecheck else ()
    source = ServiceSource(p.service) if p.catalog == SERVICE else FileSource.open(p.catalog)

    catalogs = {}

    def get_catalog(t):
        catalogs[t.ms] = source.for_target(t, p.options)
        return catalogs[t.ms]

    checks = run_checks(targets, get_catalog, p.options, progress=_log_check)
    stats = ()
    if p.delays:
        stats = tuple(
            ingestion_delays(catalogs[c.target.ms].every_entry, c.target.field) for c in checks
        )
        for d in stats:
            casalog.post(
                "%s catalog ingestion lag: median %.1f d, 90th percentile %.1f d, max %.1f d (%d)"
                % (d.source, d.median_days, d.p90_days, d.max_days, d.n)
            )
    phase, skipped = _phase_checks(phase_targets, source, p)
    result = GridfluxResult(
        checks=checks,
        delays=stats,
        phase=phase,
        phase_skipped=skipped,
        params=call | {"vis": list(p.vis)},
        run_at=utc_stamp(),
    )
    if p.outfile:
        light_curves = {ms: c.measurements for ms, c in catalogs.items()}
        written = write_outputs(result, p.outfile, table, light_curves)
        casalog.post("Wrote %s" % ", ".join(written.values()))
    casalog.post("gridflux_check: %s" % result.summary())
    return result.to_record()


def _phase_checks(targets, source, p) -> tuple[tuple[PhaseCheck, ...], tuple[str, ...]]:
    """App. C per phase calibrator; one the catalog cannot give is skipped with a warning."""
    done, skipped = [], []
    for t in targets:
        try:
            cat = source.catalog(t.field, t.obs_date, p.options, t.radec_deg)
            ex = check_eb(t, cat, p.options)
        # unknown to the catalog, outside it, or the service and cache cannot answer: App. C is
        # a side check, so the flux calibrator's result is kept
        except (ValueError, ServiceError) as exc:
            skipped.append(f"{t.ms} {t.field}: {exc}")
            casalog.post("Phase check skipped for %s %s: %s" % (t.ms, t.field, exc), "WARN")
            continue
        flux, weight = msmeta.calibrated_point_flux(t.vis, t.field, t.spws)
        pc = phase_check(t.ms, t.field, ex.extrapolation, flux, weight)
        casalog.post(
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
        done.append(pc)
    return tuple(done), tuple(skipped)


def _log_check(c: EbCheck) -> None:
    t, ex, comp = c.target, c.extrapolation, c.comparison
    casalog.post(
        "%s %s %s: Band 3 %.1f d from the observation, index %+.3f +- %.3f%s (catalog: %s %s, "
        "queried %s)"
        % (
            t.ms,
            t.field,
            t.obs_date.date(),
            ex.band3_age_days,
            ex.spix,
            ex.spix_sigma,
            " (default)" if ex.default_index else "",
            c.catalog.origin,
            c.catalog.location,
            c.catalog.queried_at,
        )
    )
    for k, spw in enumerate(t.spws):
        line = "  spw %d %.3f GHz: catalog %.4f +- %.4f Jy" % (
            spw,
            t.freq_hz[k] / 1e9,
            ex.flux[k],
            ex.flux_sigma[k],
        )
        if comp is not None:
            line += ", pipeline %.4f Jy (spix %+.3f): %+.1f +- %.1f %%" % (
                comp.pipe_flux[k],
                comp.pipe_spix[k],
                comp.change_pct[k],
                comp.change_sigma_pct[k],
            )
        casalog.post(line)
    if comp is not None:
        casalog.post(
            "  rescale factor %.4f +- %.4f, QA %.2f: %s"
            % (comp.factor, comp.factor_sigma, comp.qa_score, comp.qa_reason)
        )
    for w in c.warnings:
        casalog.post("  %s: %s" % (t.ms, w), "WARN")
