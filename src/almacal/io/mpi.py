"""casampi's servers as an almacal.parallel.Mapper: one item (MS) per server at a time.

Used when a task runs in the MPI client of ``mpicasa -n N casa`` or ``mpirun -n N
python script.py`` with parallel=True (every task's default): the servers are the
ranks > 0, which casatasks turns into command servers when it is imported. Items are
sent one per free server (target_server set, so that casampi reports a server that
stops answering), results come back in item order.

A server that dies: on this host it is seen at the next poll (its process is gone);
on another host casampi's heartbeat marks it 'timeout' after
MPIEnvironment.mpi_monitor_status_service_timeout seconds (42 s with 3 ranks, 3 s
more per extra rank). Its MS fails with an error naming the server, the others go
on on the remaining servers. mpirun must be told not to abort the whole job when a
rank dies (Open MPI 4: ``mpirun --enable-recovery``); without it mpirun ends every
rank at once with its own message naming the dead rank.

Server commands never import casatasks (CASA_NOTES: it deadlocks there); almacal's
CASA access takes it from sys.modules (almacal.io.tables.casatasks).
"""

from __future__ import annotations

import atexit
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from almacal.casatask.log import casalog
from almacal.parallel import SERIAL, Failure, JobOutcome, Mapper, failure_error

T = TypeVar("T")
R = TypeVar("R")

POLL_S = 0.01
"""Between looks at the responses casampi has received."""

RUN_JOB = "almacal.parallel.run_job(job)"
"""The command every item is: run_job is imported on each server first."""


def task_mapper(parallel: bool) -> Mapper:
    """The Mapper of a task call: casampi's servers when parallel is True and this
    process is the MPI client of a world with servers; else this process (SERIAL).
    Nothing starts before the first map."""
    env = mpi_environment() if parallel else None
    if env is None or not env.is_mpi_client:
        return SERIAL
    servers = [s for s in env.mpi_server_rank_list() if s not in _LOST]
    return CasampiMapper(servers, env.hostname) if servers else SERIAL


def mpi_environment() -> Any:
    """casampi's MPIEnvironment when this process runs under MPI with casampi, else None."""
    try:
        from casampi.MPIEnvironment import MPIEnvironment
    # casampi (the [mpi] extra) is optional: without it every task runs serially
    except ImportError:
        return None
    return MPIEnvironment if MPIEnvironment.is_mpi_enabled else None


def command_client() -> Any:
    """The process's MPICommandClient (a singleton shared with CASA and the pipeline),
    its services started if nobody started them; None once they were stopped."""
    from casampi.MPICommandClient import MPICommandClient

    client = MPICommandClient()
    state = client.get_lifecyle_state()
    if state == 0:
        client.set_log_mode("redirect")
        client.start_services()
    elif state == 2:
        casalog.post("casampi's services were stopped in this session: running serially", "WARN")
        return None
    return client


FAST_POLL_S = 0.01
"""casampi's command loops sleep 0.1 s between looks for a message (MPIEnvironment's
'progression profile'); a message needs about two looks on each side, so one command
took 0.30 s here and 8 MSs of ~1 s on 2 servers lost a quarter of their time to it.
At 0.01 s a command takes 0.03-0.05 s; an idle loop then wakes 100 times a second for
one MPI probe."""

OMP_SHARE = (
    "import os\n"
    "if 'OMP_NUM_THREADS' not in os.environ:\n"
    "    casalog.ompSetNumThreads(max(1, len(os.sched_getaffinity(0)) // %d))"
)
"""Run on a server (casampi's command namespace has casalog): its OpenMP threads for
the number of servers on its host."""

_PREPARED: set[int] = set()
"""Servers that imported almacal.parallel and poll fast (once per server and session)."""


class CasampiMapper:
    """Items on casampi servers, at most one per server at a time, in item order."""

    def __init__(self, servers: Sequence[int], hostname: str):
        self.servers = list(servers)
        self.hostname = hostname
        self.client: Any = None

    def describe(self) -> str:
        ranks = ", ".join(str(s) for s in self.servers)
        return f"{len(self.servers)} MPI servers (ranks {ranks})"

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        labels: Sequence[str],
    ) -> Iterator[R]:
        if not items:  # nothing to send (gridflux_check without a phase calibrator)
            return
        if not self._connect():
            yield from SERIAL.map(fn, items, labels)
            return
        casalog.post("%d MS on %s" % (len(items), self.describe()))
        run = _Run(self, fn, items, labels)
        try:
            for i in range(len(items)):
                outcome = run.wait_for(i)
                if outcome.failed:
                    run.finish()
                    raise failure_error(run.failures(), len(items), run.n_done())
                yield run.release(i)
        finally:
            run.finish()  # a consumer that stops early: the servers still finish their items

    def _connect(self) -> bool:
        """The client with services started, and almacal ready on every server."""
        if self.client is None:
            self.client = command_client()
            if self.client is None:
                return False
            from casampi.MPIEnvironment import MPIEnvironment

            MPIEnvironment.mpi_command_response_handler_service_sleep_time = FAST_POLL_S
            MPIEnvironment.mpi_command_request_queue_service_sleep_time = FAST_POLL_S
        new = [s for s in self.servers if s not in _PREPARED]
        if new:
            self._run_everywhere(
                new,
                "import almacal.parallel",
                "MPIEnvironment.mpi_command_request_handler_service_sleep_time = %r" % FAST_POLL_S,
            )
            self._share_cores(new)
            _PREPARED.update(new)
        return True

    def _share_cores(self, servers: list[int]) -> None:
        """Each server's OpenMP threads (CASA's applycal uses them) to its share of its
        host's cores: the cores // the servers on that host, at least 1. By default each
        takes every core: 2 servers with 2 threads each on 2 cores made each applycal
        1.4-1.7x slower than alone. A user's OMP_NUM_THREADS is left as it is."""
        hosts: dict[str, list[int]] = {}
        for s in self.servers:
            hosts.setdefault(str(self.client.get_server_status(s).get("processor")), []).append(s)
        for on_host in hosts.values():
            mine = [s for s in on_host if s in servers]
            if mine:
                self._run_everywhere(mine, OMP_SHARE % len(on_host))

    def _run_everywhere(self, servers: list[int], *statements: str) -> None:
        for statement in statements:
            responses = self.client.push_command_request(
                statement, block=True, target_server=servers
            )
            bad = [r for r in responses if not r["successful"]]
            if bad:
                raise RuntimeError(
                    "MPI server %s failed to run %r: %s"
                    % (bad[0]["server"], statement, _last_line(bad[0]["traceback"]))
                )

    def where(self, server: int) -> str:
        st = self.client.get_server_status(server)
        return f"MPI server {server} (host {st.get('processor')}, pid {st.get('pid')})"

    def lose(self, server: int) -> None:
        """Mark a lost server 'timeout' in casampi's monitor, as its heartbeat would later
        (casampi then sends it no command; a heartbeat answer already on its way can
        clear that mark again, so later tasks leave out the servers in _LOST), and end
        the MPI world with MPI_Abort at exit."""
        from casampi.private.MPIMonitorClient import MPIMonitorClient

        MPIMonitorClient().set_server_status_keyword(server, "timeout", True)
        if server in self.servers:
            self.servers.remove(server)
        if not _LOST:
            atexit.register(abort_world)  # runs before casampi's stop_services (LIFO)
        _LOST.append(server)

    def gone(self, server: int) -> bool:
        """The server's process has ended (seen only for servers on this host)."""
        st = self.client.get_server_status(server)
        pid = st.get("pid")
        if st.get("processor") != self.hostname or not isinstance(pid, int):
            return False
        return _process_gone(pid)


_LOST: list[int] = []
"""The servers lost in this session (abort_world is registered with the first)."""


def lost_servers() -> list[int]:
    """The casampi servers lost in this session (a script ending its own session skips
    casampi's stop_services when there are any: abort_world ends it at exit)."""
    return list(_LOST)


def abort_world() -> None:
    """At exit after a server was lost: casampi's stop_services broadcasts its stop signals
    to every rank, and the send to the dead one blocked for good in one run of two here
    (Open MPI 4.1, mpirun --enable-recovery); MPI_Abort ends every rank at once."""
    casalog.post(
        "MPI server %d was lost in this session: ending the MPI world (MPI_Abort) instead "
        "of casampi's stop, which can wait forever for the lost server" % _LOST[0],
        "WARN",
    )
    from mpi4py import MPI

    MPI.COMM_WORLD.Abort(1)


class _Run:
    """The state of one map: items to send, one running item per server, outcomes."""

    def __init__(
        self,
        mapper: CasampiMapper,
        fn: Callable,
        items: Sequence,
        labels: Sequence[str],
    ):
        self.m = mapper
        self.fn, self.items, self.labels = fn, items, labels
        self.todo = deque(range(len(items)))
        self.live = list(mapper.servers)
        self.running: dict[int, tuple[int, int, float]] = {}  # server -> item, request, start
        self.outcomes: dict[int, tuple[JobOutcome, str]] = {}  # item -> outcome, where

    def wait_for(self, i: int) -> JobOutcome:
        while i not in self.outcomes:
            self.step()
        return self.outcomes[i][0]

    def release(self, i: int) -> Any:
        """Item i's value, no longer held here: the client's memory holds the sums of the
        MSs it has not consumed yet, not of every MS (68 MB each with uvrange='common')."""
        outcome, where = self.outcomes[i]
        self.outcomes[i] = (JobOutcome(seconds=outcome.seconds), where)
        return outcome.value

    def finish(self) -> None:
        """Every item sent and answered (or its server lost)."""
        while self.todo or self.running:
            self.step()

    def n_done(self) -> int:
        return sum(not o.failed for o, _ in self.outcomes.values())

    def failures(self) -> list[Failure]:
        return [
            Failure(self.labels[i], where, o.error, o.message, o.kind)
            for i, (o, where) in sorted(self.outcomes.items())
            if o.failed
        ]

    def step(self) -> None:
        self._send()
        if self.running:
            time.sleep(POLL_S)
            self._collect()
        if not self.live:
            self._no_server_left()

    def _send(self) -> None:
        for server in self.live:
            if server in self.running or not self.todo:
                continue
            i = self.todo.popleft()
            ids = self.m.client.push_command_request(
                RUN_JOB,
                block=False,
                target_server=server,
                parameters={"job": (self.fn, self.items[i])},
            )
            self.running[server] = (i, ids[0], time.monotonic())

    def _collect(self) -> None:
        for server, (i, request, t0) in list(self.running.items()):
            responses = self.m.client.get_command_response([request], block=False, verbose=False)
            elapsed = time.monotonic() - t0
            if responses:
                outcome, lost = _outcome(responses[0], elapsed)
            elif self.m.gone(server):
                outcome, lost = _lost("its process ended", elapsed), True
            else:
                continue
            if outcome.failed and not lost and self.m.gone(server):  # casampi's send failed
                outcome, lost = _lost("its process ended", elapsed), True
            del self.running[server]
            if lost:
                self.live.remove(server)
                self.m.lose(server)
            self._record(i, outcome, server)

    def _record(self, i: int, outcome: JobOutcome, server: int) -> None:
        where = self.m.where(server)
        self.outcomes[i] = (outcome, where)
        if outcome.failed:
            casalog.post("%s failed on %s: %s" % (self.labels[i], where, outcome.message), "SEVERE")
        else:
            casalog.post("%s: done on %s in %.1f s" % (self.labels[i], where, outcome.seconds))

    def _no_server_left(self) -> None:
        while self.todo:
            i = self.todo.popleft()
            self.outcomes[i] = (
                JobOutcome(error="RuntimeError", message="no MPI server is left to run it"),
                "no server",
            )


def _outcome(response: dict, elapsed: float) -> tuple[JobOutcome, bool]:
    """run_job's outcome, and whether the server is lost: casampi's status 'timeout'
    means its heartbeat stopped; a command casampi could not run at all is a failure."""
    if response.get("status") == "timeout":
        return _lost("it stopped answering casampi's heartbeat", elapsed), True
    if not response["successful"]:
        return JobOutcome(
            error="RuntimeError", message=_last_line(response.get("traceback"))
        ), False
    outcome = response["ret"]
    if not isinstance(outcome, JobOutcome):
        return JobOutcome(error="RuntimeError", message=f"unexpected answer {outcome!r}"), False
    return outcome, False


def _lost(why: str, seconds: float) -> JobOutcome:
    return JobOutcome(
        error="RuntimeError",
        message=f"the MPI server was lost while running it ({why} after {seconds:.0f} s)",
        seconds=seconds,
    )


def _last_line(text: str | None) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "no traceback"


def _process_gone(pid: int) -> bool:
    """No such process, or a zombie nobody reaped yet."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
