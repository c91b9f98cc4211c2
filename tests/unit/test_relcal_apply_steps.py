"""relcal_apply's steps with fake CASA calls: the order of the work, staging, refusals."""

from __future__ import annotations

import os

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.msinfo import MsInfo
from almacal.relcal.apply import RelcalApplyTask
from almacal.relcal.rescale_plan import HISTORY_MARK


class FakeCalls:
    """Records each CASA step; split and gencal create their product directories."""

    def __init__(self, columns=("DATA",), history=(), fail_on=""):
        self.columns = frozenset(columns)
        self.history = list(history)
        self.fail_on = fail_on
        self.log: list[tuple[str, ...]] = []

    def read_info(self, vis):
        return MsInfo(
            path=vis,
            fields=(),
            spws=(),
            ddid_spw=np.zeros(0, int),
            ddid_pol=np.zeros(0, int),
            corr_types=(),
            columns=self.columns,
            has_weight_spectrum=False,
            start_mjd_s=0.0,
        )

    def history_messages(self, vis):
        return self.history

    def _step(self, name, *args):
        if name == self.fail_on:
            raise RuntimeError(f"{name} failed")
        self.log.append((name, *args))

    def split_column(self, vis, outputvis, column):
        self._step("split", vis, outputvis, column)
        os.mkdir(outputvis)

    def make_amp_table(self, vis, caltable, gain):
        self._step("gencal", vis, caltable, gain)
        os.mkdir(caltable)

    def apply_table(self, vis, caltable):
        self._step("applycal", vis, caltable)

    def write_history(self, vis, messages, origin):
        self._step("history", vis, messages[0], origin)

    def post(self, message):
        pass


def _ms(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    (path / "table.dat").write_text("")
    return str(path)


def _args(vis, **kw):
    base = dict(
        vis=vis,
        factor=[1.25] * len(vis),
        factorfile="",
        mode="split",
        outputvis=[],
        datacolumn="auto",
        caltable=[],
        force=False,
        dryrun=False,
        overwrite=False,
        outfile="",
    )
    return base | kw


def _run(calls, args, monkeypatch):
    # run_task sets casalog's origin; the fake run needs no CASA logger
    monkeypatch.setattr("almacal.casatask.skeleton.casalog", _NoLog())
    return run_task(RelcalApplyTask(calls), args)


class _NoLog:
    def origin(self, name):
        pass

    def post(self, *args):
        pass


def test_split_mode_works_on_staged_copies_then_renames(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms"), _ms(tmp_path, "b.ms")]
    calls = FakeCalls()
    rec = _run(calls, _args(vis), monkeypatch)
    steps = [s[0] for s in calls.log]
    assert steps == ["split", "gencal", "split", "gencal"] + ["applycal", "history"] * 2
    split_a, gencal_a = calls.log[0], calls.log[1]
    assert split_a[1] == vis[0] and ".tmp" in split_a[2]  # written under a staged name
    assert gencal_a[1] == split_a[2] and gencal_a[3] == pytest.approx(1 / np.sqrt(1.25))
    assert calls.log[4][1:] == (split_a[2], gencal_a[2])  # applied to the copy, not to vis
    assert calls.log[5][2].startswith(HISTORY_MARK) and calls.log[5][3] == "relcal_apply"
    assert sorted(os.listdir(tmp_path)) == [
        "a.ms",
        "a.rescaled.ms",
        "a.rescaled.relcal.amp",
        "a.rescaled.relcal_apply.html",  # the run's report and record, beside its first output
        "a.rescaled.relcal_apply.json",
        "b.ms",
        "b.rescaled.ms",
        "b.rescaled.relcal.amp",
    ]
    assert rec["applied"] and [r["datacolumn"] for r in rec["rescale"]] == ["DATA", "DATA"]
    assert rec["rescale"][1]["outputvis"] == str(tmp_path / "b.rescaled.ms")


def test_inplace_changes_the_ms_only_after_every_caltable(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms"), _ms(tmp_path, "b.ms")]
    calls = FakeCalls()
    _run(calls, _args(vis, mode="inplace"), monkeypatch)
    assert [s[0] for s in calls.log] == ["gencal", "gencal"] + ["applycal", "history"] * 2
    assert [s[1] for s in calls.log[2:]] == [vis[0], vis[0], vis[1], vis[1]]
    assert os.path.isdir(tmp_path / "a.relcal.amp") and os.path.isdir(tmp_path / "b.relcal.amp")


def test_a_failed_step_leaves_no_product(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms")]
    with pytest.raises(RuntimeError, match="applycal failed"):
        _run(FakeCalls(fail_on="applycal"), _args(vis), monkeypatch)
    assert os.listdir(tmp_path) == ["a.ms"]


def test_dryrun_and_refusals_do_no_work(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms")]
    calls = FakeCalls()
    rec = _run(calls, _args(vis, dryrun=True), monkeypatch)
    assert calls.log == [] and not rec["applied"] and rec["rescale"][0]["factor"] == 1.25
    again = FakeCalls(history=[f"{HISTORY_MARK} amplitudes multiplied by factor=1.1"])
    with pytest.raises(ValueError, match="already rescaled .*force=True"):
        _run(again, _args(vis), monkeypatch)
    with pytest.raises(ValueError, match="already has CORRECTED_DATA"):
        _run(FakeCalls(columns=("DATA", "CORRECTED_DATA")), _args(vis, mode="inplace"), monkeypatch)
    with pytest.raises(ValueError, match="datacolumn='corrected' but"):
        _run(FakeCalls(), _args(vis, datacolumn="corrected"), monkeypatch)
    with pytest.raises(ValueError, match="mode='sideways' is invalid"):
        _run(FakeCalls(), _args(vis, mode="sideways"), monkeypatch)
    assert os.listdir(tmp_path) == ["a.ms"]
    forced = FakeCalls(history=again.history)
    _run(forced, _args(vis, force=True), monkeypatch)
    assert [s[0] for s in forced.log] == ["split", "gencal", "applycal", "history"]
