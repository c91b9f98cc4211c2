"""Gaussian and point+Gaussian fits on hand-made binned sums with known chi^2 (no casatools)."""

import numpy as np
import pytest

from almacal.relcal.uvmodel import (
    ARCSEC,
    B_N,
    B_W,
    B_W_ABS2,
    B_W_IM,
    B_W_Q,
    B_W_RE,
    N_BIN_SUMS,
    fit_models,
    gaussian_vis,
)

Q = np.linspace(10e3, 150e3, 12)  # bin centres (lambda)


def _sums(vis_re, vis_im=0.0, wiggle=None, w=1e4, n=100):
    """(1, 1, 12, N_BIN_SUMS): each bin n visibilities of one complex value (no scatter).

    wiggle adds to the real part of alternate visibilities +d and -d: a within-bin
    scatter of known chi^2 = sum w d^2 per visibility."""
    out = np.zeros((1, 1, Q.size, N_BIN_SUMS))
    re = np.broadcast_to(vis_re, Q.shape)
    im = np.broadcast_to(vis_im, Q.shape)
    d = 0.0 if wiggle is None else wiggle
    out[0, 0, :, B_W] = n * w
    out[0, 0, :, B_W_RE] = n * w * re
    out[0, 0, :, B_W_IM] = n * w * im
    out[0, 0, :, B_W_ABS2] = n * w * (re**2 + im**2 + d**2)
    out[0, 0, :, B_N] = n
    out[0, 0, :, B_W_Q] = n * w * Q
    return out


def test_noise_free_gaussian_is_exact_and_imaginary_parts_are_not_scatter():
    v = 0.8 * gaussian_vis(Q, 5.0 * ARCSEC)
    fit = fit_models(_sums(v, vis_im=0.01), "gaussian")
    assert fit.total[0, 0] == pytest.approx(0.8, rel=1e-6)
    assert fit.gaussian[0, 0] == fit.total[0, 0] and fit.point[0, 0] == 0.0
    assert fit.fwhm_arcsec[0, 0] == pytest.approx(5.0, rel=1e-6)
    # a constant imaginary part within a bin is no scatter about the bin mean: chi^2 ~ 0
    assert fit.chi2_red[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert fit.n_vis[0, 0] == 1200 and fit.n_vis.dtype == np.int64
    assert fit.model == "gaussian" and fit.total_sigma_weights[0, 0] > 0
    both = fit_models(_sums(0.3 + v), "point+gaussian")
    assert both.point[0, 0] == pytest.approx(0.3, rel=1e-5)
    assert both.gaussian[0, 0] == pytest.approx(0.8, rel=1e-5)
    assert both.total[0, 0] == pytest.approx(1.1, rel=1e-6)
    assert both.fwhm_arcsec[0, 0] == pytest.approx(5.0, rel=1e-5)
    rec = both.to_record()
    assert rec == {
        "model": "point+gaussian",
        "model_flux_point": both.point.tolist(),
        "model_flux_gaussian": both.gaussian.tolist(),
        "model_fwhm_arcsec": both.fwhm_arcsec.tolist(),
    }


def test_chi2_adds_within_bin_scatter_and_binned_residuals():
    w, n, d = 1e4, 100, 0.01  # within-bin scatter: w d^2 = 1 per visibility
    v = 0.8 * gaussian_vis(Q, 5.0 * ARCSEC)
    bump = 0.005 * (-1.0) ** np.arange(Q.size)  # bin means off the model by +-5 mJy
    fit = fit_models(_sums(v + bump, wiggle=d, w=w, n=n), "gaussian")
    model = fit.gaussian[0, 0] * gaussian_vis(Q, fit.fwhm_arcsec[0, 0] * ARCSEC)
    binned = np.sum(n * w * (model - (v + bump)) ** 2)
    dof = 2 * n * Q.size - 2
    expected = (n * Q.size * w * d**2 + binned) / dof
    assert fit.chi2_red[0, 0] == pytest.approx(expected, rel=1e-6)
    assert binned > 0.1 * n * Q.size * w * d**2  # guard: both terms count
    # total sigma = weights sigma x sqrt(chi2_red)
    assert fit.total_sigma[0, 0] == pytest.approx(
        fit.total_sigma_weights[0, 0] * np.sqrt(expected), rel=1e-9
    )


def test_total_sigma_from_the_weights_matches_the_covariance():
    # a pure point source: total = p + g, and with g ~ 0 its sigma from the weights is
    # close to the point-fit 1 / sqrt(sum w) (the free Gaussian widens it a little)
    fit = fit_models(_sums(np.full(Q.size, 0.5)), "point+gaussian")
    assert fit.total[0, 0] == pytest.approx(0.5, rel=1e-6)
    sw = 1 / np.sqrt(1e4 * 100 * Q.size)
    assert sw <= fit.total_sigma_weights[0, 0] < 5 * sw
    g = fit_models(_sums(np.full(Q.size, 0.5)), "gaussian")
    # the Gaussian alone: its total is its amplitude; sigma from the amplitude's variance
    assert g.total[0, 0] == pytest.approx(0.5, rel=1e-4) and g.total_sigma_weights[0, 0] > 0


def test_too_few_bins_or_weights_give_nan():
    s = _sums(np.full(Q.size, 0.5))
    s[0, 0, 3:, B_W] = 0.0  # three bins with weight
    fit = fit_models(s, "gaussian")
    assert np.isnan(fit.total[0, 0]) and np.isnan(fit.chi2_red[0, 0])
    s[0, 0, 3, B_W] = 1e6  # four: enough
    assert np.isfinite(fit_models(s, "gaussian").total[0, 0])
    two = np.concatenate([_sums(np.full(Q.size, 0.5)), s], axis=1)  # (1, 2, ...)
    fit = fit_models(two, "point+gaussian")
    assert fit.total.shape == (1, 2) and np.all(np.isfinite(fit.total))
    np.testing.assert_array_equal(fit.n_vis, [[1200, 1200]])
