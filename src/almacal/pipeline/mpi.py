"""The ALMA pipeline's own MPI servers as an almacal.parallel.Mapper.

In a pipeline cluster run (``mpicasa -n N casa --pipeline``) the pipeline owns casampi's
client (pipeline.infrastructure.mpihelpers starts it and imports ``pipeline`` on every
server), so a stage must not start a second one: it maps each MS's unit through
mpihelpers' Tier0FunctionCall and AsyncTask, and one MPI world serves the pipeline's
tasks and almacal's. The stage passes ``pipeline_mapper()`` to the task's steps in
place of almacal.io.mpi.task_mapper(parallel).

Each item runs almacal.parallel.run_job on a server, which returns its value or its
error described; the client yields the values in item order and, after a failure,
waits for the other items, then raises one error naming each failed MS. AsyncTask
does not say which server ran an item, and its wait is casampi's: a server that dies
is reported once casampi's heartbeat marks it (42 s with 3 ranks, 3 s more per rank).
Tested against a stand-in with mpihelpers' interface (tests/unit/test_pipeline_mpi.py),
not against the pipeline itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from almacal.casatask.log import casalog
from almacal.parallel import SERIAL, Failure, JobOutcome, Mapper, failure_error, run_job

T = TypeVar("T")
R = TypeVar("R")

IMPORTS = ("import almacal.parallel",)
"""Pushed to every server once: what run_job and the per-MS units need. A server
command must never import casatasks itself (CASA_NOTES: the import lock deadlocks);
almacal's CASA access takes it from sys.modules."""


def mpihelpers() -> Any:
    """pipeline.infrastructure.mpihelpers, or None outside the pipeline."""
    try:
        from pipeline.infrastructure import mpihelpers as helpers
    # almacal runs without the pipeline everywhere but in its stages
    except ImportError:
        return None
    return helpers


def pipeline_mapper(helpers: Any = None) -> Mapper:
    """The pipeline's servers when it runs in cluster mode, else this process (SERIAL)."""
    helpers = helpers if helpers is not None else mpihelpers()
    if helpers is None or not helpers.is_mpi_ready() or not helpers.mpi_server_list:
        return SERIAL
    return PipelineMapper(helpers)


class PipelineMapper:
    """Items as mpihelpers.AsyncTask(Tier0FunctionCall(run_job, (fn, item)))."""

    def __init__(self, helpers: Any):
        self.helpers = helpers
        self.prepared = False

    def describe(self) -> str:
        ranks = ", ".join(str(s) for s in self.helpers.mpi_server_list)
        return f"{len(self.helpers.mpi_server_list)} MPI servers of the pipeline (ranks {ranks})"

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: Sequence[str],
    ) -> Iterator[R]:
        h = self.helpers
        if not items:  # nothing to send (gridflux_check without a phase calibrator)
            return
        if not self.prepared:
            for statement in IMPORTS:
                h.mpiclient.push_command_request(
                    statement, block=True, target_server=h.mpi_server_list
                )
            self.prepared = True
        casalog.post("%d MS on %s" % (len(items), self.describe()))
        tasks = [h.AsyncTask(h.Tier0FunctionCall(run_job, (fn, item))) for item in items]
        for i, task in enumerate(tasks):
            outcome = _result(task)
            if outcome.failed:
                outcomes = {i: outcome} | {k: _result(tasks[k]) for k in range(i + 1, len(tasks))}
                failures = [
                    Failure(labels[k], "an MPI server of the pipeline", o.error, o.message, o.kind)
                    for k, o in sorted(outcomes.items())
                    if o.failed
                ]
                n_done = sum(not o.failed for o in outcomes.values()) + i
                raise failure_error(failures, len(items), n_done)
            casalog.post(
                "%s: done on an MPI server of the pipeline in %.1f s" % (labels[i], outcome.seconds)
            )
            yield outcome.value


def _result(task: Any) -> JobOutcome:
    """run_job's outcome; AsyncTask raises (PipelineException) when casampi could not run
    the command at all."""
    try:
        outcome = task.get_result()
    # the pipeline's exception class is not importable here without the pipeline
    except Exception as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        return JobOutcome(error="RuntimeError", message=lines[-1] if lines else repr(exc))
    if not isinstance(outcome, JobOutcome):
        return JobOutcome(error="RuntimeError", message=f"unexpected answer {outcome!r}")
    return outcome
