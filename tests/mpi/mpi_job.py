"""almacal tasks in the MPI client of ``mpirun -n N python tests/mpi/mpi_job.py spec.json``.

The spec lists task calls ({"task", "kwargs"}, optional "kill": {"server"} or
"truncate": {"file"}: as soon as the client has sent almacal's first per-MS job to that
server (to any server), kill it (SIGKILL), or cut that file to half its size, as a disk
or file server failing in the middle of a run would); each call's record, or its error
(class and message), its time, the time of the kill or cut and the log lines about MPI
servers are written to spec["out"] (JSON) after every call. Ranks > 0 never get past
``import casatasks``: they serve the client.
"""

import json  # noqa: I001 - almacal before casatasks, casatasks before the rest
import os
import signal
import sys
import threading
import time

import almacal  # CASA's data configuration, before casatools is imported
import casatasks  # ranks > 0 become casampi command servers here and never return

from almacal.io.mpi import RUN_JOB
from almacal.outputs import json_safe


def _trigger(client, call: dict, t0: float, out: dict, done: threading.Event) -> threading.Thread:
    """Waits (until the call ends, at most 120 s) for a server busy with a per-MS job,
    then kills or cuts."""
    kill, cut = call.get("kill"), call.get("truncate")

    def busy() -> bool:
        status = client.get_server_status()
        servers = [kill["server"]] if kill else list(status)
        return any(
            status[s]["busy"] and str(status[s].get("command", "")).startswith(RUN_JOB)
            for s in servers
        )

    def act() -> None:
        while not busy():
            if done.is_set() or time.perf_counter() - t0 > 120:
                return
            time.sleep(0.002)
        if kill:
            os.kill(client.get_server_status(kill["server"])["pid"], signal.SIGKILL)
        else:
            with open(cut["file"], "r+b") as fh:
                fh.truncate(os.path.getsize(cut["file"]) // 2)
        out["triggered_at_s"] = time.perf_counter() - t0

    return threading.Thread(target=act, daemon=True)


def _call(call: dict, client) -> dict:
    task = getattr(almacal, call["task"])
    out: dict = {"task": call["task"]}
    t0 = time.perf_counter()
    done = threading.Event()
    trigger = None
    if call.get("kill") or call.get("truncate"):
        trigger = _trigger(client, call, t0, out, done)
        trigger.start()
    try:
        out["record"] = json_safe(task(**call["kwargs"]))
    except Exception as exc:  # the test reads the error the user would see
        out["error"], out["message"] = type(exc).__name__, str(exc)
    out["seconds"] = time.perf_counter() - t0
    done.set()
    if trigger:
        trigger.join()
    return out


def _mpi_log_lines() -> list[str]:
    with open(casatasks.casalog.logfile(), encoding="utf-8", errors="replace") as fh:
        return [ln.rstrip() for ln in fh if "MPI server" in ln]


def main(spec_path: str) -> None:
    from casampi.MPICommandClient import MPICommandClient
    from casampi.MPIEnvironment import MPIEnvironment

    from almacal.io.mpi import lost_servers, task_mapper  # noqa: I001

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    mapper = task_mapper(True)
    client = MPICommandClient()
    result = {"servers": MPIEnvironment.mpi_server_rank_list(), "describe": mapper.describe(),
              "calls": []}  # fmt: skip
    for call in spec["calls"]:
        result["calls"].append(_call(call, client))
        result["log"] = _mpi_log_lines()
        result["logfile"] = casatasks.casalog.logfile()
        with open(spec["out"], "w", encoding="utf-8") as fh:
            json.dump(result, fh)
    if lost_servers():
        return  # almacal.io.mpi.abort_world ends the MPI world at exit
    threads = client.push_command_request(
        "casalog.ompGetNumThreads()", block=True, target_server=result["servers"]
    )
    result["omp_threads"] = {str(r["server"]): r["ret"] for r in threads}
    with open(spec["out"], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    live = result["servers"]
    # casampi's serve loop looks for the stop signal every 3 s (stop took 6-9 s with this here)
    client.push_command_request(
        "MPIEnvironment.mpi_stop_service_sleep_time = 0.1", block=True, target_server=live
    )
    client.stop_services()


if __name__ == "__main__":
    main(sys.argv[1])
