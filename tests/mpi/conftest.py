"""Tasks under mpirun: each test module starts ``mpirun -n N python mpi_job.py`` and
compares what the MPI client got with a serial run in this process.

Needs Open MPI's mpirun, mpi4py and casampi (the [mpi] extra); .ci/run installs them.
Without them the tests are skipped, saying what is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.casa.conftest import (  # noqa: F401 - the simulated data sets, shared
    simulated_set,
    simulated_set_factory,
    simulated_variant,
)

HERE = Path(__file__).parent
JOB = HERE / "mpi_job.py"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.mpi)
            item.add_marker(pytest.mark.casa)


def _missing() -> list[str]:
    missing = [] if shutil.which("mpirun") else ["mpirun (Debian: openmpi-bin libopenmpi-dev)"]
    return missing + [
        f"{m} (pip install '.[mpi]')"
        for m in ("mpi4py", "casampi")
        if not importlib.util.find_spec(m)
    ]


@pytest.fixture(scope="session")
def mpirun():
    """run(spec, workdir, n=3, recovery=False, timeout, job=mpi_job.py, env) -> (results,
    completed process).

    recovery: mpirun --enable-recovery, so that a killed server does not make mpirun end
    the client too (Open MPI 4). The client's results are read from the JSON it writes
    after each call, whatever its exit code.
    """
    missing = _missing()
    if missing:
        pytest.skip("MPI tests need " + ", ".join(missing))
    base_env = dict(os.environ)
    if os.geteuid() == 0:  # Open MPI refuses root without both
        base_env |= {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}

    def run(
        spec: dict,
        workdir: Path,
        n: int = 3,
        recovery: bool = False,
        timeout: float = 900,
        job: Path = JOB,
        env: dict[str, str | None] | None = None,
    ):
        spec = spec | {"out": str(workdir / "mpi_results.json")}
        (workdir / "spec.json").write_text(json.dumps(spec))
        cmd = ["mpirun", "--oversubscribe", "-n", str(n)]
        cmd += ["--enable-recovery"] if recovery else []
        cmd += [sys.executable, str(job), str(workdir / "spec.json")]
        # env: variables to set, or to unset (None), for this run
        changed = {k: v for k, v in (env or {}).items() if v is not None}
        run_env = {k: v for k, v in base_env.items() if k not in (env or {})} | changed
        # cwd: CASA writes its casa-*.log files (one per rank) there
        proc = subprocess.run(
            cmd, cwd=workdir, env=run_env, capture_output=True, text=True, timeout=timeout
        )
        out = Path(spec["out"])
        if not out.exists():
            raise AssertionError(
                f"mpirun wrote no results (rc {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return json.loads(out.read_text()), proc

    return run
