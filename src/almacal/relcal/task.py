"""relcal_fit's steps for the task skeleton (almacal.casatask.skeleton.run_task).

params (checks, MsInfo, channel selections) -> products (ECSV, JSON, PNG) ->
read (relcal.run.measure) -> compute (relcal.run.solve) -> write -> record.
The readers are given at construction: tasks/task_relcal_fit.py passes the
casatools ones, unit tests fakes; so is the mapper that runs each MS's pass
(almacal.parallel: here, or on casampi servers when parallel=True under MPI).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from almacal.casatask.log import casalog
from almacal.parallel import SERIAL, Mapper
from almacal.relcal.params import RelcalFitParams
from almacal.relcal.results import RelcalResult, output_paths, write_outputs
from almacal.relcal.run import Measured, MsReader, log_result, measure, solve
from almacal.relcal.selfcal import SelfcalCalls
from almacal.report.build import html_path, write_html


class RelcalFitTask:
    name = "relcal_fit"

    def __init__(
        self, reader: MsReader, selfcal: SelfcalCalls | None = None, mapper: Mapper = SERIAL
    ):
        self.reader = reader
        self.selfcal = selfcal
        self.mapper = mapper

    def params(self, args: dict[str, Any]) -> RelcalFitParams:
        return RelcalFitParams.from_task_args(args, self.reader)

    def products(self, params: RelcalFitParams) -> Mapping[str, str]:
        if not params.outfile:
            return {}
        return output_paths(params.outfile) | html_path(params.outfile, params.overwrite)

    def read(self, params: RelcalFitParams) -> Measured:
        return measure(params, self.reader, self.selfcal, self.mapper)

    def compute(
        self, params: RelcalFitParams, data: Measured, staged: Mapping[str, str]
    ) -> RelcalResult:
        return solve(params, data)

    def write(
        self,
        params: RelcalFitParams,
        data: Measured,
        result: RelcalResult,
        staged: Mapping[str, str],
    ) -> None:
        if staged:
            write_outputs(result, staged)
            write_html(self.name, result.to_record(), staged)
            casalog.post("Wrote %s" % ", ".join(self.products(params).values()))

    def report(self, result: RelcalResult) -> None:
        log_result(result)

    def result(self, args: dict[str, Any]) -> RelcalResult:
        """params -> read -> compute without products: what another task uses."""
        p = self.params(args)
        return self.compute(p, self.read(p), {})
