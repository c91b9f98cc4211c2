"""b2b_phasetransfer's steps for the one task skeleton (almacal.casatask.skeleton).

params -> products (five caltables, JSON, ECSV, PNGs) -> read (MsInfo) ->
compute (almacal.b2b.run: CASA writes the caltables under their temporary names)
-> write (the files; then, last, the MS: an "in progress" HISTORY line, applycal to
CORRECTED_DATA, the JSON, every product renamed into place, the HISTORY mark) ->
record. A run killed during its applycal leaves only temporaries (removed by the next
run) and the in-progress line, so a rerun applies again; one that completed is
refused unless force. mode='plan' reads and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from almacal.b2b import planner, run
from almacal.b2b.calls import CasaCalls, LogSink
from almacal.b2b.params import B2BParams
from almacal.b2b.results import B2BResult, PlanResult, write_files
from almacal.casatask.log import casalog
from almacal.msinfo import MsInfo
from almacal.outputs import Staged, write_json
from almacal.report.build import html_path, write_html


class B2BTask:
    """The steps, with CASA reached through casa (almacal.io.b2b_calls in the task)."""

    name = "b2b_phasetransfer"

    def __init__(self, casa: CasaCalls, log: LogSink = casalog) -> None:
        self.casa = casa
        self.log = log

    def params(self, args: dict[str, Any]) -> B2BParams:
        return B2BParams.from_task_args(**args)

    def products(self, params: B2BParams) -> Mapping[str, str]:
        if params.mode != "transfer":
            return {}
        return params.products() | html_path(params.outfile, params.overwrite)

    def modifies(self, params: B2BParams) -> tuple[str, ...]:
        return (params.vis,) if params.mode == "transfer" and params.doapply else ()

    def read(self, params: B2BParams) -> MsInfo | None:
        return self.casa.read_ms_info(params.vis) if params.mode == "transfer" else None

    def compute(
        self, params: B2BParams, data: MsInfo | None, staged: Mapping[str, str]
    ) -> B2BResult | PlanResult:
        if data is None:
            return PlanResult(
                planner.plan(
                    band=params.band,
                    maxbaseline_km=params.maxbaseline,
                    sep_inband_deg=params.sepinband,
                    sep_b2b_deg=params.sepb2b,
                    coherence_goal=params.coherence,
                    phase_rms_deg=params.phaserms,
                )
            )
        return run.transfer(params, data, self.casa, staged, self.log)

    def write(
        self,
        params: B2BParams,
        data: MsInfo | None,
        result: B2BResult | PlanResult,
        staged: Staged,
    ) -> B2BResult | None:
        if not isinstance(result, B2BResult):
            return None
        if params.doapply:
            # the MS changes last: every other product is written first, except the JSON,
            # which records the applycal's time too (casa_seconds: all CASA calls); the
            # HISTORY mark comes after the products are in place
            write_files(result, staged, with_json=False)
            st = result.structure
            self.log.post("Applying the transfer to %s (CORRECTED_DATA)" % ", ".join(st.targets))
            t0 = time.perf_counter()
            run.apply(params, st, self.casa, staged)
            result = replace(result, casa_seconds=result.casa_seconds + time.perf_counter() - t0)
            write_json(staged["json"], result.to_record())
            write_html(self.name, result.to_record(), staged)
            staged.commit()
            run.mark_applied(params, st, self.casa)
            return result
        write_files(result, staged)
        write_html(self.name, result.to_record(), staged)
        return None

    def report(self, result: B2BResult | PlanResult) -> None:
        if isinstance(result, PlanResult):
            self._report_plan(result.plan)
        else:
            self._report_transfer(result)

    def _report_plan(self, pl: planner.Plan) -> None:
        self.log.post("Plan: %s. %s" % (pl.choice, pl.reason))
        self.log.post(
            "Maximum calibrator separation for coherence %.2f at %.0f deg expected phase "
            "RMS: %.2f deg (%s)"
            % (
                pl.coherence_goal,
                pl.expected_phase_rms_deg,
                pl.max_separation_deg,
                pl.separation_source,
            )
        )

    def _report_transfer(self, result: B2BResult) -> None:
        d = result.diagnostics
        self.log.post("Wrote %s" % ", ".join(result.files.values()))
        self.log.post(
            "Residual DGC phase RMS after transfer %.1f deg (DGC loss %.1f %%); band offset "
            "change between blocks %.1f deg RMS; expected phase RMS over the cycle %.1f deg "
            "at the target elevation (%.0f deg; DGC at %.0f deg) -> expected coherence "
            "%.3f; QA %.2f"
            % (
                d.residual_rms_deg,
                100 * d.dgc_loss,
                d.offset_change_rms_deg,
                d.expected_rms_target_deg,
                d.elevation_target_deg,
                d.elevation_dgc_deg,
                d.expected_coherence,
                result.qa_score(),
            )
        )
        worst = int(np.nanargmax(d.residual_rms_antenna_deg))
        self.log.post(
            "Worst antenna %s: residual %.1f deg"
            % (d.antenna_names[worst], d.residual_rms_antenna_deg[worst])
        )
