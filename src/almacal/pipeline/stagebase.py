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

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pipeline.infrastructure as infrastructure
import pipeline.infrastructure.basetask as basetask
import pipeline.infrastructure.vdp as vdp

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.catalog_query import ServiceError
from almacal.pipeline.scores import Score, error_score, task_scores
from almacal.report.build import task_parts
from almacal.report.model import Table

LOG = infrastructure.get_logger(__name__)

# A bad argument, missing or unreadable data, an unreachable catalog service: the
# stage reports it; the recipe goes on.
EXPECTED_ERRORS = (ValueError, OSError, ServiceError)


@dataclass(frozen=True)
class Section:
    """One run of a task's core within a stage (an almacal.report.Body once rendered)."""

    task: str
    title: str
    record: dict | None
    # the files the core wrote by product key (steps.products): figures, JSON, ECSV, HTML
    products: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()
    vis: tuple[str, ...] = ()

    def scores(self, stage: str) -> tuple[Score, ...]:
        """The QA scores of this section: the task's, or 0 for an error."""
        if self.error is not None or self.record is None:
            return (error_score(stage, self.error or "no result", self.vis),)
        return task_scores(self.task, self.record, self.vis)


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


def xml_property(task: str, name: str) -> Any:
    """A stage Input whose default is the task's parameter's (vdp.VisDependentProperty)."""
    return vdp.VisDependentProperty(default=xml_default(task, name))


def products_stem(output_dir: str, stage: str, stage_number: int, prefix: str = "") -> str:
    """Where a stage's products go: <output_dir>/[<prefix>.]<stage>.s<N>."""
    name = f"{prefix}.{stage}.s{stage_number}" if prefix else f"{stage}.s{stage_number}"
    return os.path.join(output_dir, name)


def names(items: Iterable[str]) -> list[str]:
    """'a,b' or ['a', 'b'] -> ['a', 'b'] (recipe XML gives comma-separated strings)."""
    if isinstance(items, str):
        items = items.split(",")
    return [s.strip() for s in items if s and s.strip()]


class _ProductsSeen:
    """A task's steps, unchanged, remembering the products the skeleton asked for."""

    def __init__(self, steps: Any):
        self._steps = steps
        self.seen: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._steps, name)

    def products(self, params: Any) -> Mapping[str, str]:
        products = self._steps.products(params)
        self.seen = dict(products)
        return products


def run_core(steps: Any, args: Mapping[str, Any], *, title: str, vis: Sequence[str]) -> Section:
    """A task's steps (a TaskSteps) on args, as the CASA task runs them; a bad input gives
    an error Section."""
    base = Section(steps.name, title, None, vis=tuple(os.path.basename(v) for v in vis))
    seen = _ProductsSeen(steps)
    try:
        record = run_task(seen, args)  # type: ignore[arg-type]
    except EXPECTED_ERRORS as exc:
        LOG.error("%s: %s", title, exc)
        return replace(base, error=str(exc))
    products = tuple((k, p) for k, p in sorted(seen.seen.items()) if os.path.isfile(p))
    warnings = tuple(
        f"{w.message} ({w.reason})" if w.reason else w.message
        for w in task_parts(steps.name, record).warnings
    )
    for w in warnings:
        LOG.warning("%s: %s", title, w)
    return replace(base, record=dict(record), products=products, warnings=warnings)


def failed(section: Section, message: str) -> Section:
    """The section with its run turned into an error (a later step of the stage failed)."""
    LOG.error("%s: %s", section.title, message)
    return replace(section, error=message)
