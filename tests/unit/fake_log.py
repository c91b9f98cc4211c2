"""A stand-in for casalog in unit tests: records (priority, message) per post."""

from __future__ import annotations

import sys
import types

import pytest


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def post(self, message: str, priority: str = "INFO", origin: str | None = None) -> None:
        self.lines.append((priority, message))

    def origin(self, name: str) -> None:
        pass


def casatasks_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """casatasks without CASA for one test: a module in sys.modules whose casalog is a
    FakeLog (almacal.casatask.log takes casalog from there); its (priority, message)
    lines, filled as the test runs."""
    log = FakeLog()
    monkeypatch.setitem(sys.modules, "casatasks", types.SimpleNamespace(casalog=log))
    return log.lines
