"""almacal.parallel without MPI: the serial mapper is the plain loop, run_job describes
failures, failure_error names every failed MS; and the per-MS units of the tasks pickle
(what a casampi server receives)."""

from __future__ import annotations

import ast
import math
import pathlib
import pickle

import pytest

from almacal.parallel import SERIAL, Failure, JobOutcome, failure_error, run_job
from almacal.relcal.apply import ApplyTables, MakeTables, StagedMs
from almacal.relcal.run import MsPass

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "almacal"


def test_serial_mapper_is_lazy_and_in_order():
    seen = []

    def f(x):
        seen.append(x)
        return x * 2

    it = SERIAL.map(f, [3, 1, 2], ["a", "b", "c"])
    assert seen == []  # nothing runs before the first result is asked for
    assert next(it) == 6 and seen == [3]  # one MS at a time, as the loop it replaces
    assert list(it) == [2, 4] and seen == [3, 1, 2]


def test_serial_mapper_lets_the_first_exception_through_unchanged():
    def f(x):
        if x == 2:
            raise ValueError("field 'SMM9': all data are flagged")
        return x

    it = SERIAL.map(f, [1, 2, 3], ["a", "b", "c"])
    assert next(it) == 1
    with pytest.raises(ValueError, match=r"^field 'SMM9': all data are flagged$"):
        next(it)


class Unreadable(ValueError):
    pass


def _raise_unreadable(vis: str) -> None:
    raise Unreadable(f"vis {vis!r} is not a readable measurement set")


def test_run_job_returns_the_value_or_describes_the_exception():
    ok = run_job((math.sqrt, 16.0))
    assert ok == JobOutcome(value=4.0, seconds=ok.seconds) and not ok.failed
    bad = run_job((math.sqrt, -1.0))
    assert bad.failed and bad.error == "ValueError" and bad.message == "math domain error"
    assert "Traceback" in bad.traceback and bad.value is None and bad.kind == "ValueError"
    # a subclass is sent as its nearest built-in class, which the client re-raises
    sub = run_job((_raise_unreadable, "/d/a.ms"))
    assert (sub.error, sub.kind) == ("Unreadable", "ValueError")
    exc = failure_error(
        [Failure("/d/a.ms", "MPI server 1", sub.error, sub.message, sub.kind)], 1, 0
    )
    assert type(exc) is ValueError and str(exc).startswith("/d/a.ms failed on MPI server 1: ")
    # what travels back to the client pickles even when the exception would not
    assert pickle.loads(pickle.dumps(bad)) == bad


def test_failure_error_names_every_failed_ms_where_and_why():
    failures = [
        Failure("/d/b.ms", "MPI server 2 (host n1, pid 7)", "ValueError", "no field SMM9"),
        Failure("/d/e.ms", "MPI server 1 (host n1, pid 6)", "RuntimeError", "table is corrupt"),
    ]
    exc = failure_error(failures, n_items=8, n_done=6)
    assert isinstance(exc, ValueError)  # the first failure's class: callers catch it as before
    assert str(exc) == (
        "/d/b.ms failed on MPI server 2 (host n1, pid 7): ValueError: no field SMM9; "
        "/d/e.ms failed on MPI server 1 (host n1, pid 6): RuntimeError: table is corrupt "
        "(6 of the other 6 completed)"
    )
    stopped = failure_error(failures[:1], n_items=4, n_done=1)
    assert str(stopped).endswith("(1 of the other 3 completed, 2 not started)")


def test_failure_error_of_an_unknown_or_awkward_class_is_a_runtime_error():
    for error in ("TableError", "UnicodeDecodeError", "KeyboardInterrupt"):
        exc = failure_error([Failure("/d/a.ms", "MPI server 1", error, "x")], 1, 0)
        assert (
            type(exc) is RuntimeError and str(exc) == f"/d/a.ms failed on MPI server 1: {error}: x"
        )


class _Reader:
    """Module level, so that it pickles like almacal.io.ms.CasaMs."""

    def __eq__(self, other):
        return type(other) is _Reader

    __hash__ = object.__hash__

    def chunks(self, selection):
        return iter(())


def test_the_per_ms_units_pickle():
    units = [
        MsPass(_Reader()),
        MakeTables(calls=_Reader()),
        ApplyTables(calls=_Reader(), origin="relcal_apply"),
    ]
    for unit in units:
        assert pickle.loads(pickle.dumps(unit)) == unit
    ms = StagedMs("/d/a.ms", "DATA", None, "/d/.a.tmp1.amp", 0.9)
    assert pickle.loads(pickle.dumps(ms)) == ms and ms.target == "/d/a.ms"
    assert StagedMs("/d/a.ms", "DATA", "/d/.a.tmp1.ms", "/d/c", 0.9).target == "/d/.a.tmp1.ms"


def test_the_casa_readers_pickle_by_reference():
    pytest.importorskip("casatools")
    from almacal.tasks.task_gridflux_check import CasaGridfluxReaders
    from almacal.tasks.task_relcal_apply import CasaApplyCalls

    from almacal.io.ms import CasaMs

    for reader in (CasaMs(), CasaApplyCalls(), CasaGridfluxReaders()):
        blob = pickle.dumps(MsPass(reader))
        assert len(blob) < 500  # the class by name, no state: what a server imports itself
        assert type(pickle.loads(blob).reader) is type(reader)


def test_parallel_imports_no_mpi_and_no_casa():
    tree = ast.parse((SRC / "parallel.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names and not {m.split(".")[0] for m in names} & {
        "casatools",
        "casatasks",
        "casampi",
        "mpi4py",
    }
