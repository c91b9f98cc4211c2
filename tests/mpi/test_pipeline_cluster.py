"""The almacal stages in a real pipeline cluster run (``mpirun -n 3``, 2 servers): their
per-MS work goes through the pipeline's own mpihelpers (one MPI world serves both), and
every stage's record equals the serial run's (mpihelpers.USE_MPI off) key by key.

Needs the ALMA pipeline (tests/stages/pipeline_path.py) besides MPI; skips without it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from almacal.datasets import simulate_epochs
from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR
from tests.casa.msutil import fingerprint
from tests.stages.pipeline_path import LINK_DIRS, find_pipeline
from tests.stages.recipe_data import catalog_file, stale_flux_csv
from tests.stages.weblog import command, procedure

JOB = Path(__file__).with_name("pipeline_cluster_job.py")
MISSING = find_pipeline()
CALIBRATORS = "SMM9,SMM4,SMM3,SMM11"
MAPPED = {"2": "almacal_gridflux_check", "3": "almacal_relcal", "4": "almacal_spwconsistency"}
N_EB = 3

pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING or "")


def _recipe(path: str, catalog: str) -> str:
    commands = [
        command("hifa_importdata", dbservice="False"),
        command("almacal_gridflux_check", catalog=catalog, updatemodels="True"),
        command("almacal_relcal", field=CALIBRATORS),
        command("almacal_spwconsistency", field=CALIBRATORS, nmc="200"),
    ]
    return procedure(path, "almacal_cluster", *commands)


@pytest.fixture(scope="module")
def cluster_run(mpirun, tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline_cluster")
    sim = simulate_epochs(
        out / "sim", n_epoch=N_EB, flux_scale=[1.0, 0.9, 1.08], seed=1212,
        calibrator_fields=[GRID_QUASAR, PHASE_QUASAR],
    )  # fmt: skip
    before = {p: fingerprint(p) for p in sim.paths}
    stale_flux_csv(str(out / "flux.csv"), sim.paths)
    catalog_file(str(out / "catalog.csv"), sim.paths)
    stand_in = out / "casalith_stand_in"
    stand_in.mkdir()
    (stand_in / "casalith.py").write_text('"""monolithic CASA: casatasks defers casampi"""\n')
    spec = {
        "path": [str(stand_in), *LINK_DIRS],
        "vis": list(sim.paths),
        "recipe": _recipe(str(out / "recipe.xml"), str(out / "catalog.csv")),
        "flux_csv": str(out / "flux.csv"),
        "work": str(out / "work"),
    }
    # the pipeline's weblog plots would wait for a plotms server without a display
    result, proc = mpirun(spec, out, timeout=1800, job=JOB, env={"DISPLAY": None})
    assert proc.returncode == 0, proc.stderr[-4000:]
    return result, before == {p: fingerprint(p) for p in sim.paths}


RUN_TIMES = {"run_at", "queried_at"}
"""When each run happened: the only keys whose values differ between the two runs."""


def _same_paths(value, work: str):
    """The record with its working directory left out of every path (keys too) and
    without its run times."""
    if isinstance(value, dict):
        return {
            k.replace(work, "<work>"): _same_paths(v, work)
            for k, v in value.items()
            if k not in RUN_TIMES
        }
    if isinstance(value, list):
        return [_same_paths(v, work) for v in value]
    return value.replace(work, "<work>") if isinstance(value, str) else value


def test_the_stages_map_their_ms_over_the_pipelines_servers(cluster_run):
    result, _ = cluster_run
    assert result["servers"] == [1, 2]
    cluster, serial = result["cluster"], result["serial"]
    assert cluster["mpi_ready"] and not serial["mpi_ready"]
    mapped = [ln for ln in cluster["log"] if "MPI servers of the pipeline" in ln]
    # one line per mapped stage (spwconsistency maps relcal_fit's passes once)
    assert len(mapped) == len(MAPPED), cluster["log"]
    assert all(f"{N_EB} MS on 2 MPI servers of the pipeline (ranks 1, 2)" in ln for ln in mapped)
    done = [ln for ln in cluster["log"] if re.search(r"done on an MPI server of the pipeline", ln)]
    assert len(done) == N_EB * len(MAPPED), cluster["log"]
    assert serial["log"] == [], serial["log"]  # the serial run sent nothing to a server


def test_every_stage_record_equals_the_serial_runs(cluster_run):
    result, inputs_unchanged = cluster_run
    cluster, serial = result["cluster"], result["serial"]
    for n, stage in MAPPED.items():
        got, want = cluster["stages"][n], serial["stages"][n]
        assert got["stage"] == want["stage"] == stage
        assert got["errors"] == want["errors"] == [], (stage, got["errors"])
        assert got["records"], stage  # guard: a record to compare
        # bit for bit: the same sums added in the same MS order (almacal.parallel)
        assert _same_paths(got["records"], cluster["work"]) == _same_paths(
            want["records"], serial["work"]
        ), stage
    assert inputs_unchanged
