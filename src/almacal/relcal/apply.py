"""relcal_apply's steps (almacal.casatask.skeleton): check each MS, then split, gencal
and applycal through injected CASA calls, so the sequence runs in unit tests without CASA.

Products (caltables, split MSs) are made under their staged temporary names; in
inplace mode the input MSs (CORRECTED_DATA, WEIGHT, HISTORY) are changed last, after
every caltable is written, one MS at a time: an "in progress" HISTORY line, applycal,
the HISTORY of the rescaling, then that MS's caltable is renamed into place. A failure
leaves each MS either untouched or rescaled with its caltable and HISTORY (or, when
applycal itself broke off, marked as interrupted).

Each MS's split and gencal (MakeTables) and, in split mode, its applycal and HISTORY
(ApplyTables) are picklable units that the mapper runs here or on a casampi server
(almacal.parallel); the skeleton renames the split products together once every MS
succeeded, as in a serial run. The inplace applycal stays in this process, one MS at a
time, so that a failure leaves the state described above.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from almacal.msinfo import MsInfo
from almacal.outputs import Staged, run_stamp, write_json
from almacal.parallel import SERIAL, Mapper
from almacal.relcal.rescale_plan import HISTORY_MARK, IN_PROGRESS, RelcalApplyParams, Rescale
from almacal.report.build import html_path, write_html


class ApplyCalls(Protocol):
    """The CASA side of relcal_apply (almacal.io in the task)."""

    def read_info(self, vis: str) -> MsInfo: ...

    def history_messages(self, vis: str) -> list[str]: ...

    def split_column(self, vis: str, outputvis: str, column: str) -> None: ...

    def make_amp_table(self, vis: str, caltable: str, gain: float) -> None: ...

    def apply_table(self, vis: str, caltable: str) -> None: ...

    def write_history(self, vis: str, messages: list[str], origin: str) -> None: ...

    def post(self, message: str, priority: str = "INFO") -> None: ...


@dataclass(frozen=True)
class ApplyResult:
    """What relcal_apply did (or would do, in a dry run) to each MS."""

    mode: str
    dryrun: bool
    rescales: tuple[Rescale, ...]
    columns: tuple[str, ...]  # the data column each MS is rescaled from
    factorrange: tuple[float, float]

    def to_record(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dryrun": self.dryrun,
            "applied": not self.dryrun,
            "rescale": [
                r.to_record() | {"datacolumn": c}
                for r, c in zip(self.rescales, self.columns, strict=True)
            ],
            "factorrange": list(self.factorrange),
        }


@dataclass(frozen=True)
class StagedMs:
    """One MS to rescale with its products' staged names.

    outputvis : the staged split copy (split mode), None in inplace mode; gain : gencal's
    amplitude parameter.
    """

    vis: str
    column: str
    outputvis: str | None
    caltable: str
    gain: float

    @property
    def target(self) -> str:
        """The MS that gets CORRECTED_DATA: the split copy, or vis itself (inplace)."""
        return self.outputvis or self.vis


@dataclass(frozen=True)
class MakeTables:
    """compute's unit of one MS: split (split mode), then gencal on the MS it applies to."""

    calls: ApplyCalls

    def __call__(self, ms: StagedMs) -> None:
        if ms.outputvis is not None:
            self.calls.split_column(ms.vis, ms.outputvis, ms.column)
        self.calls.make_amp_table(ms.target, ms.caltable, ms.gain)


@dataclass(frozen=True)
class ApplyTables:
    """write's unit of one MS: applycal, then its HISTORY lines, written once."""

    calls: ApplyCalls
    origin: str

    def __call__(self, job: tuple[StagedMs, list[str]]) -> None:
        ms, messages = job
        self.calls.apply_table(ms.target, ms.caltable)
        self.calls.write_history(ms.target, messages, self.origin)


@dataclass(frozen=True)
class RelcalApplyTask:
    """The skeleton's steps for relcal_apply; calls are the CASA steps, mapper runs each
    MS's steps (here, or on casampi servers)."""

    calls: ApplyCalls
    mapper: Mapper = SERIAL
    name: str = "relcal_apply"

    def params(self, args: dict[str, Any]) -> RelcalApplyParams:
        return RelcalApplyParams.from_task_args(args)

    def products(self, params: RelcalApplyParams) -> dict[str, str]:
        if params.dryrun:
            return {}
        report = html_path(params.report, params.overwrite)
        if os.path.exists(params.report + ".json") and not params.overwrite:
            raise FileExistsError(f"outfile: {params.report}.json exists; set overwrite=True")
        return params.products() | report | {"json": params.report + ".json"}

    def modifies(self, params: RelcalApplyParams) -> tuple[str, ...]:
        return params.modifies()

    def read(self, params: RelcalApplyParams) -> tuple[str, ...]:
        """The data column of each MS, after the checks that need the MS itself."""
        return tuple(self._checked_column(params, r.vis) for r in params.rescales)

    def _checked_column(self, params: RelcalApplyParams, vis: str) -> str:
        info = self.calls.read_info(vis)
        if params.mode == "inplace" and "CORRECTED_DATA" in info.columns:
            raise ValueError(
                f"vis {vis} already has CORRECTED_DATA; mode='inplace' recomputes it from DATA "
                "and would discard that calibration: use mode='split' (datacolumn='corrected')"
            )
        column = info.datacolumn(params.datacolumn)
        previous = [m for m in self.calls.history_messages(vis) if m.startswith(HISTORY_MARK)]
        if previous and not params.force:
            if previous[-1].startswith(IN_PROGRESS):
                raise ValueError(
                    f"vis {vis}: an earlier relcal_apply was interrupted while rescaling it "
                    f"({previous[-1]}); restore it from a copy, or set force=True if you know "
                    "its CORRECTED_DATA and WEIGHT were not changed"
                )
            raise ValueError(
                f"vis {vis} was already rescaled ({previous[-1]}); "
                "set force=True to rescale it again"
            )
        return column

    def compute(
        self, params: RelcalApplyParams, data: tuple[str, ...], staged: Mapping[str, str]
    ) -> ApplyResult:
        """Split (split mode) and gencal each MS under the temporary product names."""
        for r in params.rescales:
            self.calls.post(_plan_line(r, params))
            if params.outside_range(r):
                self.calls.post(
                    "factor %g for %s is outside factorrange=[%g, %g]; applied because force=True"
                    % (r.factor, r.vis, *params.factorrange),
                    "WARN",
                )
        if not params.dryrun:
            jobs = _staged_ms(params, data, staged)
            _complete(self.mapper.map(MakeTables(self.calls), jobs, [j.vis for j in jobs]))
        return ApplyResult(params.mode, params.dryrun, params.rescales, data, params.factorrange)

    def write(
        self,
        params: RelcalApplyParams,
        data: tuple[str, ...],
        result: ApplyResult,
        staged: Staged,
    ) -> None:
        """applycal and HISTORY: on the split copies, or last of all on the input MSs, one
        at a time, each committed with its caltable."""
        if params.dryrun:
            return
        # the report first: in inplace mode the input MSs change last
        write_json(staged["json"], result.to_record())
        write_html(self.name, result.to_record(), staged)
        if params.mode == "split":
            jobs = [
                (ms, [r.history_line(), *params.call])
                for ms, r in zip(_staged_ms(params, data, staged), params.rescales, strict=True)
            ]
            apply = ApplyTables(self.calls, self.name)
            _complete(self.mapper.map(apply, jobs, [ms.vis for ms, _ in jobs]))
            return
        self._apply_inplace(params, staged)

    def _apply_inplace(self, params: RelcalApplyParams, staged: Staged) -> None:
        """The input MSs one at a time in this process, each committed with its caltable."""
        for i, r in enumerate(params.rescales):
            marked = False
            try:
                self.calls.write_history(r.vis, [r.in_progress_line(run_stamp())], self.name)
                marked = True
                self.calls.apply_table(r.vis, staged[f"caltable{i}"])
                self.calls.write_history(r.vis, [r.history_line(), *params.call], self.name)
                staged.commit([f"caltable{i}"])
            except Exception as exc:
                self._report_partial(params, i, marked, exc)
                raise

    def _report_partial(
        self, params: RelcalApplyParams, failed: int, marked: bool, exc: Exception
    ) -> None:
        """Which MSs were rescaled (complete), how the failed one was left, which not touched."""
        done = ", ".join(r.vis for r in params.rescales[:failed]) or "none"
        rest = ", ".join(r.vis for r in params.rescales[failed + 1 :]) or "none"
        state = (
            "its HISTORY marks the rescaling as interrupted: CORRECTED_DATA and WEIGHT may be "
            "partly rescaled"
            if marked
            else "it was not touched"
        )
        self.calls.post(
            "relcal_apply stopped at %s (%s): %s. Rescaled before it, complete with caltable "
            "and HISTORY: %s. Not touched: %s"
            % (params.rescales[failed].vis, exc, state, done, rest),
            "SEVERE",
        )

    def report(self, result: ApplyResult) -> None:
        done = "would rescale" if result.dryrun else "rescaled"
        outs = ", ".join(r.outputvis for r in result.rescales)
        self.calls.post(f"{done} {len(result.rescales)} MS ({result.mode}): {outs}")


def _staged_ms(
    params: RelcalApplyParams, columns: tuple[str, ...], staged: Mapping[str, str]
) -> list[StagedMs]:
    return [
        StagedMs(
            vis=r.vis,
            column=column,
            outputvis=staged[f"outputvis{i}"] if params.mode == "split" else None,
            caltable=staged[f"caltable{i}"],
            gain=r.gencal_parameter,
        )
        for i, (r, column) in enumerate(zip(params.rescales, columns, strict=True))
    ]


def _complete(results: Iterable[None]) -> None:
    """Run every MS's unit (the mapper yields as each completes, in MS order)."""
    for _ in results:
        pass


def _plan_line(r: Rescale, params: RelcalApplyParams) -> str:
    return "%s %s: amplitudes x %.6f, weights x %.6f -> %s (caltable %s)" % (
        "Would rescale" if params.dryrun else "Rescaling",
        r.vis,
        r.factor,
        r.factor**-2,
        r.outputvis if params.mode == "split" else f"{r.vis} CORRECTED_DATA",
        r.caltable,
    )
