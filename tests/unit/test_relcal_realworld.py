"""Pure cores of relcal_fit's real-world options (issue 6): no casatools."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from almacal.relcal.choice import choose_calibrators, fill_dropped
from almacal.relcal.factors import mean_correction_factors
from almacal.relcal.linefree import line_channels
from almacal.relcal.selfcal_plan import central_antenna, parse_solints, phase_rms_deg, spw_map
from almacal.relcal.uvmodel import (
    ARCSEC,
    B_N,
    B_W,
    bin_sums,
    fit_models,
    gaussian_vis,
    ratio_check,
    uv_edges_lambda,
)


def test_parse_solints_and_spwmap():
    assert parse_solints(["inf", " 20.2s", "5.05S", "int", "1min"]) == (
        "inf",
        "20.2s",
        "5.05s",
        "int",
        "1min",
    )
    with pytest.raises(ValueError, match="solint 'often'"):
        parse_solints(["inf", "often"])
    with pytest.raises(ValueError, match="solint"):
        parse_solints([])
    assert spw_map([0, 1, 2, 3], "spw") == [0, 0, 0, 0]
    assert spw_map([0, 1, 2, 3], "") == []


def test_central_antenna_and_phase_rms():
    pos = np.array([[0, 0, 0], [100, 0, 0], [10, 5, 0], [-90, 10, 0], [5, 90, 0.0]])
    assert central_antenna(pos, np.ones(5, bool)) == 2
    assert central_antenna(pos, np.array([1, 1, 0, 1, 1], bool)) == 0
    with pytest.raises(ValueError, match="reference antenna"):
        central_antenna(pos, np.zeros(5, bool))
    rng = np.random.default_rng(1)
    ph = rng.normal(0, math.radians(20), 20000)
    ph[::10] = 0.0  # reference antenna: left out
    group = np.repeat([0, 1], 10000)
    ok = np.ones(ph.size, bool)
    ok[10000:] = False  # group 1 all flagged
    rms = phase_rms_deg(ph, ok, group, 2)
    # 9000 draws of 20 deg: the rms has a relative sigma of 1/sqrt(2 x 9000) = 0.75 %; allow 4 %
    assert rms[0] == pytest.approx(20.0, rel=0.04) and np.isnan(rms[1])


def test_phase_rms_of_one_solution_and_of_groups_without_any():
    # by hand: group 0 one solution of 30 deg, group 1 two of 30 and 40 deg (rms
    # sqrt((900 + 1600) / 2)), groups 2 and 3 none (the last group too: its length stays)
    ph = np.radians([30.0, 30.0, -40.0])
    rms = phase_rms_deg(ph, np.ones(3, bool), np.array([0, 1, 1]), 4)
    assert rms.shape == (4,)
    assert rms[0] == pytest.approx(30.0, rel=1e-12)
    assert rms[1] == pytest.approx(math.sqrt(1250.0), rel=1e-12)
    assert np.isnan(rms[2:]).all()


def _three_spw_info():
    """relcal_synth's MS metadata with a third spw (data description 2) at 345 GHz."""
    import dataclasses

    from almacal.msinfo import SpwInfo
    from tests.unit.relcal_synth import fake_ms

    info = fake_ms(np.random.default_rng(3), "/fake/a.ms", day=0, scale=1.0, n_row=50).info
    spws = (*info.spws, SpwInfo(2, info.spws[0].chan_freq_hz + 5e9))
    return dataclasses.replace(info, spws=spws, ddid_spw=np.arange(3), ddid_pol=np.zeros(3, int))


def test_selfcal_model_per_spw_with_the_mean_for_a_spw_not_fitted():
    from almacal.relcal.selfcal import model_table

    info = _three_spw_info()
    field_index = np.array([0, 1, 2, -1])  # TARGET is no calibrator
    flux_spw = np.array([[1.0, 1.2], [0.5, np.nan], [0.3, 0.4]])  # spws 0 and 2 fitted
    mask = np.ones(8, bool)
    model = model_table(info, field_index, flux_spw, {0: mask, 2: mask})
    assert model.shape == (3, 4)
    np.testing.assert_array_equal(model[0], [1.0, 0.5, 0.3, 0.0])
    # spw 1 was not fitted: each calibrator's mean over the fitted spws
    np.testing.assert_allclose(model[1], [1.1, 0.5, 0.35, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(model[2], [1.2, 0.0, 0.4, 0.0])  # no fit: no model


def test_scratch_spws_are_matched_to_the_users_by_frequency_within_1_hz():
    import dataclasses

    from almacal.msinfo import SpwInfo
    from almacal.relcal.plan import Target
    from almacal.relcal.selfcal import match_spws

    user_info = _three_spw_info()
    mask = np.arange(8) > 1
    user = Target(user_info, np.array([0, 1, 2, -1]), {0: mask, 2: ~mask}, "DATA")

    def scratch(shift_hz):
        # split renumbers: the copy's spw 0 is the user's spw 2, its spw 1 the user's spw 0
        f = [user_info.spws[2].chan_freq_hz + shift_hz, user_info.spws[0].chan_freq_hz]
        spws = tuple(SpwInfo(i, x) for i, x in enumerate(f))
        return dataclasses.replace(user_info, spws=spws, ddid_spw=np.arange(2))

    for shift in (0.0, 0.5):  # the copy's frequencies to the rounding of a split
        got = match_spws(user, scratch(shift))
        assert sorted(got) == [0, 1]
        np.testing.assert_array_equal(got[1], mask)
        np.testing.assert_array_equal(got[0], ~mask)
    for shift in (1.5, 1e5):  # 1.5 Hz or 100 kHz (a relative 3e-7) away: another spw
        with pytest.raises(RuntimeError, match="spw 2 of /fake/a.ms is missing from its split"):
            match_spws(user, scratch(shift))


def _mcf_table(rng, n_ep=7, n_cal=4, noise=1e-3):
    true_flux = np.array([0.95, 0.75, 0.55, 0.35])[:n_cal]
    scale = rng.uniform(0.9, 1.1, n_ep)
    flux = scale[:, None] * true_flux[None, :] * (1 + noise * rng.standard_normal((n_ep, n_cal)))
    sigma = noise * flux
    return scale, flux, sigma


def test_rejection_drops_variable_calibrator_from_eq1_and_eq3():
    rng = np.random.default_rng(7)
    scale, flux, sigma = _mcf_table(rng)
    flux[1, 2] *= 1.3  # SMM3 brightens by 30 % in epoch 2
    fields = ("SMM9", "SMM4", "SMM3", "SMM11")
    off = np.zeros(flux.shape, bool)
    ch = choose_calibrators(flux, sigma, excluded=off, fields=fields, rejectsigma=5.0, minfamily=0)
    assert ch.dropped.sum() == 1 and ch.dropped[1, 2]
    assert not ch.used[1, 2] and ch.used.sum() == flux.size - 1
    assert ch.exclusions[0]["epoch"] == 2 and ch.exclusions[0]["field"] == "SMM3"
    assert "MCF outlier" in ch.exclusions[0]["reason"]
    # Eq. 1 with the pair predicted: every rFCF back to the truth within 5 x 1e-3
    mcf, _ = mean_correction_factors(fill_dropped(flux, ch.dropped), sigma)
    rfcf = np.nanmean(np.where(ch.used, mcf, np.nan), axis=1)
    true = scale.mean() / scale
    assert np.all(np.abs(rfcf / true - 1) < 5 * 1e-3)
    # the stability statistic singles out nothing once the pair is gone (chi2_red ~ 1)
    assert np.all(ch.stability_chi2 < 3)
    # without rejection the pair biases its calibrator's mean: epoch 1's rFCF is off by > 1 %
    mcf_all, _ = mean_correction_factors(flux, sigma)
    assert abs(mcf_all[0].mean() / true[0] - 1) > 0.01  # guard: the effect is real


def test_rejection_keeps_consistent_data_and_user_exclusions():
    rng = np.random.default_rng(3)
    _, flux, sigma = _mcf_table(rng)
    fields = ("A", "B", "C", "D")
    user = np.zeros(flux.shape, bool)
    user[3, 1] = True
    ch = choose_calibrators(flux, sigma, excluded=user, fields=fields, rejectsigma=5.0, minfamily=0)
    assert not ch.dropped.any()
    assert ch.exclusions == ({"epoch": 4, "field": "B", "reason": "exclude (user)"},)


def test_family_search_drops_the_drifting_calibrator():
    rng = np.random.default_rng(11)
    _, flux, sigma = _mcf_table(rng)
    flux[:, 3] *= np.linspace(0.9, 1.1, flux.shape[0])  # SMM11 drifts by 20 %
    fields = ("SMM9", "SMM4", "SMM3", "SMM11")
    off = np.zeros(flux.shape, bool)
    ch = choose_calibrators(flux, sigma, excluded=off, fields=fields, rejectsigma=0, minfamily=2)
    assert ch.family == ("SMM9", "SMM4", "SMM3")
    assert not ch.used[:, 3].any() and ch.used[:, :3].all()
    assert all("best-agreeing family" in e["reason"] for e in ch.exclusions)
    assert len(ch.exclusions) == flux.shape[0]


def test_line_channels_found_and_continuum_slope_kept():
    freq = 336.5e9 + (np.arange(64) - 31.5) * 29.3e6
    cont = 0.95 * (freq / 343.5e9) ** 2.6  # 1.4 % slope across the spw
    sw = np.full(64, 1.0 / 0.003**2)  # 3 mJy per channel
    rng = np.random.default_rng(5)
    amp = cont + 0.003 * rng.standard_normal(64)
    plain = np.stack([sw, sw * amp, np.zeros(64)])
    assert not line_channels(plain, freq, np.ones(64, bool)).any()
    line = 0.2 * np.exp(-4 * np.log(2) * ((np.arange(64) - 40) / 3.0) ** 2)
    spec = np.stack([sw, sw * (amp + line), np.zeros(64)])
    found = line_channels(spec, freq, np.ones(64, bool))
    # channels where the line exceeds 5 sigma (15 mJy), plus one channel padding
    strong = np.flatnonzero(line > 0.015)
    assert set(strong) <= set(np.flatnonzero(found))
    assert found.sum() <= strong.size + 4


def _binned(rng, point, gauss, fwhm_arcsec, q_max, sigma=0.05, n=40000):
    q = rng.uniform(5e3, q_max, n)
    v = point + gauss * gaussian_vis(q, fwhm_arcsec * ARCSEC)
    vis = (v + sigma * (rng.standard_normal(n) + 1j * rng.standard_normal(n)))[:, None]
    w = np.full(n, 1 / sigma**2)
    edges = uv_edges_lambda()
    return bin_sums(vis, np.ones((n, 1), bool), w, q[:, None], np.zeros(n, int), 1, edges), edges


def test_bin_sums_keep_weights_below_one():
    # sigma 2 Jy per visibility: weight 0.25 (archive MSs often have weights < 1); every
    # visibility inside the edges lands in one bin, with its weight and count
    rng = np.random.default_rng(8)
    _, edges = _binned(rng, 1.0, 0.0, 8.0, 60e3, n=10)
    q = rng.uniform(edges[0], edges[-1], (500, 2))
    w = np.full(500, 0.25)
    s = bin_sums(
        np.ones((500, 2), complex), np.ones((500, 2), bool), w, q, np.zeros(500, int), 1, edges
    )
    assert s[0, :, B_W].sum() == pytest.approx(0.25 * 1000, rel=1e-12)
    assert s[0, :, B_N].sum() == 1000


def test_point_plus_gaussian_total_flux_independent_of_coverage():
    rng = np.random.default_rng(2)
    compact, _ = _binned(rng, 0.8, 0.2, 8.0, 60e3)
    extended, _ = _binned(rng, 0.8, 0.2, 8.0, 150e3)
    sums = np.stack([compact, extended])  # (epoch, cal=1, bin, col)
    # the binned sums add up to the point-fit sums: sum(w) = n / sigma^2
    assert sums[0, 0, :, B_W].sum() == pytest.approx(40000 / 0.05**2)
    pg = fit_models(sums, "point+gaussian")
    # sigma of the total from the covariance (a few mJy); allow 5 sigma
    assert np.all(np.abs(pg.total - 1.0) < 5 * pg.total_sigma)
    assert np.all(pg.total_sigma < 0.02)
    np.testing.assert_allclose(pg.fwhm_arcsec, 8.0, rtol=0.2)
    assert np.all(np.abs(pg.chi2_red - 1) < 0.05)  # 80k dof
    # a point fit (weighted mean of Re V) differs between the coverages by > 5 sigma
    point = sums[..., 1].sum(axis=-1) / sums[..., B_W].sum(axis=-1)
    assert abs(point[0, 0] / point[1, 0] - 1) > 5 * pg.total_sigma.max()
    g = fit_models(sums[:, :, :, :], "gaussian")
    assert np.all(g.point == 0)
    # the wrong model (no point) is rejected by its chi^2: 1.26 and 1.17 against
    # 1 +- 0.005 (80k dof), and its total depends on the coverage (> 10 sigma apart)
    assert np.all(g.chi2_red > 1.1)
    assert np.all(g.total < 1.0 - 10 * g.total_sigma)
    assert abs(g.total[0, 0] - g.total[1, 0]) > 10 * np.hypot(*g.total_sigma[:, 0])


def test_ratio_check_recovers_scale_without_a_model():
    rng = np.random.default_rng(4)
    a, edges = _binned(rng, 0.8, 0.3, 8.0, 60e3)
    b, _ = _binned(rng, 0.8 * 1.1, 0.3 * 1.1, 8.0, 150e3)  # epoch 2 10 % brighter
    sums = np.stack([a, b])[:, :, None]  # one calibrator, one spw
    chk = ratio_check(sums, edges, np.ones((2, 1), bool))
    true_mcf = np.array([1.05 / 1.0, 1.05 / 1.1])
    assert np.all(np.abs(chk.mcf[:, 0] - true_mcf) < 5 * chk.mcf_sigma[:, 0])
    assert chk.uv_klambda[1] <= 66  # only bins both epochs have (60 klambda + one bin)
    np.testing.assert_allclose(chk.rfcf, chk.mcf[:, 0])


def test_ratio_check_without_common_bins_has_no_mcf_and_no_uv_range():
    # epoch 1 on 9-60 klambda, epoch 2 only beyond it: no bin has data in both epochs
    rng = np.random.default_rng(4)
    a, edges = _binned(rng, 0.8, 0.3, 8.0, 60e3)
    b, _ = _binned(rng, 0.8, 0.3, 8.0, 150e3)
    b[:, np.flatnonzero(a[0, :, B_W] > 0)] = 0.0
    assert np.any(b[..., B_W] > 0)  # not vacuous: epoch 2 has data
    chk = ratio_check(np.stack([a, b])[:, :, None], edges, np.ones((2, 1), bool))
    assert np.isnan(chk.uv_klambda).all() and np.isnan(chk.mcf).all()
    assert np.isnan(chk.rfcf).all() and chk.n_bin.tolist() == [0]


def test_gaussian_model_recovers_a_resolved_source():
    rng = np.random.default_rng(9)
    sums = np.stack([_binned(rng, 0.0, 1.0, 6.0, 80e3)[0], _binned(rng, 0.0, 1.0, 6.0, 150e3)[0]])
    g = fit_models(sums, "gaussian")
    # total flux (Gaussian at q = 0) within 5 sigma of 1 Jy for both coverages
    assert np.all(np.abs(g.total - 1.0) < 5 * g.total_sigma) and np.all(g.total_sigma < 0.02)
    np.testing.assert_allclose(g.fwhm_arcsec, 6.0, rtol=0.05)
    assert np.all(g.point == 0)


def test_simulated_epoch_variations_validate_and_describe_truth(tmp_path):
    from almacal.simulate.realworld import (
        LINE_FIELD,
        EpochVariation,
        epoch_variations,
        line_spectrum,
        truth_entries,
    )
    from almacal.simulate.serpens import SERPENS_FIELDS, channel_frequencies

    none = {"epoch_phase_rms_deg": None, "antenna_config": None, "cal_flux_scale": None}
    assert epoch_variations(2, line_peak_jy=None, datapath=str(tmp_path), **none) is None
    with pytest.raises(ValueError, match="epoch_phase_rms_deg"):
        epoch_variations(
            2, **{**none, "epoch_phase_rms_deg": [1.0]}, line_peak_jy=None, datapath=""
        )
    with pytest.raises(ValueError, match="antenna_config"):
        epoch_variations(
            2,
            **{**none, "antenna_config": [None, "no/such.cfg"]},
            line_peak_jy=None,
            datapath=str(tmp_path),
        )
    with pytest.raises(ValueError, match="cal_flux_scale"):
        epoch_variations(
            2, **{**none, "cal_flux_scale": [[1, 1], [1, 1]]}, line_peak_jy=None, datapath=""
        )
    v = epoch_variations(
        2,
        **{**none, "cal_flux_scale": [[1, 1, 1, 1], [1, 1, 1.3, 1]]},
        line_peak_jy=[0.0, 2.0],
        datapath="",
    )
    fields = v[1].fields(SERPENS_FIELDS)
    smm3 = [f for f in fields if f.name == "SMM3"][0]
    assert smm3.flux_jy == pytest.approx(0.55 * 1.3)
    assert v[0].fields(SERPENS_FIELDS) == SERPENS_FIELDS
    names = [f.name for f in SERPENS_FIELDS]
    freq = channel_frequencies(16)
    line = line_spectrum(names, freq, [0, 1, 2, 3], 2.0)
    assert line.shape == (8, 4, 16) and line[names.index(LINE_FIELD), 0, 8] == 2.0
    assert np.count_nonzero(line) == np.count_nonzero(line[names.index(LINE_FIELD), 0])
    assert line_spectrum(names, freq, [0, 1, 2, 3], 0.0) is None
    top, per_epoch = truth_entries(v)
    assert per_epoch[1]["cal_flux_scale"] == [1.0, 1.0, 1.3, 1.0]
    assert per_epoch[1]["line_peak_jy"] == 2.0 and top["line_field"] == LINE_FIELD
    assert EpochVariation().fields(SERPENS_FIELDS) == SERPENS_FIELDS


def test_correlated_phase_noise_keeps_rms_and_coherence_time():
    from almacal.simulate.realworld import correlate_in_time

    rng = np.random.default_rng(8)
    times = np.arange(20000) * 1.01
    white = rng.standard_normal((times.size, 4))
    walk = correlate_in_time(white, times, 30.0)
    # 20000 steps with a 30-step correlation: ~700 independent samples, rms within 10 %
    np.testing.assert_allclose(walk.std(axis=0), 1.0, rtol=0.1)
    lag = 10  # 10.1 s: correlation exp(-10.1 / 30) = 0.71, +- ~0.05 for ~700 samples
    corr = np.mean(walk[lag:] * walk[:-lag]) / np.mean(walk**2)
    assert abs(corr - np.exp(-lag * 1.01 / 30.0)) < 0.05
    assert abs(np.mean(white[lag:] * white[:-lag])) < 0.03  # guard: white noise is not


def test_point_plus_gaussian_stays_bounded_on_a_pure_point_source():
    # nothing extended to measure: an unbounded envelope can take any flux (once -5.8e8 Jy)
    rng = np.random.default_rng(21)
    sums = np.stack([_binned(rng, 1.0, 0.0, 8.0, 50e3, n=20000)[0] for _ in range(20)])
    pg = fit_models(sums, "point+gaussian")
    assert np.all(pg.point >= 0) and np.all(pg.gaussian >= 0)
    # the envelope keeps >= 10 % of its flux at q_min = 5 klambda: FWHM <= 0.80 / q_min
    assert np.all(pg.fwhm_arcsec <= 0.805 / 5e3 / ARCSEC)
    assert np.all(np.abs(pg.total - 1.0) < 5 * pg.total_sigma)
    # unbounded, these draws gave totals up to 22.6 Jy off (sigma 225 Jy); bounded, all are
    # within 1 % (~40 point-fit sigmas of 2.5e-4 Jy: the envelope still soaks up noise)
    assert np.all(np.abs(pg.total - 1.0) < 0.01)


def _unequal_noise_tables(seed, noise, n_trial, n_ep=7):
    """n_trial MCF tables (flux, sigma) with calibrator j's relative noise 1e-3 x noise[j]."""
    rng = np.random.default_rng(seed)
    rel = 1e-3 * np.asarray(noise, dtype=float)
    true_flux = np.array([0.95, 0.75, 0.55, 0.35])
    for _ in range(n_trial):
        scale = rng.uniform(0.9, 1.1, n_ep)
        flux = scale[:, None] * true_flux * (1 + rel * rng.standard_normal((n_ep, 4)))
        yield flux, rel * flux


def _choose(flux, sigma, rejectsigma):
    off = np.zeros(flux.shape, bool)
    fields = ("A", "B", "C", "D")
    return choose_calibrators(
        flux, sigma, excluded=off, fields=fields, rejectsigma=rejectsigma, minfamily=0
    )


@pytest.mark.parametrize(("noise", "n_trial"), [([1, 1, 1, 3], 500), ([1, 1, 1, 10], 800)])
def test_false_rejections_follow_each_pairs_own_sigma_with_unequal_noise(noise, n_trial):
    # clean tables, one calibrator 3x or 10x noisier. Each pair is judged against
    # max(robust scatter, sqrt(2) x its own sigma): at rejectsigma=3 a Gaussian pair exceeds
    # it with p <= 2 Phi(-3) = 0.27 %, so <= 1 - (1 - 0.0027)^28 = 7.3 % of 7x4 tables lose
    # a pair. Without the sigma floor the noisy calibrator is judged by the quiet ones'
    # scatter (62 % / 99 %); without the sqrt(2) (reference as noisy as the pair) 23 % / 18 %
    tables = _unequal_noise_tables(71, noise, n_trial)
    rate = np.mean([_choose(f, s, 3.0).dropped.any() for f, s in tables])
    bound = 1 - (1 - 2 * norm.sf(3.0)) ** 28
    # binomial error of the rate: sqrt(0.073 x 0.927 / n) = 1.2 % (500) / 0.9 % (800): 4 of them
    assert rate < bound + 4 * np.sqrt(bound * (1 - bound) / n_trial)
    # at rejectsigma=5 nothing clean is rejected (2 Phi(-5) x 28 = 2e-5 per table)
    five = [_choose(f, s, 5.0).dropped.any() for f, s in _unequal_noise_tables(72, noise, 300)]
    assert np.mean(five) < 0.01
    assert rate > 0  # guard: the 3-sigma criterion does fire on noise, so it was exercised


def _injected_outlier_found(noise, cal, jump, n_trial=100):
    """Fraction of tables where exactly the injected (epoch 5, cal) pair is rejected."""
    hits = []
    for f, s in _unequal_noise_tables(73, noise, n_trial):
        f = f.copy()
        f[4, cal] *= 1 + jump
        ch = _choose(f, s, 5.0)
        hits.append(ch.dropped[4, cal] and ch.dropped.sum() == 1)
    return np.mean(hits)


@pytest.mark.parametrize(
    ("noise", "cal", "jump"), [([1, 1, 1, 10], 3, 0.15), ([1, 1, 1, 10], 3, 0.3), ([1] * 4, 1, 0.3)]
)
def test_true_outlier_is_rejected_alone(noise, cal, jump):
    # a 15 % or 30 % jump in the calibrator with 1 % noise (> 10 x sqrt(2) its sigma), or
    # 30 % in a 0.1 % one: rejected at rejectsigma=5, and only that pair, in >= 95 % of
    # 100 tables (binomial error at 98 %: 1.4 %)
    assert _injected_outlier_found(noise, cal, jump) >= 0.95


def test_moderate_outlier_in_a_quiet_calibrator_is_rejected_alone():
    assert _injected_outlier_found([1, 1, 1, 1], 1, 0.05) >= 0.95
