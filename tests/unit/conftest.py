"""Under mutation testing only (benchmarks/mutation.py): run a mutant's tests fastest first,
and not the expected failures.

mutmut runs the tests that call a mutated function with -x, in the order of a set, so a
mutant that a 0.01 s test kills often waits for a 5 s statistical test first. mutmut
forks each mutant's run from its own process, which holds every test's measured duration;
sorting by it (modules by their total, so module fixtures are still built once) kills the
same mutants sooner. An xfail test documents a known bug: it fails with or without a
mutant, so it can kill none (a strict one only by a mutant that fixes the bug) and its
statistical runs (~14 s each under mutmut) are skipped. Outside mutmut this hook does
nothing.
"""

from __future__ import annotations

import os

import pytest


def _durations() -> dict[str, float] | None:
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return None
    try:
        from mutmut.state import state
    except ImportError:  # a variable of that name, but not mutmut's run
        return None
    return dict(state().duration_by_test)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    durations = _durations()
    if not durations:
        return
    expected_failures = [item for item in items if item.get_closest_marker("xfail")]
    if expected_failures:
        config.hook.pytest_deselected(items=expected_failures)
        items[:] = [item for item in items if not item.get_closest_marker("xfail")]
    per_module: dict[str, float] = {}
    for item in items:
        module = item.nodeid.partition("::")[0]
        per_module[module] = per_module.get(module, 0.0) + durations.get(item.nodeid, 0.0)
    items.sort(
        key=lambda item: (
            per_module[item.nodeid.partition("::")[0]],
            item.nodeid.partition("::")[0],
            durations.get(item.nodeid, 0.0),
        )
    )
