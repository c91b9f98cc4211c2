"""relcal_fit's result object, record, table and files from known sums (no casatools)."""

import json
import os

import numpy as np
import pytest
from astropy.table import Table

from almacal.relcal.fluxfit import N_SUMS, SUM_N, SUM_W, SUM_W_ABS2, SUM_W_RE
from almacal.relcal.results import Epoch, RelcalResult, output_paths, write_outputs

FIELDS = ("SMM9", "SMM4", "SMM3", "SMM11")
TRUE_FLUX = np.array([0.95, 0.75, 0.55, 0.35])


def _sums(rng, scale, spw_gain, rel_noise=1e-3, n_vis=5000):
    """(epoch, cal, spw, N_SUMS) sums of point fits with chi2_red = 1 exactly.

    Measured flux = scale_i T_j g_k (1 + rel_noise x N(0, 1)); sigma = rel_noise x flux."""
    n_ep, n_spw = scale.size, spw_gain.size
    flux = scale[:, None, None] * TRUE_FLUX[None, :, None] * spw_gain[None, None, :]
    flux = flux * (1 + rel_noise * rng.standard_normal(flux.shape))
    sigma = rel_noise * TRUE_FLUX[None, :, None] * np.ones((n_ep, 1, n_spw))
    w = sigma**-2
    out = np.zeros(flux.shape + (N_SUMS,))
    out[..., SUM_W] = w
    out[..., SUM_W_RE] = w * flux
    out[..., SUM_N] = n_vis
    out[..., SUM_W_ABS2] = w * flux**2 + (2 * n_vis - 1)  # chi^2 = dof
    return out


def _result(tmp_path, rng, **kw):
    scale = np.array([1.0, 1.12, 0.95, 0.9])
    epochs = tuple(
        Epoch(i + 1, f"2019-0{i + 1}-15", (str(tmp_path / f"ep{i + 1}_a.ms"),)) for i in range(4)
    )
    epochs = epochs[:3] + (Epoch(4, "2019-04-15", ("d1.ms", "d2.ms")),)
    excluded = np.zeros((4, 4), bool)
    excluded[2, 3] = True
    kw.setdefault("perspw", True)
    res = RelcalResult.compute(
        epochs=epochs,
        fields=FIELDS,
        spws=(17, 19),
        spw_freq_hz=(336.5e9, 338.5e9),
        sums=_sums(rng, scale, np.array([1.0, 1.01])),
        excluded=excluded,
        params={"uvrange": ""},
        **kw,
    )
    return res, scale, excluded


def test_compute_recovers_injected_epoch_scales_and_honours_exclusions(tmp_path):
    res, scale, excluded = _result(tmp_path, np.random.default_rng(81))
    true_rfcf = scale.mean() / scale
    # fluxes to 0.1 % / sqrt(2 spws) = 0.07 %, MCFs ~0.08 %, 3-4 calibrators: rfcf_sigma
    # ~0.04 %; allow 5 of it
    np.testing.assert_allclose(res.rfcf, true_rfcf, atol=5 * res.factors.rfcf_sigma.max())
    assert 2e-4 < res.factors.rfcf_sigma.max() < 6e-4
    assert not res.used[2, 3] and res.used.sum() == 15
    np.testing.assert_array_equal(res.factors.n_used, [4, 4, 3, 4])
    # the fit's sums: sigma_weights = 1e-3 T_j / sqrt(2 spws), chi2_red 1, n_vis 2 x 5000
    f = res.total.fit
    np.testing.assert_allclose(f.sigma_weights, 1e-3 * TRUE_FLUX / np.sqrt(2) + 0 * f.flux)
    # summed over spws, chi^2 adds the spread of the spw fluxes about their mean (1 % gain)
    sums = _sums(np.random.default_rng(81), np.array([1.0, 1.12, 0.95, 0.9]), np.array([1, 1.01]))
    fk = sums[..., SUM_W_RE] / sums[..., SUM_W]
    fbar = sums[..., SUM_W_RE].sum(-1) / sums[..., SUM_W].sum(-1)
    spread = (sums[..., SUM_W] * (fk - fbar[..., None]) ** 2).sum(-1)
    np.testing.assert_allclose(f.chi2_red, (2 * 9999 + spread) / 19999, rtol=1e-9)
    assert np.all(spread > 10)  # guard: the spread term is not negligible
    assert np.all(f.n_vis == 10000)
    assert res.per_spw is not None and res.per_spw.mcf.shape == (4, 4, 2)
    assert res.choice is None
    # the log line: every epoch's number, rFCF and its error
    assert res.summary() == ", ".join(
        f"{e.number}:{r:.4f}+-{sig:.4f}"
        for e, r, sig in zip(res.epochs, res.rfcf, res.factors.rfcf_sigma, strict=True)
    )
    vf = res.vis_factors()
    assert vf[str(tmp_path / "ep1_a.ms")] == pytest.approx(res.rfcf[0])
    assert vf[os.path.abspath("d1.ms")] == vf[os.path.abspath("d2.ms")] == res.rfcf[3]


def test_record_table_and_files_carry_the_same_numbers(tmp_path):
    res, _, _ = _result(tmp_path, np.random.default_rng(82))
    rec = res.to_record()
    assert rec["task"] == "relcal_fit" and rec["epoch"] == [1, 2, 3, 4]
    assert rec["date"][3] == "2019-04-15" and rec["vis"][3] == ["d1.ms", "d2.ms"]
    assert rec["field"] == list(FIELDS) and rec["spw"] == [17, 19]
    assert rec["spw_freq_hz"] == [336.5e9, 338.5e9] and rec["params"] == {"uvrange": ""}
    assert rec["used"] == res.used.tolist() and rec["n_used"] == [4, 4, 3, 4]
    for key, value in (
        ("rfcf", res.factors.rfcf),
        ("rfcf_std", res.factors.rfcf_std),
        ("rfcf_sigma", res.factors.rfcf_sigma),
        ("flux", res.total.fit.flux),
        ("flux_sigma", res.total.fit.sigma_chi2),
        ("flux_sigma_weights", res.total.fit.sigma_weights),
        ("chi2_red", res.total.fit.chi2_red),
        ("mcf", res.total.mcf),
        ("mcf_sigma", res.total.mcf_sigma),
        ("flux_spw", res.per_spw.fit.flux),
        ("mcf_spw", res.per_spw.mcf),
        ("mcf_sigma_spw", res.per_spw.mcf_sigma),
    ):
        np.testing.assert_array_equal(rec[key], value, err_msg=key)
    assert rec["n_vis"] == res.total.fit.n_vis.tolist()
    assert rec["vis_factors"] == res.vis_factors()
    paths = output_paths(str(tmp_path / "out"))
    write_outputs(res, paths)
    assert sorted(paths) == ["ecsv", "json", "png"]
    assert sorted(os.listdir(tmp_path)) == ["out.ecsv", "out.json", "out.png"]  # no temporaries
    with open(paths["json"]) as fh:
        assert json.load(fh) == json.loads(json.dumps(rec))
    with open(paths["png"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"

    t = Table.read(paths["ecsv"], format="ascii.ecsv")
    assert len(t) == 16  # one row per epoch and calibrator, epoch-major
    assert list(t["epoch"]) == list(np.repeat([1, 2, 3, 4], 4))
    assert list(t["field"]) == list(FIELDS) * 4
    assert t["vis"][0] == "ep1_a.ms" and t["vis"][15] == "d1.ms,d2.ms"
    assert t["date"][4] == "2019-02-15"
    for col, value in (
        ("flux", res.total.fit.flux),
        ("flux_sigma", res.total.fit.sigma_chi2),
        ("flux_sigma_weights", res.total.fit.sigma_weights),
        ("chi2_red", res.total.fit.chi2_red),
        ("n_vis", res.total.fit.n_vis),
        ("mcf", res.total.mcf),
        ("mcf_sigma", res.total.mcf_sigma),
        ("used_in_rfcf", res.used),
    ):
        np.testing.assert_array_equal(t[col], np.ravel(value), err_msg=col)
    for col in ("rfcf", "rfcf_std", "rfcf_sigma"):
        np.testing.assert_array_equal(t[col], np.repeat(getattr(res.factors, col), 4))
    np.testing.assert_array_equal(t["flux_spw"], res.per_spw.fit.flux.reshape(16, 2))
    np.testing.assert_array_equal(t["flux_sigma_spw"], res.per_spw.fit.sigma_chi2.reshape(16, 2))
    np.testing.assert_array_equal(t["mcf_spw"], res.per_spw.mcf.reshape(16, 2))
    np.testing.assert_array_equal(t["mcf_sigma_spw"], res.per_spw.mcf_sigma.reshape(16, 2))
    for col in ("flux", "flux_sigma", "flux_sigma_weights", "flux_spw", "flux_sigma_spw"):
        assert str(t[col].unit) == "Jy", col
    assert "dra" not in t.colnames  # offsets only with fitposition
    assert t.meta["spw"] == [17, 19] and t.meta["spw_freq_hz"] == [336.5e9, 338.5e9]
    assert "Eq. 3" in t.meta["description"]


def test_rejection_drops_a_pair_from_eq1_and_eq3_and_is_recorded(tmp_path):
    rng = np.random.default_rng(83)
    scale = np.array([1.0, 1.12, 0.95, 0.9, 1.05])
    sums = _sums(rng, scale, np.array([1.0]))
    sums[1, 2, :, SUM_W_RE] *= 1.3  # SMM3 30 % bright in epoch 2
    epochs = tuple(Epoch(i + 1, "2019-01-01", (f"e{i}.ms",)) for i in range(5))
    common = dict(
        epochs=epochs,
        fields=FIELDS,
        spws=(0,),
        spw_freq_hz=(343.5e9,),
        sums=sums,
        excluded=np.zeros((5, 4), bool),
        perspw=False,
        params={},
    )
    res = RelcalResult.compute(rejectsigma=5.0, **common)
    plain = RelcalResult.compute(**common)
    assert res.choice is not None and res.choice.dropped[1, 2] and res.choice.dropped.sum() == 1
    assert not res.used[1, 2] and res.per_spw is None and plain.choice is None
    true_rfcf = scale.mean() / scale
    # with the pair dropped (and predicted in Eq. 1) every rFCF within 5 sigma (~0.1 %)
    np.testing.assert_allclose(res.rfcf, true_rfcf, atol=5 * res.factors.rfcf_sigma.max())
    # guard: without rejection the 30 % jump biases SMM3's mean and so every epoch, > 1 %
    assert np.max(np.abs(plain.rfcf / true_rfcf - 1)) > 0.01
    # the dropped pair's own MCF is against its measured flux: ~1/1.3 of its peers'
    assert res.total.mcf[1, 2] == pytest.approx(res.rfcf[1] / 1.3, rel=0.01)
    rec = res.to_record()
    assert rec["dropped"] == res.choice.dropped.tolist() and "flux_spw" not in rec
    assert rec["exclusions"][0]["field"] == "SMM3" and rec["exclusions"][0]["epoch"] == 2
    mf = RelcalResult.compute(minfamily=3, **common)
    assert mf.choice is not None and len(mf.choice.family) >= 3
    # per spw (2 spws, the same 30 % jump in both): the dropped pair is filled per spw too
    sums2 = _sums(rng, scale, np.array([1.0, 1.02]))
    sums2[1, 2, :, SUM_W_RE] *= 1.3
    per = RelcalResult.compute(rejectsigma=5.0, **(common | {"sums": sums2, "perspw": True}))
    assert per.choice.dropped[1, 2] and per.per_spw.mcf.shape == (5, 4, 2)
    # the per-spw MCFs of the other pairs are the truth (scale ratios) to ~0.15 %: 5 sigma
    true_mcf = (scale.mean() / scale)[:, None, None] * np.ones((5, 4, 2))
    ok = ~per.choice.dropped
    np.testing.assert_allclose(per.per_spw.mcf[ok], true_mcf[ok], rtol=7.5e-3)
    # and the dropped pair's own per-spw MCFs are against its measured (30 % high) flux
    np.testing.assert_allclose(per.per_spw.mcf[1, 2], true_mcf[1, 2] / 1.3, rtol=7.5e-3)
