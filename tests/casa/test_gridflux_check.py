"""gridflux_check on a simulated EB whose flux scale came from a stale catalog:
check -> relcal_apply restores the injected truth; clear errors for bad inputs."""

import csv
import datetime as dt
import os
import shutil
from types import SimpleNamespace

import numpy as np
import pytest

from almacal.datasets import simulate_epochs
from almacal.figures import DPI
from almacal.simulate.gridcal import GRID_QUASAR, PHASE_QUASAR
from tests.casa.browser import check_report
from tests.casa.msutil import fingerprint
from tests.pngutil import assert_figure_png
from tests.recordutil import assert_json_is_record

pytestmark = pytest.mark.casa

STALE = 0.85
"""The catalog the pipeline used said 15 % less than the truth: every calibrated
visibility is scaled by F_stale / F_true = 0.85 (flux_scale)."""


def _true_flux(freq_hz, quasar=GRID_QUASAR):
    return quasar.flux_jy * (np.asarray(freq_hz) / 343.5e9) ** quasar.spectral_index


@pytest.fixture(scope="session")
def stale_eb(tmp_path_factory):
    """One test-size epoch (2018-10-14) with J1924-2914 as CALIBRATE_FLUX field."""
    out = tmp_path_factory.mktemp("gridflux")
    sim = simulate_epochs(
        out / "sim",
        n_epoch=1,
        flux_scale=[STALE],
        calibrator_fields=[GRID_QUASAR, PHASE_QUASAR],
        seed=404,
    )
    return sim


def _eb(vis):
    """What the tests need of the EB: science spws, their centre frequencies, the date."""
    from almacal.gridflux.ebselect import centre_frequencies, science_spws
    from almacal.io.msinfo import read_ms_info

    info = read_ms_info(vis)
    spws = science_spws(info)
    return SimpleNamespace(
        field_names=info.field_names,
        spws=spws,
        spw_freq_hz=centre_frequencies(info, spws),
        obs_date=info.start_utc,
    )


def _pipeline_flux_csv(path, vis):
    """flux.csv as hifa_importdata writes it, with the stale catalog flux at each spw."""
    meta = _eb(vis)
    fid = meta.field_names.index(GRID_QUASAR.name)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ms", "field", "spw", "I", "Q", "U", "V", "spix", "uvmin", "uvmax", "comment"])
        for spw, nu in zip(meta.spws, meta.spw_freq_hz, strict=True):
            w.writerow(
                [os.path.basename(vis), fid, spw, STALE * _true_flux(nu), 0, 0, 0,
                 GRID_QUASAR.spectral_index, 0.0, 0.0,
                 f"# field={GRID_QUASAR.name} intents=AMPLITUDE,BANDPASS origin=DB age=9.0 "
                 "queried_at=2018-10-16 08:00:00 UTC"]
            )  # fmt: skip
    return meta


def _catalog_file(path, obs):
    """The catalog as it is now: the truth at Band 3 (two sidebands) and Band 7, 1 d before
    the observation, and an older, lower pair (what the pipeline had seen)."""
    rows = []
    epochs = ((GRID_QUASAR, -1.0, 1.0), (GRID_QUASAR, -9.0, STALE), (PHASE_QUASAR, -3.0, 1.0))
    for quasar, days, scale in epochs:
        t = obs + dt.timedelta(days=days)
        for ghz, dt_b7 in ((91.5, 0.0), (103.5, 0.0), (343.5, -0.5)):
            f = scale * float(_true_flux(ghz * 1e9, quasar))
            rows.append(
                [quasar.name, (t + dt.timedelta(days=dt_b7)).isoformat()[:19], ghz, f,
                 0.02 * f, (t + dt.timedelta(days=3)).date().isoformat()]
            )  # fmt: skip
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "date", "frequency", "flux", "error", "ingested"])
        w.writerows(rows)


def _point_fluxes(vis, column):
    """Point-source fit of every field, all spws: (flux, sigma) dicts by field name."""
    from almacal.io.ms import CasaMs
    from almacal.relcal.accumulate import PassSpec, accumulate
    from almacal.relcal.fluxfit import fit_point
    from almacal.relcal.plan import Target, ms_plan

    reader = CasaMs()
    info = reader.read_info(vis)
    n = len(info.field_names)
    target = Target(info, np.arange(n), reader.select_channels(info, ""), column)
    plan = ms_plan(target, n, PassSpec())
    sums = accumulate(reader.chunks(plan.selection), plan).point
    fit = fit_point(sums.sum(axis=1))
    return dict(zip(info.field_names, fit.flux, strict=True)), dict(
        zip(info.field_names, fit.sigma_weights, strict=True)
    )


def _assert_ecsv_rows_are_the_ebs(path, ebs):
    """One row per EB and spw with the record's numbers (the table keeps full precision)."""
    from astropy.table import Table

    t = Table.read(path, format="ascii.ecsv")
    per_spw = {
        "freq": ("freq_hz", 1e-9),
        "pipeline_flux": ("pipeline_flux_jy", 1.0),
        "catalog_flux": ("catalog_flux_jy", 1.0),
        "catalog_flux_mc": ("catalog_flux_mc_jy", 1.0),
        "catalog_flux_sigma": ("catalog_flux_sigma_jy", 1.0),
        "flux_change_pct": ("flux_change_pct", 1.0),
        "factor_spw": ("factor_spw", 1.0),
    }
    per_eb = ("catalog_spix", "catalog_spix_sigma", "factor", "qa_score", "band3_age_days")
    assert len(t) == sum(len(eb["spw"]) for eb in ebs) > 0
    row = 0
    for eb in ebs:
        n = len(eb["spw"])
        part = t[row : row + n]
        row += n
        assert list(part["ms"]) == [eb["ms"]] * n and list(part["field"]) == [eb["field"]] * n
        assert list(part["spw"]) == eb["spw"] and list(part["obs_date"]) == [eb["obs_date"]] * n
        for col, (key, unit) in per_spw.items():
            np.testing.assert_allclose(part[col], np.array(eb[key]) * unit, rtol=1e-15, err_msg=col)
        for col in per_eb:
            np.testing.assert_allclose(part[col], eb[col], rtol=1e-15, err_msg=col)


def _assert_flux_csv_carries_the_catalog(path, original, eb):
    """The updated flux.csv, read as the pipeline reads it (csv.DictReader): the same rows,
    the calibrator's I and spix now the catalog's, a comment naming almacal."""
    with open(original, newline="") as fh:
        before = list(csv.DictReader(fh))
    with open(path, newline="") as fh:
        after = list(csv.DictReader(fh))
    assert len(after) == len(before) == len(eb["spw"])
    for k, (old, new) in enumerate(zip(before, after, strict=True)):
        assert new["ms"] == old["ms"]
        for key in ("field", "spw", "uvmin", "uvmax"):
            assert float(new[key]) == float(old[key]), key
        assert int(new["spw"]) == eb["spw"][k]
        assert float(new["I"]) == eb["catalog_flux_jy"][k]  # written with repr: exact
        # eb["catalog_flux_jy"] is checked by the caller against getALMAFlux's form of the
        # injected power law to 1e-9; here the file must carry exactly it
        assert float(new["I"]) != pytest.approx(float(old["I"]), rel=0.1)  # the stale one went
        assert [float(new[s]) for s in "QUV"] == [0.0, 0.0, 0.0]  # unpolarised stays so
        assert float(new["spix"]) == eb["catalog_spix"]
        assert f"field={eb['field']} intents=AMPLITUDE,BANDPASS" in new["comment"]
        assert "origin=almacal.gridflux_check" in new["comment"]
        assert f"age={eb['band3_age_days']:.2f}" in new["comment"]


def test_check_then_relcal_apply_restores_truth(stale_eb, tmp_path):
    from almacal import gridflux_check, relcal_apply

    vis = stale_eb.paths[0]
    meta = _pipeline_flux_csv(tmp_path / "flux.csv", vis)
    _catalog_file(tmp_path / "catalog.csv", meta.obs_date)
    before_check = fingerprint(vis)
    kw = dict(
        vis=[vis],
        fluxcsv=str(tmp_path / "flux.csv"),
        catalog=str(tmp_path / "catalog.csv"),
        cachedir="",
    )
    rec = gridflux_check(phasecheck=True, outfile=str(tmp_path / "gf"), **kw)
    two = gridflux_check(indexfit="twopoint", outfile="", **kw)["eb"][0]
    assert fingerprint(vis) == before_check  # a check: the EB is read, never written
    eb = rec["eb"][0]
    assert eb["field"] == GRID_QUASAR.name  # found by its CALIBRATE_FLUX intent
    assert eb["spw"] == list(meta.spws) and len(eb["spw"]) == 4
    # the catalog's Band 3 sidebands + Band 7 lie on the true power law: the two-point
    # rule is exact
    law = _true_flux(meta.spw_freq_hz)
    np.testing.assert_allclose(two["catalog_flux_jy"], law, rtol=1e-9)
    assert two["factor"] == pytest.approx(1 / STALE, rel=1e-9)
    # getALMAFlux's estimator (the default): the same index through the three points, and
    # the sidebands' arithmetic mean at 97.5 GHz, alpha (alpha - 1) / 2 (6 / 97.5)^2 =
    # 0.18 % above the law there
    b3 = float(np.mean(_true_flux(np.array([91.5e9, 103.5e9]))))
    au = b3 * (np.asarray(meta.spw_freq_hz) / 97.5e9) ** GRID_QUASAR.spectral_index
    np.testing.assert_allclose(eb["catalog_flux_jy"], au, rtol=1e-9)
    assert eb["indexfit"] == "au" and eb["au_flux_jy"] == eb["catalog_flux_jy"]
    bias = float(np.mean(au / law))
    assert bias - 1 == pytest.approx(0.00182, abs=2e-5)
    assert eb["catalog_spix"] == pytest.approx(GRID_QUASAR.spectral_index, abs=1e-9)
    assert eb["factor"] == pytest.approx(bias / STALE, rel=1e-9)
    np.testing.assert_allclose(eb["flux_change_pct"], 100 * (au / (STALE * law) - 1), rtol=1e-9)
    assert eb["qa_score"] == 0.33 and eb["band3_age_days"] == pytest.approx(1.0, abs=0.5)
    assert [u["role"] for u in eb["used_measurements"]] == ["flux", "flux", "index_b3",
                                                           "index_b3", "index_b7"]  # fmt: skip
    # App. C: the phase calibrator, calibrated on the stale scale, also asks for 1 / 0.85
    pc = rec["phase_check"][0]
    assert pc["field"] == PHASE_QUASAR.name and rec["phase_check_skipped"] == []
    # the catalog values are exact here; the fit's thermal sigma (~0.15 %) dominates: 5 sigma
    assert pc["rfcf"] == pytest.approx(
        1 / STALE, rel=5 * pc["measured_sigma_jy"] / pc["measured_jy"]
    )
    assert_json_is_record(tmp_path / "gf.json", rec)
    _assert_ecsv_rows_are_the_ebs(tmp_path / "gf.ecsv", rec["eb"])
    _assert_flux_csv_carries_the_catalog(tmp_path / "gf.flux.csv", tmp_path / "flux.csv", eb)
    # gridflux/plot.py: one 9 x 3.6 in panel per EB and 0.4 in of title
    assert_figure_png(tmp_path / "gf.png", figsize_in=(9, 3.6 + 0.4), dpi=DPI)
    # the report a reader opens: the factor and every flux change, the figure, the warnings
    # (none here; test_one_block_warns_that_drift_is_not_corrected checks a report's warnings)
    check_report(
        str(tmp_path / "gf.html"),
        numbers=[f"{eb['factor']:.4f} ± {eb['factor_sigma']:.4f}", f"{eb['qa_score']:.2f}"]
        + [
            f"{c:+.2f} ± {s:.2f}"
            for c, s in zip(eb["flux_change_pct"], eb["flux_change_sigma_pct"], strict=True)
        ],
        figures=[str(tmp_path / "gf.png")],
        warnings=eb["warnings"],
        tmp_path=tmp_path,
    )

    before, sigma = _point_fluxes(vis, "DATA")
    applied = relcal_apply(
        vis=[vis], factorfile=str(tmp_path / "gf.json"), outputvis=[str(tmp_path / "fixed.ms")]
    )
    assert applied["rescale"][0]["factor"] == pytest.approx(bias / STALE, rel=1e-12)
    after, _ = _point_fluxes(str(tmp_path / "fixed.ms"), "CORRECTED_DATA")
    for name, expected in stale_eb.truth["expected_field_flux_jy"].items():
        # the ideal fit of the sky without the stale scale, on getALMAFlux's scale
        truth = expected[0] / STALE * bias
        # thermal sigma of an 9-min point fit (~0.6 mJy), x 1/0.85 after rescaling; 5 sigma
        tol = 5 * sigma[name] / STALE
        assert after[name] == pytest.approx(truth, abs=tol), name
        if name in stale_eb.calibrators:  # bright YSOs: the stale scale was a > 50 sigma error
            assert abs(before[name] - truth) > 10 * tol
    assert after[GRID_QUASAR.name] == pytest.approx(
        float(np.mean(law)) * bias, rel=2e-3
    )  # the flux calibrator itself is back at its catalog flux


def test_clear_errors(stale_eb, tmp_path):
    import casatools

    from almacal import gridflux_check

    vis = stale_eb.paths[0]
    _pipeline_flux_csv(tmp_path / "flux.csv", vis)
    cat = tmp_path / "catalog.csv"
    _catalog_file(cat, dt.datetime(2018, 10, 14, tzinfo=dt.timezone.utc))
    kw = dict(fluxcsv=str(tmp_path / "flux.csv"), catalog=str(cat), cachedir="", outfile="")

    with pytest.raises(ValueError, match="field 'J0000' not found in .*fields are: SMM1"):
        gridflux_check(vis=[vis], field="J0000", **kw)
    with pytest.raises(ValueError, match="'SMM1' is not in catalog file"):
        gridflux_check(vis=[vis], field="SMM1", **(kw | {"fluxcsv": ""}))
    far = tmp_path / "far.csv"
    _catalog_file(far, dt.datetime(2018, 6, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(ValueError, match="outside the catalog of J1924-2914"):
        gridflux_check(vis=[vis], **(kw | {"catalog": str(far)}))

    other = str(tmp_path / "other.ms")
    shutil.copytree(vis, other)
    with pytest.raises(ValueError, match="fluxcsv .* has no rows for other.ms; it lists ep01"):
        gridflux_check(vis=[other], **kw)
    tb = casatools.table()
    tb.open(os.path.join(other, "OBSERVATION"), nomodify=False)
    tb.putcol("TELESCOPE_NAME", np.array(["VLA"] * tb.nrows()))
    tb.done()
    with pytest.raises(ValueError, match="observed with VLA; gridflux_check needs ALMA"):
        gridflux_check(vis=[other], **kw)


def test_service_on_loopback_equals_offline_file_and_falls_back_to_cache(stale_eb, tmp_path):
    from almacal import gridflux_check
    from almacal.gridflux.catalog import read_catalog_file
    from tests.unit.gridflux_fake_service import FakeCatalog, closed_port_url, serve

    vis = stale_eb.paths[0]
    meta = _pipeline_flux_csv(tmp_path / "flux.csv", vis)
    _catalog_file(tmp_path / "catalog.csv", meta.obs_date)
    kw = dict(vis=[vis], fluxcsv=str(tmp_path / "flux.csv"), outfile="", timeout=5.0)
    offline = gridflux_check(catalog=str(tmp_path / "catalog.csv"), cachedir="", **kw)
    cache = str(tmp_path / "cache")
    positions = {q.name: (q.ra_deg, q.dec_deg) for q in (GRID_QUASAR, PHASE_QUASAR)}
    fake = FakeCatalog(read_catalog_file(str(tmp_path / "catalog.csv")), positions)
    with serve(fake) as base:
        urls = dict(serviceurl=[base + "/sc/flux"], lightcurveurl=[base + "/sc/search"])
        web = gridflux_check(catalog="service", cachedir=cache, **urls, **kw)
    down = [closed_port_url() + "/sc/flux"], [closed_port_url() + "/sc/search"]
    cached = gridflux_check(
        catalog="service",
        cachedir=cache,
        serviceurl=down[0],
        lightcurveurl=down[1],
        phasecheck=True,
        **kw,
    )
    a, b, c = offline["eb"][0], web["eb"][0], cached["eb"][0]
    # the same measurements (written with full precision) give the same answer
    np.testing.assert_allclose(b["catalog_flux_jy"], a["catalog_flux_jy"], rtol=1e-12)
    np.testing.assert_allclose(b["catalog_flux_sigma_jy"], a["catalog_flux_sigma_jy"], rtol=1e-9)
    assert b["factor"] == pytest.approx(a["factor"], rel=1e-12)
    assert [u["date"] for u in b["used_measurements"]] == [
        u["date"] for u in a["used_measurements"]
    ]
    assert b["catalog"]["origin"] == "service" and c["catalog"]["origin"] == "cache"
    assert c["catalog"]["queried_at"] == b["catalog"]["queried_at"]
    assert c["factor"] == b["factor"] and len(c["service_answers"]) == 4
    assert any(p == "/sc/flux" for p, _ in fake.requests)
    # the cone is centred on the FIELD table position of the amplitude calibrator (7 decimals
    # of a degree: 0.4 mas; the simulator writes the catalogue position)
    (form,) = [q for p, q in fake.requests if p == "/sc/search"]
    assert float(form["ra"]) == pytest.approx(GRID_QUASAR.ra_deg, abs=1e-7)
    assert float(form["dec"]) == pytest.approx(GRID_QUASAR.dec_deg, abs=1e-7)
    assert b["catalog"]["version"].startswith("unknown")
    # the phase calibrator's light curve was never fetched: App. C is skipped, not fatal
    assert cached["phase_check"] == [] and len(cached["phase_check_skipped"]) == 1
    assert "J1851+0035" in cached["phase_check_skipped"][0]
    assert "failed on every host" in cached["phase_check_skipped"][0]
