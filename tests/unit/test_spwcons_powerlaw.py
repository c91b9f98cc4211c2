"""Per-epoch power law C nu^alpha through normalized MCFs: curve_fit and residual bootstrap."""

import numpy as np
import pytest

from almacal.spwcons.powerlaw import fit_power_law, loglin_slopes
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
