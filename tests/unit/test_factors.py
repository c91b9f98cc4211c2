"""Seed 000 Eq. 1-3 against hand-worked values and injected epoch scales."""

import numpy as np
import pytest

from almacal.relcal.factors import mean_correction_factors, relative_factors


def test_eq1_eq2_hand_worked():
    flux = np.array([[1.0], [2.0]])
    sigma = np.array([[0.1], [0.2]])
    mcf, sig = mean_correction_factors(flux, sigma)
    np.testing.assert_allclose(mcf[:, 0], [1.5, 0.75])
    # epoch 0: 1/(2*1) * sqrt(2^2 * 0.1^2 / 1^2 + 0.2^2) = 0.5 * sqrt(0.08)
    # epoch 1: 1/(2*2) * sqrt(1^2 * 0.2^2 / 2^2 + 0.1^2) = 0.25 * sqrt(0.02)
    np.testing.assert_allclose(sig[:, 0], [0.5 * np.sqrt(0.08), 0.25 * np.sqrt(0.02)])


def test_eq2_matches_monte_carlo():
    rng = np.random.default_rng(7)
    flux = np.array([0.8, 1.1, 0.9, 1.0, 1.2])
    sigma = np.array([0.01, 0.02, 0.015, 0.01, 0.03])
    _, sig = mean_correction_factors(flux[:, None], sigma[:, None])
    draws = flux + sigma * rng.standard_normal((40000, 5))
    mc = draws.mean(axis=1, keepdims=True) / draws
    # 40000 draws: the std is known to ~0.4 %; linear propagation is good to ~1 % here
    np.testing.assert_allclose(sig[:, 0], mc.std(axis=0), rtol=0.02)


def test_injected_epoch_scales_give_rfcf_and_missing_data():
    scale = np.array([1 / 1.02, 1 / 0.98, 1 / 1.09, 1 / 0.92])
    cal_flux = np.array([0.5, 0.8, 1.2])
    flux = scale[:, None] * cal_flux[None, :]
    sigma = 1e-3 * np.ones_like(flux)
    mcf, sig = mean_correction_factors(flux, sigma)
    truth = scale.mean() / scale
    np.testing.assert_allclose(mcf, np.repeat(truth[:, None], 3, axis=1), rtol=1e-12)
    f = relative_factors(mcf, sig, np.ones_like(mcf, bool))
    np.testing.assert_allclose(f.rfcf, truth, rtol=1e-12)
    np.testing.assert_allclose(f.rfcf_std, 0.0, atol=1e-12)
    np.testing.assert_allclose(f.rfcf_sigma, np.sqrt((sig**2).sum(axis=1)) / 3)
    assert np.all(f.n_used == 3)

    flux[1, 2] = np.nan  # calibrator 3 missing in epoch 2: N = 3 for it
    mcf, sig = mean_correction_factors(flux, sigma)
    assert np.isnan(mcf[1, 2]) and np.isnan(sig[1, 2])
    np.testing.assert_allclose(mcf[0, 2], np.nanmean(flux[:, 2]) / flux[0, 2])
    f = relative_factors(mcf, sig, np.ones_like(mcf, bool))
    assert f.n_used[1] == 2


def test_excluded_pair_left_out_of_rfcf_only():
    mcf = np.array([[1.0, 1.2, 1.1], [0.9, 0.95, 1.0]])
    sig = np.full_like(mcf, 0.01)
    used = np.ones_like(mcf, bool)
    used[0, 1] = False
    f = relative_factors(mcf, sig, used)
    assert f.rfcf[0] == pytest.approx(1.05)
    assert f.rfcf_std[0] == pytest.approx(np.std([1.0, 1.1], ddof=1))
    assert f.rfcf_sigma[0] == pytest.approx(np.sqrt(2) * 0.01 / 2)
    assert f.rfcf[1] == pytest.approx(np.mean([0.9, 0.95, 1.0]))


def test_per_spw_axis():
    rng = np.random.default_rng(0)
    flux = rng.uniform(0.5, 1.5, (5, 4, 3))
    mcf, _ = mean_correction_factors(flux, 0.01 * flux)
    np.testing.assert_allclose(mcf, flux.mean(axis=0, keepdims=True) / flux)
