"""The almacal stages in a real ALMA pipeline recipe (recipereducer.reduce) on simulated EBs.

Three ACA Band 7 EBs with injected flux-scale errors (flux_scale 1.0, 0.9, 1.08) and a
grid calibrator (J1924-2914, CALIBRATE_FLUX) whose flux.csv rows are 15 % low (the stale
catalog the pipeline had); the catalog file holds the truth near each EB. The recipe:

1 hifa_importdata  2 almacal_gridflux_check (updatemodels)  3 almacal_relcal
4 hif_applycal  5 almacal_spwconsistency, then bad inputs, each of which must end its
stage with an error on the weblog page and QA 0 while the recipe goes on and no MS
changes: 6 almacal_b2b_diagnostics (no band-to-band data) 7 almacal_relcal (unknown
field) 8 almacal_gridflux_check (catalog service unreachable).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from almacal.datasets import simulate_epochs
from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR
from tests.casa import test_gridflux_check as gridflux_data
from tests.casa.browser import page_text
from tests.casa.msutil import fingerprint
from tests.stages.recipe_data import catalog_file, stale_flux_csv
from tests.stages.weblog import command, procedure, weblog_screenshot

pytestmark = pytest.mark.needs_pipeline

FLUX_SCALE = (1.0, 0.9, 1.08)
STALE = gridflux_data.STALE  # flux.csv says 0.85 x the truth
CALIBRATORS = "SMM9,SMM4,SMM3,SMM11"
GOOD_STAGES = {2: "almacal_gridflux_check", 3: "almacal_relcal", 5: "almacal_spwconsistency"}
BAD_STAGES = {6: "almacal_b2b_diagnostics", 7: "almacal_relcal", 8: "almacal_gridflux_check"}
LAST_GOOD = 5


def _recipe(path: str, catalog: str) -> str:
    commands = [
        command("hifa_importdata", dbservice="False"),
        command("almacal_gridflux_check", catalog=catalog, updatemodels="True"),
        command("almacal_relcal", field=CALIBRATORS),
        command("hif_applycal"),
        command("almacal_spwconsistency", field=CALIBRATORS, nmc="200"),
        command("almacal_b2b_diagnostics"),
        command("almacal_relcal", field="NOSUCH,SMM9"),
        command(
            "almacal_gridflux_check", catalog="service", serviceurl="http://127.0.0.1:9/sc/flux",
            lightcurveurl="http://127.0.0.1:9/sc/search",
            timeout="2", cachedir=os.path.join(os.path.dirname(path), "empty_cache"),
        ),
    ]  # fmt: skip
    return procedure(path, "almacal_test", *commands)


@pytest.fixture(scope="session")
def run(tmp_path_factory, pipeline_display):
    """The recipe, run once: to stage 5, MSs fingerprinted, then the bad-input stages."""
    from pipeline import recipereducer

    import almacal.pipeline

    out = tmp_path_factory.mktemp("recipe")
    sim = simulate_epochs(
        out / "sim", n_epoch=3, flux_scale=list(FLUX_SCALE), seed=1212,
        calibrator_fields=[GRID_QUASAR, PHASE_QUASAR],
    )  # fmt: skip
    inputs = {p: fingerprint(p) for p in sim.paths}
    work = out / "work"
    work.mkdir()
    stale_flux_csv(str(work / "flux.csv"), sim.paths)
    shutil.copy(work / "flux.csv", out / "flux_stale.csv")
    catalog_file(str(out / "catalog.csv"), sim.paths)
    recipe = _recipe(str(out / "recipe.xml"), str(out / "catalog.csv"))
    stages = almacal.pipeline.register()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        vis = list(sim.paths)
        context = recipereducer.reduce(vis=vis, procedure=recipe, exitstage=LAST_GOOD)
        working = sorted(str(p) for p in work.glob("*.ms"))
        before_bad = {p: fingerprint(p) for p in working}
        context = recipereducer.reduce(
            vis=vis, procedure=recipe, context=context, startstage=LAST_GOOD + 1
        )
        # the context's results and weblog paths are relative to the working directory
        results = {r.stage_number: r for r in (p.read() for p in context.results)}
        html = os.path.abspath(context.report_dir)
        models = {ms.basename: _flux_models(ms) for ms in context.observing_run.measurement_sets}
    finally:
        os.chdir(cwd)
    return SimpleNamespace(
        sim=sim, out=out, work=work, context=context, results=results, stages=stages,
        inputs=inputs, working=working, before_bad=before_bad,
        html=html, models=models,
    )  # fmt: skip


def _flux_models(ms) -> dict[int, float]:
    """{spw: Stokes I (Jy)} of the grid calibrator in the context's flux models."""
    from pipeline.domain.measures import FluxDensityUnits

    (field,) = ms.get_fields(GRID_QUASAR.name)
    return {
        int(fm.spw_id): float(fm.I.to_units(FluxDensityUnits.JANSKY)) for fm in field.flux_densities
    }


def test_register_adds_the_stages_to_the_cli(run):
    import pipeline.cli

    assert run.stages == (
        "almacal_gridflux_check",
        "almacal_relcal",
        "almacal_spwconsistency",
        "almacal_b2b_diagnostics",
    )
    assert all(callable(getattr(pipeline.cli, s)) for s in run.stages)


def test_every_stage_ran_and_merged_with_qa_in_range(run):
    assert sorted(run.results) == list(range(1, 9)), sorted(run.results)
    for n, stage in {**GOOD_STAGES, **BAD_STAGES}.items():
        result = run.results[n]
        assert getattr(result, "stage", None) == stage, (n, type(result).__name__)
        scores = [q.score for q in result.qa.pool]
        assert scores and all(0.0 <= s <= 1.0 for s in scores), (stage, scores)
        assert all(q.shortmsg and q.longmsg for q in result.qa.pool)
    for n in GOOD_STAGES:
        assert run.results[n].errors == [], run.results[n].errors


def test_bad_inputs_end_their_stage_with_an_error_and_qa_zero(run):
    expected = {
        6: "DIFFGAINREF/DIFFGAINSRC",
        7: "NOSUCH",
        8: "check the network",
    }
    for n, text in expected.items():
        result = run.results[n]
        assert len(result.errors) == 1 and text in result.errors[0], result.errors
        assert min(q.score for q in result.qa.pool) == 0.0


def test_failed_stages_change_no_ms(run):
    assert run.working, "no working MS found"
    assert {p: fingerprint(p) for p in run.working} == run.before_bad
    assert {p: fingerprint(p) for p in run.inputs} == run.inputs


def test_relcal_recovers_the_injected_rfcfs(run):
    record = run.results[3].sections[0].record
    rfcf, sigma = np.array(record["rfcf"]), np.array(record["rfcf_sigma"])
    truth = run.sim.true_rfcf
    # 5 sigma of the propagated error (Eq. 2; calibrator fluxes ~0.1 % each)
    assert np.all(np.abs(rfcf - truth) < 5 * sigma), (rfcf, truth, sigma)
    # not vacuous: the injected errors are far outside that tolerance
    assert np.max(np.abs(truth - 1)) > 20 * np.max(sigma)


def test_relcal_tables_are_in_the_callibrary(run):
    lib = run.context.callibrary
    # hif_applycal moved them from the active to the applied calibration state
    registered = lib.active.get_caltable("amp") | lib.applied.get_caltable("amp")
    for vis in run.working:
        table = f"{vis}.almacal_relcal.s3.amp.tbl"
        assert table in registered and os.path.isdir(table), (table, registered)
    assert len(run.results[3].calapps) == len(run.working)


def test_applycal_after_relcal_aligns_the_calibrators(run):
    fluxes = []
    sigmas = []
    for vis in run.working:
        flux, sigma = gridflux_data._point_fluxes(vis, "CORRECTED_DATA")
        fluxes.append([flux[c] for c in CALIBRATORS.split(",")])
        sigmas.append([sigma[c] for c in CALIBRATORS.split(",")])
    f, s = np.array(fluxes), np.array(sigmas)
    rel = f / f.mean(axis=0)
    # each calibrator's flux now the same in every EB, within 5 sigma of its fit
    # (plus the rFCF's own error, of the same size)
    tol = 5 * np.sqrt(2) * s / f
    assert np.all(np.abs(rel - 1) < tol), (rel, tol)
    # not vacuous: before, the EBs differed by the injected 10 % and 8 %
    raw = np.array(
        [[gridflux_data._point_fluxes(v, "DATA")[0][c] for c in CALIBRATORS.split(",")]
         for v in run.working]
    )  # fmt: skip
    assert np.max(np.abs(raw / raw.mean(axis=0) - 1)) > 5 * np.max(tol)


def test_gridflux_finds_the_stale_flux_and_updates_the_models(run):
    record = run.results[2].sections[0].record
    for eb in record["eb"]:
        # catalog now / flux.csv = 1 / 0.85, within 5 sigma of the factor
        assert abs(eb["factor"] - 1 / STALE) < 5 * eb["factor_sigma"], eb
        assert eb["qa_score"] <= 0.66  # a 15 % change is flagged
    with open(run.work / "flux.csv") as fh:
        updated = [r for r in csv.DictReader(fh) if "J1924" in r["comment"]]
    with open(run.out / "flux_stale.csv") as fh:
        stale = [r for r in csv.DictReader(fh) if "J1924" in r["comment"]]
    assert len(updated) == len(stale) == 4 * len(run.working)
    ratio = [float(u["I"]) / float(s["I"]) for u, s in zip(updated, stale, strict=True)]
    assert np.allclose(ratio, 1 / STALE, rtol=0.02), ratio
    for name, models in run.models.items():
        row = {int(u["spw"]): float(u["I"]) for u in updated if u["ms"] == name}
        assert models and models.keys() == row.keys(), (name, models, row)
        assert np.allclose([models[k] for k in row], list(row.values()), rtol=1e-6)


def test_spwconsistency_scores_beside_the_pipeline_kspw(run):
    metrics = {q.origin.metric_name for q in run.results[5].qa.pool}
    assert "spwconsistency.spectral_consistency" in metrics, metrics
    assert "spwconsistency.pipeline_spectral_consistency" in metrics, metrics


def _page(run, n):
    return os.path.join(run.html, f"stage{n}", "t2-4m_details.html")


@pytest.mark.parametrize("n", sorted({**GOOD_STAGES, **BAD_STAGES}))
def test_weblog_page_renders(run, n, tmp_path):
    stage = {**GOOD_STAGES, **BAD_STAGES}[n]
    page = _page(run, n)
    assert os.path.isfile(page), page
    with open(page, encoding="utf-8") as fh:
        raw = fh.read()
    text = " ".join(page_text(page).split())
    assert stage in text
    assert "<table" in raw
    if n in GOOD_STAGES:
        images = re.findall(r'<img src="([^"]+\.png)"', raw)
        assert images, f"no figure on {page}"
        for src in images:
            assert os.path.isfile(os.path.join(run.html, src)), src
    else:
        assert f"{stage} stopped:" in text
    rgb = weblog_screenshot(run.html, run.out / f"stage{n}.png", n, tmp_path)[..., :3]
    ink = np.any(rgb < 0.9, axis=-1)
    assert ink.mean() > 0.02, f"screenshot of stage {n} nearly blank ({ink.mean():.4f})"
    assert rgb.reshape(-1, 3).std(axis=0).max() > 0.05
