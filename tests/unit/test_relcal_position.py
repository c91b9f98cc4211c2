"""fitposition's pure core: (u, v) gridding and fits with a fitted offset; no casatools."""

import math

import numpy as np
import pytest

from almacal.relcal.accumulate import MsSums, sum_epochs
from almacal.relcal.posfit import fit_positions
from almacal.relcal.uvgrid import (
    ARCSEC,
    CELL_PHASE_RAD,
    G_N,
    G_W,
    G_W_U,
    G_W_V,
    MAX_GRID_CELLS,
    MAX_OFFSET_ARCSEC,
    GridCells,
    grid_sums,
    occupied_cells,
    uv_grid,
)
from almacal.relcal.uvmodel import gaussian_vis

Q_MAX = 55e3  # ACA Band 7: 48 m at 351 GHz


def _tracks(rng, n_row=3000, n_chan=16):
    """ACA-like coverage: baselines 9-48 m, 336-351 GHz, random orientations (row, chan)."""
    b = rng.uniform(9.0, 48.0, n_row)
    ang = rng.uniform(0, 2 * np.pi, n_row)
    freq = np.linspace(336e9, 351e9, n_chan)
    k = freq[None, :] / 299_792_458.0
    return (b * np.cos(ang))[:, None] * k, (b * np.sin(ang))[:, None] * k


def _vis(u, v, *, point, gauss, fwhm_as, dra, ddec):
    q = np.hypot(u, v)
    amp = point + gauss * gaussian_vis(q, fwhm_as * ARCSEC)
    return amp * np.exp(2j * np.pi * (u * dra + v * ddec) * ARCSEC)


def _gridded(rng, sigma, n_ep=1, **truth):
    """Noisy visibilities of one source in n_ep epochs -> sums (n_ep, 1, cell, sums), grid."""
    grid = uv_grid(Q_MAX, 1)
    out = []
    for _ in range(n_ep):
        u, v = _tracks(rng)
        vis = _vis(u, v, **truth) + sigma * (
            rng.standard_normal(u.shape) + 1j * rng.standard_normal(u.shape)
        )
        w = np.full(u.shape[0], 1.0 / sigma**2)
        valid = np.ones(u.shape, bool)
        out.append(grid_sums(vis, valid, w, u, v, np.zeros(u.shape[0], int), 1, grid))
    return np.stack(out), grid, 1.0 / math.sqrt(u.size * n_ep) * sigma


def _fit(sums, grid, model):
    return fit_positions([occupied_cells(s) for s in sums], grid, model)


def test_grid_keeps_every_visibility_and_folds_hermitian():
    rng = np.random.default_rng(3)
    u, v = _tracks(rng, 200, 4)
    vis = _vis(u, v, point=1.0, gauss=0.0, fwhm_as=1.0, dra=1.0, ddec=-2.0)
    grid = uv_grid(Q_MAX, 1)
    w = rng.uniform(1, 2, u.shape)
    s = grid_sums(vis, np.ones(u.shape, bool), w, u, v, np.zeros(200, int), 1, grid)[0]
    assert s[:, G_N].sum() == u.size and s[:, G_W].sum() == pytest.approx(w.sum())
    # (-u, -v, conj V) lands in the same cells with the same sums
    s2 = grid_sums(vis.conj(), np.ones(u.shape, bool), w, -u, -v, np.zeros(200, int), 1, grid)[0]
    np.testing.assert_allclose(s2, s, rtol=1e-12, atol=1e-9)
    # a grid too small for the data leaves the outer points out instead of failing
    small = uv_grid(20e3, 1)
    s3 = grid_sums(vis, np.ones(u.shape, bool), w, u, v, np.zeros(200, int), 1, small)[0]
    inside = np.hypot(u, v) < 20e3
    assert inside.sum() <= s3[:, G_N].sum() < u.size
    # the criterion: 2 pi cell r_max = CELL_PHASE_RAD
    assert 2 * np.pi * grid.cell_lambda * MAX_OFFSET_ARCSEC * ARCSEC == pytest.approx(
        CELL_PHASE_RAD
    )


def test_cells_of_two_ms_add_to_the_grid_of_both():
    # two MSs of one epoch, two calibrators, partly overlapping cells: their occupied
    # cells added (GridCells + GridCells, via MsSums + MsSums) must equal the occupied
    # cells of the dense grid of all their data; sums of the same floats: exact to
    # rounding (rtol 1e-12)
    rng = np.random.default_rng(17)
    grid = uv_grid(Q_MAX, 2)
    u_all, v_all = _tracks(rng, 240, 3)
    group_all = rng.integers(0, 2, 240)
    dense = []
    for rows in (slice(0, 150), slice(100, 240)):  # rows 100-149 in both: shared cells
        u, v, group = u_all[rows], v_all[rows], group_all[rows]
        vis = _vis(u, v, point=1.0, gauss=0.0, fwhm_as=1.0, dra=0.5, ddec=1.0)
        w = rng.uniform(1, 2, u.shape)
        dense.append(grid_sums(vis, np.ones(u.shape, bool), w, u, v, group, 2, grid))
    a, b = (GridCells.from_dense(d) for d in dense)
    both = GridCells.from_dense(dense[0] + dense[1])
    for x, y, want in zip(a, b, both, strict=True):
        # not vacuous: each side has cells the other lacks, and some in common
        assert np.setdiff1d(x.cell, y.cell).size and np.setdiff1d(y.cell, x.cell).size
        assert np.intersect1d(x.cell, y.cell).size
        got = x + y
        np.testing.assert_array_equal(got.cell, want.cell)
        np.testing.assert_allclose(got.sums, want.sums, rtol=1e-12, atol=0)
    empty = np.zeros((2, 0, 3))
    sums = [
        MsSums(point=empty, rows_unflagged=np.zeros(2), time_range=np.full((2, 2), np.nan), cells=c)
        for c in (a, b)
    ]
    (epoch,) = sum_epochs(sums, np.array([0, 0]), 1)
    assert epoch.cells is not None
    for got, want in zip(epoch.cells, both, strict=True):
        np.testing.assert_array_equal(got.cell, want.cell)
        np.testing.assert_allclose(got.sums, want.sums, rtol=1e-12, atol=0)
    # an MS without cells (no fitposition pass) gives an epoch without cells
    plain = MsSums(point=empty, rows_unflagged=np.zeros(2), time_range=np.full((2, 2), np.nan))
    assert (sums[0] + plain).cells is None


def _square_distances(cu, cv, cell):
    """Nearest and farthest distance from the origin of the squares of side cell centred
    on (cu, cv)."""
    lo_u, hi_u, lo_v, hi_v = cu - cell / 2, cu + cell / 2, cv - cell / 2, cv + cell / 2
    near = np.hypot(np.clip(0.0, lo_u, hi_u), np.clip(0.0, lo_v, hi_v))
    far = np.hypot(np.maximum(abs(lo_u), abs(hi_u)), np.maximum(abs(lo_v), abs(hi_v)))
    return near, far


def test_within_keeps_the_cells_wholly_inside_the_annulus():
    # data on 10-20 klambda and one point by the origin; a cell is kept when its whole
    # square lies in lo <= q <= hi. Each cell's centre is its data's centroid rounded to
    # the cell grid (the centroid lies inside the cell)
    rng = np.random.default_rng(5)
    grid = uv_grid(Q_MAX, 1)
    q = np.append(rng.uniform(10e3, 20e3, 4000), 70.0)[:, None]
    ang = np.append(rng.uniform(0, 2 * np.pi, 4000), 0.8)[:, None]
    u, v = q * np.cos(ang), q * np.sin(ang)
    n = u.shape[0]
    ones = np.ones(u.shape, bool)
    w = np.full(n, 0.5)  # weights below 1 (sigma > 1 Jy) are weights too
    dense = grid_sums(np.ones(u.shape, complex), ones, w, u, v, np.zeros(n, int), 1, grid)
    (cells,) = GridCells.from_dense(dense)
    c = grid.cell_lambda
    centre = np.rint(cells.sums[:, [G_W_U, G_W_V]] / cells.sums[:, [G_W]] / c) * c
    near, far = _square_distances(centre[:, 0], centre[:, 1], c)
    for lo, hi in ((14e3, 17e3), (0.0, 12e3), (1.0, 12e3)):
        kept = cells.within(grid, lo, hi)
        want = (near >= lo) & (far <= hi)
        assert 0 < want.sum() < want.size  # not vacuous: some cells in, some out
        np.testing.assert_array_equal(kept.cell, cells.cell[want])
        np.testing.assert_array_equal(kept.sums, cells.sums[want])
    # the origin's cell is in [0, 12] klambda but not wholly beyond 1 lambda
    origin = cells.cell[(near == 0)]
    assert origin.size == 1
    assert origin[0] in cells.within(grid, 0.0, 12e3).cell
    assert origin[0] not in cells.within(grid, 1.0, 12e3).cell
    # the limits are inclusive: a cell whose far corner is exactly at hi is inside
    k = int(np.argmax(np.where(far <= 15e3, far, 0.0)))
    assert cells.cell[k] in cells.within(grid, 0.0, far[k]).cell


def test_grid_geometry_shrinks_the_offset_limit_then_refuses():
    g = uv_grid(Q_MAX, 4)
    assert g.max_offset_arcsec == MAX_OFFSET_ARCSEC and 4 * g.n_cells <= MAX_GRID_CELLS
    big = uv_grid(6e5, 4)  # 12 m array, ~520 m baselines at Band 7
    assert 1.0 <= big.max_offset_arcsec < MAX_OFFSET_ARCSEC and 4 * big.n_cells <= MAX_GRID_CELLS
    with pytest.raises(ValueError, match="fitposition.*uvrange"):
        uv_grid(2e7, 4)  # 16 km baselines
    with pytest.raises(ValueError, match="fitposition"):
        uv_grid(0.0, 4)


def test_point_offset_and_flux_recovered():
    rng = np.random.default_rng(11)
    sums, grid, sig_flux = _gridded(rng, 0.2, point=0.8, gauss=0.0, fwhm_as=1.0, dra=0.8, ddec=-0.5)
    r = _fit(sums, grid, "point")
    t, ts = r.fit.total[0, 0], r.fit.total_sigma[0, 0]
    # thermal flux sigma 0.2 / sqrt(48000) ~ 0.9 mJy; the fit's own sigma agrees to 20 %
    assert ts == pytest.approx(sig_flux, rel=0.2)
    # 5 sigma, plus the cell averaging loss bound (CELL_PHASE_RAD / 2)^2 x (0.94 / 4)^2
    assert abs(t - 0.8) < 5 * ts + 1e-4, (t, ts)
    # offset sigma ~ beam / SNR: ~4" / 900 ~ 5 mas; 5 sigma of the fit's own sigma
    dra, ddec = r.dra_arcsec[0, 0], r.ddec_arcsec[0, 0]
    assert abs(dra - 0.8) < 5 * r.dra_sigma_arcsec[0, 0] and r.dra_sigma_arcsec[0, 0] < 0.02
    assert abs(ddec + 0.5) < 5 * r.ddec_sigma_arcsec[0, 0] and r.ddec_sigma_arcsec[0, 0] < 0.02
    assert r.fit.chi2_red[0, 0] == pytest.approx(1.0, abs=0.05)  # 96000 dof: sigma 0.5 %
    assert not r.at_limit[0, 0]
    # guard: the flux of a fit at the phase centre is biased low by > 10 sigma
    w, re = sums[0, 0, :, G_W], sums[0, 0, :, 1]
    assert 0.8 - re.sum() / w.sum() > 10 * ts


def test_point_plus_gaussian_offset_and_total_flux_recovered():
    rng = np.random.default_rng(12)
    truth = dict(point=0.6, gauss=0.4, fwhm_as=6.0, dra=0.8, ddec=-0.5)
    sums, grid, _ = _gridded(rng, 0.05, **truth)
    r = _fit(sums, grid, "point+gaussian")
    t, ts = r.fit.total[0, 0], r.fit.total_sigma[0, 0]
    # total flux from the covariance (the Gaussian's extrapolation to q = 0 dominates); 5 sigma
    assert abs(t - 1.0) < 5 * ts and ts < 5e-3, (t, ts)
    assert abs(r.fit.point[0, 0] - 0.6) < 0.05 and abs(r.fit.fwhm_arcsec[0, 0] - 6.0) < 0.5
    assert abs(r.dra_arcsec[0, 0] - 0.8) < 5 * r.dra_sigma_arcsec[0, 0]
    assert abs(r.ddec_arcsec[0, 0] + 0.5) < 5 * r.ddec_sigma_arcsec[0, 0]
    assert r.dra_sigma_arcsec[0, 0] < 0.02
    g = _fit(sums, grid, "gaussian")  # wrong model: still a fit, but a lower total
    assert g.fit.point[0, 0] == 0.0
    # the Gaussian alone misses the point's flux on long baselines: 0.77 Jy, > 50 sigma low
    assert g.fit.total[0, 0] < t - 50 * ts
    # and its chi^2 shows it: 1.5, where the right model gives 1.00 (well above 1e3 dof,
    # so sqrt(2 / dof) < 0.05)
    assert r.fit.chi2_red[0, 0] == pytest.approx(1.0, abs=0.05) and g.fit.chi2_red[0, 0] > 1.2
    # the offset comes from the phases and survives the wrong amplitude model (5 sigma)
    assert abs(g.dra_arcsec[0, 0] - 0.8) < 5 * g.dra_sigma_arcsec[0, 0]


def test_zero_offset_is_consistent_with_zero():
    rng = np.random.default_rng(13)
    sums, grid, _ = _gridded(rng, 0.2, n_ep=3, point=0.5, gauss=0.0, fwhm_as=1.0, dra=0, ddec=0)
    r = _fit(sums, grid, "point")
    z = np.concatenate([r.dra_arcsec / r.dra_sigma_arcsec, r.ddec_arcsec / r.ddec_sigma_arcsec])
    # six offsets in units of their sigma: all within 4 sigma of zero
    assert np.all(np.abs(z) < 4), z
    assert np.all(np.abs(r.fit.total - 0.5) < 5 * r.fit.total_sigma)
    rec = r.to_record()
    assert np.array(rec["model_dra_arcsec"]).shape == (3, 1)
    assert rec["model_position_limit_arcsec"] == MAX_OFFSET_ARCSEC


def test_too_few_cells_give_nan():
    grid = uv_grid(Q_MAX, 1)
    sums = np.zeros((1, 1, grid.n_cells, 7))
    r = _fit(sums, grid, "point")
    assert np.isnan(r.fit.total[0, 0]) and np.isnan(r.dra_arcsec[0, 0])
    assert r.fit.status[0, 0] == ""  # no data: its reason comes from the pass, not the fit
    # one and two cells: fewer than the 3 parameters of a point with an offset
    for k in (1, 2):
        sums[0, 0, k * 7, [G_W, G_N]] = 1.0
        r = _fit(sums, grid, "point")
        assert np.isnan(r.fit.total[0, 0])
        assert r.fit.status[0, 0] == f"only {k} (u, v) cells with data, 3 needed"


def test_a_gaussian_wider_than_the_shortest_baseline_measures_is_named():
    # an 18" Gaussian on ACA baselines from 9 m (~16.3" the widest they measure): the
    # point+Gaussian fit puts the FWHM at its bound with flux in the Gaussian, so its
    # total flux is not measured
    rng = np.random.default_rng(21)
    sums, grid, _ = _gridded(rng, 0.05, point=0.5, gauss=1.0, fwhm_as=18.0, dra=0.3, ddec=0.2)
    r = _fit(sums, grid, "point+gaussian")
    assert r.fit.gaussian[0, 0] > 0.1  # not vacuous: the Gaussian has flux
    assert r.fit.status[0, 0].startswith("Gaussian FWHM 16.")
    assert "at its upper bound" in r.fit.status[0, 0]


def test_a_source_beyond_the_grid_limit_is_flagged_at_the_limit():
    # a point 6" off on a grid that follows offsets up to 4": the fit stops at the bound
    rng = np.random.default_rng(13)
    sums, grid, _ = _gridded(rng, 0.05, point=1.0, gauss=0.0, fwhm_as=1.0, dra=6.0, ddec=0.3)
    r = _fit(sums, grid, "point")
    assert r.at_limit[0, 0]
    assert (
        r.fit.status[0, 0].startswith("offset (")
        and "at the grid limit 4.00 arcsec" in (r.fit.status[0, 0])
    )
