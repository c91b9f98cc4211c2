"""casalog without importing casatasks at import time, and what a run logged.

Under casampi, `import casatasks` inside a server command never returns (the
server loop runs inside casatasks' own import, CASA_NOTES), so the logger is
taken from the already-imported module whenever there is one.

While a task runs (``run_log``), every warning almacal posts is also kept, so the
task's report lists each one with the run's parameters and times.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WARNING_PRIORITIES = ("WARN", "SEVERE")


def casa_logger() -> Any:
    """casatasks' casalog (imported on first use)."""
    mod = sys.modules.get("casatasks") or importlib.import_module("casatasks")
    return mod.casalog


@dataclass
class RunLog:
    """One task run: its name, parameters, start time and the warnings posted during it."""

    task: str
    params: dict[str, Any]
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    warnings: list[str] = field(default_factory=list)


_RUNS: list[RunLog] = []


def current_run() -> RunLog | None:
    """The innermost task run in progress (a nested relcal_fit inside spwconsistency
    has its own), or None outside a task."""
    return _RUNS[-1] if _RUNS else None


@contextmanager
def run_log(task: str, params: Mapping[str, Any]) -> Iterator[RunLog]:
    """Collect what task's run posts while the block runs."""
    run = RunLog(task, dict(params))
    _RUNS.append(run)
    try:
        yield run
    finally:
        _RUNS.remove(run)


class _CasaLogProxy:
    def __getattr__(self, name: str) -> Any:
        return getattr(casa_logger(), name)

    def post(self, message: str, priority: str = "INFO", origin: str | None = None) -> None:
        """casalog.post; a warning is kept for the report of the run in progress."""
        run = current_run()
        if run is not None and priority in WARNING_PRIORITIES and message not in run.warnings:
            run.warnings.append(message)
        log = casa_logger()
        if origin is None:
            log.post(message, priority)
        else:
            log.post(message, priority, origin)


casalog = _CasaLogProxy()
