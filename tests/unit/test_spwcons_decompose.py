"""Seed 000 Sect. 3.4 decomposition: sigma_fit (Eq. 4) and sigma_spw (Eq. 5) recovered."""

from dataclasses import replace

import numpy as np
import pytest

from almacal.spwcons.decompose import decompose, sigmas_from_widths
from almacal.spwcons.inputs import PerSpwFits
from almacal.spwcons.normalize import normalized_mcfs
from tests.unit.spwcons_synth import synthetic_record


def _decomposed(rng, **kw):
    fits = PerSpwFits.from_record(synthetic_record(rng, **kw))
    norm, _ = normalized_mcfs(fits.mcf_spw, fits.mcf_sigma_spw, fits.mcf)
    return decompose(norm)


def test_eq4_eq5_hand_worked():
    # two epochs, two calibrators, two spws: r = 1 + d_ik + e_ijk with centred d and e
    d = np.array([[0.01, -0.01], [-0.01, 0.01]])  # (epoch, spw)
    e = np.array([0.002, -0.002])[None, :, None] * np.array([[1, -1], [-1, 1]])[:, None, :]
    norm = 1.0 + d[:, None, :] + e
    dec = decompose(norm)
    np.testing.assert_allclose(dec.spw_mean, 1.0 + d)  # Eq. 5: the calibrator mean
    np.testing.assert_allclose(dec.residual, e, atol=1e-15)  # Eq. 4: minus that mean
    # dof: fit (2-1)^3 = 1, spw (2-1)^2 = 1; sum e^2 = 8 * 0.002^2; sum d^2 = 4 * 0.01^2
    assert dec.fit.sigma == pytest.approx(np.sqrt(8 * 0.002**2))
    assert dec.sigma_spw_var == pytest.approx(4 * 0.01**2 - 8 * 0.002**2 / 2)


@pytest.mark.parametrize(("sigma_spw", "sigma_fit"), [(0.008, 0.005), (0.0, 0.005), (0.01, 0.002)])
def test_estimators_are_unbiased_and_their_errors_calibrated(sigma_spw, sigma_fit):
    rng = np.random.default_rng(11)
    runs = [_decomposed(rng, sigma_spw=sigma_spw, sigma_fit=sigma_fit) for _ in range(1000)]
    fit = np.array([r.fit.sigma for r in runs])
    var = np.array([r.sigma_spw_var for r in runs])
    # mean of 1000 estimates: standard error = std / sqrt(1000); allow 4 of them plus 1 % of
    # sigma_fit for the second-order terms the linear model drops (epoch scales +-10 %)
    assert abs(fit.mean() - sigma_fit) < 4 * fit.std() / np.sqrt(1000) + 0.01 * sigma_fit
    assert abs(var.mean() - sigma_spw**2) < 4 * var.std() / np.sqrt(1000) + 0.02 * sigma_fit**2
    # the reported errors describe the scatter of the estimates: 1000 runs know a std to ~2 %
    assert np.mean([r.fit.error for r in runs]) == pytest.approx(fit.std(), rel=0.1)
    assert np.mean([r.sigma_spw_var_error for r in runs]) == pytest.approx(var.std(), rel=0.1)
    # guard: the plain histogram width of the means is biased low by the centring
    widths = np.array([r.width_spw.sigma for r in runs])
    if sigma_spw:
        assert widths.mean() < 0.9 * np.sqrt(sigma_spw**2 + sigma_fit**2 / 4)


def test_one_realisation_recovers_truth_within_its_errors():
    dec = _decomposed(np.random.default_rng(2020), sigma_spw=0.008, sigma_fit=0.005)
    # 7 x 4 x 4 MCFs: dof 54 (fit) and 18 (spw); 3 reported sigma
    assert abs(dec.fit.sigma - 0.005) < 3 * dec.fit.error
    assert abs(dec.sigma_spw - 0.008) < 3 * dec.sigma_spw_error
    assert dec.spw_error_detected
    # one realisation: the spw part has 18 dof, the fit part 54-72, so sigma_total is known to
    # ~12 %; 0.3 is 2.5 of that. The mean over many realisations is pinned below (2 %).
    assert dec.total.sigma == pytest.approx(np.hypot(0.008, 0.005), rel=0.3)


def test_no_spw_error_is_consistent_with_zero():
    rng = np.random.default_rng(5)
    runs = [_decomposed(rng, sigma_spw=0.0, sigma_fit=0.005) for _ in range(400)]
    detected = np.mean([r.spw_error_detected for r in runs])
    # a 2-sigma one-sided criterion: ~2.3 % false detections; 400 runs -> allow 6 %
    assert detected < 0.06
    upper = np.array([r.sigma_spw_upper for r in runs])
    assert np.all(upper > 0) and np.median(upper) < 0.004  # a useful limit at sigma_fit 0.5 %
    # a number, never NaN, for a user to read even where the estimate is 0
    assert all(np.isfinite(r.sigma_spw_error) and r.sigma_spw_error > 0 for r in runs)
    assert any(r.sigma_spw == 0.0 for r in runs)  # guard: the zero case did occur
    # guard: the same test with a real 0.8 % spw error detects it nearly always
    runs = [_decomposed(rng, sigma_spw=0.008, sigma_fit=0.005) for _ in range(100)]
    assert np.mean([r.spw_error_detected for r in runs]) > 0.95


def test_sigmas_from_widths_inverts_the_centring():
    rng = np.random.default_rng(8)
    runs = [_decomposed(rng, sigma_spw=0.008, sigma_fit=0.005) for _ in range(1000)]
    w_fit = np.sqrt(np.mean([r.width_fit.sigma**2 for r in runs]))
    w_spw = np.sqrt(np.mean([r.width_spw.sigma**2 for r in runs]))
    sf, ss = sigmas_from_widths(w_fit, w_spw, n_epoch=7, n_cal=4, n_spw=4)
    # mean squares of 1000 runs: ~1 % on sigma; allow 3 %
    assert sf == pytest.approx(0.005, rel=0.03) and ss == pytest.approx(0.008, rel=0.03)
    # seed 000's widths (0.5 %, 0.8 %) correspond to sigma_fit 0.72 %, sigma_spw 0.91 %
    sf, ss = sigmas_from_widths(0.005, 0.008, n_epoch=7, n_cal=4, n_spw=4)
    assert sf == pytest.approx(0.00717, abs=5e-5) and ss == pytest.approx(0.00912, abs=5e-5)


def test_needs_two_of_everything():
    with pytest.raises(ValueError, match="need >= 2"):
        decompose(np.ones((7, 4, 1)))


def test_leave_one_out_sigmas_are_unbiased_and_ignore_the_left_out_epoch():
    rng = np.random.default_rng(31)
    loo = np.array(
        [_decomposed(rng, sigma_spw=0.008, sigma_fit=0.005).leave_one_out() for _ in range(500)]
    )
    # (500 runs, 2, 7 epochs): mean of 3500 squared estimates -> ~1 % on the variance; allow 5 %
    assert np.mean(loo[:, 0] ** 2) == pytest.approx(0.008**2, rel=0.05)
    assert np.mean(loo[:, 1] ** 2) == pytest.approx(0.005**2, rel=0.05)
    # one epoch with a 6 % slope across the band: the global sigma_spw is inflated, the
    # sigma_spw that epoch is judged against is not (it only sees the 1/7 spread by Eq. 1)
    slope = np.zeros(7)
    slope[2] = 1.5
    dec = _decomposed(np.random.default_rng(32), sigma_spw=0.003, sigma_fit=0.003, slope=slope)
    spw_others, _ = dec.leave_one_out()
    assert dec.sigma_spw > 0.01 and spw_others[2] < 0.006


def test_sigma_fit_error_is_honest_when_one_calibrator_is_noisy():
    rng = np.random.default_rng(41)
    noise = np.array([0.5, 0.7, 1.0, 2.5])  # like a faint fourth calibrator
    runs = []
    for _ in range(1000):
        fits = PerSpwFits.from_record(synthetic_record(rng, sigma_fit=0.003, cal_noise=noise))
        norm, sigma = normalized_mcfs(fits.mcf_spw, fits.mcf_sigma_spw, fits.mcf)
        runs.append((decompose(norm, sigma), decompose(norm)))
    fit = np.array([r[0].fit.sigma for r in runs])
    # the rms fit noise is what is estimated: sqrt(mean(noise^2)) x 0.3 %
    rms = 0.003 * np.sqrt(np.mean(noise**2))
    assert abs(fit.mean() - rms) < 4 * fit.std() / np.sqrt(1000) + 0.01 * rms
    # with the errors given, the reported error matches the scatter (1000 runs: ~2 %)
    assert np.mean([r[0].fit.error for r in runs]) == pytest.approx(fit.std(), rel=0.1)
    # guard: the homoscedastic formula would understate it by > 20 % here
    assert np.mean([r[1].fit.error for r in runs]) < 0.8 * fit.std()


def test_sigma_spw_error_is_finite_when_the_estimate_is_zero():
    dec = _decomposed(np.random.default_rng(3), sigma_spw=0.008, sigma_fit=0.005)
    # a negative variance estimate (sigma_spw = 0): the error is the 1-sigma upper value
    zero = replace(dec, sigma_spw_var=-1e-6, sigma_spw_var_error=4e-6)
    assert zero.sigma_spw == 0.0 and zero.sigma_spw_error == pytest.approx(2e-3)
    assert zero.to_record()["sigma_spw"]["error_minus"] == 0.0
    # well measured (variance 10 sigma above 0): the delta-method error var_err / (2 sigma)
    # to the ~1/20 that sqrt's curvature adds over +-1 sigma of the variance
    good = replace(dec, sigma_spw_var=6.4e-5, sigma_spw_var_error=6.4e-6)
    assert good.sigma_spw_error == pytest.approx(6.4e-6 / (2 * 0.008), rel=0.05)
    rec = good.to_record()["sigma_spw"]
    assert rec["error_minus"] > rec["error_plus"] > 0  # sqrt is concave: the low side is longer


def test_normalized_mcfs_treat_the_normalization_as_a_constant():
    # Sect. 3.4: MCF_ijk / MCF_ij, error = sigma(MCF_ijk) (Eq. 2) / MCF_ij, nothing from MCF_ij
    mcf_spw = np.array([[[1.10, 0.99]]])
    mcf_sigma_spw = np.array([[[0.011, 0.0055]]])
    norm, sigma = normalized_mcfs(mcf_spw, mcf_sigma_spw, np.array([[1.1]]))
    np.testing.assert_allclose(norm, [[[1.0, 0.9]]])
    np.testing.assert_allclose(sigma, [[[0.01, 0.005]]])


@pytest.mark.parametrize(("sigma_spw", "sigma_fit"), [(0.008, 0.005), (0.002, 0.006)])
def test_total_variance_is_unbiased_over_many_realisations(sigma_spw, sigma_fit):
    # 7 x 4 x 4 MCFs: E[sum (r - 1)^2] = n_c (s_spw^2 + s_fit^2)(n_e - 1)(n_s - 1), dof 72;
    # dividing by n - 1 = 111 instead would read 35 % low on the variance (19.5 % on sigma)
    rng = np.random.default_rng(51)
    runs = [_decomposed(rng, sigma_spw=sigma_spw, sigma_fit=sigma_fit) for _ in range(800)]
    var = np.array([r.total.sigma for r in runs]) ** 2
    truth = sigma_spw**2 + sigma_fit**2
    # mean of 800 variances, each with relative error <= sqrt(2/18) = 33 %: <= 1.2 %
    # standard error; allow 4 of them plus 2 % for the normalization's second-order terms
    assert abs(var.mean() / truth - 1.0) < 4 * var.std() / np.sqrt(800) / truth + 0.02
    assert np.all([r.total.error > 0 for r in runs])  # not a vacuous pass


def _total_sigma_scatter(sigma_spw, sigma_fit):
    rng = np.random.default_rng(52)
    runs = [_decomposed(rng, sigma_spw=sigma_spw, sigma_fit=sigma_fit) for _ in range(800)]
    return np.mean([r.total.error for r in runs]), np.std([r.total.sigma for r in runs])


def test_total_sigma_error_describes_its_scatter_when_fit_noise_dominates():
    # 800 runs know a std to 2.5 %; sigma / sqrt(2 x 72) holds to ~10 % when the 72 terms
    # are nearly independent (fit noise 3x the spw error)
    error, scatter = _total_sigma_scatter(0.002, 0.006)
    assert error == pytest.approx(scatter, rel=0.1)


def test_total_sigma_error_describes_its_scatter_when_spw_error_dominates():
    error, scatter = _total_sigma_scatter(0.008, 0.005)
    assert error == pytest.approx(scatter, rel=0.1)


def test_record_names_every_number():
    dec = _decomposed(np.random.default_rng(2020), sigma_spw=0.008, sigma_fit=0.005)
    rec = dec.to_record()
    assert rec["sigma_total"] == {"sigma": dec.total.sigma, "error": dec.total.error}
    assert rec["sigma_fit"] == {"sigma": dec.fit.sigma, "error": dec.fit.error}
    low, high = dec.sigma_spw_interval
    assert rec["sigma_spw"] == {
        "sigma": dec.sigma_spw,
        "error": dec.sigma_spw_error,
        "error_minus": dec.sigma_spw - low,
        "error_plus": high - dec.sigma_spw,
        "upper95": dec.sigma_spw_upper,
        "variance": dec.sigma_spw_var,
        "variance_error": dec.sigma_spw_var_error,
        "detected": True,
    }
    for key in ("width_total", "width_fit", "width_spw"):
        w = getattr(dec, key)
        assert rec[key] == {"sigma": w.sigma, "error": w.error}
    assert (rec["dof_fit"], rec["dof_spw"]) == (54, 18)
    # the 95 % upper limit: sqrt(var + 1.645 var_error)
    expected = np.sqrt(max(dec.sigma_spw_var, 0) + 1.6448536269514722 * dec.sigma_spw_var_error)
    assert dec.sigma_spw_upper == pytest.approx(expected, rel=1e-12)
