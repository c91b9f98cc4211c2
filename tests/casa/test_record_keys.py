"""The records the tasks return are a public API: every key returned before the
architecture refactor keeps its name (tests/casa/record_keys.json, taken from the
records of the old code; nested dicts and the first element of lists of dicts too).
New keys may be added. The numbers were compared separately, case by case
(benchmarks/compare_records.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.casa.test_gridflux_check import STALE, _catalog_file, _pipeline_flux_csv

pytestmark = pytest.mark.casa

PINNED = json.loads((Path(__file__).parent / "record_keys.json").read_text())
CALS = ["SMM9", "SMM4", "SMM3", "SMM11"]


def missing_keys(pinned, record, where="") -> list[str]:
    """Keys of pinned (a key tree; '{...}' marks a dict with free keys) absent from record."""
    if isinstance(pinned, dict):
        if not isinstance(record, dict):
            return [f"{where}: not a dict ({type(record).__name__})"]
        out = []
        for key, sub in pinned.items():
            if key not in record:
                out.append(f"{where}.{key}")
            else:
                out += missing_keys(sub, record[key], f"{where}.{key}")
        return out
    if isinstance(pinned, list) and pinned:
        if not isinstance(record, list):
            return [f"{where}: not a list"]
        return missing_keys(pinned[0], record[0], f"{where}[0]") if record else []
    return []


def test_the_check_sees_a_missing_key():
    assert missing_keys({"a": None, "b": {"c": None}}, {"a": 1, "b": {}}) == [".b.c"]
    assert missing_keys([{"x": None}], [{"x": 1, "y": 2}]) == []
    assert missing_keys({"v": "{...}"}, {"v": {"/any/path": 1}}) == []


@pytest.fixture(scope="module")
def records(simulated_set, simulated_set_factory, tmp_path_factory):
    """One record per pinned case, on small shared sets."""
    from almacal import (
        b2b_phasetransfer,
        gridflux_check,
        relcal_apply,
        relcal_fit,
        spwconsistency,
    )
    from almacal.datasets import simulate_b2b, simulate_epochs
    from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR

    tmp = tmp_path_factory.mktemp("keys")
    vis = list(simulated_set.paths)
    phase = simulated_set_factory(
        n_epoch=2, flux_scale=[1.0, 0.92], epoch_phase_rms_deg=[0.0, 23.0], seed=61
    )

    def fit(paths=vis, **kw):
        return relcal_fit(vis=list(paths), field=CALS, outfile="", **kw)

    out = {
        "relcal_fit plain": fit(),
        "relcal_fit perspw": fit(perspw=True),
        "relcal_fit exclude": fit(exclude=["2:SMM9"]),
        "relcal_fit selfcal": fit(phase.paths, selfcal=True),
        "relcal_fit fitspw auto": fit(fitspw="auto", perspw=True),
        "relcal_fit uvrange common": fit(uvrange="common"),
        "relcal_fit common+modelcheck": fit(uvrange="common", modelcheck=True),
        "relcal_fit gaussian": fit(model="gaussian"),
        "relcal_fit point+gaussian": fit(model="point+gaussian", modelcheck=True),
        "relcal_fit all options": fit(
            fitspw="auto", uvrange="common", model="point+gaussian", modelcheck=True
        ),
        "relcal_fit rejectsigma": fit(rejectsigma=5.0),
        "relcal_fit minfamily": fit(minfamily=3),
        "relcal_fit fitposition": fit(vis[:3], fitposition=True),
    }
    stem = str(tmp / "fit")
    fitted = relcal_fit(vis=vis, field=CALS, outfile=stem)
    copies = []
    for p in vis[:2]:
        copies.append(str(tmp / os.path.basename(p)))
        shutil.copytree(p, copies[-1])
    outs = [str(tmp / f"r{k}.ms") for k in range(len(vis))]
    out["relcal_apply chain"] = [
        fitted,
        relcal_apply(vis=vis, factorfile=stem + ".json", dryrun=True),
        relcal_apply(vis=vis, factorfile=stem + ".json", outputvis=outs),
        fitted,
        relcal_apply(vis=copies, factor=[1.1, 0.9], mode="inplace"),
    ]
    relcal_fit(vis=vis, field=CALS, perspw=True, outfile=str(tmp / "spw"))
    out["spwconsistency"] = [
        spwconsistency(resultfile=str(tmp / "spw.json"), outfile=""),
        spwconsistency(vis=vis[:3], field=CALS, outfile=""),
    ]
    grid = simulate_epochs(
        tmp / "grid", n_epoch=1, flux_scale=[STALE],
        calibrator_fields=[GRID_QUASAR, PHASE_QUASAR], seed=404,
    )  # fmt: skip
    meta = _pipeline_flux_csv(tmp / "flux.csv", grid.paths[0])
    _catalog_file(tmp / "catalog.csv", meta.obs_date)
    out["gridflux_check"] = gridflux_check(
        vis=[grid.paths[0]], fluxcsv=str(tmp / "flux.csv"), catalog=str(tmp / "catalog.csv"),
        cachedir="", phasecheck=True, delays=True, outfile="",
    )  # fmt: skip
    b2b = simulate_b2b(tmp / "b2b", size="test", seed=2017)
    out["b2b_phasetransfer"] = [
        b2b_phasetransfer(
            vis=b2b.path, refant="", doapply=False, outfile=str(tmp / "d"), caltable=str(tmp / "d")
        ),
        b2b_phasetransfer(vis=b2b.path, refant="", outfile=str(tmp / "a"), caltable=str(tmp / "a")),
        b2b_phasetransfer(mode="plan", band=7, maxbaseline=15.0, sepinband=3.0, sepb2b=0.8),
    ]
    return out


@pytest.mark.parametrize("case", sorted(set(PINNED) - {"ngc5921", "relcal_fit fitposition+pg",
                                                        "relcal_fit spw selection",
                                                        "relcal_fit uvrange",
                                                        "relcal_fit weight_spectrum"}))  # fmt: skip
def test_every_pinned_key_is_still_returned(records, case):
    got = records[case]
    pinned = PINNED[case]
    got_list = got if isinstance(got, list) else [got]
    assert len(got_list) == len(pinned)
    for k, (p, r) in enumerate(zip(pinned, got_list, strict=True)):
        assert not missing_keys(p, r), (case, k, missing_keys(p, r))
