"""spwconsistency's result: record, tables and files carry the computed numbers (no casatools)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from almacal.spwcons.inputs import PerSpwFits
from almacal.spwcons.results import (
    SpwConsistencyResult,
    _noise_pattern,
    output_paths,
    write_outputs,
)
from almacal.spwcons.spindex import sigma_alpha, table5_sigma_alpha
from tests.unit.spwcons_synth import BAND7_HZ, synthetic_record


@pytest.fixture(scope="module")
def result():
    slope = np.zeros(7)
    slope[3] = 1.5  # one epoch with a 6 % slope across the band: flagged
    rec = synthetic_record(np.random.default_rng(91), sigma_spw=0.004, sigma_fit=0.004, slope=slope)
    return SpwConsistencyResult.compute(
        PerSpwFits.from_record(rec), nboot=200, nmc=4000, seed=2, siglevel=0.05, params={"a": 1}
    )


def test_record_holds_every_part_of_the_result(result):
    r, f, c = result.to_record(), result.fits, result.consistency
    assert r["task"] == "spwconsistency" and r["params"] == {"a": 1}
    assert r["epoch"] == list(f.epochs) and r["date"] == list(f.dates)
    assert r["field"] == list(f.fields) and r["spw"] == list(f.spws)
    assert r["spw_freq_hz"] == BAND7_HZ.tolist() and r["source"] == f.source
    assert r["rfcf_excluded"] == [dict(e) for e in f.rfcf_excluded]
    np.testing.assert_array_equal(r["norm_mcf"], result.norm)
    np.testing.assert_array_equal(r["norm_mcf_sigma"], result.norm_sigma)
    np.testing.assert_array_equal(r["residual"], result.decomposition.residual)
    np.testing.assert_array_equal(r["spw_mean"], result.decomposition.spw_mean)
    assert r["decomposition"] == result.decomposition.to_record()
    assert r["powerlaw"]["alpha"] == [p.alpha for p in result.powerlaws]
    assert r["powerlaw"]["alpha_boot_plus"] == [p.alpha_boot_plus for p in result.powerlaws]
    mc = r["montecarlo"]
    assert mc["n_mc"] == 4000 and mc["sigma_alpha"] == result.null.sigma_alpha
    assert mc["sigma_alpha_epoch"] == [n.sigma_alpha for n in result.epoch_nulls]
    assert mc["sigma_spw_others"] == [n.sigma_spw for n in result.epoch_nulls]
    assert mc["sigma_fit_others"] == [n.sigma_fit for n in result.epoch_nulls]
    assert mc["p_one"] == result.p_one.tolist() and mc["p_all_epochs"] == result.p_all.tolist()
    assert mc["p_one_sided"] == result.p_one_sided.tolist() and mc["siglevel"] == 0.05
    assert mc["slope_flagged"] == [i == 3 for i in range(7)]
    # each epoch is judged by a null from the other epochs (leave one out)
    spw_others, fit_others = result.decomposition.leave_one_out()
    np.testing.assert_allclose(mc["sigma_spw_others"], spw_others, rtol=1e-12)
    np.testing.assert_allclose(mc["sigma_fit_others"], fit_others, rtol=1e-12)
    assert result.null.sigma_spw == result.decomposition.sigma_spw
    assert result.null.sigma_fit == result.decomposition.fit.sigma
    # p_all = 1 - (1 - p_one)^7
    np.testing.assert_allclose(result.p_all, 1 - (1 - result.p_one) ** 7, rtol=1e-12)
    assert result.p_one[3] < 0.01 and np.all(np.delete(result.p_one, 3) > 0.01)
    # one-sided probabilities are smaller than two-sided ones, and never 0
    assert np.all(result.p_one_sided <= result.p_one) and np.all(result.p_one_sided > 0)
    pq, fq = r["pipeline_qa"], r["fine_qa"]
    np.testing.assert_array_equal(pq["k_spw"], c.k_spw)
    assert pq["ref_spw"] == [[f.spws[k] for k in row] for row in c.ref_spw]
    np.testing.assert_array_equal(pq["max_deviation"], c.pipeline_deviation)
    np.testing.assert_array_equal(pq["score"], c.pipeline_score)
    np.testing.assert_array_equal(fq["k_spw"], c.fine_k)
    assert fq["ref_spw"] == [f.spws[k] for k in c.fine_ref_spw]
    np.testing.assert_array_equal(fq["z"], c.fine_z)
    np.testing.assert_array_equal(fq["sigma_k"], c.sigma_k)
    assert fq["score"] == c.fine_score.tolist() and fq["verdict"] == c.verdicts()
    assert r["qa"] == result.qa()
    assert r["spectral_index_sigma"] == result.spectral_index_sigma()


def test_qa_and_spectral_index_sigma(result):
    qa = result.qa()
    assert qa["spectral_slope"] == 0.5  # epoch 4 flagged
    assert qa["pipeline_spectral_consistency"] == result.consistency.pipeline_score.min()
    assert qa["spectral_consistency"] == result.consistency.fine_score.min()
    assert result.slope_flagged.tolist() == [i == 3 for i in range(7)]
    s = result.spectral_index_sigma()
    d = result.decomposition
    assert s["nu1_hz"] == 336.5e9 and s["nu2_hz"] == 350.5e9
    assert s["sigma_f"] == d.sigma_spw and s["sigma_f_upper95"] == d.sigma_spw_upper
    assert s["sigma_alpha"] == pytest.approx(sigma_alpha(d.sigma_spw, 336.5e9, 350.5e9))
    assert s["sigma_alpha_upper95"] == pytest.approx(
        sigma_alpha(d.sigma_spw_upper, 336.5e9, 350.5e9)
    )
    assert s["table5_sigma_alpha"] == {
        str(b): v for b, v in table5_sigma_alpha(d.sigma_spw).items()
    }
    assert s["sigma_alpha_upper95"] > s["sigma_alpha"] > 0
    lines = result.summary_lines()
    assert len(lines) == 1 + 7 + 2 and "FLAGGED" in lines[4] and "FLAGGED" not in lines[3]


def test_log_lines_show_the_results_numbers(result):
    """What the task logs is a contract with the user reading it: each number is the
    result's own (in % where the text says %), with its words."""
    d, s, qa = result.decomposition, result.spectral_index_sigma(), result.qa()
    assert d.spw_error_detected  # the fixture's 0.4 % spw error: the branch pinned here
    lines = result.summary_lines()
    assert lines[0] == (
        f"normalized MCFs: sigma_total = {100 * d.total.sigma:.3f} +- "
        f"{100 * d.total.error:.3f} %, sigma_fit = {100 * d.fit.sigma:.3f} +- "
        f"{100 * d.fit.error:.3f} % (Eq. 4), sigma_spw = {100 * d.sigma_spw:.3f} +- "
        f"{100 * d.sigma_spw_error:.3f} % (Eq. 5); histogram widths "
        f"{100 * d.width_total.sigma:.3f} / {100 * d.width_fit.sigma:.3f} / "
        f"{100 * d.width_spw.sigma:.3f} %"
    )
    assert lines[1].startswith(f"epoch {result.fits.epochs[0]} {result.fits.dates[0]}: ")
    assert lines[-2] == (
        f"Monte Carlo ({result.null.alpha.size} draws): sigma_alpha = "
        f"{result.null.sigma_alpha:.3f}; in-band spectral index error between "
        f"{s['nu1_hz'] / 1e9:.2f} and {s['nu2_hz'] / 1e9:.2f} GHz at sigma_F = sigma_spw: "
        f"{s['sigma_alpha']:.3f}"
    )
    assert lines[-1] == "QA: " + ", ".join(f"{k}={v:.2f}" for k, v in qa.items())


def test_tables_and_files(result, tmp_path):
    paths = output_paths(str(tmp_path / "sc"))
    write_outputs(result, paths)
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths.values())
    assert sorted(paths) == ["ecsv", "epochs_ecsv", "hist_png", "json", "mc_png", "mcf_png"]
    for key in ("hist_png", "mc_png", "mcf_png"):
        with open(paths[key], "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n", key
    with open(paths["json"]) as fh:
        assert json.load(fh) == json.loads(json.dumps(result.to_record()))
    f = result.fits
    t = Table.read(paths["ecsv"], format="ascii.ecsv")
    assert len(t) == 7 * 4 * 4  # epoch, calibrator, spw: spw fastest
    assert list(t["epoch"][:5]) == [f.epochs[0]] * 4 + [f.epochs[0]]
    assert list(t["field"][:5]) == [f.fields[0]] * 4 + [f.fields[1]]
    assert list(t["spw"][:4]) == list(f.spws) and list(t["date"][-1:]) == [f.dates[-1]]
    np.testing.assert_allclose(t["freq"][:4], BAND7_HZ / 1e9, rtol=1e-15)
    assert str(t["freq"].unit) == "GHz" and str(t["flux_spw"].unit) == "Jy"
    assert str(t["flux_sigma_spw"].unit) == "Jy"
    for col, value in (
        ("flux_spw", f.flux_spw),
        ("flux_sigma_spw", f.flux_sigma_spw),
        ("mcf_spw", f.mcf_spw),
        ("mcf", np.repeat(f.mcf[:, :, None], 4, axis=2)),
        ("norm_mcf", result.norm),
        ("norm_mcf_sigma", result.norm_sigma),
        ("residual", result.decomposition.residual),
        ("spw_mean", np.repeat(result.decomposition.spw_mean[:, None, :], 4, axis=1)),
        ("k_spw", result.consistency.k_spw),
    ):
        np.testing.assert_array_equal(t[col], np.ravel(value), err_msg=col)
    assert t.meta["decomposition"]["dof_fit"] == result.decomposition.dof_fit
    assert "Sect. 3.4" in t.meta["description"]
    e = Table.read(paths["epochs_ecsv"], format="ascii.ecsv")
    assert list(e["epoch"]) == list(f.epochs) and list(e["date"]) == list(f.dates)
    for key in ("alpha", "alpha_error", "p_value_fit", "alpha_boot", "alpha_boot_minus"):
        np.testing.assert_array_equal(e[key], [p.to_record()[key] for p in result.powerlaws])
    for key in ("alpha_boot_plus", "chi2_red", "consistent_with_zero"):
        np.testing.assert_array_equal(e[key], [p.to_record()[key] for p in result.powerlaws])
    np.testing.assert_array_equal(e["sigma_alpha_mc"], [n.sigma_alpha for n in result.epoch_nulls])
    np.testing.assert_array_equal(e["p_mc_one"], result.p_one)
    np.testing.assert_array_equal(e["p_mc_all"], result.p_all)
    np.testing.assert_array_equal(e["slope_flagged"], result.slope_flagged)
    np.testing.assert_array_equal(e["pipeline_qa"], result.consistency.pipeline_score.min(axis=1))
    np.testing.assert_array_equal(e["fine_qa"], result.consistency.fine_score)
    np.testing.assert_array_equal(e["fine_z"], result.consistency.fine_z)
    assert e.meta["sigma_alpha_mc"] == result.null.sigma_alpha and e.meta["n_mc"] == 4000


def test_outputs_replace_files_already_at_their_paths(result, tmp_path, monkeypatch):
    # the task refuses existing outputs before any work (overwrite=False); what is left at
    # the staged names (a run killed under the same pid) must not stop the writers. The
    # figures (matplotlib overwrites) are test_tables_and_files': skipped here for speed
    for name in ("plot_normalized", "plot_histograms", "plot_montecarlo"):
        monkeypatch.setattr(f"almacal.spwcons.plot.{name}", lambda *a: None)
    paths = output_paths(str(tmp_path / "sc"))
    for p in paths.values():
        Path(p).write_text("left by a killed run\n")
    write_outputs(result, paths)
    assert len(Table.read(paths["ecsv"], format="ascii.ecsv")) == 7 * 4 * 4
    assert len(Table.read(paths["epochs_ecsv"], format="ascii.ecsv")) == 7
    assert json.loads(Path(paths["json"]).read_text()) == json.loads(json.dumps(result.to_record()))


def test_noise_pattern_is_relative_to_the_rms():
    rng = np.random.default_rng(92)
    sigma = rng.uniform(0.5, 2.0, (5, 3, 4))
    p = _noise_pattern(sigma)
    # (cal, spw) rms over epochs / rms of all: its mean square is 1
    assert p.shape == (3, 4) and np.mean(p**2) == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(p, np.sqrt((sigma**2).mean(axis=0) / (sigma**2).mean()))
    per = _noise_pattern(sigma, per_epoch=True)
    assert per.shape == sigma.shape
    for i in range(5):  # each epoch relative to the rms of the other four
        others = np.delete(sigma, i, axis=0)
        np.testing.assert_allclose(per[i], sigma[i] / np.sqrt((others**2).mean()), rtol=1e-12)
