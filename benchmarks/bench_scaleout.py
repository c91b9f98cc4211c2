"""relcal_fit and relcal_apply over many MSs: serial, and on casampi servers under mpirun.

One run, one machine, 8 generated full-size MSs (simulate_epochs(size='full'), two sets
of 4 epochs: generated into --data unless already there):

1. serial: the tasks in a plain python process (no MPI: parallel=True changes nothing);
2. ``mpirun -n 3 python`` (2 casampi servers) and ``mpirun -n 2`` (1 server): the same
   calls in the MPI client, each MS's relcal_fit pass and relcal_apply split/gencal/
   applycal on a server;
3. the servers' peak resident memory (VmHWM) after relcal_fit on 2 MSs with a quarter
   of the scan length, again after the 8 full-size ones and after 2 with twice the
   full scan length (the MS size ratios are printed beside it): flat in MS size is the
   same peak after the full-size and the double ones; and the disks' write rate during
   relcal_apply (/proc/diskstats);
4. per-MS times from the log ('done on MPI server N in X s'), from which the per-MS read
   throughput and the client's own time (solve, checks, outputs) follow.

Timings are the task calls as the client sees them; mpirun's start and casampi's stop
(~3-15 s, once per session) are printed apart. The inputs sit in the page cache after
the first pass (23 GB RAM here): every mode reads warm. relcal_apply writes split copies
(the inputs' size) under --data/apply-<mode>, removed after each mode; --apply-dir puts
them on another file system (e.g. /dev/shm: with the disk out of the way, what is left
of relcal_apply's speed-up is what the CPUs allow).

    .venv/bin/python benchmarks/bench_scaleout.py --data /work/bench-mpi
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

SERIAL_RUNS = ("serial", "serial-again")
FACTORS = [1.02, 0.97, 1.05, 0.93, 1.01, 0.99, 1.04, 0.96]


def _vmhwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _server_peaks(client, servers: list[int]) -> dict[str, float]:
    if not servers:
        return {}
    cmd = "[l for l in open('/proc/self/status').read().splitlines() if l.startswith('VmHWM')]"
    responses = client.push_command_request(cmd, block=True, target_server=servers)
    return {str(r["server"]): int(r["ret"][0].split()[1]) / 1024.0 for r in responses}


def _disk_written_mb() -> float:
    """MB written to the machine's disks so far (/proc/diskstats; every process's writes,
    so other work on the machine counts too)."""
    total = 0
    with open("/proc/diskstats", encoding="ascii") as fh:
        for line in fh:
            f = line.split()
            if f[2].startswith(("vd", "sd", "nvme")) and not f[2][-1].isdigit():
                total += int(f[9]) * 512
    return total / 1e6


def _synced_written_mb() -> float:
    os.sync()
    return _disk_written_mb()


def _log_lines() -> list[str]:
    import casatasks

    with open(casatasks.casalog.logfile(), encoding="utf-8", errors="replace") as fh:
        return [ln.rstrip() for ln in fh if ": done on " in ln]


def job(spec_path: str) -> None:
    """The benchmark's calls in this process: the MPI client under mpirun, else serial."""
    import almacal  # noqa: I001 - CASA's data configuration before casatools

    import casatasks  # noqa: F401 - ranks > 0 become casampi servers here

    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    client, servers = None, []
    if spec["mpi"]:
        from casampi.MPICommandClient import MPICommandClient
        from casampi.MPIEnvironment import MPIEnvironment

        client, servers = MPICommandClient(), MPIEnvironment.mpi_server_rank_list()
    out: dict = {"servers": servers, "client_peak_mb": 0.0, "calls": []}
    for call in spec["calls"]:
        n_log = len(_log_lines())
        w0 = _disk_written_mb()
        t0 = time.perf_counter()
        getattr(almacal, call["task"])(**call["kwargs"])
        seconds = time.perf_counter() - t0
        lines = _log_lines()[n_log:]
        out["calls"].append(
            {
                "name": call["name"],
                "seconds": seconds,
                # the call's dirty pages may be written after it: read the sync'd total
                "disk_written_mb": _synced_written_mb() - w0,
                "item_s": [float(ln.rsplit(" in ", 1)[1].split()[0]) for ln in lines],
                "server_peak_mb": _server_peaks(client, servers) if client else {},
            }
        )
    out["client_peak_mb"] = _vmhwm_mb()
    t0 = time.perf_counter()
    if client is not None:
        # casampi's serve loop looks for the stop signal every 3 s by default
        client.push_command_request(
            "MPIEnvironment.mpi_stop_service_sleep_time = 0.1", block=True, target_server=servers
        )
        client.stop_services()
    out["stop_s"] = time.perf_counter() - t0
    with open(spec["out"], "w", encoding="utf-8") as fh:
        json.dump(out, fh)


def _calls(sets: dict[str, list[str]], fields: list[str], outdir: str) -> list[dict]:
    fit = {"field": fields, "perspw": True, "datacolumn": "data", "outfile": ""}
    full = sets["full"]
    return [
        {"name": "fit_small", "task": "relcal_fit", "kwargs": fit | {"vis": sets["small"]}},
        {"name": "fit", "task": "relcal_fit", "kwargs": fit | {"vis": full}},
        {"name": "fit_large", "task": "relcal_fit", "kwargs": fit | {"vis": sets["large"]}},
        {
            "name": "apply",
            "task": "relcal_apply",
            "kwargs": {
                "vis": full,
                "factor": FACTORS[: len(full)],
                "mode": "split",
                "datacolumn": "data",
                "outputvis": [os.path.join(outdir, f"eb{k}.ms") for k in range(len(full))],
                "overwrite": True,
            },
        },
    ]


def run_mode(n: int, sets: dict[str, list[str]], fields: list[str], data: str, out: str) -> dict:
    """n = 0: serial, in a child python; else mpirun -n n; relcal_apply writes under out."""
    mode = "serial" if n == 0 else f"mpirun-n{n}"
    outdir = os.path.join(out, f"apply-{mode}-{int(time.time())}")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    spec_path = os.path.join(outdir, "spec.json")
    spec = {"mpi": n > 0, "out": os.path.join(data, os.path.basename(outdir) + ".json")}
    spec["calls"] = _calls(sets, fields, outdir)
    with open(spec_path, "w", encoding="utf-8") as fh:
        json.dump(spec, fh)
    cmd = [sys.executable, os.path.abspath(__file__), "_job", spec_path]
    env = dict(os.environ)
    if n:
        cmd = ["mpirun", "--oversubscribe", "-n", str(n), *cmd]
        if os.geteuid() == 0:
            env |= {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=outdir, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    with open(spec["out"], encoding="utf-8") as fh:
        result = json.load(fh)
    shutil.rmtree(outdir, ignore_errors=True)
    return result | {"mode": mode, "wall_s": wall}


def ms_size_gb(path: str) -> float:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs) / 1e9


def _data_sets(data: str, size: str) -> dict[str, list[str]]:
    """full: 8 MSs of size (two sets of 4, made when missing); small and large: 2 with a
    quarter and with twice their scan length (for the memory check: every size spans
    several read chunks)."""
    from almacal.datasets import simulate_epochs

    full: list[str] = []
    for name, seed in (("a", 1), ("b", 2)):
        d = os.path.join(data, size, name)
        paths = sorted(glob.glob(os.path.join(d, "*.ms")))
        if len(paths) != 4:
            paths = list(simulate_epochs(d, n_epoch=4, size=size, seed=seed, overwrite=True).paths)
        full += paths
    sets = {"full": full}
    # the same channels, other scan lengths (seconds; full size is 181.8 s)
    for name, scan_s, seed in (("small", 181.8 / 4, 3), ("large", 181.8 * 2, 4)):
        d = os.path.join(data, name)
        paths = sorted(glob.glob(os.path.join(d, "*.ms")))
        if len(paths) != 2:
            kw = {"size": size, "scan_s": scan_s, "seed": seed, "overwrite": True}
            paths = list(simulate_epochs(d, n_epoch=2, **kw).paths)
        sets[name] = paths
    return sets


def _print_report(results: dict[str, dict], sets: dict[str, list[str]]) -> None:
    full = sets["full"]
    size = sum(ms_size_gb(p) for p in full)
    each = {k: sum(ms_size_gb(p) for p in v) / len(v) for k, v in sets.items()}
    print(f"data: {len(full)} full-size MSs, {size:.2f} GB ({size / len(full):.3f} GB each)")
    runs = [
        {c["name"]: c["seconds"] for c in results[m]["calls"]} for m in ("serial", "serial-again")
    ]
    ser = {k: (runs[0][k] + runs[1][k]) / 2 for k in runs[0]}  # the mean of the two serial runs
    print(f"load average at start: {results['load_start']}, at end: {os.getloadavg()}")
    for mode in ("serial", "serial-again", "mpirun-n3", "mpirun-n2"):
        r = results[mode]
        calls = {c["name"]: c for c in r["calls"]}
        line = [f"{mode:10s} servers={len(r['servers'])}"]
        for name in ("fit", "apply"):
            s = calls[name]["seconds"]
            rel = "" if mode.startswith("serial") else f" (x{ser[name] / s:.2f} vs serial mean)"
            line.append(f"{name} {s:6.1f} s{rel}")
            if name == "apply":
                line.append(f"(disk writes {calls[name]['disk_written_mb'] / s:.0f} MB/s)")
        line.append(f"[process wall {r['wall_s']:.0f} s, casampi stop {r['stop_s']:.1f} s]")
        print("  ".join(line))
    for mode in ("mpirun-n3", "mpirun-n2"):
        calls = {c["name"]: c for c in results[mode]["calls"]}
        for s in sorted(calls["fit"]["server_peak_mb"]):
            peaks = ", ".join(
                f"{calls[name]['server_peak_mb'][s]:.0f} MB after {each[key]:.3f} GB MSs"
                for name, key in (("fit_small", "small"), ("fit", "full"), ("fit_large", "large"))
            )
            print(
                f"{mode} server {s} peak RSS after relcal_fit: {peaks}; "
                f"{calls['apply']['server_peak_mb'][s]:.0f} MB after relcal_apply"
            )
    n2 = {c["name"]: c for c in results["mpirun-n2"]["calls"]}
    for name in ("fit", "apply"):
        overhead = n2[name]["seconds"] / ser[name] - 1
        items = n2[name]["item_s"]
        client = n2[name]["seconds"] - sum(items)
        print(
            f"{name}: 1 server vs serial overhead {overhead * 100:+.1f} %; per MS on the server "
            f"{min(items):.1f}-{max(items):.1f} s (mean {sum(items) / len(items):.2f} s, "
            f"{size / sum(items):.2f} GB/s of MS); client's own time {client:.1f} s"
        )
    print(f"serial client peak RSS {results['serial']['client_peak_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="bench_scaleout")
    parser.add_argument("--size", default="full", help="'test' for a quick check of the script")
    parser.add_argument("--apply-dir", help="where relcal_apply writes (default: --data)")
    args = parser.parse_args()
    data = os.path.abspath(args.data)
    out = os.path.abspath(args.apply_dir or data)
    from almacal.simulate import CALIBRATORS

    sets = _data_sets(data, args.size)
    fields = list(CALIBRATORS)
    for p in sum(sets.values(), []):  # into the page cache: every mode reads warm
        subprocess.run(["cat", *glob.glob(os.path.join(p, "table.f*"))], stdout=subprocess.DEVNULL)
    results: dict = {"load_start": os.getloadavg()}
    # serial first and last: the load of the machine's other work drifts during a run
    for mode, n in (("serial", 0), ("mpirun-n3", 3), ("mpirun-n2", 2), ("serial-again", 0)):
        results[mode] = run_mode(n, sets, fields, data, out)
        print(f"{mode} done ({results[mode]['wall_s']:.0f} s)", flush=True)
    with open(os.path.join(data, "bench_scaleout.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1)
    print(f"relcal_apply writes under {out}")
    _print_report(results, sets)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_job":
        job(sys.argv[2])
    else:
        main()
