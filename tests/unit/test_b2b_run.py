"""almacal.b2b.run and the task's steps against a fake CASA (tests/unit/b2b_fake_casa.py).

The fake's phases are noise-free and linear in time, so a correct transfer leaves
no residual at all: every tolerance below is rounding, and each check has a
guard showing the quantity it tests is not trivially zero.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from almacal import outputs
from almacal.b2b import run
from almacal.b2b.params import HISTORY_MARK, IN_PROGRESS, B2BParams
from almacal.b2b.task import B2BTask
from almacal.casatask import skeleton
from almacal.casatask.skeleton import run_task
from almacal.outputs import json_safe, temporary_name
from tests.unit.b2b_fake_casa import (
    FREQ_HZ,
    HIGH,
    N_ANT,
    TASK_ARGS,
    FakeCasa,
    ms_info,
)
from tests.unit.fake_log import FakeLog

ATOL = 1e-9  # rad: rounding only


def _wrap(x):
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


def _vis(tmp_path) -> str:
    path = tmp_path / "obs.ms"
    (path / "ANTENNA").mkdir(parents=True)
    (path / "HISTORY").mkdir()
    return str(path)


def _params(tmp_path, **change) -> B2BParams:
    return B2BParams.from_task_args(**(TASK_ARGS | {"vis": _vis(tmp_path)} | change))


def _transfer(tmp_path, fake=None, **change):
    p = _params(tmp_path, **change)
    fake = fake or FakeCasa(ms_info(p.vis))
    tables = {k: str(tmp_path / f"staged_{k}") for k in p.tables()}
    result = run.transfer(p, fake.info, fake, tables, FakeLog())
    return p, fake, tables, result


def _gaincals(fake):
    return [kw for name, kw in fake.made if name == "gaincal"]


def test_gaincal_sequence_and_calls_recorded_with_final_names(tmp_path):
    p, fake, tables, result = _transfer(tmp_path)
    g = _gaincals(fake)
    assert [kw["caltable"] for kw in g] == [
        tables["dgc_low"],
        tables["phasecal"],
        tables["dgc_offset"],
        tables["dgc_offset"],
    ]
    assert (g[0]["scan"], g[0]["spw"], g[0]["solint"]) == ("1,3,5,13,15,17", "0,1", "inf")
    assert (g[1]["field"], g[1]["scan"], g[1]["solint"]) == ("PC", "6,8,10,12", "int")
    assert [(kw["scan"], kw["spw"], kw["append"]) for kw in g[2:]] == [
        ("2,4", "2,3", False),
        ("14,16", "2,3", True),
    ]
    assert all(kw["gaintable"] == [tables["dgc_low_scaled"]] for kw in g[2:])
    assert {kw["refant"] for kw in g} == {result.refant}
    # applycal is in the record but not made: apply() changes the MS after the products.
    assert "applycal" not in [name for name, _ in fake.made]
    assert [name for name, _ in result.casa_calls] == ["gaincal"] * 4 + ["applycal"]
    final = p.tables()
    assert result.casa_calls[-1][1]["gaintable"] == [final["phasecal_scaled"], final["dgc_offset"]]
    assert "staged_" not in json.dumps(json_safe(result.to_record()))
    assert result.caltables == final


def test_transfer_reproduces_the_high_frequency_phases(tmp_path):
    _, fake, tables, result = _transfer(tmp_path)
    d = result.diagnostics
    # The DGC check: the scaled low phases + band offsets give the high DGC data exactly.
    assert d.residual_rms_deg < 1e-6 and np.nanmax(d.residual_rms_antenna_deg) < 1e-6
    assert d.qa["dgc_residual"] == pytest.approx(1.0)
    # No drift injected: both blocks give the same offsets (mod 2 pi).
    assert d.offset_change_rms_deg < 1e-6 and d.qa["offset_stability"] == pytest.approx(1.0)
    # The claim of B2B on the target: the scaled phase-calibrator table + the band offset
    # equals the true high-frequency phase relative to refant at every target integration.
    ref = fake.info.antenna_names.index(result.refant)
    pc, off = fake.tables[tables["phasecal_scaled"]], fake.tables[tables["dgc_offset"]]
    target_times = np.concatenate([fake.info.scan_times[s] for s in result.structure.target_scans])
    errors, spread = [], []
    for h in HIGH:
        for a in range(N_ANT):
            rows = (pc.antenna == a) & (pc.spw == h) & np.isin(pc.time, target_times)
            assert rows.sum() == target_times.size  # a row at every target integration
            offset = off.phase[(off.antenna == a) & (off.spw == h), 0][0]
            t = pc.time[rows]
            truth = fake.truth.high(a, h, t) - fake.truth.high(ref, h, t)
            errors.append(_wrap(pc.phase[rows, 0] + offset - truth))
            spread.append(offset)
    assert np.max(np.abs(errors)) < ATOL
    # Not vacuous: offsets over the circle, low phases wrapping, non-integer ratios.
    assert np.std(spread) > 1.0
    low = np.ptp(fake.truth.beta) * 164.0
    assert low > 2 * np.pi
    assert all(abs(FREQ_HZ[h] / FREQ_HZ[h - 2] % 1 - 0.5) < 0.45 for h in HIGH)


def test_dgc_plot_series_is_the_transfer_at_the_low_solution_times(tmp_path):
    _, fake, tables, result = _transfer(tmp_path)
    series = result.dgc_phases
    np.testing.assert_array_equal(series.times, np.unique(fake.tables[tables["dgc_low"]].time))
    assert series.phase.shape == (series.times.size, N_ANT, len(HIGH))
    ref = fake.info.antenna_names.index(result.refant)
    for j, h in enumerate(HIGH):
        for a in range(N_ANT):
            truth = fake.truth.high(a, h, series.times) - fake.truth.high(ref, h, series.times)
            np.testing.assert_allclose(_wrap(series.phase[:, a, j] - truth), 0.0, atol=ATOL)


@pytest.mark.parametrize(
    ("spoil", "change", "message"),
    [
        (lambda f: f.flagged_scans.update({6, 8, 10, 12}), {}, "phase calibrator PC"),
        (lambda f: f.flagged_scans.update({2, 4, 14, 16}), {}, "high-frequency DGC scans"),
        (lambda f: f.history.append(HISTORY_MARK + ": x"), {}, "already has a B2B transfer"),
        (lambda f: None, {"refant": "DV99"}, "refant='DV99' is not an antenna"),
        (lambda f: None, {"phasecal": "TGT"}, "phasecal='TGT' has no scans in the low"),
    ],
)
def test_checks_fail_before_any_casa_call(tmp_path, spoil, change, message):
    p = _params(tmp_path, **change)
    fake = FakeCasa(ms_info(p.vis))
    spoil(fake)
    with pytest.raises(ValueError, match=message):
        run.transfer(p, fake.info, fake, {k: k for k in p.tables()}, FakeLog())
    assert not _gaincals(fake) and not fake.tables


@pytest.mark.parametrize("change", [{"force": True}, {"doapply": False}])
def test_an_earlier_application_is_no_obstacle_when_forced_or_not_applying(tmp_path, change):
    fake = FakeCasa(ms_info(""))
    fake.history.append(HISTORY_MARK + ": earlier")
    _transfer(tmp_path, fake, **change)
    assert len(_gaincals(fake)) == 4


def test_field_outside_j2000_is_refused_before_gaincal(tmp_path):
    p = _params(tmp_path)
    fake = FakeCasa(ms_info(p.vis, frame="AZEL"))
    with pytest.raises(ValueError, match="field 'DGC' has its phase centre in frame 'AZEL'"):
        run.transfer(p, fake.info, fake, {k: k for k in p.tables()}, FakeLog())
    assert not _gaincals(fake)


def test_combine_auto_follows_the_predicted_snr(tmp_path):
    # noise_var 1e-4 per sample, 64 samples x 4 baselines: SNR ~1600 per spw -> per spw.
    _, fake, _, result = _transfer(tmp_path / "a")
    assert not result.combine_spw and "per-spw solutions" in result.combine_reason
    assert {kw["combine"] for kw in _gaincals(fake)[:2]} == {""}
    # noise_var 400: SNR ~0.8, below 3 x minsnr -> combined.
    _, fake, _, result = _transfer(tmp_path / "b", FakeCasa(ms_info(""), noise_var=400.0))
    assert result.combine_spw and "below 9.0" in result.combine_reason
    assert {kw["combine"] for kw in _gaincals(fake)[:2]} == {"spw"}


def test_explicit_combine_reads_no_snr_sample(tmp_path):
    _, fake, _, result = _transfer(tmp_path, combine="none")
    assert result.combine_reason == "combine='none' requested"
    reads = [kw["scans"] for name, kw in fake.made if name == "read_baseline_vis"]
    assert len(reads) == 1 and 6 not in reads[0]  # the diagnostics' DGC read only


@pytest.fixture
def quiet_skeleton(monkeypatch):
    """run_task and staged log through casalog: a fake keeps CASA out of unit tests."""
    log = FakeLog()
    monkeypatch.setattr(skeleton, "casalog", log)
    monkeypatch.setattr(outputs, "casalog", log)
    return log


def test_task_writes_every_product_staged_and_changes_the_ms_last(tmp_path, quiet_skeleton):
    args = TASK_ARGS | {"vis": _vis(tmp_path), "makeplots": True}
    p = B2BParams.from_task_args(**args)
    fake = FakeCasa(ms_info(p.vis))
    products = B2BTask(fake, FakeLog()).products(p)
    assert products == p.products() | {"html": p.outfile + ".html"}
    seen: list[set[str]] = []
    fake.on_applycal = lambda: seen.append(set(os.listdir(tmp_path)))
    marked: list[set[str]] = []  # what is in place when each HISTORY line is written
    write_history = fake.write_history
    fake.write_history = lambda vis, messages, origin: (
        marked.append(set(os.listdir(tmp_path))),
        write_history(vis, messages, origin),
    )
    rec = run_task(B2BTask(fake, FakeLog()), args)
    # When applycal runs, every product is complete under its temporary name, none final;
    # the JSON and the report follow it (they record the applycal's time in casa_seconds).
    before = {k: v for k, v in products.items() if k not in ("json", "html")}
    assert {os.path.basename(temporary_name(v)) for v in before.values()} <= seen[0]
    assert os.path.basename(temporary_name(products["json"])) not in seen[0]
    assert not {os.path.basename(v) for v in products.values()} & seen[0]
    final = sorted(["obs.ms", *(os.path.basename(v) for v in products.values())])
    assert sorted(os.listdir(tmp_path)) == final
    with open(products["json"], encoding="utf-8") as fh:
        assert json.load(fh) == json.loads(json.dumps(json_safe(rec)))
    assert os.path.getsize(products["plot_dgc"]) > 0 and os.path.getsize(products["ecsv"]) > 0
    # HISTORY: "in progress" before the applycal; the application with the final table
    # names, once every product is in place, then one line per argument.
    assert [name for name, _ in fake.made][-3:] == ["write_history", "applycal", "write_history"]
    applied = "%s + %s to TGT spw 2,3" % (products["phasecal_scaled"], products["dgc_offset"])
    assert fake.history[0].startswith(f"{IN_PROGRESS} (pid {os.getpid()} on ")
    assert applied in fake.history[0]
    assert fake.history[1] == f"{HISTORY_MARK}: {applied}"
    assert fake.history[2:] == [f"{k:<11} = {v!r}" for k, v in args.items()]
    assert {os.path.basename(v) for v in products.values()} <= marked[1]  # products first
    assert not {os.path.basename(v) for v in products.values()} & marked[0]
    assert rec["applied"] and rec["caltables"] == p.tables()


def test_a_run_that_broke_off_in_applycal_is_applied_again_by_the_rerun(tmp_path, quiet_skeleton):
    args = TASK_ARGS | {"vis": _vis(tmp_path)}
    fake = FakeCasa(ms_info(args["vis"]))

    def fail():
        raise RuntimeError("applycal failed")

    fake.on_applycal = fail
    with pytest.raises(RuntimeError, match="applycal failed"):
        run_task(B2BTask(fake, FakeLog()), args)
    assert len(_gaincals(fake)) == 4  # the failure came after the solutions
    # no product; the HISTORY says a run began applying and did not finish
    assert os.listdir(tmp_path) == ["obs.ms"]
    assert len(fake.history) == 1 and fake.history[0].startswith(IN_PROGRESS)
    fake.on_applycal = lambda: None
    log = FakeLog()
    rec = run_task(B2BTask(fake, log), args)  # no force needed
    assert rec["applied"] and fake.history[2].startswith(HISTORY_MARK)
    warns = [m for p, m in log.lines if p == "WARN" and "did not finish applying" in m]
    assert len(warns) == 1
    # a completed application is refused again unless forced, and nothing is written
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(ValueError, match="already has a B2B transfer applied"):
        run_task(B2BTask(fake, FakeLog()), args | {"overwrite": True})
    assert sorted(os.listdir(tmp_path)) == listing


def test_plan_mode_reads_and_writes_nothing(tmp_path, quiet_skeleton):
    fake = FakeCasa(ms_info(""))
    log = FakeLog()
    rec = run_task(
        B2BTask(fake, log),
        TASK_ARGS | {"mode": "plan", "maxbaseline": 15.0, "sepinband": 3.0, "sepb2b": 0.8},
    )
    assert rec["mode"] == "plan" and rec["plan"]["choice"] == "b2b"
    assert fake.made == [] and os.listdir(tmp_path) == []
    assert log.lines[0][1].startswith("Plan: b2b.")


def test_offset_solutions_and_the_recorded_calls_are_exact(tmp_path):
    p, fake, tables, result = _transfer(tmp_path)
    g = _gaincals(fake)
    common = {k: g[0][k] for k in ("vis", "refant", "minsnr", "gaintype", "calmode")}
    for kw, first in zip(g[2:], (True, False), strict=True):
        # one band offset per block: all its high scans in one solution, through the
        # scaled low phases interpolated linearly
        assert {k: v for k, v in kw.items() if k not in ("scan",)} == {
            "caltable": tables["dgc_offset"],
            "field": "DGC",
            "spw": "2,3",
            "solint": "inf",
            "combine": "scan",
            "gaintable": [tables["dgc_low_scaled"]],
            "interp": ["linear"],
            "append": not first,
            **common,
        }
    # the record: the calls as made, every staged table name replaced by its final one
    final = {tables[k]: v for k, v in p.tables().items()}

    def swap(v):
        return [swap(x) for x in v] if isinstance(v, list) else final.get(v, v)

    made = [(n, {k: swap(v) for k, v in kw.items()}) for n, kw in fake.made if n == "gaincal"]
    assert list(result.casa_calls[:4]) == made
    assert made[1][1]["field"] == "PC"  # not vacuous: names that are not tables stay


def test_scaled_table_rows_keep_the_phase_calibrators_field_and_any_scan(tmp_path):
    _, fake, tables, _ = _transfer(tmp_path)
    pc = fake.tables[tables["phasecal_scaled"]]
    assert set(pc.field.tolist()) == set(fake.tables[tables["phasecal"]].field.tolist())
    assert set(pc.scan.tolist()) == {-1}  # CASA: a row valid for every scan


def test_diagnostics_elevations_are_the_means_over_each_fields_scans(tmp_path):
    from almacal.b2b.geometry import alt_az

    _, fake, _, result = _transfer(tmp_path)
    st, d, info = result.structure, result.diagnostics, fake.info
    for name, scans, got in (
        ("DGC", st.dgc_low_scans + st.dgc_high_scans, d.elevation_dgc_deg),
        ("TGT", st.target_scans, d.elevation_target_deg),
    ):
        t = np.concatenate([info.scan_times[s] for s in scans])
        ra, dec = info.fields[info.field_names.index(name)].radec_deg
        assert got == pytest.approx(np.degrees(np.mean(alt_az(t, ra, dec)[0])), abs=1e-9)
        assert 0 < got < 90  # not vacuous: above the horizon


def test_lowspw_and_blockgap_reach_the_structure(tmp_path):
    with pytest.raises(ValueError, match=r"lowspw=\[0, 9\]"):
        _transfer(tmp_path / "a", lowspw=[0, 9])
    _, _, _, two = _transfer(tmp_path / "b")
    _, _, _, one = _transfer(tmp_path / "c", blockgap=1000.0)
    assert len(two.structure.blocks) == 2 and len(one.structure.blocks) == 1


def test_casa_seconds_count_the_applycal_that_runs_last(tmp_path, quiet_skeleton):
    import time

    args = TASK_ARGS | {"vis": _vis(tmp_path)}
    json_path = B2BParams.from_task_args(**args).products()["json"]
    fake = FakeCasa(ms_info(args["vis"]))
    fake.on_applycal = lambda: time.sleep(0.05)
    t0 = time.perf_counter()
    rec = run_task(B2BTask(fake, FakeLog()), args)
    wall = time.perf_counter() - t0
    # the 50 ms applycal is in, and the total is no more than the run's wall time
    assert 0.05 <= rec["casa_seconds"] <= wall
    with open(json_path, encoding="utf-8") as fh:
        assert json.load(fh)["casa_seconds"] == rec["casa_seconds"]


def test_without_doapply_the_products_are_written_and_the_ms_is_left_alone(
    tmp_path, quiet_skeleton
):
    args = TASK_ARGS | {"vis": _vis(tmp_path), "doapply": False}
    p = B2BParams.from_task_args(**args)
    fake = FakeCasa(ms_info(p.vis))
    products = B2BTask(fake, FakeLog()).products(p)
    # another run holds the MS: not applying, this run does not need it
    with outputs.claimed([p.vis]):
        rec = run_task(B2BTask(fake, FakeLog()), args)
    assert not rec["applied"] and fake.history == []
    assert "applycal" not in [name for name, _ in fake.made]
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["obs.ms", *(os.path.basename(v) for v in products.values())]
    )
    with open(products["json"], encoding="utf-8") as fh:
        assert json.load(fh) == json.loads(json.dumps(json_safe(rec)))
    assert os.path.getsize(products["html"]) > 0 and os.path.getsize(products["ecsv"]) > 0


def test_applying_claims_the_ms_before_any_casa_call(tmp_path, quiet_skeleton):
    args = TASK_ARGS | {"vis": _vis(tmp_path)}
    fake = FakeCasa(ms_info(args["vis"]))
    with outputs.claimed([args["vis"]]), pytest.raises(outputs.OutputBusyError, match="obs.ms"):
        run_task(B2BTask(fake, FakeLog()), args)
    assert not _gaincals(fake) and fake.history == []
