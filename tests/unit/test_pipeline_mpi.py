"""almacal.pipeline.mpi against a stand-in with the interface of the pipeline's
mpihelpers (AsyncTask, Tier0FunctionCall, mpiclient, mpi_server_list, is_mpi_ready):
imports pushed once, values in item order, one error naming each failed MS after the
others completed. The stand-in runs each call here, when it is created, as casampi
would start it at once on a free server."""

from __future__ import annotations

import math

import pytest

from almacal.parallel import SERIAL, run_job
from almacal.pipeline.mpi import IMPORTS, PipelineMapper, pipeline_mapper


class FakeHelpers:
    mpi_server_list = [1, 2]

    def __init__(self, ready: bool = True):
        self.ready = ready
        self.pushed: list[tuple[str, list[int]]] = []
        self.calls: list[object] = []
        helpers = self

        class Client:
            def push_command_request(self, command, block, target_server):
                assert block
                helpers.pushed.append((command, target_server))

        class Tier0FunctionCall:
            def __init__(self, fn, *args):
                assert fn is run_job and len(args) == 1
                self.fn, self.args = fn, args

        class AsyncTask:
            def __init__(self, executable):
                helpers.calls.append(executable.args[0][1])
                self.result = executable.fn(*executable.args)

            def get_result(self):
                return self.result

        self.mpiclient = Client()
        self.Tier0FunctionCall = Tier0FunctionCall
        self.AsyncTask = AsyncTask

    def is_mpi_ready(self):
        return self.ready


def test_outside_a_cluster_run_the_mapper_is_serial():
    assert pipeline_mapper(FakeHelpers(ready=False)) is SERIAL
    assert isinstance(pipeline_mapper(FakeHelpers()), PipelineMapper)


def test_values_in_item_order_and_the_imports_pushed_once():
    h = FakeHelpers()
    m = PipelineMapper(h)
    assert list(m.map(math.sqrt, [16.0, 4.0, 9.0], ["a", "b", "c"])) == [4.0, 2.0, 3.0]
    assert list(m.map(math.sqrt, [1.0], ["d"])) == [1.0]
    assert h.pushed == [(s, [1, 2]) for s in IMPORTS]  # once per session, to every server
    assert m.describe() == "2 MPI servers of the pipeline (ranks 1, 2)"


def test_no_items_send_nothing_and_log_nothing(monkeypatch):
    posted: list[str] = []
    monkeypatch.setattr("almacal.pipeline.mpi.casalog.post", lambda m, *a: posted.append(m))
    h = FakeHelpers()
    assert list(PipelineMapper(h).map(math.sqrt, [], [])) == []
    assert h.pushed == [] and h.calls == [] and posted == []


def test_a_failed_ms_is_named_after_the_others_completed():
    h = FakeHelpers()
    it = PipelineMapper(h).map(math.sqrt, [1.0, -1.0, 4.0, -4.0], ["a", "b", "c", "d"])
    assert next(it) == 1.0
    with pytest.raises(ValueError) as err:
        next(it)
    assert h.calls == [1.0, -1.0, 4.0, -4.0]  # every MS was sent
    assert str(err.value) == (
        "b failed on an MPI server of the pipeline: ValueError: math domain error; "
        "d failed on an MPI server of the pipeline: ValueError: math domain error "
        "(2 of the other 2 completed)"
    )
