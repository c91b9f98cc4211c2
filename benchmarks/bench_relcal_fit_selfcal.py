"""Extra time self-calibration costs relcal_fit, on the same epochs.

One run, one machine: simulate epochs (default: 3 full-size ACA epochs, 1.01 s
dumps, 128 channels; in epoch 2, 23 deg rms antenna phases drifting with a 30 s
coherence time, which decorrelate it by ~15 % and which the 5.05 s solint can
follow), then in fresh child processes time

1. relcal_fit(datacolumn='data') — the plain point-source fit;
2. relcal_fit(selfcal=True) with the default solints ['inf', '20.2s', '5.05s'];

and print the ratio and how close each comes to the injected rFCFs.

    CASASITECONFIG=$PWD/casa_init/config.py .venv/bin/python benchmarks/bench_relcal_fit_selfcal.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def child_fit(paths: list[str], fields: list[str], selfcal: bool) -> dict:
    import casatasks  # noqa: F401 - imported first so that import time is not timed
    import casatools  # noqa: F401

    import almacal

    t0 = time.perf_counter()
    rec = almacal.relcal_fit(
        vis=paths, field=fields, datacolumn="data", selfcal=selfcal, outfile=""
    )
    return {
        "seconds": time.perf_counter() - t0,
        "rfcf": rec["rfcf"],
        "rfcf_sigma": rec["rfcf_sigma"],
        "selfcal_seconds": rec.get("selfcal_seconds"),
    }


def run_child(*args) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "_child", json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outdir", default="bench_out")
    parser.add_argument("--n-epoch", type=int, default=3)
    parser.add_argument("--size", default="full", choices=["test", "full"])
    parser.add_argument("--reuse", action="store_true", help="use a set already in --outdir")
    args = parser.parse_args()

    import numpy as np

    from almacal.datasets import simulate_epochs
    from almacal.simulate import CALIBRATORS, TRUTH_FILE, SimulatedSet

    outdir = os.path.abspath(os.path.join(args.outdir, f"selfcal_{args.size}"))
    truth = os.path.join(outdir, TRUTH_FILE)
    t0 = time.perf_counter()
    phase = [23.0 if i == 1 else 0.0 for i in range(args.n_epoch)]
    sim = (
        SimulatedSet.from_truth(truth)
        if args.reuse and os.path.exists(truth)
        else simulate_epochs(
            outdir,
            n_epoch=args.n_epoch,
            size=args.size,
            flux_scale=[1.0 + 0.05 * ((-1) ** i) for i in range(args.n_epoch)],
            epoch_phase_rms_deg=phase,
            phase_coherence_s=30.0,
            overwrite=True,
        )
    )
    print(f"data: {len(sim.paths)} {args.size}-size epochs ({time.perf_counter() - t0:.0f} s)")
    paths, fields = list(sim.paths), list(CALIBRATORS)
    plain = run_child(paths, fields, False)
    sc = run_child(paths, fields, True)
    for name, r in (("plain", plain), ("selfcal", sc)):
        dev = np.array(r["rfcf"]) - sim.true_rfcf
        print(
            f"{name:8s}: {r['seconds']:7.1f} s   rFCF - truth = "
            f"{np.array2string(dev, precision=4)} (sigma {np.max(r['rfcf_sigma']):.1e})"
        )
    print(f"selfcal part (split, model, gaincal, applycal, refits): {sc['selfcal_seconds']:.1f} s")
    print(f"RATIO relcal_fit selfcal / plain = {sc['seconds'] / plain['seconds']:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(child_fit(*json.loads(sys.argv[2]))))
    else:
        main()
