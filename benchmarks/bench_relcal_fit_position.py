"""relcal_fit fitposition=True: cost against fitposition=False and against a casatasks
uvmodelfit loop that fits flux and position (varypar=[True, True, True]), same data, one run.

Builds n epochs (size 'test' by default) whose calibrators are 0.9-1.8 arcsec off
their phase centres, then times (warm cache, one process):

1. relcal_fit, point model at the phase centre (the default);
2. relcal_fit, fitposition=True;
3. uvmodelfit per MS and calibrator (all spws together), on copies of the MSs
   (uvmodelfit adds MODEL_DATA and CORRECTED_DATA to what it fits),

and prints the ratios and how far the two position fits agree.

    CASASITECONFIG=$PWD/casa_init/config.py .venv/bin/python \
        benchmarks/bench_relcal_fit_position.py --outdir /tmp/bench_pos
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import time

OFFSETS = {"SMM9": (0.8, -0.5), "SMM4": (-1.2, 0.6), "SMM3": (0.5, 1.0), "SMM11": (1.5, -1.0)}
CALS = list(OFFSETS)


def _uvmodelfit(path: str, field: str, cl_path: str) -> tuple[float, float, float]:
    """Flux (Jy) and (east, north) offset (arcsec) of a uvmodelfit point fit."""
    import casatasks
    import casatools

    casatasks.uvmodelfit(
        vis=path,
        field=field,
        comptype="P",
        sourcepar=[1.0, 0.0, 0.0],
        varypar=[True, True, True],
        niter=10,
        outfile=cl_path,
    )
    cl, tb = casatools.componentlist(), casatools.table()
    cl.open(cl_path)
    flux = float(cl.getfluxvalue(0)[0])
    d = cl.getrefdir(0)
    cl.close()
    tb.open(os.path.join(path, "FIELD"))
    names = list(tb.getcol("NAME"))
    ra0, dec0 = tb.getcol("PHASE_DIR")[:, 0, names.index(field)]
    tb.close()
    rad = 180.0 * 3600.0 / math.pi
    dra = (d["m0"]["value"] - ra0) * math.cos(dec0) * rad
    return flux, dra, (d["m1"]["value"] - dec0) * rad


def main() -> None:
    import numpy as np

    from almacal import relcal_fit
    from almacal.datasets import simulate_epochs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--n-epoch", type=int, default=3)
    ap.add_argument("--size", default="test", choices=["test", "full"])
    a = ap.parse_args()
    sim = simulate_epochs(
        os.path.join(a.outdir, "set"),
        n_epoch=a.n_epoch,
        size=a.size,
        source_offset_arcsec=OFFSETS,
        seed=7,
        overwrite=True,
    )
    paths = list(sim.paths)
    relcal_fit(vis=paths, field=CALS, outfile="")  # warm the page cache
    t = {}
    t0 = time.perf_counter()
    plain = relcal_fit(vis=paths, field=CALS, outfile="")
    t["plain"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pos = relcal_fit(vis=paths, field=CALS, outfile="", fitposition=True)
    t["fitposition"] = time.perf_counter() - t0
    copies = os.path.join(a.outdir, "uvmf")
    shutil.rmtree(copies, ignore_errors=True)
    os.makedirs(copies)
    uvmf = np.zeros((len(paths), len(CALS), 3))
    t["uvmodelfit"] = 0.0
    for e, p in enumerate(paths):
        dst = os.path.join(copies, os.path.basename(p))
        shutil.copytree(p, dst)
        for j, c in enumerate(CALS):
            t0 = time.perf_counter()
            uvmf[e, j] = _uvmodelfit(dst, c, os.path.join(copies, f"{e}_{c}.cl"))
            t["uvmodelfit"] += time.perf_counter() - t0
    flux = np.array(pos["flux"])
    dra, ddec = np.array(pos["model_dra_arcsec"]), np.array(pos["model_ddec_arcsec"])
    print("epochs %d (%s), calibrators %d" % (len(paths), a.size, len(CALS)))
    for k, v in t.items():
        print("%-12s %7.2f s  (x %.2f of plain)" % (k, v, v / t["plain"]))
    print("fitposition / uvmodelfit time: %.3f" % (t["fitposition"] / t["uvmodelfit"]))
    print("plain flux / fitposition flux: %s" % np.round(np.array(plain["flux"]) / flux, 3))
    print("flux fitposition / uvmodelfit - 1: max |%.2e|" % np.abs(flux / uvmf[..., 0] - 1).max())
    print(
        "offset fitposition - uvmodelfit: max |dRA| %.4f, |dDec| %.4f arcsec"
        % (np.abs(dra - uvmf[..., 1]).max(), np.abs(ddec - uvmf[..., 2]).max())
    )
    true = np.array([OFFSETS[c] for c in CALS])
    print(
        "offset fitposition - truth: max |dRA| %.4f, |dDec| %.4f arcsec"
        % (np.abs(dra - true[:, 0]).max(), np.abs(ddec - true[:, 1]).max())
    )


if __name__ == "__main__":
    main()
