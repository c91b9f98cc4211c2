"""Point-source least squares against injected fluxes and hand-worked cases."""

import numpy as np
import pytest

from almacal.relcal.fluxfit import fit_point, point_sums, row_sums, stokes_i, stokes_i_weight


def _sums(vis, w, flag, group, n_group):
    v_i, valid = stokes_i(vis, flag)
    return point_sums(row_sums(v_i, valid, stokes_i_weight(w)), group, n_group)


def _noisy_point(rng, flux, sigma, n_row, n_chan):
    """(row, chan, 2) XX/YY of a point source with complex noise sigma per part."""
    shape = (n_row, n_chan, 2)
    vis = flux + sigma * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    return vis, np.full(shape, 1.0 / sigma**2), np.zeros(shape, bool)


def test_recovers_flux_and_weight_sigma():
    rng = np.random.default_rng(1)
    vis, w, flag = _noisy_point(rng, 0.7, 0.5, 4000, 8)
    fit = fit_point(_sums(vis, w, flag, np.zeros(4000, int), 1))
    # sigma(I) = 0.5/sqrt(2) per point, 32000 points -> sigma_S = 0.00198 Jy
    expected_sigma = 0.5 / np.sqrt(2) / np.sqrt(4000 * 8)
    np.testing.assert_allclose(fit.sigma_weights[0], expected_sigma, rtol=1e-12)
    assert abs(fit.flux[0] - 0.7) < 5 * expected_sigma  # 5 sigma
    # weights are right, so chi2_red ~ 1 within sqrt(2/dof) ~ 0.006; allow 5x
    assert abs(fit.chi2_red[0] - 1.0) < 0.03
    np.testing.assert_allclose(fit.sigma_chi2, fit.sigma_weights * np.sqrt(fit.chi2_red))


def test_chi2_rescaled_sigma_is_right_when_weights_are_wrong():
    rng = np.random.default_rng(2)
    vis, w, flag = _noisy_point(rng, 1.0, 0.2, 3000, 4)
    # weights claim 10x less noise
    fit = fit_point(_sums(vis, w * 100.0, flag, np.zeros(3000, int), 1))
    true_sigma = 0.2 / np.sqrt(2) / np.sqrt(3000 * 4)
    assert fit.sigma_weights[0] == pytest.approx(true_sigma / 10, rel=1e-9)
    assert fit.sigma_chi2[0] == pytest.approx(true_sigma, rel=0.05)  # chi2 scatter ~1 %


def test_flags_nan_and_zero_weights_drop_out_and_groups_separate():
    rng = np.random.default_rng(3)
    vis, w, flag = _noisy_point(rng, 2.0, 0.01, 100, 4)
    vis[:, :, 1] += 0  # same source in both hands
    vis[:50] *= 0.5  # group 0 at 1 Jy, group 1 at 2 Jy
    vis[0, 0, 0] = np.nan
    vis[1, 1, 1] = 1e6
    flag[1, 1, 1] = True
    vis[2, 2, 0] = -1e6
    w[2, 2, 0] = 0.0
    group = np.repeat([0, 1], 50)
    fit = fit_point(_sums(vis, w, flag, group, 3))
    # the same with one weight per row (the WEIGHT column, no WEIGHT_SPECTRUM)
    w_row = w[:, 0, :].copy()
    w_row[2, 0] = 0.0  # a zero weight drops the whole row in that hand
    v_i, valid = stokes_i(vis, flag)
    per_row = fit_point(point_sums(row_sums(v_i, valid, stokes_i_weight(w_row)), group, 3))
    # sigma(I) = 0.01 / sqrt(2) per point, ~200 points per group: sigma_S ~ 5e-4 Jy; 5 sigma
    # (group 0 is scaled by 0.5, noise included: its sigma is half that)
    tol = 5 * fit.sigma_weights[:2]
    assert np.all(tol < 2.6e-3)
    per_row_err = np.abs(per_row.flux[:2] - [1.0, 2.0])
    np.testing.assert_array_less(per_row_err, 5 * per_row.sigma_weights[:2])
    assert per_row.n_vis[0] == 50 * 4 - 2 - 4 and per_row.n_vis[1] == 200
    np.testing.assert_array_less(np.abs(fit.flux[:2] - [1.0, 2.0]), tol)
    assert fit.n_vis[0] == 50 * 4 - 3 and fit.n_vis[1] == 200  # one I point per bad hand
    assert np.isnan(fit.flux[2]) and fit.n_vis[2] == 0  # empty group is NaN, not 0


def test_stokes_i_weight_combines_hands():
    vis = np.array([[[1.0 + 0j, 3.0 + 0j]]])
    v_i, valid = stokes_i(vis, np.zeros(vis.shape, bool))
    assert v_i[0, 0] == 2.0 and valid.all()
    w_i = stokes_i_weight(np.array([[1.0, 3.0], [1.0, 0.0], [np.inf, 1.0]]))
    assert w_i[0] == pytest.approx(4 / (1 + 1 / 3))  # var(I) = (1 + 1/3) / 4
    assert w_i[1] == 0.0 and w_i[2] == 0.0


def test_single_hand_data():
    vis = np.full((3, 2, 1), 0.5 + 0j)
    v_i, valid = stokes_i(vis, np.zeros((3, 2, 1), bool))
    assert np.all(v_i == 0.5) and valid.all()
    assert np.all(stokes_i_weight(np.ones((3, 1))) == 1.0)


def _loop_row_sums(v_i, valid, w_i):
    """Reference for row_sums: one visibility at a time, weight per row or per channel."""
    n_row, n_chan = v_i.shape
    out = np.zeros((n_row, 4))
    for r in range(n_row):
        for c in range(n_chan):
            w = w_i[r] if w_i.ndim == 1 else w_i[r, c]
            if valid[r, c] and w > 0:
                v = v_i[r, c]
                out[r] += [w, w * v.real, w * abs(v) ** 2, 1]
    return out


def _flagged_point(rng, flux, sigma, n_row, n_chan, bad_fraction):
    """Point-source XX/YY with a fraction of flagged and of NaN hand values."""
    vis, w, flag = _noisy_point(rng, flux, sigma, n_row, n_chan)
    flag |= rng.random(flag.shape) < bad_fraction
    vis[rng.random(vis.shape) < bad_fraction / 2] = np.nan
    return vis, w, flag


@pytest.mark.parametrize("per_channel", [False, True])
def test_row_sums_match_a_loop_with_flags_nans_and_zero_weights(per_channel):
    rng = np.random.default_rng(21)
    vis, w, flag = _flagged_point(rng, 1.3, 0.1, 40, 16, bad_fraction=0.2)
    w *= rng.uniform(0.5, 2.0, w.shape)  # unequal weights: a plain count would not match
    if not per_channel:
        w = w[:, 0, :]  # WEIGHT: one weight per row and hand
        w[3] = 0.0  # a row with no weight contributes nothing, not even to N
    else:
        w[5, 2:6, 0] = 0.0
    v_i, valid = stokes_i(vis, flag)
    w_i = stokes_i_weight(w)
    got = row_sums(v_i, valid, w_i)
    ref = _loop_row_sums(v_i, valid, w_i)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)  # the same sums, to rounding
    n_bad = (~valid).sum()
    assert n_bad > 0.2 * valid.size  # guard: many channels flagged or NaN
    if not per_channel:
        assert np.all(got[3] == 0.0)
        np.testing.assert_array_equal(got[:, 3], valid.sum(axis=1) * (w_i > 0))
    else:
        assert got[5, 3] == valid[5].sum() - valid[5, 2:6].sum()


@pytest.mark.parametrize("per_channel", [False, True])
def test_flux_with_a_third_of_the_channels_flagged_is_unbiased(per_channel):
    rng = np.random.default_rng(22)
    vis, w, flag = _flagged_point(rng, 0.8, 0.05, 3000, 32, bad_fraction=0.3)
    if not per_channel:
        w = w[:, 0, :]
    fit = fit_point(_sums(vis, w, flag, np.zeros(3000, int), 1))
    v_i, valid = stokes_i(vis, flag)
    n_good = int(valid.sum())
    assert fit.n_vis[0] == n_good and n_good < 0.6 * valid.size  # guard: ~45 % dropped
    # sigma(I) = 0.05/sqrt(2) per point: sigma_S = 0.0354/sqrt(n_good) ~ 3.5e-4 Jy; 5 sigma
    sigma_s = 0.05 / np.sqrt(2) / np.sqrt(n_good)
    np.testing.assert_allclose(fit.sigma_weights[0], sigma_s, rtol=1e-12)
    assert abs(fit.flux[0] - 0.8) < 5 * sigma_s
    # with the right N the reduced chi^2 is 1 within sqrt(2/dof) ~ 0.002; allow 5x
    assert abs(fit.chi2_red[0] - 1.0) < 0.01


def test_edge_cases_of_flags_weights_and_small_sums():
    # a flag on the first hand alone makes the Stokes I point unusable
    vis = np.ones((1, 3, 2), complex)
    flag = np.zeros((1, 3, 2), bool)
    flag[0, 0, 0] = True
    flag[0, 1, 1] = True
    _, valid = stokes_i(vis, flag)
    assert valid.tolist() == [[False, False, True]]
    # single-hand weights: only positive finite ones count, small ones included
    w = stokes_i_weight(np.array([[-1.0], [np.nan], [0.0], [0.25]]))
    assert w.tolist() == [0.0, 0.0, 0.0, 0.25]
    w2 = stokes_i_weight(np.array([[0.25, 0.25], [0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]]))
    assert w2.tolist() == [0.5, 0.0, 0.0, 0.0]  # 4 w1 w2 / (w1 + w2) = 2 w for equal hands
    # row sums with a weight below 1 (sigma 2 Jy) still count the visibilities
    v_i = np.full((1, 4), 0.5 + 0.1j)
    out = row_sums(v_i, np.ones((1, 4), bool), np.array([0.25]))
    np.testing.assert_allclose(out[0], [1.0, 0.5, 0.26, 4])
    out = row_sums(v_i, np.ones((1, 4), bool), np.full((1, 4), 0.25))
    np.testing.assert_allclose(out[0], [1.0, 0.5, 0.26, 4])


def test_fit_point_with_small_sums_one_visibility_and_no_visibility():
    # sum_w = 0.5 (weights below 1), n = 1: flux defined, dof = 2 n - 1 = 1
    sums = np.array([[0.5, 0.5 * 0.8, 0.5 * 0.8**2 + 0.3, 1.0], [2.0, 1.0, 0.5, 0.0]])
    fit = fit_point(sums)
    assert fit.flux[0] == pytest.approx(0.8) and fit.sigma_weights[0] == pytest.approx(2**0.5)
    assert fit.chi2_red[0] == pytest.approx(0.3)  # chi2 = 0.3 over 1 dof
    assert fit.n_vis.dtype == np.int64 and fit.n_vis.tolist() == [1, 0]
    assert np.isnan(fit.flux[1]) and np.isnan(fit.chi2_red[1])  # weight but no visibility
    # rounding can make chi2 slightly negative for a perfect fit: clipped to 0
    perfect = fit_point(np.array([[4.0, 4.0, 4.0 - 1e-12, 3.0]]))
    assert perfect.chi2_red[0] == 0.0 and perfect.sigma_chi2[0] == 0.0


def test_stokes_i_of_unflagged_finite_data_skips_the_mask_and_catches_what_it_must():
    rng = np.random.default_rng(12)
    vis = rng.normal(size=(50, 8, 2)) + 1j * rng.normal(size=(50, 8, 2))
    no_flag = np.zeros(vis.shape, bool)
    v_i, valid = stokes_i(vis, no_flag)
    np.testing.assert_array_equal(v_i, (vis[..., 0] + vis[..., 1]) / 2)
    assert valid.all() and not valid.flags.writeable  # the shared all-True array
    # a NaN with no flag set: the chunk's sum is NaN, so the point-by-point check runs
    vis[3, 4, 1] = np.nan
    v_i, valid = stokes_i(vis, no_flag)
    assert not valid[3, 4] and np.count_nonzero(~valid) == 1 and v_i[3, 4] == 0
    # finite values whose sum overflows: the check runs and finds every point valid
    big = np.full((40, 3, 2), 1e307 + 0j)
    v_i, valid = stokes_i(big, np.zeros(big.shape, bool))
    assert valid.all() and np.all(v_i == 1e307)
