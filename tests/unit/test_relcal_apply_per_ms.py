"""relcal_apply's steps per MS, what they say, and what they return (fake CASA calls).

Two MSs that differ (one has CORRECTED_DATA, one was rescaled before) show that each
MS's own metadata and HISTORY are read; the log lines a user reads to check the plan
carry the factor, the weight factor and the destination of each MS.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.msinfo import MsInfo
from almacal.relcal.apply import RelcalApplyTask
from almacal.relcal.rescale_plan import HISTORY_MARK
from tests.unit.test_relcal_apply_steps import task_args


class PerMsCalls:
    """Fake CASA calls whose MSs each have their own columns and HISTORY."""

    def __init__(self, columns: dict[str, tuple[str, ...]], history: dict[str, list[str]]):
        self.columns, self.history = columns, history
        self.log: list[tuple] = []
        self.posts: list[str] = []

    def read_info(self, vis):
        self.log.append(("read_info", vis))
        return MsInfo(
            path=vis,
            fields=(),
            spws=(),
            ddid_spw=np.zeros(0, int),
            ddid_pol=np.zeros(0, int),
            corr_types=(),
            columns=frozenset(self.columns[vis]),
            has_weight_spectrum=False,
            start_mjd_s=0.0,
        )

    def history_messages(self, vis):
        self.log.append(("history_messages", vis))
        return self.history.get(vis, [])

    def split_column(self, vis, outputvis, column):
        self.log.append(("split", vis, outputvis, column))
        os.mkdir(outputvis)

    def make_amp_table(self, vis, caltable, gain):
        self.log.append(("gencal", vis, caltable, gain))
        os.mkdir(caltable)

    def apply_table(self, vis, caltable):
        self.log.append(("applycal", vis, caltable))

    def write_history(self, vis, messages, origin):
        self.log.append(("history", vis, tuple(messages), origin))

    def post(self, message, priority="INFO"):
        self.posts.append(message)


class _NoLog:
    def origin(self, name):
        pass

    def post(self, *args):
        pass


@pytest.fixture
def two_ms(tmp_path):
    out = []
    for name in ("a.ms", "b.ms"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "table.dat").write_text("")
        # inplace mode probes HISTORY writable before any work
        (tmp_path / name / "HISTORY").mkdir()
        (tmp_path / name / "HISTORY" / "table.dat").write_text("")
        out.append(str(tmp_path / name))
    return out


def _args(vis, **kw):
    return task_args(vis, factor=[1.25, 0.8][: len(vis)], **kw)


def _run(calls, args, monkeypatch):
    monkeypatch.setattr("almacal.casatask.skeleton.casalog", _NoLog())
    return run_task(RelcalApplyTask(calls), args)


def test_each_ms_is_checked_with_its_own_columns_and_history(two_ms, monkeypatch):
    a, b = two_ms
    calls = PerMsCalls({a: ("DATA", "CORRECTED_DATA"), b: ("DATA",)}, {})
    rec = _run(calls, _args(two_ms), monkeypatch)
    assert [e for e in calls.log if e[0] in ("read_info", "history_messages")] == [
        ("read_info", a),
        ("history_messages", a),
        ("read_info", b),
        ("history_messages", b),
    ]
    # datacolumn='auto': CORRECTED_DATA where there is one, else DATA; split from it
    assert [r["datacolumn"] for r in rec["rescale"]] == ["CORRECTED_DATA", "DATA"]
    splits = [e for e in calls.log if e[0] == "split"]
    assert [(s[1], s[3]) for s in splits] == [(a, "CORRECTED_DATA"), (b, "DATA")]
    assert rec["mode"] == "split" and rec["dryrun"] is False and rec["applied"] is True
    assert set(rec) == {"mode", "dryrun", "applied", "rescale", "factorrange"}
    # HISTORY: the rescale line, then every parameter as casatasks write them
    (hist_a, hist_b) = [e for e in calls.log if e[0] == "history"]
    assert hist_a[2][0].startswith(f"{HISTORY_MARK} amplitudes multiplied by factor=1.25 ")
    assert hist_b[2][0].startswith(f"{HISTORY_MARK} amplitudes multiplied by factor=0.8 ")
    assert hist_a[2][1:] == hist_b[2][1:] and hist_a[2][1] == f"vis         = {two_ms!r}"
    assert len(hist_a[2]) == 1 + len(_args(two_ms)) and hist_a[3] == "relcal_apply"


def test_only_the_ms_rescaled_before_is_refused(two_ms, monkeypatch):
    a, b = two_ms
    before = f"{HISTORY_MARK} amplitudes multiplied by factor=1.1"
    calls = PerMsCalls({a: ("DATA",), b: ("DATA",)}, {b: ["other task", before]})
    with pytest.raises(ValueError, match=rf"vis {b} was already rescaled \({before}\)"):
        _run(calls, _args(two_ms), monkeypatch)
    inplace = PerMsCalls({a: ("DATA",), b: ("DATA", "CORRECTED_DATA")}, {})
    with pytest.raises(ValueError, match=rf"vis {b} already has CORRECTED_DATA"):
        _run(inplace, _args(two_ms, mode="inplace"), monkeypatch)


def test_plan_and_report_lines_say_what_happens_to_each_ms(two_ms, tmp_path, monkeypatch):
    a, b = two_ms
    calls = PerMsCalls({a: ("DATA",), b: ("DATA",)}, {})
    _run(calls, _args(two_ms), monkeypatch)
    out_a, out_b = str(tmp_path / "a.rescaled.ms"), str(tmp_path / "b.rescaled.ms")
    cal_a, cal_b = str(tmp_path / "a.rescaled.relcal.amp"), str(tmp_path / "b.rescaled.relcal.amp")
    assert calls.posts == [
        f"Rescaling {a}: amplitudes x 1.250000, weights x 0.640000 -> {out_a} (caltable {cal_a})",
        f"Rescaling {b}: amplitudes x 0.800000, weights x 1.562500 -> {out_b} (caltable {cal_b})",
        f"rescaled 2 MS (split): {out_a}, {out_b}",
    ]


def test_dry_run_plans_every_ms_and_inplace_names_the_column(two_ms, tmp_path, monkeypatch):
    a, b = two_ms
    calls = PerMsCalls({a: ("DATA",), b: ("DATA",)}, {})
    rec = _run(calls, _args(two_ms, mode="inplace", dryrun=True), monkeypatch)
    cal_a, cal_b = str(tmp_path / "a.relcal.amp"), str(tmp_path / "b.relcal.amp")
    assert calls.posts == [
        f"Would rescale {a}: amplitudes x 1.250000, weights x 0.640000 -> {a} CORRECTED_DATA "
        f"(caltable {cal_a})",
        f"Would rescale {b}: amplitudes x 0.800000, weights x 1.562500 -> {b} CORRECTED_DATA "
        f"(caltable {cal_b})",
        f"would rescale 2 MS (inplace): {a}, {b}",
    ]
    assert rec["mode"] == "inplace" and rec["dryrun"] is True and rec["applied"] is False
    assert not [e for e in calls.log if e[0] not in ("read_info", "history_messages")]


def test_overwrite_and_parameter_names(two_ms, tmp_path, monkeypatch):
    a, b = two_ms
    (tmp_path / "a.rescaled.ms").mkdir()  # an earlier run's product
    (tmp_path / "a.rescaled.ms" / "old").write_text("")
    with pytest.raises(FileExistsError, match="outputvis .*a.rescaled.ms' exists"):
        _run(PerMsCalls({a: ("DATA",), b: ("DATA",)}, {}), _args(two_ms), monkeypatch)
    calls = PerMsCalls({a: ("DATA",), b: ("DATA",)}, {})
    rec = _run(calls, _args(two_ms, overwrite=True), monkeypatch)
    assert rec["applied"] and os.listdir(tmp_path / "a.rescaled.ms") == []  # replaced
    with pytest.raises(ValueError, match="datacolumn='model' is invalid: expected one of auto"):
        _run(PerMsCalls({}, {}), _args(two_ms, datacolumn="model"), monkeypatch)
