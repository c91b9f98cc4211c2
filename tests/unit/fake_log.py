"""A stand-in for casalog in unit tests: records (priority, message) per post."""

from __future__ import annotations


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def post(self, message: str, priority: str = "INFO") -> None:
        self.lines.append((priority, message))

    def origin(self, name: str) -> None:
        pass
