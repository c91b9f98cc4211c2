"""relcal_fit speed and memory vs a casatasks uvmodelfit loop and a bare chunked read.

One run, one machine, one generated full-size data set (simulate_epochs(size='full')):

Steps 1-2 run --repeat times, interleaved, and each reports its median run.

1. bare read: the same rows (calibrator fields, cross-correlations) and columns
   (DATA, FLAG, WEIGHT, FIELD_ID, TIME) that relcal_fit needs, getcol in the row
   chunks relcal_fit reads, no arithmetic: the I/O floor (the options also read
   UVW, 24 bytes a row);
2. relcal_fit over all epochs with perspw=True (every epoch x field x spw);
   and again with the options that need every epoch before they cut
   (fitspw='auto', uvrange='common', model='point+gaussian', modelcheck=True),
   which still read each MS once;
3. uvmodelfit (point source, position fixed) for the same epoch x field x spw
   combinations: a sample of --uvmodelfit-calls calls, spread over the
   combinations, timed, and the loop time extrapolated from their mean;
4. peak memory of relcal_fit on MSs of 1x, 4x and 16x the scan length.

Each measurement runs in a fresh child process (its own peak RSS). The page
cache is warmed by a first bare read, so every timing is warm-cache.

    CASASITECONFIG=$PWD/casa_init/config.py .venv/bin/python benchmarks/bench_relcal_fit.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: reset at exec, unlike ru_maxrss,
    which a child inherits from the benchmark process that started it)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _cpu_s() -> float:
    """User + system CPU time of this process: beside the wall clock it tells a slower
    machine (both move) from a process that waited for the CPU (only the wall clock)."""
    t = os.times()
    return t.user + t.system


def child_bare_read(paths: list[str], fields: list[str]) -> dict:
    import casatools
    import numpy as np

    from almacal.io.tables import row_blocks

    base = _rss_mb()
    t0, cpu0 = time.perf_counter(), _cpu_s()
    n_bytes = 0
    tb = casatools.table()
    for p in paths:
        tb.open(p + "/FIELD")
        names = list(tb.getcol("NAME"))
        tb.close()
        ids = [names.index(f) for f in fields]
        tb.open(p)
        for dd in np.unique(tb.getcol("DATA_DESC_ID")):
            sub = tb.query(f"DATA_DESC_ID=={dd} && FIELD_ID IN {ids} && ANTENNA1!=ANTENNA2")
            n_corr, n_chan = sub.getcell("DATA", 0).shape
            # relcal_fit's chunks (almacal.io.tables.CHUNK_BYTES): the floor of the same
            # reads, not of reads in chunks whose arrays the allocator maps afresh
            for start, nr in row_blocks(sub.nrows(), 16 * n_corr * n_chan):
                for col in ("DATA", "FLAG", "WEIGHT", "FIELD_ID", "TIME"):
                    n_bytes += sub.getcol(col, start, nr).nbytes
            sub.close()
        tb.close()
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_s": _cpu_s() - cpu0,
        "peak_mb": _rss_mb(),
        "base_mb": base,
        "gbytes": n_bytes / 1e9,
    }


ALL_OPTIONS = {
    "fitspw": "auto",
    "uvrange": "common",
    "model": "point+gaussian",
    "modelcheck": True,
}


def child_relcal_fit(paths: list[str], fields: list[str], options: dict | None = None) -> dict:
    import casatasks  # noqa: F401 - imported first so the baseline includes CASA itself
    import casatools  # noqa: F401

    import almacal

    task = almacal.relcal_fit
    base = _rss_mb()
    t0, cpu0 = time.perf_counter(), _cpu_s()
    # DATA explicitly: uvmodelfit leaves MODEL_DATA and CORRECTED_DATA in the MSs it fits
    kw = {"perspw": True, "datacolumn": "data", "outfile": ""} | (options or {})
    rec = task(vis=paths, field=fields, **kw)
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_s": _cpu_s() - cpu0,
        "peak_mb": _rss_mb(),
        "base_mb": base,
        "flux_spw": rec["flux_spw"],
    }


def child_uvmodelfit(calls: list[list], outdir: str) -> dict:
    import casatasks
    import casatools

    base = _rss_mb()
    fluxes, seconds = [], []
    cl = casatools.componentlist()
    for k, (path, field, spw) in enumerate(calls):
        out = os.path.join(outdir, f"uvmf_{k}.cl")
        t0 = time.perf_counter()
        casatasks.uvmodelfit(
            vis=path,
            field=field,
            spw=str(spw),
            comptype="P",
            sourcepar=[1.0, 0.0, 0.0],
            varypar=[True, False, False],
            outfile=out,
        )
        seconds.append(time.perf_counter() - t0)
        cl.open(out)
        fluxes.append(float(cl.getfluxvalue(0)[0]))
        cl.close()
    return {"seconds": seconds, "flux": fluxes, "peak_mb": _rss_mb(), "base_mb": base}


CHILDREN = {"bare": child_bare_read, "relcal": child_relcal_fit, "uvmf": child_uvmodelfit}


def run_child(what: str, *args) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "_child", what, json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ms_size_gb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outdir", default="bench_out")
    parser.add_argument("--n-epoch", type=int, default=7)
    parser.add_argument("--uvmodelfit-calls", type=int, default=6)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the timed runs")
    parser.add_argument("--reuse", action="store_true", help="use a set already in --outdir")
    args = parser.parse_args()

    from almacal.datasets import simulate_epochs
    from almacal.io.tables import CHUNK_BYTES
    from almacal.simulate import CALIBRATORS, TRUTH_FILE, SimulatedSet

    outdir = os.path.abspath(args.outdir)
    t0 = time.perf_counter()
    truth = os.path.join(outdir, "full", TRUTH_FILE)
    reuse = args.reuse and os.path.exists(truth)
    sim = (
        SimulatedSet.from_truth(truth)
        if reuse
        else simulate_epochs(
            os.path.join(outdir, "full"), n_epoch=args.n_epoch, size="full", overwrite=True
        )
    )
    t_sim = time.perf_counter() - t0
    paths, fields = list(sim.paths), list(CALIBRATORS)
    size = sum(ms_size_gb(p) for p in paths)
    print(
        f"data: {len(paths)} full-size epochs, {size:.2f} GB on disk "
        f"({'reused' if reuse else f'simulated in {t_sim:.0f} s'})"
    )

    run_child("bare", paths, fields)  # warm the page cache
    # --repeat rounds of the three, interleaved (a drift in the machine's load reaches
    # all three alike); each keeps its median run
    rounds = [
        (
            run_child("bare", paths, fields),
            run_child("relcal", paths, fields),
            run_child("relcal", paths, fields, ALL_OPTIONS),
        )
        for _ in range(args.repeat)
    ]
    bare, fit, fit_options = (
        sorted((r[i] for r in rounds), key=lambda c: c["seconds"])[len(rounds) // 2]
        for i in range(3)
    )
    n_spw = len(fit["flux_spw"][0][0])
    combos = [
        (e, j, k) for e in range(len(paths)) for j in range(len(fields)) for k in range(n_spw)
    ]
    step = max(1, len(combos) // args.uvmodelfit_calls)
    sample = combos[::step][: args.uvmodelfit_calls]
    uvmf = run_child("uvmf", [[paths[e], fields[j], k] for e, j, k in sample], outdir)
    per_call = sum(uvmf["seconds"]) / len(sample)
    loop = per_call * len(combos)
    diff = max(
        abs(f / fit["flux_spw"][e][j][k] - 1)
        for f, (e, j, k) in zip(uvmf["flux"], sample, strict=True)
    )

    print(
        f"bare read of the same rows/columns in relcal_fit's chunks "
        f"({CHUNK_BYTES / 2**20:.0f} MiB of visibilities): {bare['seconds']:.1f} s "
        f"({bare['gbytes']:.2f} GB in memory as read), peak RSS {bare['peak_mb']:.0f} MB"
    )
    print(
        f"relcal_fit, {len(combos)} epoch x field x spw fits: {fit['seconds']:.1f} s, "
        f"peak RSS {fit['peak_mb']:.0f} MB (after imports {fit['base_mb']:.0f} MB)"
    )
    print(
        f"uvmodelfit: {len(sample)} calls measured, {per_call:.1f} s each -> loop of "
        f"{len(combos)} calls ~ {loop:.0f} s; max |flux ratio - 1| vs relcal_fit {diff:.1e}"
    )
    print(
        f"relcal_fit with {', '.join(f'{k}={v!r}' for k, v in ALL_OPTIONS.items())}: "
        f"{fit_options['seconds']:.1f} s, peak RSS {fit_options['peak_mb']:.0f} MB"
    )
    for k, (b, f, o) in enumerate(rounds):
        print(
            f"round {k + 1}: bare {b['seconds']:.2f} s ({b['cpu_s']:.2f} s CPU), relcal_fit "
            f"{f['seconds']:.2f} s ({f['cpu_s']:.2f}), options {o['seconds']:.2f} s "
            f"({o['cpu_s']:.2f})"
        )
    print(f"RATIO uvmodelfit loop / relcal_fit = {loop / fit['seconds']:.1f}  (target >= 20)")
    for i, name, target in ((1, "relcal_fit", 1.3), (2, "relcal_fit (options)", 1.5)):
        # the median of each round's ratio: the three runs of a round are adjacent in
        # time, so a drift in the machine's speed cancels in it
        wall = statistics.median(r[i]["seconds"] / r[0]["seconds"] for r in rounds)
        cpu = statistics.median(r[i]["cpu_s"] / r[0]["cpu_s"] for r in rounds)
        print(f"RATIO {name} / bare read = {wall:.2f} wall, {cpu:.2f} CPU  (target <= {target})")

    if not args.skip_memory:
        for scale in (1, 4, 16):
            s = simulate_epochs(
                os.path.join(outdir, f"mem{scale}"),
                n_epoch=2,
                size="full",
                scan_s=45.45 * scale,
                overwrite=True,
            )
            m = run_child("relcal", list(s.paths), fields)
            print(
                f"memory: 2 epochs x {ms_size_gb(s.paths[0]):.2f} GB -> relcal_fit peak RSS "
                f"{m['peak_mb']:.0f} MB (+{m['peak_mb'] - m['base_mb']:.0f} MB over imports)"
            )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(CHILDREN[sys.argv[2]](*json.loads(sys.argv[3]))))
    else:
        main()
