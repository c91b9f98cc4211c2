"""Real-data safety of every task (issue 11, items 6, 7, 9): an MS another process keeps
locked, unwritable outputs and MSs, damaged MSs, two runs racing for one output, a run
killed inside its applycal. Every failing call leaves its input MSs as they were
(hashed before and after) and no product behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import casatools
import pytest

from almacal import (
    b2b_phasetransfer,
    gridflux_check,
    relcal_apply,
    relcal_fit,
    spwconsistency,
)
from almacal.b2b.params import HISTORY_MARK as B2B_MARK
from almacal.b2b.params import IN_PROGRESS as B2B_IN_PROGRESS
from almacal.datasets import simulate_b2b
from almacal.io import tables
from almacal.io.tables import TableLockedError
from almacal.relcal.rescale_plan import HISTORY_MARK, IN_PROGRESS
from almacal.simulate import CALIBRATORS
from tests.casa.msutil import fingerprint, read_columns
from tests.fsutil import read_only

pytestmark = pytest.mark.casa

BOUND_S = 3.0
"""LOCK_WAIT_S for these tests (the default, 30 s, is checked in tests/unit)."""

SLACK_S = 4.0
"""What a failing call may take beyond the bound: reading the MsInfo of the free MSs and
the tasks' start-up, on 2 shared cores."""


@pytest.fixture(scope="module")
def two_epochs(simulated_variant):
    return simulated_variant(n_epoch=2)


@pytest.fixture
def epochs(two_epochs, tmp_path):
    """This test's copies of the two epoch MSs (no CORRECTED_DATA: inplace can use them)."""
    paths = []
    for p in two_epochs.paths:
        dest = str(tmp_path / os.path.basename(p))
        shutil.copytree(p, dest)
        paths.append(dest)
    return paths


@pytest.fixture(scope="module")
def b2b_ms(tmp_path_factory):
    return simulate_b2b(tmp_path_factory.mktemp("b2b_safety"), size="test", seed=2017).path


@pytest.fixture
def quick_locks(monkeypatch):
    monkeypatch.setattr(tables, "LOCK_WAIT_S", BOUND_S)


CASA_HOLDER = textwrap.dedent(
    """
    import sys, casatools
    casatools.logsink().setlogfile(sys.argv[3])
    write = sys.argv[2] == "write"
    tb = casatools.table()
    tb.open(sys.argv[1], nomodify=not write, lockoptions={"option": "user"})
    tb.lock(write=write)
    print("locked", flush=True)
    sys.stdin.read()
    tb.unlock()
    tb.close()
    """
)


class CasaHolder:
    """Another CASA process holding a table lock (write or read) until stop()."""

    def __init__(self, path: str, kind: str, log: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CASA_HOLDER, path, kind, log],
            cwd=os.path.dirname(log),  # casatools writes a casa-*.log where it starts
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.communicate(timeout=60)


@pytest.fixture
def holder(tmp_path):
    held = []

    def hold(path, kind="write"):
        held.append(CasaHolder(path, kind, str(tmp_path.parent / f"holder-{len(held)}.log")))
        return held[-1]

    yield hold
    for h in held:
        h.stop()


def _catalog(tmp_path) -> str:
    path = tmp_path.parent / "catalog.csv"
    path.write_text("source,date,frequency,flux,error\nJ1924-2914,2018-10-13,91.5,3.0,0.1\n")
    return str(path)


def _call(task, vis, others, tmp_path):
    """Run one task on vis (the MS under test) beside others, writing into tmp_path."""
    out = str(tmp_path / "out")
    if task == "relcal_fit":
        return relcal_fit(vis=[vis, *others], field=list(CALIBRATORS), outfile=out)
    if task == "spwconsistency":
        return spwconsistency(vis=[vis, *others], field=list(CALIBRATORS), outfile=out)
    if task == "relcal_apply_split":
        return relcal_apply(vis=[vis], factor=[1.1])
    if task == "relcal_apply_inplace":
        return relcal_apply(vis=[vis], factor=[1.1], mode="inplace")
    if task == "b2b_phasetransfer":
        return b2b_phasetransfer(vis=vis, refant="", outfile=out)
    assert task == "gridflux_check"
    return gridflux_check(vis=[vis], catalog=_catalog(tmp_path), cachedir="", outfile=out)


TASKS = (
    "relcal_fit",
    "relcal_apply_split",
    "relcal_apply_inplace",
    "b2b_phasetransfer",
    "spwconsistency",
    "gridflux_check",
)


@pytest.mark.parametrize("task", TASKS)
def test_a_locked_ms_fails_within_the_bound_naming_vis(task, epochs, tmp_path, holder, quick_locks):
    locked, other = epochs
    h = holder(locked, "write")
    before = [fingerprint(p) for p in epochs]
    listing = sorted(os.listdir(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(TableLockedError) as err:
        _call(task, locked, [other], tmp_path)
    waited = time.monotonic() - t0
    assert BOUND_S <= waited < BOUND_S + SLACK_S, waited
    msg = str(err.value)
    assert msg.startswith(f"vis {locked!r}") and f"another process (pid {h.pid})" in msg
    assert [fingerprint(p) for p in epochs] == before
    assert sorted(os.listdir(tmp_path)) == listing  # no product, no claim left


def test_a_reader_elsewhere_stops_an_inplace_rescaling_before_that_ms_is_touched(
    epochs, tmp_path, holder, quick_locks
):
    """relcal_apply inplace on two MSs, the second one open (read-locked) in another
    process: the first is rescaled completely (CORRECTED_DATA, HISTORY, its caltable),
    the second is left untouched, and the error names it within the bound."""
    first, second = epochs
    h = holder(second, "read")
    before = fingerprint(second)
    with pytest.raises(TableLockedError, match=rf"^vis '{second}' .*pid {h.pid}"):
        relcal_apply(vis=epochs, factor=[1.05, 0.95], mode="inplace")
    assert fingerprint(second) == before
    assert not os.path.exists(second.replace(".ms", ".relcal.amp"))
    assert os.path.isdir(first.replace(".ms", ".relcal.amp"))
    hist = read_columns(first, "MESSAGE", table="HISTORY")["MESSAGE"]
    assert [m for m in hist if m.startswith(HISTORY_MARK)][-1].startswith(
        f"{HISTORY_MARK} amplitudes multiplied by factor=1.05"
    )
    assert _has_corrected(first)
    h.stop()
    # once the reader is gone, the second MS alone is rescaled
    relcal_apply(vis=[second], factor=[0.95], mode="inplace")
    assert _has_corrected(second)


def _has_corrected(path: str) -> bool:
    tb = casatools.table()
    tb.open(path)
    try:
        return "CORRECTED_DATA" in tb.colnames()
    finally:
        tb.close()


def _unwritable_case(case, epochs, b2b_ms, tmp_path):
    """(the call, what to make read-only, the parameter the error must name)."""
    out_dir = tmp_path / "outdir"
    out_dir.mkdir()
    ms = epochs[0]
    cases = {
        "relcal_fit outfile": (
            lambda: relcal_fit(vis=epochs, field=list(CALIBRATORS), outfile=str(out_dir / "r")),
            out_dir,
            "outfile",
        ),
        "spwconsistency outfile": (
            lambda: spwconsistency(vis=epochs, field=list(CALIBRATORS), outfile=str(out_dir / "s")),
            out_dir,
            "outfile",
        ),
        "gridflux_check outfile": (
            lambda: gridflux_check(
                vis=[ms], catalog=_catalog(tmp_path), cachedir="", outfile=str(out_dir / "g")
            ),
            out_dir,
            "outfile",
        ),
        "relcal_apply outputvis": (
            lambda: relcal_apply(vis=[ms], factor=[1.1], outputvis=[str(out_dir / "o.ms")]),
            out_dir,
            "outputvis",
        ),
        "relcal_apply caltable": (
            lambda: relcal_apply(vis=[ms], factor=[1.1], caltable=[str(out_dir / "c.amp")]),
            out_dir,
            "caltable",
        ),
        "relcal_apply inplace vis": (
            lambda: relcal_apply(vis=[ms], factor=[1.1], mode="inplace"),
            ms,
            "vis",
        ),
        "b2b_phasetransfer outfile": (
            lambda: b2b_phasetransfer(vis=b2b_ms, refant="", outfile=str(out_dir / "b")),
            out_dir,
            "outfile",
        ),
        "b2b_phasetransfer vis": (lambda: b2b_phasetransfer(vis=b2b_ms, refant=""), b2b_ms, "vis"),
    }
    return cases[case]


@pytest.mark.parametrize(
    "case",
    [
        "relcal_fit outfile",
        "spwconsistency outfile",
        "gridflux_check outfile",
        "relcal_apply outputvis",
        "relcal_apply caltable",
        "relcal_apply inplace vis",
        "b2b_phasetransfer outfile",
        "b2b_phasetransfer vis",
    ],
)
def test_unwritable_outputs_and_ms_are_refused_before_any_work(case, epochs, b2b_ms, tmp_path):
    call, locked, param = _unwritable_case(case, epochs, b2b_ms, tmp_path)
    inputs = [*epochs, b2b_ms]
    before = [fingerprint(p) for p in inputs]
    listing = sorted(os.listdir(tmp_path)), sorted(os.listdir(os.path.dirname(b2b_ms)))
    t0 = time.monotonic()
    with read_only(str(locked)):
        with pytest.raises(PermissionError) as err:
            call()
    # before any work: MsInfo at most, no fit, no gaincal (those take tens of seconds)
    assert time.monotonic() - t0 < 10.0
    assert str(err.value).startswith(param) and "writ" in str(err.value)
    assert [fingerprint(p) for p in inputs] == before
    assert (sorted(os.listdir(tmp_path)), sorted(os.listdir(os.path.dirname(b2b_ms)))) == listing


def test_a_read_only_ms_is_still_read(epochs, tmp_path):
    with read_only(epochs[0]):
        rec = relcal_apply(vis=[epochs[0]], factor=[1.0], outputvis=[str(tmp_path / "copy.ms")])
    assert rec["applied"] and os.path.isdir(tmp_path / "copy.ms")


def _damage(ms: str, kind: str) -> str:
    """Damage ms the way archive copies get damaged; what was done."""
    if kind == "truncated table.f1":
        path = os.path.join(ms, "table.f1")
    elif kind == "truncated DATA file":
        tb = casatools.table()
        tb.open(ms)
        try:
            seq = next(dm["SEQNR"] for dm in tb.getdminfo().values() if "DATA" in dm["COLUMNS"])
        finally:
            tb.close()
        path = max(
            (os.path.join(ms, f) for f in os.listdir(ms) if f.startswith(f"table.f{seq}")),
            key=os.path.getsize,
        )
    else:
        assert kind == "missing SPECTRAL_WINDOW"
        shutil.rmtree(os.path.join(ms, "SPECTRAL_WINDOW"))
        return kind
    size = os.path.getsize(path)
    assert size > 1000  # guard: a real storage file, cut in half
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    return kind


@pytest.mark.parametrize(
    "kind", ["truncated table.f1", "truncated DATA file", "missing SPECTRAL_WINDOW"]
)
@pytest.mark.parametrize(
    "task",
    ["relcal_fit", "relcal_apply_split", "b2b_phasetransfer", "spwconsistency", "gridflux_check"],
)
def test_a_damaged_ms_is_one_clear_error_naming_vis(task, kind, epochs, tmp_path):
    bad, good = epochs
    _damage(bad, kind)
    before = [fingerprint(p) for p in epochs]
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(ValueError) as err:
        _call(task, bad, [good], tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"vis {bad!r} is not a readable measurement set: "), msg
    # no casatools traceback chained to it
    assert err.value.__cause__ is None
    assert err.value.__context__ is None or err.value.__suppress_context__
    reason = msg.split(": ", 1)[1]
    assert "SPECTRAL_WINDOW" in reason if kind.startswith("missing") else "damaged" in reason
    assert [fingerprint(p) for p in epochs] == before
    assert sorted(os.listdir(tmp_path)) == listing


RACER = textwrap.dedent(
    """
    import sys
    from almacal import relcal_apply
    from almacal.casatask.log import casalog
    casalog.setlogfile(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        relcal_apply(vis=[sys.argv[1]], factor=[1.1], outputvis=[sys.argv[2]], overwrite=True)
        print("success", flush=True)
    except Exception as exc:
        print(type(exc).__name__, exc, flush=True)
    """
)


def test_two_runs_racing_for_one_outputvis_cannot_both_succeed(epochs, tmp_path):
    ms, out = epochs[0], str(tmp_path / "shared.rescaled.ms")
    before = fingerprint(ms)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, ms, out, str(tmp_path.parent / f"racer{k}.log")],
            cwd=tmp_path.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    for p in procs:  # both imported CASA: start them together
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outcomes = sorted(p.communicate(timeout=300)[0].strip() for p in procs)
    assert outcomes[1] == "success", outcomes
    assert (
        outcomes[0].startswith("OutputBusyError")
        and "is in use by another almacal run" in outcomes[0]
    )
    assert fingerprint(ms) == before
    hist = read_columns(out, "MESSAGE", table="HISTORY")["MESSAGE"]
    assert sum(m.startswith(HISTORY_MARK) for m in hist) == 1  # one run's product, whole
    assert sorted(os.listdir(tmp_path)) == sorted(
        [*map(os.path.basename, epochs), "shared.rescaled.ms", "shared.rescaled.relcal.amp"]
        + ["shared.rescaled.relcal_apply.html", "shared.rescaled.relcal_apply.json"]
    )


KILLED_IN_APPLYCAL = textwrap.dedent(
    """
    import os, signal, sys
    from almacal.casatask.log import casalog
    from almacal.io import b2b_calls
    casalog.setlogfile(sys.argv[2])
    real = b2b_calls.applycal

    def applycal_then_killed(vis, **kwargs):
        real(vis, **kwargs)  # CORRECTED_DATA written, then the process dies
        os.kill(os.getpid(), signal.SIGKILL)

    b2b_calls.applycal = applycal_then_killed
    from almacal import b2b_phasetransfer
    b2b_phasetransfer(vis=sys.argv[1], refant="")
    """
)


def test_b2b_killed_in_its_applycal_is_reapplied_cleanly_by_the_next_run(b2b_ms, tmp_path):
    vis = str(tmp_path / os.path.basename(b2b_ms))
    shutil.copytree(b2b_ms, vis)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IN_APPLYCAL, vis, str(tmp_path.parent / "killed.log")],
        cwd=tmp_path.parent,
        timeout=600,
    )
    assert killed.returncode == -9  # SIGKILL: no handler, no finally ran
    hist = read_columns(vis, "MESSAGE", table="HISTORY")["MESSAGE"]
    assert any(m.startswith(B2B_IN_PROGRESS) for m in hist)
    assert not any(m.startswith(B2B_MARK) for m in hist)
    leftovers = [f for f in os.listdir(tmp_path) if f".tmp{killed_pid(hist)}" in f]
    assert leftovers  # guard: the killed run left its temporaries
    rec = b2b_phasetransfer(vis=vis, refant="")  # no force: the earlier run never finished
    assert rec["applied"]
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f or f.endswith(".almacal-claim")]
    assert all(os.path.exists(p) for p in rec["caltables"].values())
    hist = read_columns(vis, "MESSAGE", table="HISTORY")["MESSAGE"]
    marks = [m for m in hist if m.startswith((B2B_MARK, B2B_IN_PROGRESS))]
    assert [m.startswith(B2B_MARK) for m in marks] == [False, False, True]
    before = fingerprint(vis)
    with pytest.raises(ValueError, match="already has a B2B transfer applied"):
        b2b_phasetransfer(vis=vis, refant="", overwrite=True)
    assert fingerprint(vis) == before


def killed_pid(history: list[str]) -> int:
    """The pid the in-progress line names."""
    line = next(m for m in history if m.startswith(B2B_IN_PROGRESS))
    return int(line.split("(pid ", 1)[1].split()[0])


def test_symlinked_duplicate_and_absurd_factor_are_refused(epochs, tmp_path):
    link = str(tmp_path / "link.ms")
    os.symlink(epochs[0], link)
    before = [fingerprint(p) for p in epochs]
    with pytest.raises(ValueError, match="vis lists the same measurement set twice"):
        relcal_fit(vis=[*epochs, link], field=list(CALIBRATORS), outfile="")
    with pytest.raises(ValueError, match="refused even with force=True"):
        relcal_apply(vis=[epochs[0]], factor=[1e30], force=True)
    assert [fingerprint(p) for p in epochs] == before
    assert IN_PROGRESS.startswith(HISTORY_MARK)  # an interrupted rescaling counts as one


def test_an_ms_damaged_after_the_checks_fails_its_split_in_the_readers_words(epochs, tmp_path):
    """A storage file lost between the task's checks and its split (a file server failing
    mid-run; under MPI the split runs on a server): the error names vis and the column,
    as the checks would have, not casacore's bare RuntimeError."""
    from almacal.io.caltables import split_column
    from almacal.io.tables import UnreadableTableError

    bad, good = epochs
    _damage(bad, "truncated DATA file")
    with pytest.raises(UnreadableTableError) as err:
        split_column(bad, str(tmp_path / "copy.ms"), "DATA")
    msg = str(err.value)
    assert msg.startswith(f"vis {bad!r} is not a readable measurement set: its DATA column"), msg
    assert err.value.__suppress_context__  # no casatools traceback chained to it
    # a healthy input whose split fails for another reason keeps split's own error
    closed = tmp_path / "closed"
    closed.mkdir()
    with read_only(str(closed)), pytest.raises(RuntimeError) as other:
        split_column(good, str(closed / "copy.ms"), "DATA")
    assert not isinstance(other.value, UnreadableTableError), other.value
