"""Per-epoch power law C nu^alpha through normalized MCFs: curve_fit and residual bootstrap."""

import numpy as np
import pytest

from almacal.spwcons.powerlaw import PowerLaw, fit_power_law, loglin_slopes
from tests.unit.spwcons_synth import BAND7_HZ

X = BAND7_HZ / np.exp(np.log(BAND7_HZ).mean())


def _epoch(rng, alpha, sigma, n_cal=4):
    norm = 1.01 * X**alpha * (1 + sigma * rng.standard_normal((n_cal, X.size)))
    return norm, np.full(norm.shape, sigma)


def test_loglin_slopes_exact_for_power_laws_in_every_row():
    alphas = np.array([-2.0, 0.0, 0.5, 3.0])
    log_y = np.log(1.3) + alphas[:, None] * np.log(X)[None, :]
    np.testing.assert_allclose(loglin_slopes(log_y, np.log(X), np.ones(X.size)), alphas, atol=1e-12)


def test_injected_slope_is_recovered_with_sign_and_small_p_value():
    rng = np.random.default_rng(3)
    norm, sigma = _epoch(rng, alpha=1.5, sigma=0.003)
    p = fit_power_law(BAND7_HZ, norm, sigma, nboot=2000, rng=rng)
    # sigma_alpha = 0.003 / sqrt(16 * var(ln x)) ~ 0.04: 1.5 is ~40 sigma; allow 4 sigma
    assert abs(p.alpha - 1.5) < 4 * p.alpha_error and p.alpha_error < 0.06
    assert p.p_value < 1e-6 and not p.consistent_with_zero
    # bootstrap agrees with curve_fit (footnote 1: similar slopes and errors)
    assert p.alpha_boot == pytest.approx(p.alpha, abs=p.alpha_error)
    assert 0.5 * p.alpha_error < p.alpha_boot_plus < 2 * p.alpha_error
    lo, hi = p.boot_interval95
    assert lo > 1.0 and hi < 2.0


def test_flat_epochs_are_consistent_with_zero_at_the_stated_rate():
    rng = np.random.default_rng(4)
    fits = [
        fit_power_law(BAND7_HZ, *_epoch(rng, 0.0, 0.005), nboot=300, rng=rng) for _ in range(300)
    ]
    z = np.array([f.alpha / f.alpha_error for f in fits])
    # absolute sigmas are right: alpha / error ~ N(0, 1); 300 fits -> std known to ~4 %
    assert np.std(z) == pytest.approx(1.0, rel=0.15)
    # 2-sigma criterion: 4.6 % flagged; binomial sd over 300 fits 1.2 % -> allow 8 %
    assert np.mean([not f.consistent_with_zero for f in fits]) < 0.08
    # the bootstrap's 95 % interval holds 0 about as often (16 points: allow 12 %)
    assert np.mean([not f.boot_interval95[0] <= 0 <= f.boot_interval95[1] for f in fits]) < 0.12
    assert np.all([f.chi2_red > 0 for f in fits])


def test_fit_values_against_weighted_least_squares_by_hand():
    from scipy import stats

    rng = np.random.default_rng(141)
    noise = np.array([1.0, 2.0, 3.0, 4.0])[:, None] * np.ones(X.size) * 0.002
    norm = 1.01 * X**0.8 * (1 + noise * rng.standard_normal(noise.shape))
    # the sigmas given are 2x the noise: the error must not be rescaled by chi^2
    sigma = 2 * noise * norm
    p = fit_power_law(BAND7_HZ, norm, sigma, nboot=200, rng=rng)
    # linearised weighted LSQ in log space: var(ln y) = (s / y)^2, slope error by hand
    w = (norm / sigma).ravel() ** 2
    lx = np.log(np.broadcast_to(X, norm.shape)).ravel()
    err = 1 / np.sqrt(np.sum(w * (lx - np.sum(w * lx) / w.sum()) ** 2))
    assert p.alpha_error == pytest.approx(err, rel=1e-3)  # curve_fit vs linearised: < 0.1 %
    fitted = p.c * np.broadcast_to(X, norm.shape) ** p.alpha
    chi2 = np.sum(((norm - fitted) / sigma) ** 2)
    assert p.chi2_red == pytest.approx(chi2 / (16 - 2), rel=1e-12)
    assert 0.1 < p.chi2_red < 0.5  # sigmas 2x too large: chi2_red ~ 1/4
    assert p.p_value == pytest.approx(2 * stats.norm.sf(abs(p.alpha) / p.alpha_error), rel=1e-12)
    assert p.nu0_hz == pytest.approx(np.exp(np.log(BAND7_HZ).mean()), rel=1e-15)
    assert p.c == pytest.approx(1.01, rel=0.01) and abs(p.alpha - 0.8) < 5 * err
    rec = p.to_record()
    assert rec == {
        "c": p.c,
        "alpha": p.alpha,
        "alpha_error": p.alpha_error,
        "p_value_fit": p.p_value,
        "alpha_boot": p.alpha_boot,
        "alpha_boot_minus": p.alpha_boot_minus,
        "alpha_boot_plus": p.alpha_boot_plus,
        "alpha_boot_interval95": list(p.boot_interval95),
        "chi2_red": p.chi2_red,
        "nu0_hz": p.nu0_hz,
        "consistent_with_zero": p.consistent_with_zero,
        "zero_in_boot_interval95": False,  # alpha = 0.8 is > 20 sigma from 0
    }
    assert not p.consistent_with_zero


def test_bootstrap_percentiles_match_the_residual_scatter():
    rng = np.random.default_rng(142)
    noise = np.array([1.0, 1.5, 2.5, 4.0])[:, None] * np.ones(X.size) * 0.003
    norm = X**-0.3 * (1 + noise * rng.standard_normal(noise.shape))
    sigma = noise * norm  # honest sigmas
    p = fit_power_law(BAND7_HZ, norm, sigma, nboot=60000, rng=rng)
    # the residual bootstrap reproduces the fit's scatter: the residuals of this one
    # realisation set its width (chi2_red), so compare with alpha_error x sqrt(chi2_red)
    width = p.alpha_error * np.sqrt(p.chi2_red)
    # 60 000 draws: percentiles to ~0.6 % of the width, the median to 0.5 %; allow 2.5 %
    assert p.alpha_boot_minus == pytest.approx(width, rel=0.025)
    assert p.alpha_boot_plus == pytest.approx(width, rel=0.025)
    assert p.alpha_boot == pytest.approx(p.alpha, abs=0.02 * width)
    lo, hi = p.boot_interval95
    assert p.alpha - lo == pytest.approx(1.96 * width, rel=0.03)
    assert hi - p.alpha == pytest.approx(1.96 * width, rel=0.03)
    assert p.to_record()["zero_in_boot_interval95"] is False and lo < -0.3 < hi
    flat = fit_power_law(BAND7_HZ, X**0.0 * norm / X**-0.3, sigma, nboot=2000, rng=rng)
    assert flat.to_record()["zero_in_boot_interval95"] is True and flat.consistent_with_zero


@pytest.mark.parametrize(
    ("interval", "zero_in"),
    [((0.0, 0.3), True), ((-0.3, 0.0), True), ((1e-9, 0.3), False), ((-0.3, -1e-9), False)],
)
def test_zero_on_the_edge_of_the_bootstrap_interval_is_in_it(interval, zero_in):
    p = PowerLaw(
        c=1.0,
        alpha=0.1,
        alpha_error=0.05,
        p_value=0.05,
        alpha_boot=0.1,
        alpha_boot_minus=0.05,
        alpha_boot_plus=0.05,
        boot_interval95=interval,
        chi2_red=1.0,
        nu0_hz=343.5e9,
    )
    assert p.to_record()["zero_in_boot_interval95"] is zero_in
