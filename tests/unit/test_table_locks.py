"""The bounded wait for table locks (almacal.io.tables), against a process holding an
fcntl lock on byte 0 of table.lock the way casacore does; no casatools needed."""

from __future__ import annotations

import os
import time

import pytest

from almacal.io import tables
from almacal.io.tables import TableLockedError, lock_holder, wait_unlocked
from tests.fsutil import fcntl_holder
from tests.unit.fake_log import FakeLog

BOUND_S = 1.5  # a short bound for the tests; the default is tables.LOCK_WAIT_S


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(tables, "LOCK_WAIT_S", BOUND_S)
    log = FakeLog()
    monkeypatch.setattr(tables, "casalog", log)
    return log


def _table(path):
    path.mkdir(parents=True)
    (path / "table.dat").write_text("")
    (path / "table.lock").write_text("")
    return str(path)


def test_the_default_bound_is_stated():
    assert tables.LOCK_WAIT_S == 30.0


def test_a_write_lock_of_another_process_is_waited_for_then_named(tmp_path, quick):
    ms = _table(tmp_path / "a.ms")
    with fcntl_holder(os.path.join(ms, "table.lock"), "write") as pid:
        assert lock_holder(os.path.join(ms, "table.lock"), write=False) == pid
        t0 = time.monotonic()
        with pytest.raises(TableLockedError) as err:
            wait_unlocked(ms)
        waited = time.monotonic() - t0
    # the bound, plus one poll interval of slack
    assert BOUND_S <= waited < BOUND_S + 1.0
    msg = str(err.value)
    assert f"vis {ms!r} is locked by another process (pid {pid})" in msg
    assert "close it in that process" in msg and "LOCK_WAIT_S" in msg
    assert [p for p, m in quick.lines] == ["WARN"] and "waiting up to 1.5 s" in quick.lines[0][1]
    wait_unlocked(ms)  # free again once the holder is gone


def test_readers_share_a_read_lock_but_a_writer_waits_for_it(tmp_path, quick):
    ms = _table(tmp_path / "a.ms")
    with fcntl_holder(os.path.join(ms, "table.lock"), "read") as pid:
        wait_unlocked(ms)  # reading: no conflict, no wait
        assert quick.lines == []
        with pytest.raises(TableLockedError, match=f"pid {pid}"):
            wait_unlocked(ms, write=True)


def test_a_locked_subtable_names_the_ms_and_the_subtable(tmp_path, quick):
    ms = _table(tmp_path / "a.ms")
    history = _table(tmp_path / "a.ms" / "HISTORY")
    with fcntl_holder(os.path.join(history, "table.lock"), "write"):
        wait_unlocked(ms)  # the main table alone is free
        with pytest.raises(TableLockedError, match=r"vis '.*a.ms' \(HISTORY table\) is locked"):
            wait_unlocked(ms, subtables=True)
        with pytest.raises(TableLockedError, match=r"caltable '.*a.ms' \(HISTORY table\)"):
            wait_unlocked(history, param="caltable")


def test_a_lock_released_within_the_bound_is_no_error(tmp_path, quick):
    ms = _table(tmp_path / "a.ms")
    with fcntl_holder(os.path.join(ms, "table.lock"), "write"):
        pass
    wait_unlocked(ms, write=True)
    assert lock_holder(str(tmp_path / "none" / "table.lock"), write=True) is None  # no file


def test_casatasks_calls_wait_for_the_locks_of_their_vis(tmp_path, quick, monkeypatch):
    ms = _table(tmp_path / "a.ms")
    calls = []

    class FakeTasks:
        casalog = object()

        def applycal(self, **kw):
            calls.append(("applycal", kw))

        def split(self, **kw):
            calls.append(("split", kw))

    monkeypatch.setitem(__import__("sys").modules, "casatasks", FakeTasks())
    with fcntl_holder(os.path.join(ms, "table.lock"), "read"):
        tables.casatasks().split(vis=ms, outputvis="x")  # reads: shares the lock
        with pytest.raises(TableLockedError, match="vis"):
            tables.casatasks().applycal(vis=ms)  # writes: waits, then refuses
    assert [c[0] for c in calls] == ["split"]
    assert tables.casatasks().casalog is FakeTasks.casalog  # other attributes pass through
