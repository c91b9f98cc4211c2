"""Calibrator choice: stability chi^2, family search and small-table edges (no casatools)."""

import itertools

import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

from almacal.relcal.choice import FAMILY_P_MIN, choose_calibrators, fill_dropped
from almacal.relcal.factors import mean_correction_factors

FIELDS = ("A", "B", "C", "D")


def _table(rng, n_ep=6, noise=(1e-3, 1e-3, 1e-3, 1e-3)):
    scale = rng.uniform(0.9, 1.1, n_ep)
    rel = np.asarray(noise)
    true = np.array([0.9, 0.7, 0.5, 0.3])[: rel.size]
    flux = scale[:, None] * true * (1 + rel * rng.standard_normal((n_ep, rel.size)))
    return flux, rel * flux


def _choose(flux, sigma, excluded=None, **kw):
    kw = {"rejectsigma": 0.0, "minfamily": 0} | kw
    off = np.zeros(flux.shape, bool) if excluded is None else excluded
    return choose_calibrators(flux, sigma, excluded=off, fields=FIELDS[: flux.shape[1]], **kw)


def test_stability_chi2_and_lightcurve_against_a_loop():
    rng = np.random.default_rng(131)
    flux, sigma = _table(rng)
    excluded = np.zeros(flux.shape, bool)
    excluded[2, 1] = True
    excluded[:, 3] = [True, True, True, True, True, False]  # D used in one epoch only
    ch = _choose(flux, sigma, excluded)
    mcf, ms = mean_correction_factors(flux, sigma)
    used = ~excluded
    rfcf = np.array([mcf[i, used[i]].mean() for i in range(6)])
    for j in range(4):
        ii = np.flatnonzero(used[:, j])
        if ii.size > 1:
            expected = np.sum(((mcf[ii, j] - rfcf[ii]) / ms[ii, j]) ** 2) / (ii.size - 1)
            assert ch.stability_chi2[j] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(ch.stability_chi2[3])  # one epoch: no scatter to measure
    # 0.1 % noise, honest sigmas: chi2_red ~ 1 (dof 5 and 4; allow 4)
    assert np.all(ch.stability_chi2[:3] < 4) and np.all(ch.stability_chi2[:3] > 0.05)
    np.testing.assert_allclose(ch.lightcurve, rfcf[:, None] / mcf, rtol=1e-12)
    assert ch.used.tolist() == used.tolist() and not ch.dropped.any()
    assert [e["reason"] for e in ch.exclusions] == ["exclude (user)"] * 6
    rec = ch.to_record()
    assert rec["stability_chi2"][:3] == ch.stability_chi2[:3].tolist()
    assert rec["family"] == list(FIELDS) and rec["dropped"] == ch.dropped.tolist()
    assert rec["exclusions"][0] == {"epoch": 1, "field": "D", "reason": "exclude (user)"}


def test_an_epoch_with_every_pair_excluded_has_no_rfcf():
    rng = np.random.default_rng(132)
    flux, sigma = _table(rng)
    excluded = np.zeros(flux.shape, bool)
    excluded[4] = True
    ch = _choose(flux, sigma, excluded)
    assert np.all(np.isnan(ch.lightcurve[4])) and np.all(np.isfinite(ch.lightcurve[:4]))


def test_family_of_the_agreeing_calibrators_and_its_exclusions():
    rng = np.random.default_rng(133)
    flux, sigma = _table(rng)
    flux[:, 1] *= np.linspace(0.95, 1.05, 6)  # B drifts by 10 %
    ch = _choose(flux, sigma, minfamily=2)
    assert ch.family == ("A", "C", "D") and not ch.used[:, 1].any() and ch.used[:, [0, 2, 3]].all()
    assert ch.exclusions == tuple(
        {"epoch": i + 1, "field": "B", "reason": "not in the best-agreeing family (A,C,D)"}
        for i in range(6)
    )
    # the kept family's own MCF scatter is consistent with its sigmas
    mcf, ms = mean_correction_factors(flux, sigma)
    keep = [0, 2, 3]
    r = mcf[:, keep].mean(axis=1, keepdims=True)
    z2 = (((mcf[:, keep] - r) / ms[:, keep]) ** 2).sum()
    assert chi2_dist.sf(z2, 6 * 2) >= FAMILY_P_MIN
    # minfamily = the number of calibrators: the whole set is the only family
    assert _choose(flux, sigma, minfamily=4).family == FIELDS
    with pytest.raises(ValueError, match="minfamily=5 exceeds the 4 calibrators"):
        _choose(flux, sigma, minfamily=5)


def test_when_no_family_agrees_the_smallest_reduced_chi2_wins():
    rng = np.random.default_rng(134)
    flux, sigma = _table(rng)
    sigma = sigma / 30  # sigmas 30x too small: no family is consistent
    flux[:, 3] *= np.linspace(0.9, 1.1, 6)  # and D drifts besides
    ch = _choose(flux, sigma, minfamily=3)
    mcf, ms = mean_correction_factors(flux, sigma)
    best, best_red = None, np.inf
    for fam in ((0, 1, 2, 3), (0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)):
        r = mcf[:, fam].mean(axis=1, keepdims=True)
        red = (((mcf[:, fam] - r) / ms[:, fam]) ** 2).sum() / (6 * (len(fam) - 1))
        if red < best_red:
            best, best_red = fam, red
    assert ch.family == tuple(FIELDS[j] for j in best) and "D" not in ch.family
    assert best_red > 10  # guard: nothing agrees, the fallback was exercised


def test_three_calibrators_are_enough_to_judge_a_pair():
    rng = np.random.default_rng(135)
    flux, sigma = _table(rng, noise=(1e-3, 1e-3, 1e-3))
    flux[3, 0] *= 1.3
    ch = _choose(flux, sigma, rejectsigma=5.0)
    # each pair has exactly two others in its epoch: the outlier is found
    assert ch.dropped.tolist() == [[i == 3 and j == 0 for j in range(3)] for i in range(6)]
    filled = fill_dropped(flux, ch.dropped)
    # the dropped flux is predicted by the others; it and the measured value / 1.3 each carry
    # ~0.1 % noise: 5 x sqrt(2) x 0.1 % = 0.7 %
    assert filled[3, 0] == pytest.approx(flux[3, 0] / 1.3, rel=7e-3)
    # two calibrators: no pair can be judged, nothing is rejected
    two = _choose(flux[:, :2], sigma[:, :2], rejectsigma=5.0)
    assert not two.dropped.any()


# minfamily's search when exclusions leave the families unequal degrees of freedom: a
# user's exclusions (kept in Eq. 1, left out of the rFCF) make some families see fewer
# (epoch, calibrator) pairs than others: one degree of freedom, none at all (its
# calibrators never share an epoch), or fewer than a family of the same size. Every
# family with dof > 0 is judged by its reduced chi^2.


def _reduced_chi2(flux, sigma, used, family):
    """chi^2 / dof of the family's used MCFs about their epoch means (seed 000 Eq. 1-3)."""
    mcf, mcf_sigma = mean_correction_factors(flux, sigma)
    u = used & np.isin(np.arange(flux.shape[1]), family)[None, :]
    n = u.sum(axis=1)
    mean = np.where(u, mcf, 0.0).sum(axis=1) / np.maximum(n, 1)
    z2 = np.where(u, ((mcf - mean[:, None]) / mcf_sigma) ** 2, 0.0).sum()
    dof = np.maximum(n - 1, 0).sum()
    return z2, dof


def test_a_family_with_one_degree_of_freedom_can_win():
    # C2 jumps by 30 % in epoch 2; C1 is excluded there, so {C0, C1} has dof 1 (epoch 1)
    flux = np.array([1.0, 0.9])[:, None] * np.array([[1.0, 0.8, 0.6]])
    flux[:, 2] *= [1.0, 1.3]
    excluded = np.zeros(flux.shape, bool)
    excluded[1, 1] = True
    c = _choose(flux, 1e-3 * flux, excluded, minfamily=2)
    assert c.family == ("A", "B")
    z2, dof = _reduced_chi2(flux, 1e-3 * flux, ~excluded, (0, 1))
    assert dof == 1 and z2 < 1e-12  # consistent: exact scales, no noise
    assert c.used.tolist() == [[True, True, False], [True, False, False]]


def test_a_family_without_degrees_of_freedom_does_not_end_the_search():
    # C0 is used only in epoch 1 and C1 never there: {C0, C1} (the first pair tried)
    # has no dof; {C1, C2} agrees; C0's epoch-1 flux is 50 % off
    flux = np.array([1.0, 0.9, 1.1])[:, None] * np.array([[1.0, 0.8, 0.6]])
    flux[0, 0] *= 1.5
    excluded = np.zeros(flux.shape, bool)
    excluded[1:, 0] = True
    excluded[0, 1] = True
    assert _reduced_chi2(flux, 1e-3 * flux, ~excluded, (0, 1))[1] == 0
    c = _choose(flux, 1e-3 * flux, excluded, minfamily=2)
    assert c.family == ("B", "C")
    assert {e["field"] for e in c.exclusions if "family" in e["reason"]} == {"A"}


def test_families_of_one_size_are_ranked_by_reduced_chi2_not_chi2():
    # 4 epochs x 4 calibrators, 2 % scatter on 1 % errors (no family agrees), one pair
    # excluded in three of the calibrators: families of two have 3 or 4 dof
    flux = np.array(
        [
            [1.1667, 0.9588, 1.4239, 0.7574],
            [1.1169, 0.8874, 1.2659, 0.7065],
            [1.1664, 0.9811, 1.4165, 0.7258],
            [1.0012, 0.7922, 1.2018, 0.6166],
        ]
    )
    excluded = np.zeros(flux.shape, bool)
    excluded[1, 1] = excluded[2, 2] = excluded[3, 3] = True
    sigma = 0.01 * flux
    c = _choose(flux, sigma, excluded, minfamily=2)
    stats = {
        fam: _reduced_chi2(flux, sigma, ~excluded, fam)
        for fam in itertools.combinations(range(4), 2)
    }
    by_red = min(stats, key=lambda f: stats[f][0] / stats[f][1])
    by_product = min(stats, key=lambda f: stats[f][0] * stats[f][1])
    assert by_red != by_product  # not vacuous: the two rankings disagree here
    assert len({dof for _, dof in stats.values()}) > 1
    assert c.family == tuple(FIELDS[j] for j in by_red) == ("A", "D")


def test_record_has_the_normalised_light_curves():
    rng = np.random.default_rng(12)
    scale = rng.uniform(0.9, 1.1, (5, 1))
    flux = scale * np.array([[1.0, 0.7, 0.5]]) * (1 + rng.normal(0, 1e-3, (5, 3)))
    c = _choose(flux, 1e-3 * flux)
    rec = c.to_record()
    assert set(rec) == {"dropped", "exclusions", "stability_chi2", "lightcurve", "family"}
    mcf, _ = mean_correction_factors(flux, 1e-3 * flux)
    # light curve = rFCF_i / MCF_ij: the calibrator's flux relative to its mean, rescaled
    np.testing.assert_allclose(rec["lightcurve"], mcf.mean(axis=1)[:, None] / mcf, rtol=1e-12)
    assert np.ptp(rec["lightcurve"]) > 1e-4  # not vacuous: noise shows


def test_a_tie_goes_to_the_family_first_in_field_order():
    # two exactly consistent pairs, {A, B} and {C, D}, that disagree with each other by
    # 25 %: no family of 4 or 3 agrees and both pairs have reduced chi^2 exactly 0 (no
    # noise; powers of two, so each pair's MCFs are equal to the last bit)
    flux = np.array([1.0, 0.5, 2.0, 0.5])[:, None] * np.array([[1.0, 0.5, 0.5, 0.25]])
    flux[:, 2:] *= np.array([1.0, 1.25, 0.75, 1.0])[:, None]
    c = _choose(flux, 1e-3 * flux, minfamily=2)
    assert c.family == ("A", "B")
    # the same table with the fields in the other order picks the other pair
    c = _choose(flux[:, ::-1], 1e-3 * flux[:, ::-1], minfamily=2)
    assert c.family == ("A", "B")
    assert np.flatnonzero(c.used.any(axis=0)).tolist() == [0, 1]
