"""spwconsistency's steps for the task skeleton (almacal.casatask.skeleton.run_task).

params -> products -> read (relcal_fit's JSON, or relcal_fit's own steps on vis with
perspw=True) -> compute (Sect. 3.4) -> write -> record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from almacal.casatask.log import casalog
from almacal.casatask.spec import load_spec
from almacal.relcal.task import RelcalFitTask
from almacal.report.build import html_path, write_html
from almacal.spwcons.inputs import PerSpwFits
from almacal.spwcons.params import FIT_PARAM_DEFAULTS, SpwConsistencyParams, check_spw_count
from almacal.spwcons.results import SpwConsistencyResult, output_paths, write_outputs


class SpwConsistencyTask:
    name = "spwconsistency"

    def __init__(self, relcal: RelcalFitTask):
        self.relcal = relcal

    def params(self, args: dict[str, Any]) -> SpwConsistencyParams:
        p = SpwConsistencyParams.build(
            resultfile=args["resultfile"],
            vis=args["vis"],
            field=args["field"],
            fit_params={k: args[k] for k in FIT_PARAM_DEFAULTS},
            nboot=args["nboot"],
            nmc=args["nmc"],
            seed=args["seed"],
            siglevel=args["siglevel"],
            outfile=args["outfile"],
            overwrite=args["overwrite"],
        )
        p = replace(p, call=dict(args))
        if p.resultfile:
            return p
        # relcal_fit's checks of vis (its MSs' metadata, the spw selection) before any fit;
        # its other parameters keep their defaults (its XML)
        fit_args = load_spec("relcal_fit").defaults() | p.fit_params
        fit_args |= {"vis": list(p.vis), "field": list(p.field), "perspw": True, "outfile": ""}
        fit = self.relcal.params(fit_args)
        check_spw_count(fit.spws, p.fit_params["spw"], fit.infos[0].path)
        return replace(p, fit=fit)

    def products(self, params: SpwConsistencyParams) -> Mapping[str, str]:
        if not params.outfile:
            return {}
        return output_paths(params.outfile) | html_path(params.outfile, params.overwrite)

    def read(self, params: SpwConsistencyParams) -> PerSpwFits:
        if params.resultfile:
            casalog.post("Reading per-spw fits from %s" % params.resultfile)
            return PerSpwFits.from_json(params.resultfile)
        fit = params.fit
        casalog.post("Running relcal_fit(perspw=True) on %d measurement sets" % len(fit.infos))
        rec = self.relcal.compute(fit, self.relcal.read(fit), {}).to_record()
        return PerSpwFits.from_record(rec, source="relcal_fit of vis")

    def compute(
        self, params: SpwConsistencyParams, data: PerSpwFits, staged: Mapping[str, str]
    ) -> SpwConsistencyResult:
        _log_inputs(data, params)
        return SpwConsistencyResult.compute(
            data,
            nboot=params.nboot,
            nmc=params.nmc,
            seed=params.seed,
            siglevel=params.siglevel,
            params=params.call,
        )

    def write(
        self,
        params: SpwConsistencyParams,
        data: PerSpwFits,
        result: SpwConsistencyResult,
        staged: Mapping[str, str],
    ) -> None:
        if staged:
            write_outputs(result, staged)
            write_html(self.name, result.to_record(), staged)
            casalog.post("Wrote %s" % ", ".join(self.products(params).values()))

    def report(self, result: SpwConsistencyResult) -> None:
        for line in result.summary_lines():
            casalog.post(line)


def _log_inputs(fits: PerSpwFits, p: SpwConsistencyParams) -> None:
    if fits.rfcf_excluded:
        casalog.post(
            "relcal_fit left %d (epoch, calibrator) pairs out of its rFCF (%s); their per-spw "
            "MCFs are kept here: MCF_ijk / MCF_ij does not depend on the calibrator's broadband "
            "flux in that epoch"
            % (
                len(fits.rfcf_excluded),
                "; ".join("epoch %(epoch)d %(field)s: %(reason)s" % e for e in fits.rfcf_excluded),
            ),
            "WARN",
        )
    n_e, n_c, n_s = fits.shape
    casalog.post(
        "%d epochs x %d calibrators x %d spws (%s GHz); %d bootstrap resamples, %d MC draws"
        % (n_e, n_c, n_s, ", ".join("%.3f" % (f / 1e9) for f in fits.spw_freq_hz), p.nboot, p.nmc)
    )
