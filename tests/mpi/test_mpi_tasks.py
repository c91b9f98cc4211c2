"""Under ``mpirun -n 3`` (2 casampi servers) every per-MS task gives what it gives
serially, bit for bit: relcal_fit (three option sets), spwconsistency, gridflux_check
and relcal_apply; the log says how many servers were used; inputs are unchanged.

One mpirun runs every call (its start and stop cost ~15 s); the serial runs are made
here, in this process, on the same inputs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest

from almacal.outputs import json_safe
from almacal.relcal.rescale_plan import HISTORY_MARK
from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR
from tests.casa.msutil import fingerprint, read_columns
from tests.casa.test_gridflux_check import STALE, _catalog_file, _pipeline_flux_csv

FIT_OPTIONS = [
    {"perspw": True},
    {"fitspw": "auto", "uvrange": "common", "model": "point+gaussian", "modelcheck": True},
    {"fitposition": True, "model": "point"},
]


def _merged_csv(parts: list[Path], out: Path) -> None:
    """One CSV from several with the same header."""
    lines = [parts[0].read_text().splitlines()[0]]
    for p in parts:
        lines += p.read_text().splitlines()[1:]
    out.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def grid_ebs(tmp_path_factory):
    """Three EBs whose flux scale came from a stale catalog, flux.csv and catalog files."""
    from almacal.datasets import simulate_epochs

    out = tmp_path_factory.mktemp("mpi_grid")
    sim = simulate_epochs(
        out / "sim",
        n_epoch=3,
        flux_scale=[STALE] * 3,
        calibrator_fields=[GRID_QUASAR, PHASE_QUASAR],
        seed=404,
    )
    csvs, cats = [], []
    for k, vis in enumerate(sim.paths):
        meta = _pipeline_flux_csv(out / f"flux{k}.csv", vis)
        _catalog_file(out / f"cat{k}.csv", meta.obs_date)
        csvs.append(out / f"flux{k}.csv")
        cats.append(out / f"cat{k}.csv")
    _merged_csv(csvs, out / "flux.csv")
    _merged_csv(cats, out / "catalog.csv")
    return sim, out / "flux.csv", out / "catalog.csv"


def _calls(epochs, grid, out: Path) -> list[dict]:
    """The task calls, writing under out (one directory for the MPI run, one serial)."""
    vis, fields = list(epochs.paths), list(epochs.calibrators)
    sim, fluxcsv, catalog = grid
    calls = [
        {
            "task": "relcal_fit",
            "kwargs": {"vis": vis, "field": fields, "outfile": str(out / f"fit{k}")} | opt,
        }
        for k, opt in enumerate(FIT_OPTIONS)
    ]
    calls.append(
        {
            "task": "spwconsistency",
            "kwargs": {"vis": vis, "field": fields, "nmc": 2000, "outfile": str(out / "spw")},
        }
    )
    calls.append(
        {
            "task": "gridflux_check",
            "kwargs": {
                "vis": list(sim.paths),
                "fluxcsv": str(fluxcsv),
                "catalog": str(catalog),
                "cachedir": "",
                "phasecheck": True,
                "outfile": str(out / "gf"),
            },
        }
    )
    calls.append(
        {
            "task": "relcal_apply",
            "kwargs": {
                "vis": vis,
                "factor": [1.02, 0.97, 1.05, 0.93],
                "outputvis": [str(out / f"ep{k}.rescaled.ms") for k in range(len(vis))],
            },
        }
    )
    return calls


def _serial(calls: list[dict]) -> list[dict]:
    import almacal

    return [json_safe(getattr(almacal, c["task"])(**c["kwargs"])) for c in calls]


def _differences(a, b, path: str = "") -> list[str]:
    """Where two records differ ('/eb[0]/factor: 1.17 != 1.18'), empty when equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in _differences(a.get(k), b.get(k), f"{path}/{k}")]  # fmt: skip
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r:.80} != {b!r:.80}"]


def _without_times(obj):
    """obj without its 'run_at' and 'queried_at' keys, at any depth."""
    if isinstance(obj, dict):
        return {k: _without_times(v) for k, v in obj.items() if k not in ("run_at", "queried_at")}
    if isinstance(obj, list):
        return [_without_times(v) for v in obj]
    return obj


def _same_paths(obj, old: str, new: str):
    """obj with every string's old directory replaced by new (outputs differ only there)."""
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, dict):
        return {k: _same_paths(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_same_paths(v, old, new) for v in obj]
    return obj


@pytest.fixture(scope="module")
def runs(mpirun, simulated_variant, grid_ebs, tmp_path_factory):
    epochs = simulated_variant(n_epoch=4)
    work = tmp_path_factory.mktemp("mpi_tasks")
    inputs = [*epochs.paths, *grid_ebs[0].paths]
    before = {p: fingerprint(p) for p in inputs}
    (work / "mpi").mkdir()
    (work / "serial").mkdir()
    result, proc = mpirun({"calls": _calls(epochs, grid_ebs, work / "mpi")}, work)
    assert proc.returncode == 0, proc.stderr[-3000:]
    serial = _serial(_calls(epochs, grid_ebs, work / "serial"))
    after = {p: fingerprint(p) for p in inputs}
    return result, serial, work, before == after


def test_every_task_under_mpi_equals_the_serial_run(runs):
    result, serial, work, _ = runs
    calls = result["calls"]
    assert [c["task"] for c in calls] == ["relcal_fit"] * 3 + [
        "spwconsistency",
        "gridflux_check",
        "relcal_apply",
    ]
    for c, s in zip(calls, serial, strict=True):
        assert "error" not in c, (c["task"], c.get("message"))
        mpi = _same_paths(c["record"], str(work / "mpi"), str(work / "serial"))
        if c["task"] == "gridflux_check":  # the times of the run and queries, not results
            mpi, s = _without_times(mpi), _without_times(s)
        # identical: each MS's sums are computed by the same code on a server and added
        # in MS order on the client, so no tolerance
        assert _differences(mpi, s) == [], c["task"]
    fit = calls[0]["record"]
    assert len(fit["rfcf"]) == 4 and all(np.isfinite(fit["flux_spw"]).flat)  # not vacuous


def test_the_log_says_how_many_servers_were_used(runs):
    result, *_ = runs
    assert result["servers"] == [1, 2] and result["describe"] == "2 MPI servers (ranks 1, 2)"
    # relcal_fit's passes, gridflux's metadata and phase fits, relcal_apply's two steps
    assert any("4 MS on 2 MPI servers (ranks 1, 2)" in ln for ln in result["log"])
    assert any("3 MS on 2 MPI servers (ranks 1, 2)" in ln for ln in result["log"])
    done = [ln for ln in result["log"] if ": done on MPI server " in ln]
    assert {ln.split("done on MPI server ")[1][0] for ln in done} == {"1", "2"}  # both worked


def test_each_server_takes_its_share_of_the_cores_for_openmp(runs):
    result, *_ = runs
    cores = len(os.sched_getaffinity(0))
    # 2 servers on this host: CASA's OpenMP code (applycal) on half its cores each
    assert result["omp_threads"] == {"1": max(1, cores // 2), "2": max(1, cores // 2)}


def test_relcal_apply_products_are_identical_and_history_written_once(runs):
    _, _, work, inputs_unchanged = runs
    assert inputs_unchanged  # split mode only reads the input MSs; relcal_fit never writes
    n = 0
    for mpi_ms in sorted((work / "mpi").glob("ep*.rescaled.ms")):
        serial_ms = work / "serial" / mpi_ms.name
        a = read_columns(str(mpi_ms), "CORRECTED_DATA", "WEIGHT", "FLAG", "DATA")
        b = read_columns(str(serial_ms), "CORRECTED_DATA", "WEIGHT", "FLAG", "DATA")
        for col in a:
            np.testing.assert_array_equal(a[col], b[col], err_msg=f"{mpi_ms.name} {col}")
        assert np.any(a["CORRECTED_DATA"] != a["DATA"])  # the rescaling did something
        marks = [
            m
            for m in read_columns(str(mpi_ms), "MESSAGE", table="HISTORY")["MESSAGE"]
            if m.startswith(HISTORY_MARK)
        ]
        assert len(marks) == 1, marks  # HISTORY written once, by the server that applied
        caltable = str(mpi_ms)[: -len(".ms")] + ".relcal.amp"
        assert os.path.isdir(caltable)
        n += 1
    assert n == 4
    leftovers = [p for p in os.listdir(work / "mpi") if ".tmp" in p]
    assert leftovers == []  # every staged product was renamed into place


def test_gridflux_phase_check_ran_on_every_eb(runs):
    result, *_ = runs
    rec = result["calls"][4]["record"]
    assert len(rec["eb"]) == 3 and len(rec["phase_check"]) == 3
    assert {pc["field"] for pc in rec["phase_check"]} == {PHASE_QUASAR.name}
    dates = sorted(dt.date.fromisoformat(eb["obs_date"][:10]) for eb in rec["eb"])
    assert dates == sorted(set(dates))  # three different EBs, not one read three times
