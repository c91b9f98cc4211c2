"""relcal_apply's steps with fake CASA calls: the order of the work, staging, refusals."""

from __future__ import annotations

import os

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.msinfo import MsInfo
from almacal.relcal.apply import RelcalApplyTask
from almacal.relcal.rescale_plan import HISTORY_MARK, IN_PROGRESS


class FakeCalls:
    """Records each CASA step; split and gencal create their product directories.

    fail_on: a step name ('applycal'), or (step name, vis) to fail on one MS only.
    """

    def __init__(self, columns=("DATA",), history=(), fail_on=""):
        self.columns = frozenset(columns)
        self.history = list(history)
        self.fail_on = fail_on
        self.log: list[tuple[str, ...]] = []
        self.posts: list[tuple[str, str]] = []

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
        if self.fail_on in (name, (name, args[0])):
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
        in_progress = messages[0].startswith(IN_PROGRESS)
        self._step("mark" if in_progress else "history", vis, messages[0], origin)

    def post(self, message, priority="INFO"):
        self.posts.append((priority, message))


def _ms(tmp_path, name):
    path = tmp_path / name
    (path / "HISTORY").mkdir(parents=True)
    (path / "table.dat").write_text("")
    return str(path)


def task_args(vis, **kw):
    """relcal_apply's arguments: its XML defaults (the one definition, so a new parameter
    needs no edit here), vis, a factor per MS, and kw."""
    return load_spec("relcal_apply").defaults() | {"vis": vis, "factor": [1.25] * len(vis)} | kw


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
    rec = _run(calls, task_args(vis), monkeypatch)
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
    in_place = []  # is a.ms's caltable final when b.ms is applied?
    apply = calls.apply_table
    calls.apply_table = lambda v, c: (
        in_place.append(os.path.isdir(tmp_path / "a.relcal.amp")),
        apply(v, c),
    )
    _run(calls, task_args(vis, mode="inplace"), monkeypatch)
    assert [s[0] for s in calls.log] == ["gencal", "gencal"] + ["mark", "applycal", "history"] * 2
    assert [s[1] for s in calls.log[2:]] == [vis[0]] * 3 + [vis[1]] * 3
    assert in_place == [False, True]  # committed per MS, after its HISTORY
    assert os.path.isdir(tmp_path / "a.relcal.amp") and os.path.isdir(tmp_path / "b.relcal.amp")


@pytest.mark.parametrize(
    ("fail_on", "b_state"), [("applycal", "interrupted"), ("mark", "it was not touched")]
)
def test_inplace_failure_on_a_later_ms_leaves_each_ms_untouched_or_complete(
    tmp_path, monkeypatch, fail_on, b_state
):
    vis = [_ms(tmp_path, n) for n in ("a.ms", "b.ms", "c.ms")]
    calls = FakeCalls(fail_on=(fail_on, vis[1]))
    with pytest.raises(RuntimeError, match=f"{fail_on} failed"):
        _run(calls, task_args(vis, mode="inplace"), monkeypatch)
    by_ms = {v: [s[0] for s in calls.log[3:] if s[1] == v] for v in vis}
    assert by_ms[vis[0]] == ["mark", "applycal", "history"]  # complete, with its caltable
    assert os.path.isdir(tmp_path / "a.relcal.amp")
    assert by_ms[vis[1]] == (["mark"] if fail_on == "applycal" else [])
    assert by_ms[vis[2]] == []  # never touched
    assert sorted(os.listdir(tmp_path)) == ["a.ms", "a.relcal.amp", "b.ms", "c.ms"]
    severe = [m for p, m in calls.posts if p == "SEVERE"]
    assert len(severe) == 1 and b_state in severe[0] and f"Not touched: {vis[2]}" in severe[0]
    assert f"HISTORY: {vis[0]}." in severe[0]


def test_a_failed_step_leaves_no_product(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms")]
    with pytest.raises(RuntimeError, match="applycal failed"):
        _run(FakeCalls(fail_on="applycal"), task_args(vis), monkeypatch)
    assert os.listdir(tmp_path) == ["a.ms"]


def test_dryrun_and_refusals_do_no_work(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms")]
    calls = FakeCalls()
    rec = _run(calls, task_args(vis, dryrun=True), monkeypatch)
    assert calls.log == [] and not rec["applied"] and rec["rescale"][0]["factor"] == 1.25
    again = FakeCalls(history=[f"{HISTORY_MARK} amplitudes multiplied by factor=1.1"])
    with pytest.raises(ValueError, match="already rescaled .*force=True"):
        _run(again, task_args(vis), monkeypatch)
    with pytest.raises(ValueError, match="already has CORRECTED_DATA"):
        _run(
            FakeCalls(columns=("DATA", "CORRECTED_DATA")),
            task_args(vis, mode="inplace"),
            monkeypatch,
        )
    with pytest.raises(ValueError, match="datacolumn='corrected' but"):
        _run(FakeCalls(), task_args(vis, datacolumn="corrected"), monkeypatch)
    with pytest.raises(ValueError, match="mode='sideways' is invalid"):
        _run(FakeCalls(), task_args(vis, mode="sideways"), monkeypatch)
    assert os.listdir(tmp_path) == ["a.ms"]
    forced = FakeCalls(history=again.history)
    _run(forced, task_args(vis, force=True), monkeypatch)
    assert [s[0] for s in forced.log] == ["split", "gencal", "applycal", "history"]


def test_an_interrupted_inplace_rescaling_is_refused_with_its_state(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms")]
    broken = FakeCalls(fail_on="applycal")
    with pytest.raises(RuntimeError):
        _run(broken, task_args(vis, mode="inplace"), monkeypatch)
    mark = broken.log[-1][2]
    assert mark.startswith(IN_PROGRESS) and f"pid {os.getpid()}" in mark
    again = FakeCalls(history=[mark])
    with pytest.raises(ValueError, match="was interrupted while rescaling .*restore it"):
        _run(again, task_args(vis), monkeypatch)
    assert again.log == []


def test_factors_outside_factorrange_need_force_and_absurd_ones_are_refused(tmp_path, monkeypatch):
    vis = [_ms(tmp_path, "a.ms")]
    with pytest.raises(
        ValueError, match=r"factor for .*a.ms is 2.5, outside factorrange=\[0.5, 2\]"
    ):
        _run(FakeCalls(), task_args(vis, factor=[2.5]), monkeypatch)
    assert _run(
        FakeCalls(), task_args(vis, factor=[2.5], factorrange=[0.4, 3.0], dryrun=True), monkeypatch
    )
    forced = FakeCalls()
    rec = _run(forced, task_args(vis, factor=[2.5], force=True), monkeypatch)
    assert rec["applied"] and rec["factorrange"] == [0.5, 2.0]
    assert any(p == "WARN" and "applied because force=True" in m for p, m in forced.posts)
    for absurd in (1e30, 1e-30):  # weights x 1e-60 or 1e60: float32 loses them
        # the message gives the limits, lowest first
        with pytest.raises(ValueError, match=r"factors outside 0.001-1000 are refused even with"):
            _run(FakeCalls(), task_args(vis, factor=[absurd], force=True), monkeypatch)
    for bad in ([1.0], [2.0, 1.0], [0.0, 2.0], [0.5, float("inf")]):
        with pytest.raises(ValueError, match="factorrange=.* is invalid"):
            _run(FakeCalls(), task_args(vis, factorrange=bad), monkeypatch)
    assert sorted(os.listdir(tmp_path)) == [
        "a.ms",
        "a.rescaled.ms",
        "a.rescaled.relcal.amp",
        "a.rescaled.relcal_apply.html",
        "a.rescaled.relcal_apply.json",
    ]
