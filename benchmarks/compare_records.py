"""Every task's record on fixed data sets, for comparing two versions of almacal key by key.

Builds (once, into --data) the test-size simulated sets the CASA tests use, a
stale-catalog grid-calibrator EB, a B2B observation and NGC5921 from casadata;
then runs relcal_fit with each option, relcal_apply, spwconsistency,
gridflux_check and b2b_phasetransfer on them and writes every returned record to
one JSON file. Tasks that write run in --work, which is wiped first, so two runs
give the same paths.

    # on the old version, then on the new one, same --data and --work:
    python benchmarks/compare_records.py run --data /tmp/cmp/data --work /tmp/cmp/run --out old.json
    python benchmarks/compare_records.py run --data /tmp/cmp/data --work /tmp/cmp/run --out new.json
    python benchmarks/compare_records.py diff old.json new.json   # numbers to 1e-12 relative

Keys holding wall-clock times (e.g. selfcal_seconds, casa_seconds, run_at) are
not compared.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

TIME_KEYS = re.compile(r"(seconds|run_at|queried_at|elapsed)$")
CALS = ["SMM9", "SMM4", "SMM3", "SMM11"]
FLUX_SCALE = [1.0, 0.92, 1.06, 0.97]
SEED000_RFCF = (1.02, 1.02, 0.98, 1.02, 1.09, 0.94, 0.92)
OFFSETS = {"SMM9": (0.8, -0.5), "SMM4": (-1.2, 0.6), "SMM3": (0.5, 1.0), "SMM11": (1.5, -1.0)}
STALE = 0.85


def _scaled_aca(data: str) -> dict[float, str]:
    """The ACA cycle 7 pads stretched x3 and x1.5 about their centre (as the CASA tests)."""
    import casadata
    import numpy as np

    from almacal.simulate import ACA_CONFIG

    with open(os.path.join(casadata.datapath, ACA_CONFIG), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    rows = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    xyz = np.array([[float(v) for v in r[:3]] for r in rows])
    out = {}
    for factor in (3.0, 1.5):
        path = os.path.join(data, f"aca_x{factor}.cfg")
        c = xyz.mean(axis=0)
        new = xyz.copy()
        new[:, :2] = c[:2] + factor * (xyz[:, :2] - c[:2])
        body = [
            " ".join([*(f"{v:.4f}" for v in p), *r[3:]]) for p, r in zip(new, rows, strict=True)
        ]
        if not os.path.exists(path):
            with open(path, "w", encoding="utf-8") as fh:
                fh.write("\n".join(head + body) + "\n")
        out[factor] = path
    return out


def _sets(data: str) -> dict[str, Any]:
    """Simulated sets by name, built when missing."""
    import numpy as np

    from almacal.datasets import simulate_epochs
    from almacal.simulate import SimulatedSet
    from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR

    aca = _scaled_aca(data)
    variable = np.ones((4, 4))
    variable[1, 2] = 1.3
    specs: dict[str, dict[str, Any]] = {
        "base": {"n_epoch": 7, "flux_scale": [1 / r for r in SEED000_RFCF], "seed": 20200611},
        "spw": {
            "n_epoch": 7,
            "flux_scale": [1 / r for r in SEED000_RFCF],
            "spw_scale_sigma": 0.008,
            "seed": 5,
        },
        "wspec": {"n_epoch": 2, "weight_spectrum": True, "seed": 3},
        "phase": {
            "n_epoch": 3,
            "flux_scale": FLUX_SCALE[:3],
            "epoch_phase_rms_deg": [0.0, 23.0, 0.0],
            "seed": 61,
        },
        "line": {
            "n_epoch": 3,
            "flux_scale": FLUX_SCALE[:3],
            "line_peak_jy": [3.0, 0.0, 1.0],
            "seed": 62,
        },
        "config": {
            "n_epoch": 3,
            "flux_scale": FLUX_SCALE[:3],
            "extended_fraction": 0.25,
            "antenna_config": [None, aca[3.0], None],
            "seed": 63,
        },
        "envelope": {
            "n_epoch": 3,
            "flux_scale": FLUX_SCALE[:3],
            "noise_scale": 0.25,
            "extended_fraction": 0.5,
            "antenna_config": [None, aca[1.5], None],
            "seed": 64,
        },
        "variable": {
            "n_epoch": 4,
            "flux_scale": FLUX_SCALE,
            "cal_flux_scale": variable.tolist(),
            "seed": 65,
        },
        "offset": {
            "n_epoch": 3,
            "flux_scale": FLUX_SCALE[:3],
            "antenna_config": [None, aca[1.5], None],
            "source_offset_arcsec": OFFSETS,
            "seed": 66,
        },
        "grid": {
            "n_epoch": 1,
            "flux_scale": [STALE],
            "calibrator_fields": [GRID_QUASAR, PHASE_QUASAR],
            "seed": 404,
        },
    }
    out: dict[str, Any] = {}
    for name, kwargs in specs.items():
        outdir = os.path.join(data, name)
        truth = os.path.join(outdir, "truth.json")
        if not os.path.exists(truth):
            simulate_epochs(outdir, size="test", **kwargs)
        out[name] = SimulatedSet.from_truth(truth)
    return out


def _b2b(data: str) -> str:
    from almacal.datasets import simulate_b2b

    outdir = os.path.join(data, "b2b")
    if not os.path.exists(os.path.join(outdir, "b2b_truth.json")):
        simulate_b2b(outdir, size="test", seed=2017)
    return os.path.join(outdir, "b2b_test.ms")


def _ngc5921(data: str) -> str:
    import casadata
    import casatasks

    path = os.path.join(data, "ngc5921.ms")
    if not os.path.exists(path):
        fits = os.path.join(casadata.datapath, "demo", "NGC5921.fits")
        casatasks.importuvfits(fitsfile=fits, vis=path)
    return path


def _grid_inputs(vis: str, work: str) -> tuple[str, str]:
    """flux.csv with the stale flux and a catalog file (as tests/casa/test_gridflux_check)."""
    import casatools
    import numpy as np

    from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR

    def true_flux(ghz: float, q: Any = GRID_QUASAR) -> float:
        return q.flux_jy * (ghz / 343.5) ** q.spectral_index

    md = casatools.msmetadata()
    md.open(vis)
    try:
        names = list(md.fieldnames())
        spws = [int(s) for s in md.spwsforintent("CALIBRATE_FLUX#ON_SOURCE")]
        ghz = [float(np.mean(md.chanfreqs(s))) / 1e9 for s in spws]
        t0 = md.timerangeforobs(0)["begin"]["m0"]["value"]
    finally:
        md.done()
    obs = dt.datetime(1858, 11, 17) + dt.timedelta(days=t0)
    fluxcsv = os.path.join(work, "flux.csv")
    with open(fluxcsv, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ms", "field", "spw", "I", "Q", "U", "V", "spix", "uvmin", "uvmax", "comment"])
        for spw, g in zip(spws, ghz, strict=True):
            w.writerow(
                [os.path.basename(vis), names.index(GRID_QUASAR.name), spw,
                 STALE * true_flux(g), 0, 0, 0, GRID_QUASAR.spectral_index, 0.0, 0.0,
                 f"# field={GRID_QUASAR.name} intents=AMPLITUDE,BANDPASS origin=DB age=9.0 "
                 "queried_at=2018-10-16 08:00:00 UTC"]
            )  # fmt: skip
    catalog = os.path.join(work, "catalog.csv")
    rows = []
    for quasar, days, scale in ((GRID_QUASAR, -1.0, 1.0), (GRID_QUASAR, -9.0, STALE),
                                (PHASE_QUASAR, -3.0, 1.0)):  # fmt: skip
        t = obs + dt.timedelta(days=days)
        for g, dt_b7 in ((91.5, 0.0), (103.5, 0.0), (343.5, -0.5)):
            f = scale * true_flux(g, quasar)
            rows.append(
                [quasar.name, (t + dt.timedelta(days=dt_b7)).isoformat()[:19], g, f, 0.02 * f,
                 (t + dt.timedelta(days=3)).date().isoformat()]
            )  # fmt: skip
    with open(catalog, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "date", "frequency", "flux", "error", "ingested"])
        w.writerows(rows)
    return fluxcsv, catalog


def _copies(paths: tuple[str, ...], dest: str) -> list[str]:
    os.makedirs(dest, exist_ok=True)
    out = []
    for p in paths:
        target = os.path.join(dest, os.path.basename(p))
        shutil.copytree(p, target)
        out.append(target)
    return out


def cases(data: str, work: str) -> dict[str, Callable[[], Any]]:
    """name -> a call returning a task record (or a list of records)."""
    import almacal

    sets = _sets(data)
    b2b = _b2b(data)
    ngc = _ngc5921(data)

    def fit(name: str, **kw: Any) -> Callable[[], Any]:
        kw.setdefault("outfile", "")
        return lambda: almacal.relcal_fit(vis=list(sets[name].paths), field=CALS, **kw)

    def out(name: str) -> str:
        return os.path.join(work, name)

    def apply_chain() -> Any:
        vis = _copies(sets["base"].paths, out("apply"))
        fitted = almacal.relcal_fit(vis=vis, field=CALS, outfile=out("apply/fit"))
        dry = almacal.relcal_apply(vis=vis, factorfile=out("apply/fit.json"), dryrun=True)
        done = almacal.relcal_apply(vis=vis, factorfile=out("apply/fit.json"))
        refit = almacal.relcal_fit(
            vis=[r["outputvis"] for r in done["rescale"]],
            field=CALS,
            datacolumn="corrected",
            outfile="",
        )
        inplace = almacal.relcal_apply(vis=vis[:2], factor=[1.1, 0.9], mode="inplace")
        return [fitted, dry, done, refit, inplace]

    def spwcons() -> Any:
        almacal.relcal_fit(
            vis=list(sets["spw"].paths), field=CALS, perspw=True, outfile=out("spwfit")
        )
        from_file = almacal.spwconsistency(
            resultfile=out("spwfit.json"), outfile=out("spwcons"), seed=1
        )
        from_vis = almacal.spwconsistency(
            vis=list(sets["base"].paths), field=CALS, outfile="", seed=2
        )
        return [from_file, from_vis]

    def gridflux() -> Any:
        os.makedirs(out("grid"), exist_ok=True)
        vis = sets["grid"].paths[0]
        fluxcsv, catalog = _grid_inputs(vis, out("grid"))
        return almacal.gridflux_check(
            vis=[vis],
            fluxcsv=fluxcsv,
            catalog=catalog,
            cachedir="",
            phasecheck=True,
            delays=True,
            outfile=out("grid/gf"),
        )

    def b2b_runs() -> Any:
        vis = _copies((b2b,), out("b2b"))[0]
        diag = almacal.b2b_phasetransfer(
            vis=vis, refant="", doapply=False, outfile=out("b2b/diag"), caltable=out("b2b/d")
        )
        applied = almacal.b2b_phasetransfer(vis=vis, refant="", outfile=out("b2b/apply"))
        plan = almacal.b2b_phasetransfer(
            mode="plan", band=7, maxbaseline=15.0, sepinband=3.0, sepb2b=0.8
        )
        return [diag, applied, plan]

    def ngc_chain() -> Any:
        vis = _copies((ngc,), out("ngc"))[0]
        cals = ["1331+30500002_0", "1445+09900002_0"]
        done = almacal.relcal_apply(vis=[vis], factor=[1.1])
        rescaled = done["rescale"][0]["outputvis"]
        # NGC5921's DATA are not phase-calibrated: without selfcal the vector average of
        # either calibrator is ~0 and relcal_fit refuses the epochs (not a detection)
        return [
            done,
            almacal.relcal_fit(
                vis=[vis, rescaled], field=cals, outfile="", perspw=True, selfcal=True
            ),
        ]

    return {
        "relcal_fit plain": fit("base", outfile=out("plain")),
        "relcal_fit perspw": fit("spw", perspw=True),
        "relcal_fit exclude": fit("base", exclude=["2:SMM9", "5:SMM3"]),
        "relcal_fit uvrange": fit("base", uvrange="10~40klambda"),
        "relcal_fit spw selection": fit("base", spw="0,2:2~12"),
        "relcal_fit weight_spectrum": fit("wspec", perspw=True),
        "relcal_fit selfcal": fit("phase", selfcal=True),
        "relcal_fit fitspw auto": fit("line", fitspw="auto", perspw=True),
        "relcal_fit uvrange common": fit("config", uvrange="common"),
        "relcal_fit common+modelcheck": fit("config", uvrange="common", modelcheck=True),
        "relcal_fit gaussian": fit("envelope", model="gaussian"),
        "relcal_fit point+gaussian": fit("envelope", model="point+gaussian", modelcheck=True),
        "relcal_fit all options": fit(
            "envelope",
            fitspw="auto",
            uvrange="common",
            model="point+gaussian",
            modelcheck=True,
        ),
        "relcal_fit rejectsigma": fit("variable", rejectsigma=5.0),
        "relcal_fit minfamily": fit("variable", minfamily=3),
        "relcal_fit fitposition": fit("offset", fitposition=True, outfile=out("pos")),
        "relcal_fit fitposition+pg": fit("offset", fitposition=True, model="point+gaussian"),
        "relcal_apply chain": apply_chain,
        "spwconsistency": spwcons,
        "gridflux_check": gridflux,
        "b2b_phasetransfer": b2b_runs,
        "ngc5921": ngc_chain,
    }


def run(args: argparse.Namespace) -> None:
    data, work = os.path.abspath(args.data), os.path.abspath(args.work)
    os.makedirs(data, exist_ok=True)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    os.chdir(work)
    records = {}
    for name, call in cases(data, work).items():
        if args.only and not re.search(args.only, name):
            continue
        print(f"running {name}", file=sys.stderr, flush=True)
        try:
            records[name] = call()
        except Exception as exc:  # a refusal is behaviour to compare too
            records[name] = {"error": f"{type(exc).__name__}: {exc}"}
    from almacal.outputs import json_safe

    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(json_safe(records), fh, indent=1, sort_keys=True)


def _diff(a: Any, b: Any, where: str, rtol: float, out: list[str], skipped: set[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if TIME_KEYS.search(str(k)):
                skipped.add(str(k))
            elif k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'new' if k not in a else 'old'}")
            else:
                _diff(a[k], b[k], f"{where}.{k}", rtol, out, skipped)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff(x, y, f"{where}[{i}]", rtol, out, skipped)
    elif isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float):
        if a != b:
            out.append(f"{where}: {a!r} != {b!r}")
    elif not isinstance(b, int | float):
        out.append(f"{where}: {a!r} != {b!r}")
    elif not math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300):
        out.append(f"{where}: {a!r} != {b!r} (rel {abs(a - b) / max(abs(a), abs(b)):.2e})")


def diff(args: argparse.Namespace) -> int:
    with open(args.old, encoding="utf-8") as fh:
        old = json.load(fh)
    with open(args.new, encoding="utf-8") as fh:
        new = json.load(fh)
    if args.only:
        old = {k: v for k, v in old.items() if re.search(args.only, k)}
        new = {k: v for k, v in new.items() if re.search(args.only, k)}
    problems: list[str] = []
    skipped: set[str] = set()
    _diff(old, new, "", args.rtol, problems, skipped)
    n_num = json.dumps(old).count(",")
    for p in problems:
        print(p)
    print(
        f"{len(old)} cases, ~{n_num} values; {len(problems)} differences beyond "
        f"rtol={args.rtol:g}; not compared (times): {', '.join(sorted(skipped)) or 'none'}"
    )
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run every case and write the records")
    r.add_argument("--data", required=True, help="data sets (built when missing)")
    r.add_argument("--work", required=True, help="working directory (wiped first)")
    r.add_argument("--out", required=True, help="records JSON to write")
    r.add_argument("--only", default="", help="regular expression: run matching cases only")
    d = sub.add_parser("diff", help="compare two records files")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--rtol", type=float, default=1e-12, help="relative tolerance")
    d.add_argument("--only", default="", help="regular expression: compare matching cases only")
    args = parser.parse_args()
    if args.cmd == "run":
        run(args)
        return 0
    return diff(args)


if __name__ == "__main__":
    sys.exit(main())
