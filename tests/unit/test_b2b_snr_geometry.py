"""SNR prediction, spw-combination policy, reference antenna and source geometry by hand."""

import math

import numpy as np
import pytest

from almacal.b2b.geometry import ALMA_LAT_DEG, ALMA_LON_DEG, alt_az, local_sidereal_rad
from almacal.b2b.snr import (
    COMBINE_SNR_FACTOR,
    choose_refant,
    combine_decision,
    predicted_snr,
    sample_snr,
)
from almacal.baselinevis import BaselineVis


def test_predicted_snr_by_hand():
    # spw 0: |V| = 0.5 on 4 rows, noise variance 0.04 per component and 8 samples
    vis = np.array([0.5, 0.5j, -0.5, 0.5, 0.3, np.nan])
    noise = np.array([0.04, 0.04, 0.04, 0.04, 0.09, 0.09])
    n_sample = np.array([8, 8, 8, 8, 4, 4])
    spw = np.array([0, 0, 0, 0, 1, 2])  # spw 2 has only a NaN row: no data
    snr = predicted_snr(vis, noise, n_sample, spw, n_antenna=10, n_int=3)
    amp2 = 0.25 - 2 * 0.04 / 8  # debiased |V|^2
    assert snr[0] == pytest.approx(math.sqrt(amp2) * math.sqrt(8 * 9 * 3) / 0.2, rel=1e-12)
    amp2 = max(0.09 - 2 * 0.09 / 4, 0.0)
    assert snr[1] == pytest.approx(math.sqrt(amp2) * math.sqrt(4 * 9 * 3) / 0.3, rel=1e-12)
    assert snr[2] == 0.0 and sorted(snr) == [0, 1, 2]
    # amplitude below its noise bias: SNR 0, not NaN
    low = predicted_snr(
        np.array([0.01]), np.array([1.0]), np.array([1]), np.array([5]), n_antenna=4, n_int=1
    )
    assert low == {5: 0.0}


def test_combine_policy_and_its_threshold():
    assert combine_decision("spw", {0: 1.0}, 3.0) == (True, "combine='spw' requested")
    assert combine_decision("none", {0: 1.0}, 3.0) == (False, "combine='none' requested")
    limit = COMBINE_SNR_FACTOR * 3.0
    low, why = combine_decision("auto", {0: 50.0, 1: limit - 0.1, 2: 40.0}, 3.0)
    assert low is True and "spw 1 is below 9.0" in why
    assert "spw 0: 50, spw 1: 9, spw 2: 40" in why
    ok, why = combine_decision("auto", {0: 50.0, 1: limit}, 3.0)  # at the limit: not below
    assert (
        ok is False
        and why == "per-spw solutions: predicted phase-calibrator SNR spw 0: 50, spw 1: 9 (>= 9.0)"
    )
    # minsnr below 1 still asks for SNR 3
    assert combine_decision("auto", {0: 2.9}, 0.5)[0] is True
    assert combine_decision("auto", {0: 3.1}, 0.5)[0] is False


def test_refant_by_name_index_or_nearest_the_centre():
    names = ("DA41", "DA42", "DV01")
    pos = np.array([[100.0, 0, 0], [0.0, 10, 0], [-90.0, 0, 0]])  # centre (3.3, 3.3, 0)
    assert choose_refant(names, pos, "") == "DA42"
    assert choose_refant(names, pos, "DV01") == "DV01"
    assert choose_refant(names, pos, "DV01,DA41") == "DV01,DA41"  # a CASA list is kept
    assert choose_refant(names, pos, "2") == "DV01" and choose_refant(names, pos, "0") == "DA41"
    with pytest.raises(
        ValueError, match="refant='3' is not an antenna of the MS; antennas are: DA41"
    ):
        choose_refant(names, pos, "3")
    with pytest.raises(ValueError, match="refant='PM01'"):
        choose_refant(names, pos, "PM01")


def test_local_sidereal_time_at_j2000():
    # GMST at 2000-01-01 12:00 UT is 280.46062 deg; ALMA is at longitude -67.7549 deg
    lst = local_sidereal_rad(np.array([51544.5 * 86400.0]))
    assert math.degrees(lst[0]) == pytest.approx(280.46062 + ALMA_LON_DEG, abs=1e-3)
    # one sidereal day later the same LST; 6 solar hours later ~90.25 deg more
    later = local_sidereal_rad(np.array([51544.5 * 86400.0 + 0.25 * 86400.0]))
    assert math.degrees(later[0] - lst[0]) == pytest.approx(90.2464, abs=1e-3)


@pytest.mark.parametrize("dec", [-60.0, -23.0229, 10.0])
def test_elevation_and_azimuth_at_transit_and_six_hours_away(dec):
    t = np.array([58405.0 * 86400.0])
    lst = math.degrees(local_sidereal_rad(t)[0])
    el, az = alt_az(t, lst, dec)  # hour angle 0: on the meridian
    assert math.degrees(el[0]) == pytest.approx(90 - abs(ALMA_LAT_DEG - dec), abs=1e-6)
    if dec < ALMA_LAT_DEG - 1:
        assert math.degrees(az[0]) == pytest.approx(180.0, abs=1e-6)  # south of the zenith
    elif dec > ALMA_LAT_DEG + 1:
        assert math.degrees(az[0]) == pytest.approx(0.0, abs=1e-6) or math.degrees(
            az[0]
        ) == pytest.approx(360.0, abs=1e-6)
    lat, d = math.radians(ALMA_LAT_DEG), math.radians(dec)
    west_el, west_az = alt_az(t, lst - 90.0, dec)  # hour angle +6 h: west
    east_el, east_az = alt_az(t, lst + 90.0, dec)
    for e in (west_el[0], east_el[0]):
        assert math.sin(e) == pytest.approx(math.sin(lat) * math.sin(d), abs=1e-9)
    assert 180.0 < math.degrees(west_az[0]) < 360.0 and 0.0 < math.degrees(east_az[0]) < 180.0
    # az = atan2(-cos d sin h, sin d cos lat - cos d sin lat cos h) at h = 90 deg
    expected = math.degrees(math.atan2(-math.cos(d), math.sin(d) * math.cos(lat))) % 360
    assert math.degrees(west_az[0]) == pytest.approx(expected, abs=1e-6)


def _sample(n_time):
    """Rows of spw 0 and 1 over n_time integrations: |V| 0.5, variance 0.04, 8 samples."""
    t = np.repeat(5e9 + 2.0 * np.arange(n_time), 2)
    spw = np.tile([0, 1], n_time)
    n = t.size
    return BaselineVis(
        time=t,
        antenna1=np.zeros(n, int),
        antenna2=np.ones(n, int),
        spw=spw,
        scan=np.ones(n, int),
        vis=np.full(n, 0.5 + 0j),
        noise_var=np.full(n, 0.04),
        n_sample=np.full(n, 8),
    )


@pytest.mark.parametrize(
    ("n_time", "solint", "n_int"),
    [
        (3, "inf", 3),  # solint='inf' solves over the scan's 3 integrations
        (1, "inf", 1),
        (3, "int", 1),
        (3, "30s", 1),  # any other solint: one integration (the conservative prediction)
    ],
)
def test_sample_snr_counts_the_integrations_of_a_solution(n_time, solint, n_int):
    s = _sample(n_time)
    want = predicted_snr(s.vis, s.noise_var, s.n_sample, s.spw, n_antenna=10, n_int=n_int)
    assert sample_snr(s, n_antenna=10, solint=solint) == want
    # sqrt(n_int) more SNR per solution than from one integration (exact scaling)
    one = predicted_snr(s.vis, s.noise_var, s.n_sample, s.spw, n_antenna=10, n_int=1)
    assert want[0] == pytest.approx(one[0] * math.sqrt(n_int), rel=1e-12) and one[0] > 0
