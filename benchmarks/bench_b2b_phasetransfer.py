"""b2b_phasetransfer wall time against the bare gaincal / applycal calls it makes.

One run, one machine, one full-size simulated B2B MS (simulate_b2b(size='full'):
32 antennas to 15 km, 4 + 4 spws x 16 channels, 1.15 s dumps, two DGC blocks,
110 referencing cycles). Each measurement runs in a fresh child process:

1. b2b_phasetransfer (doapply=True, plots on) on the MS: total wall time, and the
   time of its casatasks calls (recorded inside the task);
2. the same casatasks calls replayed bare, with the same arguments, into a scratch
   caltable prefix (the scaled tables the task wrote are reused as inputs, which is
   what the bare sequence would need to exist anyway).

Target: task / bare <= 1.1 -- our own work must vanish next to CASA's.

    CASASITECONFIG=$PWD/casa_init/config.py .venv/bin/python benchmarks/bench_b2b_phasetransfer.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def child_task(vis: str, prefix: str) -> dict:
    # casatasks is loaded before the clock starts, as at the CASA prompt and in the
    # bare child: only the task's own work is compared.
    import almacal.tasks.task_b2b_phasetransfer  # noqa: F401
    import casatasks  # noqa: F401

    from almacal import b2b_phasetransfer

    # The libraries the task loads on its first call (ECSV writer, figures) are a
    # once-per-session cost, not per-call work: timed apart and reported.
    t0 = time.perf_counter()
    import astropy.table  # noqa: F401
    import matplotlib.figure  # noqa: F401

    import_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = b2b_phasetransfer(vis=vis, caltable=prefix, overwrite=True, force=True)
    return {
        "import_seconds": import_seconds,
        "seconds": time.perf_counter() - t0,
        "casa_seconds": rec["casa_seconds"],
        "calls": rec["casa_calls"],
        "caltables": rec["caltables"],
    }


def child_bare(calls_json: str, scratch: str) -> dict:
    import casatasks

    with open(calls_json, encoding="utf-8") as fh:
        calls, tables = json.load(fh)
    # Solved tables go to scratch names; the scaled tables the task wrote are inputs.
    rename = {
        tables[k]: os.path.join(scratch, os.path.basename(tables[k]))
        for k in ("dgc_low", "phasecal", "dgc_offset")
    }
    t0 = time.perf_counter()
    for name, kwargs in calls:
        if "caltable" in kwargs:
            kwargs["caltable"] = rename.get(kwargs["caltable"], kwargs["caltable"])
        if name == "applycal":
            kwargs.update(applymode="calonly", flagbackup=False)
        getattr(casatasks, name)(**kwargs)
    return {"seconds": time.perf_counter() - t0, "n_calls": len(calls)}


def _run_child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--outdir", default="/tmp/almacal_bench_b2b")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        result = child_task(*rest) if kind == "task" else child_bare(*rest)
        print(json.dumps(result))
        return

    from almacal.datasets import simulate_b2b

    os.makedirs(a.outdir, exist_ok=True)
    vis = os.path.join(a.outdir, "b2b_full.ms")
    if not os.path.isdir(vis):
        t0 = time.perf_counter()
        simulate_b2b(a.outdir, size="full")
        print("simulated %s in %.0f s" % (vis, time.perf_counter() - t0))
    size_gb = (
        sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(vis) for f in fs) / 1e9
    )
    prefix = os.path.join(a.outdir, "bench.b2b")
    scratch = os.path.join(a.outdir, "bare")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)

    task = _run_child(["--child", "task", vis, prefix])
    calls_json = os.path.join(a.outdir, "calls.json")
    with open(calls_json, "w", encoding="utf-8") as fh:
        json.dump([task["calls"], task["caltables"]], fh)
    bare = _run_child(["--child", "bare", calls_json, scratch])

    print("MS %s: %.2f GB" % (vis, size_gb))
    print("b2b_phasetransfer            %8.1f s" % task["seconds"])
    print(
        "  of which its casatasks calls %6.1f s (%d calls)"
        % (task["casa_seconds"], len(task["calls"]))
    )
    print("bare gaincal/applycal calls  %8.1f s (%d calls)" % (bare["seconds"], bare["n_calls"]))
    print(
        "ratio task / bare            %8.3f   (target <= 1.1)" % (task["seconds"] / bare["seconds"])
    )
    print("ratio task / own CASA time   %8.3f" % (task["seconds"] / task["casa_seconds"]))
    print(
        "first call in a session also imports astropy.table + matplotlib: %.2f s (ratio %.3f)"
        % (task["import_seconds"], (task["seconds"] + task["import_seconds"]) / bare["seconds"])
    )


if __name__ == "__main__":
    main()
