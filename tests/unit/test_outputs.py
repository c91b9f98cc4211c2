"""Task outputs appear all together or not at all, and their JSON is strict."""

import json
import math
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from almacal.outputs import (
    OutputBusyError,
    claim_name,
    claimed,
    json_safe,
    staged,
    temporary_name,
    write_json,
)
from tests.unit.fake_log import FakeLog


def test_staged_files_appear_only_when_all_are_written(tmp_path):
    paths = {"a": str(tmp_path / "x.json"), "b": str(tmp_path / "x.png")}
    (tmp_path / "x.png").write_text("old")
    with staged(paths) as tmp:
        assert set(tmp) == set(paths)
        for key, path in paths.items():  # writers pick the format from the extension
            assert os.path.splitext(tmp[key])[1] == os.path.splitext(path)[1]
        for t in tmp.values():
            with open(t, "w") as fh:
                fh.write("new")
        assert (tmp_path / "x.png").read_text() == "old"  # not replaced before the end
    assert (tmp_path / "x.json").read_text() == (tmp_path / "x.png").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.png"]


def test_a_failure_keeps_the_old_products_and_leaves_no_temporaries(tmp_path):
    paths = {"a": str(tmp_path / "x.json"), "b": str(tmp_path / "x.png")}
    (tmp_path / "x.png").write_text("old")
    with pytest.raises(RuntimeError, match="plot failed"), staged(paths) as tmp:
        with open(tmp["a"], "w") as fh:
            fh.write("new")
        raise RuntimeError("plot failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
    assert (tmp_path / "x.png").read_text() == "old"


def test_json_is_strict_and_plain(tmp_path):
    record = {"f": np.float64(1.5), "nan": math.nan, "a": np.array([1.0, np.inf]), "t": (1, 2)}
    assert json_safe(record) == {"f": 1.5, "nan": None, "a": [1.0, None], "t": [1, 2]}
    write_json(str(tmp_path / "r.json"), record)
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["a"] == [1.0, None]


def test_task_figures_leave_the_users_matplotlib_alone():
    # a task runs in the user's CASA session: no backend switch, no pyplot figures
    import pathlib

    src = pathlib.Path(__file__).resolve().parents[2] / "src" / "almacal"
    offenders = [
        str(p)
        for p in src.rglob("*.py")
        if "matplotlib.use(" in p.read_text() or "import matplotlib.pyplot" in p.read_text()
    ]
    assert offenders == []


@pytest.fixture
def log(monkeypatch):
    from almacal import outputs

    fake = FakeLog()
    monkeypatch.setattr(outputs, "casalog", fake)
    return fake


STAGE_AND_WAIT = """
import os, sys
from almacal.outputs import staged
with staged({"a": sys.argv[1]}) as tmp:
    with open(tmp["a"], "w") as fh:
        fh.write("partial")
    print("staged", os.getpid(), flush=True)
    sys.stdin.read()
"""


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def _stager(path):
    proc = subprocess.Popen(
        [sys.executable, "-c", STAGE_AND_WAIT, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().split()
    assert line[0] == "staged", line
    return proc


def test_a_second_run_writing_the_same_output_fails_at_once(tmp_path, log):
    path = str(tmp_path / "x.json")
    proc = _stager(path)
    try:
        t0 = time.monotonic()
        with pytest.raises(
            OutputBusyError, match=rf"x.json' is in use by another almacal run \(pid {proc.pid} "
        ):
            with staged({"a": path}):
                pytest.fail("entered while the other run holds the claim")
        assert time.monotonic() - t0 < 1.0  # refused at once, not after a wait
    finally:
        proc.communicate(timeout=30)  # closes its stdin: it leaves staged and ends
    assert proc.returncode == 0
    assert (tmp_path / "x.json").read_text() == "partial"  # the first run won
    with staged({"a": path}) as tmp:  # its claim is gone with it
        _write(tmp["a"], "second")
    assert sorted(os.listdir(tmp_path)) == ["x.json"]  # no claim file left behind


def test_of_two_racing_processes_exactly_one_wins(tmp_path):
    path = str(tmp_path / "out.ms")
    race = f"""
import sys, time
from almacal.outputs import OutputBusyError, claimed
time.sleep(max(0.0, {time.time() + 2.0} - time.time()))
try:
    with claimed([sys.argv[1]]):
        time.sleep(1.5)
    print("won")
except OutputBusyError:
    print("refused")
"""
    procs = [
        subprocess.Popen([sys.executable, "-c", race, path], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["refused", "won"]


def test_threads_of_one_process_are_refused_too(tmp_path):
    path = str(tmp_path / "x.json")
    entered, release = threading.Event(), threading.Event()

    def hold():
        with claimed([path]):
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert entered.wait(10)
        with pytest.raises(OutputBusyError, match="another almacal run in this process"):
            with claimed([path]):
                pass
    finally:
        release.set()
        t.join()
    with claimed([path]):
        pass


def test_a_killed_run_leaves_nothing_that_blocks_or_stays(tmp_path, log):
    path = str(tmp_path / "x.ms")
    proc = _stager(path)
    killed_tmp = temporary_name(path, pid=proc.pid)
    assert os.path.exists(killed_tmp) and os.path.exists(claim_name(path))
    proc.kill()
    proc.communicate(timeout=30)
    (tmp_path / "keep").mkdir()
    alive_tmp = temporary_name(path, pid=os.getppid())  # a running process's: kept
    os.mkdir(alive_tmp)
    with staged({"a": path}) as tmp:
        os.mkdir(tmp["a"])
    assert not os.path.exists(killed_tmp) and os.path.isdir(alive_tmp)
    assert sorted(os.listdir(tmp_path)) == sorted(["keep", "x.ms", os.path.basename(alive_tmp)])
    removed = [m for p, m in log.lines if "Removed" in m]
    assert len(removed) == 1 and killed_tmp in removed[0] and f"process {proc.pid}" in removed[0]


def test_commit_renames_some_products_early_and_a_failure_keeps_them(tmp_path, log):
    paths = {"cal": str(tmp_path / "a.amp"), "json": str(tmp_path / "a.json")}
    with pytest.raises(RuntimeError, match="later"), staged(paths) as tmp:
        for t in tmp.values():
            _write(t, "new")
        tmp.commit(["cal"])
        assert (tmp_path / "a.amp").read_text() == "new"
        raise RuntimeError("later step failed")
    assert sorted(os.listdir(tmp_path)) == ["a.amp"]


def test_modified_inputs_are_claimed_too(tmp_path):
    ms = str(tmp_path / "in.ms")
    with staged({}, modifies=[ms]):
        assert os.path.exists(claim_name(ms))
        with pytest.raises(OutputBusyError, match="in.ms"):
            with staged({}, modifies=[ms]):
                pass
    assert os.listdir(tmp_path) == []


def test_an_unwritable_directory_fails_before_the_run(tmp_path):
    from tests.fsutil import read_only

    out = tmp_path / "ro"
    out.mkdir()
    with read_only(str(out)), pytest.raises(PermissionError, match="cannot write in .*ro'"):
        with staged({"a": str(out / "x.json")}):
            pytest.fail("entered")
