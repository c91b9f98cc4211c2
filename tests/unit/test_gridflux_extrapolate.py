"""The observatory rule (seed 000 §1) with the two-point estimator and its Monte Carlo,
by hand (getALMAFlux's estimator, the default: test_gridflux_aufit.py)."""

import datetime as dt
import math

import numpy as np
import pytest

from almacal.gridflux.catalog import make_measurement
from almacal.gridflux.extrapolate import extrapolate, select

OBS = dt.datetime(2019, 3, 6, 4, 0, tzinfo=dt.timezone.utc)


def m(day, ghz, jy, err=0.0, source="J1751+0939"):
    return make_measurement(
        source=source,
        date=OBS + dt.timedelta(days=day),
        freq_hz=ghz * 1e9,
        flux_jy=jy,
        error_jy=err,
    )


def run(meas, freqs=(336.495e9,), window=3.0, seed=1, indexfit="twopoint", **kw):
    sel = select(meas, OBS, window_days=window, indexfit=indexfit, **kw)
    return extrapolate(sel, freqs, n_mc=20000, rng=np.random.default_rng(seed))


def test_power_law_hand_worked():
    # alpha = ln(1.1547005 / 2) / ln(3) = -0.5
    # F(336.495) = 2 / sqrt(3.36495) = 2 / 1.834380 = 1.090287
    r = run([m(-1, 100.0, 2.0), m(-1.5, 300.0, 2.0 / math.sqrt(3.0))])
    assert r.spix == pytest.approx(-0.5, abs=1e-12)
    assert r.flux[0] == pytest.approx(1.090287, abs=1e-6)
    assert not r.default_index and r.warnings == ()
    # noise-free measurements: the Monte Carlo collapses onto the rule
    assert r.flux_mc[0] == pytest.approx(r.flux[0], rel=1e-12)
    assert r.flux_sigma[0] == pytest.approx(0.0, abs=1e-12)


def test_nearest_band3_and_index_from_the_pair():
    # nearest Band 3 is day -1 (2.2 Jy at 91.5 GHz); the pair (day -5) gives alpha = -0.6
    meas = [
        m(-1, 91.5, 2.2),
        m(-5, 100.0, 3.0),
        m(-4.5, 343.5, 3.0 * 3.435**-0.6),  # 3.5 d from day -1: no pair with it
        m(-9, 97.5, 2.9),
    ]
    r = run(meas, freqs=(336.5e9, 350.5e9))
    assert r.spix == pytest.approx(-0.6, abs=1e-12)
    np.testing.assert_allclose(r.flux, 2.2 * (np.array([336.5, 350.5]) / 91.5) ** -0.6, rtol=1e-12)
    used = r.selection.used()
    assert [u["role"] for u in used] == ["flux", "index_b3", "index_b7"]
    np.testing.assert_allclose([u["age_days"] for u in used], [1.0, 5.0, 4.5])


def test_band3_sidebands_combine_exactly_for_a_power_law():
    law = lambda ghz: 2.5 * (ghz / 100.0) ** -0.55  # noqa: E731
    meas = [m(-2, 91.5, law(91.5)), m(-2, 103.5, law(103.5)), m(-2.5, 343.5, law(343.5))]
    r = run(meas, freqs=(336.495e9,))
    assert r.spix == pytest.approx(-0.55, abs=1e-12)
    assert r.flux[0] == pytest.approx(law(336.495), rel=1e-12)
    assert len(r.selection.band3.members) == 2  # both sidebands used


def test_window_parameter_decides_the_pair():
    meas = [m(-1, 100.0, 2.0), m(-5, 300.0, 1.0)]  # 4 days apart
    narrow = run(meas, window=3.0)
    assert narrow.default_index and narrow.spix == -0.7
    assert any("no Band 3/Band 7 pair within 3 d" in w for w in narrow.warnings)
    wide = run(meas, window=5.0)
    assert not wide.default_index
    assert wide.spix == pytest.approx(math.log(0.5) / math.log(3.0), abs=1e-12)


def test_default_index_uncertainty_propagates():
    r = run([m(0.2, 100.0, 2.0, 0.0)], freqs=(300e9,))
    # alpha ~ N(-0.7, 0.2): ln F scatter = 0.2 ln 3; 20000 draws give MAD to ~1 %
    assert r.spix_sigma == pytest.approx(0.2, rel=0.03)
    assert r.flux_mc[0] == pytest.approx(2.0 * 3.0**-0.7, rel=0.01)
    # the MAD of a lognormal is not symmetric; the sigma of ln F is 0.2 ln3 = 0.22
    assert r.flux_sigma[0] / r.flux_mc[0] == pytest.approx(0.2 * math.log(3), rel=0.05)


def test_monte_carlo_matches_linear_propagation():
    # same session for flux and index: ln F = (1-L) ln F3 + L ln F7, L = ln(nu/nu3)/ln(nu7/nu3)
    r3, r7 = 0.03, 0.05
    r = run([m(-1, 100.0, 2.0, 2.0 * r3), m(-1, 300.0, 1.2, 1.2 * r7)], freqs=(336.495e9,))
    L = math.log(3.36495) / math.log(3.0)
    expected = r.flux[0] * math.hypot((1 - L) * r3, L * r7)
    # 20000 draws: the MAD sigma is known to ~1 %; first-order propagation to ~2 %
    assert r.flux_sigma[0] == pytest.approx(expected, rel=0.04)
    assert r.flux_mc[0] == pytest.approx(r.flux[0], rel=0.01)
    assert r.flux_sigma[0] > 0.01  # not a vacuous pass


def test_warnings_stale_and_positive_index():
    r = run([m(-20, 100.0, 1.0), m(-20.5, 300.0, 1.2)])
    assert r.spix > 0
    text = " ".join(r.warnings)
    assert "20.0 d" in text and "> 14 d" in text
    assert "positive" in text


def test_date_outside_catalog_is_a_clear_error():
    with pytest.raises(ValueError, match="outside the catalog of J1751.*maxage 60"):
        run([m(-90, 100.0, 1.0)], max_age_days=60.0)
    with pytest.raises(ValueError, match="no Band 3 measurement of J1751"):
        run([m(-1, 300.0, 1.0)])


def test_seeded_monte_carlo_is_reproducible():
    meas = [m(-1, 100.0, 2.0, 0.1), m(-1, 300.0, 1.2, 0.1)]
    a, b = run(meas, seed=5), run(meas, seed=5)
    assert a.flux_mc[0] == b.flux_mc[0] and a.flux_sigma[0] == b.flux_sigma[0]


def _b7_for(alpha, f3=2.0, nu3=91.5, nu7=343.5):
    return f3 * (nu7 / nu3) ** alpha


def test_pair_nearest_in_time_is_the_one_whose_mid_point_is_closest():
    # seed 000 §1: one Band 3 session (day -2) and two Band 7 sessions within 3 d of it.
    # (B3 -2, B7 -0.5): mid-point -1.25 d -> this pair, alpha -0.718, although
    # (B3 -2, B7 -2.2) is taken closer together (mid-point -2.1 d, alpha -0.631)
    meas = [m(-2.0, 91.5, 2.0), m(-0.5, 343.5, _b7_for(-0.718)), m(-2.2, 343.5, _b7_for(-0.631))]
    r = run(meas, freqs=(336.5e9,))
    assert r.spix == pytest.approx(-0.718, abs=1e-12)
    p3, p7 = r.selection.pair
    assert p3.date == OBS - dt.timedelta(days=2.0) and p7.date == OBS - dt.timedelta(days=0.5)
    assert r.flux[0] == pytest.approx(2.0 * (336.5 / 91.5) ** -0.718, rel=1e-12)
    # guard: the other pair's index would move the flux by > 10 %
    assert 2.0 * (336.5 / 91.5) ** -0.631 > 1.1 * r.flux[0]


def test_pair_with_a_farther_band3_wins_when_its_mid_point_is_closer():
    # a Band 7 measurement after the observation (the catalog is queried later, §3.2):
    # nearest Band 3 is day +1.5, but (B3 -2, B7 +0.9) has its mid-point at -0.55 d and
    # (B3 +1.5, B7 +0.9) at +1.2 d; the flux still comes from the nearest Band 3 (+1.5)
    b7 = _b7_for(-0.7, f3=2.0)
    meas = [m(-2.0, 91.5, 2.0), m(1.5, 91.5, 2.3), m(0.9, 343.5, b7)]
    r = run(meas, freqs=(336.5e9,))
    assert r.selection.pair[0].date == OBS - dt.timedelta(days=2.0)
    assert r.spix == pytest.approx(-0.7, abs=1e-12)
    assert r.selection.band3.date == OBS + dt.timedelta(days=1.5)
    assert r.flux[0] == pytest.approx(2.3 * (336.5 / 91.5) ** -0.7, rel=1e-12)
    # guard: the nearest-Band-3 pair would give a clearly different index
    assert abs(math.log(b7 / 2.3) / math.log(343.5 / 91.5) + 0.7) > 0.1


def test_equal_mid_points_go_to_the_pair_taken_closer_together():
    # (B3 -1, B7 +1) and (B3 +0.5, B7 -0.5) both have their mid-point at the observation;
    # the second is 1 d apart instead of 2 d and wins; cross pairs are 0.75 d off
    meas = [
        m(-1.0, 91.5, 2.0),
        m(1.0, 343.5, _b7_for(-0.9)),
        m(0.5, 91.5, 2.0),
        m(-0.5, 343.5, _b7_for(-0.5)),
    ]
    r = run(meas, freqs=(336.5e9,))
    assert r.spix == pytest.approx(-0.5, abs=1e-12)
    assert r.selection.pair[1].date == OBS - dt.timedelta(days=0.5)


def test_nearest_band3_ties_go_to_the_later_session_and_window_edge_is_inclusive():
    meas = [m(-1.0, 91.5, 2.0), m(1.0, 91.5, 2.4), m(-4.0, 343.5, 1.0)]
    r = run(meas, freqs=(336.5e9,))
    assert r.selection.band3.flux_jy == 2.4  # equally old: the later one
    # (B3 -1, B7 -4) is exactly 3 d apart: within window_days=3 (seed 000: "within 3 days")
    assert r.selection.pair is not None and r.selection.pair[0].flux_jy == 2.0
    narrow = run(meas, freqs=(336.5e9,), window=2.999)
    assert narrow.selection.pair is None and narrow.default_index


def test_no_measurement_and_no_source_name_is_still_a_clear_error():
    with pytest.raises(ValueError, match=r"^the catalog has no Band 3 measurement of \?$"):
        select([], OBS)
    with pytest.raises(ValueError, match=r"no Band 3 measurement of J1751\+0939$"):
        select([m(-1, 343.5, 1.0)], OBS)  # Band 7 only: the name from the measurements


def test_default_index_monte_carlo_replays_from_the_seed():
    # one Band 3 measurement, no pair: the documented draw order is the flux session's
    # normal deviates, then the default index's; the MC median replays them exactly
    r = run([m(-1, 91.5, 2.0, 0.1)], freqs=(336.5e9, 350.5e9), seed=5)
    assert r.default_index and r.spix == -0.7
    rng = np.random.default_rng(5)
    f3 = 2.0 * (1.0 + 0.05 * rng.standard_normal(20000))
    a = -0.7 + 0.2 * rng.standard_normal(20000)
    nu = np.array([336.5, 350.5]) / 91.5
    np.testing.assert_allclose(
        r.flux_mc, np.median(f3[:, None] * nu[None, :] ** a[:, None], axis=0), rtol=1e-12
    )
