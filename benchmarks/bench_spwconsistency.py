"""spwconsistency's Monte Carlo and bootstrap: vectorized vs the obvious curve_fit loop.

One run, one machine, no measurement set. The issue's target: 10 000 Monte Carlo
draws "well under a second". The baseline is what the paper describes, one
scipy curve_fit per simulated epoch; it is timed on a sample of draws and
extrapolated. Also times the whole core (SpwConsistencyResult.compute) on
7 epochs x 4 calibrators x 4 spws with the default nboot and nmc.

    .venv/bin/python benchmarks/bench_spwconsistency.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import optimize

from almacal.spwcons.montecarlo import simulate_alpha

BAND7_HZ = np.array([336.5e9, 338.5e9, 348.5e9, 350.5e9])  # seed 000 Table 5


def _best_of(fn, repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def curve_fit_loop(n: int, rng: np.random.Generator) -> None:
    x = np.tile(BAND7_HZ / BAND7_HZ.mean(), 4)
    for _ in range(n):
        y = 1 + np.tile(rng.normal(0, 0.009, 4), 4) + rng.normal(0, 0.007, 16)
        optimize.curve_fit(lambda v, c, a: c * v**a, x, y, p0=(1.0, 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nmc", type=int, default=10000)
    parser.add_argument("--loop-sample", type=int, default=500)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    def vectorized() -> None:
        simulate_alpha(
            freq_hz=BAND7_HZ, sigma_spw=0.009, sigma_fit=0.007, n_cal=4, n_mc=args.nmc, rng=rng
        )

    t_vec = _best_of(vectorized)
    t_loop = _best_of(lambda: curve_fit_loop(args.loop_sample, rng), repeat=1)
    t_loop *= args.nmc / args.loop_sample
    print(f"Monte Carlo, {args.nmc} draws of 4 cal x 4 spw:")
    print(f"  vectorized        {t_vec * 1e3:8.1f} ms")
    print(f"  curve_fit loop    {t_loop * 1e3:8.1f} ms (extrapolated from {args.loop_sample})")
    print(f"  ratio             {t_loop / t_vec:8.0f} x")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.unit.spwcons_synth
    from almacal.spwcons.inputs import PerSpwFits
    from almacal.spwcons.results import SpwConsistencyResult
    from tests.unit.spwcons_synth import synthetic_record

    fits = PerSpwFits.from_record(synthetic_record(np.random.default_rng(1)))
    t_all = _best_of(
        lambda: SpwConsistencyResult.compute(
            fits, nboot=1000, nmc=args.nmc, seed=0, siglevel=0.05, params={}
        )
    )
    print(f"whole core (7 x 4 x 4, nboot=1000, nmc={args.nmc}, 1 + 7 nulls): {t_all * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
