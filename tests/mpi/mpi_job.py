"""almacal tasks in the MPI client of ``mpirun -n N python tests/mpi/mpi_job.py spec.json``.

The spec lists task calls ({"task", "kwargs", optional "kill": {"server", "after_s"}});
each call's record, or its error (class and message), its time, the time a server was
killed and the log lines about MPI servers are written to spec["out"] (JSON) after
every call. Ranks > 0 never get past ``import casatasks``: they serve the client.
"""

import json  # noqa: I001 - almacal before casatasks, casatasks before the rest
import os
import signal
import sys
import threading
import time

import almacal  # CASA's data configuration, before casatools is imported
import casatasks  # ranks > 0 become casampi command servers here and never return

from almacal.outputs import json_safe


def _killer(client, kill: dict, t0: float, out: dict) -> threading.Timer:
    def kill_now():
        os.kill(client.get_server_status(kill["server"])["pid"], signal.SIGKILL)
        out["killed_at_s"] = time.perf_counter() - t0

    return threading.Timer(kill["after_s"], kill_now)


def _call(call: dict, client) -> dict:
    task = getattr(almacal, call["task"])
    out: dict = {"task": call["task"]}
    t0 = time.perf_counter()
    timer = _killer(client, call["kill"], t0, out) if call.get("kill") else None
    if timer:
        timer.start()
    try:
        out["record"] = json_safe(task(**call["kwargs"]))
    except Exception as exc:  # the test reads the error the user would see
        out["error"], out["message"] = type(exc).__name__, str(exc)
    out["seconds"] = time.perf_counter() - t0
    if timer:
        timer.join()
    return out


def _mpi_log_lines() -> list[str]:
    with open(casatasks.casalog.logfile(), encoding="utf-8", errors="replace") as fh:
        return [ln.rstrip() for ln in fh if "MPI server" in ln]


def main(spec_path: str) -> None:
    from casampi.MPICommandClient import MPICommandClient
    from casampi.MPIEnvironment import MPIEnvironment

    from almacal.io.mpi import task_mapper

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    mapper = task_mapper(True)
    client = MPICommandClient()
    result = {"servers": MPIEnvironment.mpi_server_rank_list(), "describe": mapper.describe(),
              "calls": []}  # fmt: skip
    for call in spec["calls"]:
        result["calls"].append(_call(call, client))
        result["log"] = _mpi_log_lines()
        with open(spec["out"], "w", encoding="utf-8") as fh:
            json.dump(result, fh)
    live = [s for s, st in client.get_server_status().items() if not st["timeout"]]
    if live:
        # casampi's serve loop looks for the stop signal every 3 s: exit in ~2 s, not ~16 s
        client.push_command_request(
            "MPIEnvironment.mpi_stop_service_sleep_time = 0.1", block=True, target_server=live
        )
    client.stop_services()


if __name__ == "__main__":
    main(sys.argv[1])
