"""Simulated ACA Band 7 epochs, built once per session; each test may take a copy."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from almacal.datasets import simulate_epochs
from almacal.simulate import TRUTH_FILE, SimulatedSet

SEED000_RFCF = (1.02, 1.02, 0.98, 1.02, 1.09, 0.94, 0.92)
"""Seed 000 Table 3, column rFCF: the correction each epoch needed."""

SIMULATION_SEED = 20200611


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/casa needs casatools and builds measurement sets."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.casa)


@pytest.fixture(scope="session")
def simulated_set_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., SimulatedSet]:
    """simulate_epochs(**kwargs) into a fresh session directory, cached per kwargs.

    Tests share the result: copy (see epoch_copies) before modifying an MS.
    """
    cache: dict[str, SimulatedSet] = {}

    def build(**kwargs: Any) -> SimulatedSet:
        key = json.dumps(kwargs, sort_keys=True, default=list)
        if key not in cache:
            cache[key] = simulate_epochs(tmp_path_factory.mktemp("simulated"), **kwargs)
        return cache[key]

    return build


SIMULATED_SET_KWARGS: dict[str, Any] = {
    "n_epoch": 7,
    "size": "test",
    "flux_scale": [1.0 / r for r in SEED000_RFCF],
    "seed": SIMULATION_SEED,
}


@pytest.fixture(scope="session")
def simulated_set(simulated_set_factory: Callable[..., SimulatedSet]) -> SimulatedSet:
    """7 test-size epochs whose flux scales are the inverse of seed 000's rFCFs."""
    return simulated_set_factory(**SIMULATED_SET_KWARGS)


@pytest.fixture(scope="session")
def simulated_variant(
    simulated_set_factory: Callable[..., SimulatedSet],
) -> Callable[..., SimulatedSet]:
    """simulated_set with some simulate_epochs arguments changed, cached per arguments.

    A smaller n_epoch keeps the first epochs' flux scales unless flux_scale is given.
    """

    def build(**changes: Any) -> SimulatedSet:
        kwargs = {**SIMULATED_SET_KWARGS, **changes}
        if "n_epoch" in changes and "flux_scale" not in changes:
            kwargs["flux_scale"] = SIMULATED_SET_KWARGS["flux_scale"][: changes["n_epoch"]]
        return simulated_set_factory(**kwargs)

    return build


@pytest.fixture
def epoch_copies(simulated_set: SimulatedSet, tmp_path: Path) -> SimulatedSet:
    """This test's own copy of simulated_set (MSs and truth.json) in tmp_path."""
    dest = tmp_path / "epochs"
    dest.mkdir()
    for path in simulated_set.paths:
        shutil.copytree(path, dest / os.path.basename(path))
    shutil.copy2(simulated_set.truth_path, dest / TRUTH_FILE)
    return SimulatedSet.from_truth(dest / TRUTH_FILE)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`almacal demo --outdir <tmp>/demo_out` as a user runs it (once per session); its
    products are read-only for the tests except ms/, where the prompt tutorial works."""
    import subprocess
    import sys

    here = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-m", "almacal", "demo", "--outdir", "demo_out"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (here / "demo_out" / "stdout.txt").write_text(proc.stdout)
    (here / "demo_out" / "stderr.txt").write_text(proc.stderr)
    return here / "demo_out"
