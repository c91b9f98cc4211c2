"""A task run's report: its body context from the record, rendered by the Mako templates.

``write_html`` is what a task's write step calls; ``body_for`` and ``render_body`` are
what a pipeline weblog renderer calls with its own figure URLs.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from almacal.casatask.log import current_run
from almacal.report import others, relcal, spwcons
from almacal.report.model import Body, Figure, Parts, Warning, png_data_uri

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")

PARTS: dict[str, Callable[[dict[str, Any]], Parts]] = {
    "relcal_fit": relcal.fit_parts,
    "relcal_apply": relcal.apply_parts,
    "spwconsistency": spwcons.parts,
    "gridflux_check": others.gridflux_parts,
    "b2b_phasetransfer": others.b2b_parts,
}

PACKAGES = ("almacal", "casatools", "casatasks", "numpy", "scipy", "matplotlib")


def task_parts(task: str, record: Mapping[str, Any]) -> Parts:
    """The report's parts of a task's record."""
    return PARTS[task](dict(record))


def provenance(started: dt.datetime | None = None) -> dict[str, str]:
    """Software versions and the run's times (UTC)."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["Python"] = platform.python_version()
    now = dt.datetime.now(dt.timezone.utc)
    if started is not None:
        out["started"] = started.strftime("%Y-%m-%d %H:%M:%S UTC")
        out["run time"] = "%.1f s" % (now - started).total_seconds()
    out["written"] = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    return out


def body_for(
    task: str,
    record: Mapping[str, Any],
    *,
    figures: Mapping[str, str],
    warnings: Iterable[str] = (),
    params: Mapping[str, Any] | None = None,
    started: dt.datetime | None = None,
) -> Body:
    """The body context of a run. figures : {product key: src} (data URI or URL); warnings :
    the run's logged warnings, shown after the record's own (each once)."""
    parts = task_parts(task, record)
    shown = {w.message for w in parts.warnings}
    logged = tuple(Warning(w, "logged during the run") for w in warnings if w not in shown)
    return Body(
        task=task,
        title=parts.title,
        record=dict(record),
        headline=parts.headline,
        tables=parts.tables,
        figures=tuple(
            Figure(caption, figures[key])
            for key, caption in parts.figures.items()
            if key in figures
        ),
        warnings=parts.warnings + logged,
        qa=parts.qa,
        params=dict(params if params is not None else record.get("params", {})),
        provenance=provenance(started),
    )


@cache
def _lookup() -> Any:
    from mako.lookup import TemplateLookup

    # every ${...} is HTML-escaped unless a template says | n
    return TemplateLookup(
        directories=[TEMPLATES],
        default_filters=["h"],
        strict_undefined=True,
        input_encoding="utf-8",
    )


def render_body(body: Body) -> str:
    """The task's body template (templates/<task>.mako) on body's context."""
    return str(_lookup().get_template(f"{body.task}.mako").render(**body.context()))


def render_page(body: Body) -> str:
    """A self-contained HTML page: CSS inline, figures as data URIs, no network resource."""
    page = _lookup().get_template("page.mako")
    return str(page.render(title=body.title, body_html=render_body(body)))


def write_html(task: str, record: Mapping[str, Any], staged: Mapping[str, str]) -> None:
    """Write staged['html'], the run's report, embedding the PNGs staged beside it."""
    parts = task_parts(task, record)
    figures = {
        key: png_data_uri(staged[key])
        for key in parts.figures
        if key in staged and os.path.isfile(staged[key])
    }
    run = current_run()
    body = body_for(
        task,
        record,
        figures=figures,
        warnings=run.warnings if run is not None else (),
        params=run.params if run is not None else None,
        started=run.started if run is not None else None,
    )
    with open(staged["html"], "w", encoding="utf-8") as fh:
        fh.write(render_page(body))


def html_path(stem: str, overwrite: bool, param: str = "outfile") -> dict[str, str]:
    """{'html': stem + '.html'} for a task's products; FileExistsError unless overwrite."""
    path = stem + ".html"
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{param} {stem!r}: {path} exists; set overwrite=True to replace")
    return {"html": path}
