"""spwconsistency's task steps without CASA: relcal_fit's steps on fake MSs, or its JSON.

The spw selection is checked against the MSs, through relcal_fit's parameters, before
any fit. The two routes to the per-spw fits (vis, or a resultfile written by relcal_fit) give
the same numbers; the steps pass the fit parameters, the Monte Carlo settings and the
call through, log what they read and write their products staged.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.relcal.task import RelcalFitTask
from almacal.spwcons.results import output_paths
from almacal.spwcons.task import SpwConsistencyTask
from tests.unit.fake_log import casatasks_log
from tests.unit.relcal_synth import FakeReader, fake_ms
from tests.unit.spwcons_synth import synthetic_record

CALS = ["A", "B", "C"]
SCALE = (1.0, 0.93, 1.05, 0.98)
QUICK = {"nboot": 100, "nmc": 200}  # the XML minimum: these tests check plumbing, not noise


@pytest.fixture(autouse=True)
def log(monkeypatch):
    """casalog without CASA: (priority, message) of every post."""
    return casatasks_log(monkeypatch)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    rng = np.random.default_rng(515)
    out = []
    for i, g in enumerate(SCALE):
        d = tmp_path_factory.mktemp("spwtask") / f"ep{i + 1}.ms"
        d.mkdir()
        (d / "table.dat").write_bytes(b"")
        out.append(fake_ms(rng, str(d), day=40 * i, scale=g))
    return out


class SpyRelcal(RelcalFitTask):
    """relcal_fit's steps that remember the arguments spwconsistency gave them."""

    def __init__(self, reader):
        super().__init__(reader)
        self.calls: list[dict] = []

    def params(self, args):
        self.calls.append(dict(args))
        return super().params(args)


def _args(**kw):
    return load_spec("spwconsistency").defaults() | {"outfile": ""} | QUICK | kw


def _spw(sets, **kw):
    relcal = SpyRelcal(FakeReader(sets))
    return run_task(SpwConsistencyTask(relcal), _args(**kw)), relcal


def _relcal_json(sets, stem, **kw):
    args = load_spec("relcal_fit").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": CALS, "perspw": True}
    args |= {"outfile": str(stem), "overwrite": True} | kw
    return run_task(RelcalFitTask(FakeReader(sets)), args)


@pytest.fixture(scope="module")
def three_sets(tmp_path_factory):
    rng = np.random.default_rng(91)
    out = []
    for i, g in enumerate((1.0, 0.95, 1.04)):
        d = tmp_path_factory.mktemp("spwc") / f"ep{i + 1}.ms"
        d.mkdir()
        (d / "table.dat").write_bytes(b"")
        out.append(fake_ms(rng, str(d), day=30 * i, scale=g))
    return out


def _run(sets, **kw):
    reader = FakeReader(sets)
    args = load_spec("spwconsistency").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": ["A", "B", "C"], "outfile": ""} | kw
    return run_task(SpwConsistencyTask(RelcalFitTask(reader)), args), reader


def test_one_selected_spw_is_refused_before_any_fit(three_sets):
    with pytest.raises(ValueError, match=r"spw='1' selects 1 spectral window \(1\) of .*ep1\.ms"):
        _run(three_sets, spw="1")
    reader = FakeReader(three_sets)
    args = load_spec("spwconsistency").defaults()
    args |= {
        "vis": [s.info.path for s in three_sets],
        "field": ["A", "B"],
        "spw": "0",
        "outfile": "",
    }
    with pytest.raises(ValueError, match="needs at least two"):
        run_task(SpwConsistencyTask(RelcalFitTask(reader)), args)
    assert not reader.passes  # guard: refused before any visibility was read


def test_two_spws_run_relcal_fit_once_per_ms(three_sets):
    rec, reader = _run(three_sets, nmc=200, nboot=100)
    assert dict(reader.passes) == {s.info.path: 1 for s in three_sets}
    assert rec["spw"] == [0, 1] and np.isfinite(rec["decomposition"]["sigma_fit"]["sigma"])


def test_vis_runs_relcal_fit_per_spw_with_the_fit_parameters(sets, log):
    vis = [s.info.path for s in sets]
    rec, relcal = _spw(sets, vis=vis, field=CALS, uvrange="5~200klambda", seed=3)
    (call,) = relcal.calls
    assert call["vis"] == vis and call["field"] == CALS
    assert call["perspw"] is True and call["outfile"] == ""
    assert call["uvrange"] == "5~200klambda"  # a fit parameter reaches relcal_fit
    assert call["spw"] == "" and call["datacolumn"] == "auto" and call["groupby"] == "vis"
    # relcal_fit's other parameters are its XML defaults
    defaults = load_spec("relcal_fit").defaults()
    for key in ("model", "fitposition", "selfcal", "rejectsigma", "exclude"):
        assert call[key] == defaults[key], key
    assert rec["source"] == "relcal_fit of vis"
    assert rec["field"] == CALS and rec["epoch"] == [1, 2, 3, 4] and rec["spw"] == [0, 1]
    assert ("INFO", "Running relcal_fit(perspw=True) on 4 measurement sets") in log
    # the call is the record's params, as given
    assert rec["params"] == _args(vis=vis, field=CALS, uvrange="5~200klambda", seed=3)


def test_resultfile_gives_the_numbers_of_the_same_fits_from_vis(sets, tmp_path, log):
    vis = [s.info.path for s in sets]
    fit = _relcal_json(sets, tmp_path / "fit")
    path = str(tmp_path / "fit.json")
    from_file, relcal = _spw(sets, resultfile=path)
    assert relcal.calls == []  # nothing is fitted again
    from_vis, _ = _spw(sets, vis=vis, field=CALS)
    assert from_file["source"] == f"resultfile {path!r}"
    for key in ("norm_mcf", "norm_mcf_sigma", "decomposition", "powerlaw", "montecarlo", "qa"):
        assert from_file[key] == from_vis[key], key
    assert from_file["spw_freq_hz"] == fit["spw_freq_hz"]
    assert ("INFO", f"Reading per-spw fits from {path}") in log
    ghz = ", ".join("%.3f" % (f / 1e9) for f in fit["spw_freq_hz"])
    expected = (
        f"4 epochs x 3 calibrators x 2 spws ({ghz} GHz); 100 bootstrap resamples, 200 MC draws"
    )
    assert ("INFO", expected) in log


def test_settings_reach_the_computation(tmp_path, log):
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(synthetic_record(np.random.default_rng(8))))
    base, _ = _spw([], resultfile=str(path), seed=4)
    again, _ = _spw([], resultfile=str(path), seed=4)
    assert again == base  # seeded
    other_seed, _ = _spw([], resultfile=str(path), seed=5)
    assert other_seed["montecarlo"]["sigma_alpha"] != base["montecarlo"]["sigma_alpha"]
    more_mc, _ = _spw([], resultfile=str(path), seed=4, nmc=300)
    assert base["montecarlo"]["n_mc"] == 200 and more_mc["montecarlo"]["n_mc"] == 300
    more_boot, _ = _spw([], resultfile=str(path), seed=4, nboot=150)
    assert more_boot["powerlaw"]["alpha_boot"] != base["powerlaw"]["alpha_boot"]
    assert more_boot["powerlaw"]["alpha"] == base["powerlaw"]["alpha"]  # the fit itself
    strict, _ = _spw([], resultfile=str(path), seed=4, siglevel=0.2)
    assert strict["montecarlo"]["siglevel"] == 0.2 and base["montecarlo"]["siglevel"] == 0.05
    # report: the result's summary lines, each logged
    assert any(m.startswith("normalized MCFs: sigma_total = ") for _, m in log)


def test_rfcf_exclusions_are_logged_as_a_warning(tmp_path, log):
    rec = synthetic_record(np.random.default_rng(9))
    rec["exclusions"] = [
        {"epoch": 2, "field": "CAL3", "reason": "rejected"},
        {"epoch": 5, "field": "CAL1", "reason": "exclude"},
    ]
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(rec))
    out, _ = _spw([], resultfile=str(path))
    assert out["rfcf_excluded"] == rec["exclusions"]
    warnings = [m for p, m in log if p == "WARN"]
    assert len(warnings) == 1
    assert warnings[0].startswith("relcal_fit left 2 (epoch, calibrator) pairs out of its rFCF")
    assert "epoch 2 CAL3: rejected; epoch 5 CAL1: exclude" in warnings[0]
    log.clear()
    rec.pop("exclusions")
    path.write_text(json.dumps(rec))
    _spw([], resultfile=str(path))
    assert not [m for p, m in log if p == "WARN"]  # nothing left out: no warning


def test_products_are_written_and_not_overwritten(tmp_path, log):
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(synthetic_record(np.random.default_rng(10))))
    stem = str(tmp_path / "spw")
    rec, _ = _spw([], resultfile=str(path), outfile=stem)
    files = output_paths(stem)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["fit.json", "spw.html", *(os.path.basename(p) for p in files.values())]
    )
    assert json.loads((tmp_path / "spw.json").read_text())["qa"] == rec["qa"]
    wrote = [*files.values(), str(tmp_path / "spw.html")]
    assert ("INFO", "Wrote " + ", ".join(wrote)) in log
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _spw([], resultfile=str(path), outfile=stem)
    _spw([], resultfile=str(path), outfile=stem, overwrite=True)
    log.clear()
    _spw([], resultfile=str(path))  # outfile='' writes nothing and says nothing of it
    assert not [m for _, m in log if m.startswith("Wrote")]
    assert len(os.listdir(tmp_path)) == 2 + len(files)  # fit.json and spw.html beside them
