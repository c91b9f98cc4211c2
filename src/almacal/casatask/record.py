"""The record a task returns: a plain dict for code, a short summary at the prompt."""

from __future__ import annotations

from typing import Any


class TaskRecord(dict):
    """A task's record (a dict: keys, JSON, pickling unchanged) whose repr is a summary
    table of its headline numbers (almacal.report), not the whole dict.

    ``dict(rec)`` or ``rec.keys()`` give everything, as before.
    """

    def __init__(self, record: dict[str, Any], *, task: str) -> None:
        super().__init__(record)
        self.task = task

    def __reduce__(self) -> Any:
        # a plain dict travels (casampi, multiprocessing): no almacal needed to unpickle
        return (dict, (dict(self),))

    def __repr__(self) -> str:
        from almacal.report.summary import summary_text

        return summary_text(self.task, self)

    __str__ = __repr__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython (the CASA prompt) shows the same summary."""
        printer.text(repr(self) if not cycle else f"{self.task} record")
