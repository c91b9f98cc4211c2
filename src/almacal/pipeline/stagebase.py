"""What every almacal stage shares: its Results, the run of a task's core, its products.

A stage runs the steps object of an almacal CASA task through the task's own
skeleton (almacal.casatask.skeleton.run_task) with arguments built from the
stage's Inputs and the context's MSs; its products go to the pipeline's working
directory under ``<stage>.s<stage number>``. The outcome is a :class:`Section`
per task run: the task's record, the files it wrote, or the one clear error of a
bad input (EXPECTED_ERRORS), which ends the stage normally, with its error on
the weblog page and a QA score of 0. Any other exception is a bug and reaches the
pipeline's own failed-task handling.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pipeline.infrastructure as infrastructure
import pipeline.infrastructure.basetask as basetask

from almacal.casatask.skeleton import TaskSteps, run_task
from almacal.casatask.spec import load_spec
from almacal.catalog_query import ServiceError
from almacal.report import Table, record_warnings
from almacal.report.scores import error_score, task_scores

LOG = infrastructure.get_logger(__name__)

# A bad argument, missing or unreadable data, an unreachable catalog service: the
# stage reports it; the recipe goes on.
EXPECTED_ERRORS = (ValueError, OSError, ServiceError)

T = TypeVar("T")
R = TypeVar("R")
Mapper = Callable[[Callable[[T], R], Sequence[T]], list[R]]


def serial_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """The default mapper: one item after the other, in this process."""
    return [fn(item) for item in items]


@dataclass(frozen=True)
class Section:
    """One run of a task's core within a stage (an almacal.report.Body once rendered)."""

    task: str
    title: str
    record: dict | None
    products: tuple[str, ...] = ()  # files the core wrote (absolute paths), not caltables
    warnings: tuple[str, ...] = ()
    error: str | None = None
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    vis: tuple[str, ...] = ()

    def scores(self, stage: str) -> tuple:
        """almacal.report.Score of this section: the task's, or 0 for an error."""
        if self.error is not None or self.record is None:
            return (error_score(stage, self.error or "no result", self.vis),)
        return task_scores(self.task, self.record)


class AlmacalResults(basetask.Results):
    """A stage's outcome: one Section per task run (one per MS for the B2B stage)."""

    def __init__(self, stage: str, vis: Sequence[str], sections: Sequence[Section]):
        super().__init__()
        self.stage = stage
        self.vis = list(vis)
        self.sections = list(sections)

    @property
    def errors(self) -> list[str]:
        return [s.error for s in self.sections if s.error is not None]

    def __repr__(self) -> str:
        state = "; ".join(self.errors) or "ok"
        return f"{type(self).__name__}({self.stage}: {len(self.sections)} section(s), {state})"


def task_defaults(task: str) -> dict[str, Any]:
    """A task's parameters as its XML defines them (the one definition)."""
    return load_spec(task).defaults()


def xml_default(task: str, name: str) -> Any:
    return load_spec(task).param(name).default


def products_stem(output_dir: str, stage: str, stage_number: int, prefix: str = "") -> str:
    """Where a stage's products go: <output_dir>/[<prefix>.]<stage>.s<N>."""
    name = f"{prefix}.{stage}.s{stage_number}" if prefix else f"{stage}.s{stage_number}"
    return os.path.join(output_dir, name)


def names(items: Iterable[str]) -> list[str]:
    """'a,b' or ['a', 'b'] -> ['a', 'b'] (recipe XML gives comma-separated strings)."""
    if isinstance(items, str):
        items = items.split(",")
    return [s.strip() for s in items if s and s.strip()]


def run_core(
    steps: TaskSteps, args: Mapping[str, Any], *, title: str, vis: Sequence[str]
) -> Section:
    """A task's steps on args, as the CASA task runs them; a bad input gives an error Section."""
    base = {"task": steps.name, "title": title, "vis": tuple(os.path.basename(v) for v in vis)}
    try:
        record = run_task(steps, args)
    except EXPECTED_ERRORS as exc:
        LOG.error("%s: %s", title, exc)
        return Section(record=None, error=str(exc), **base)
    stem = str(args["outfile"])
    products = tuple(p for p in sorted(glob.glob(glob.escape(stem) + "*")) if os.path.isfile(p))
    warnings = record_warnings(record)
    for w in warnings:
        LOG.warning("%s: %s", title, w)
    return Section(record=record, products=products, warnings=warnings, **base)


def failed(section: Section, message: str) -> Section:
    """The section with its run turned into an error (a later step of the stage failed)."""
    LOG.error("%s: %s", section.title, message)
    return replace(section, error=message)
