"""B2B diagnostics from arrays with injected phases (seed 003 sections 2.3, 3.1; no casatools)."""

import math

import numpy as np
import pytest

from almacal.b2b.coherence import dgc_loss_fraction
from almacal.b2b.diagnostics import (
    OFFSET_CHANGE_SCALE_DEG,
    expected_phase_rms,
    per_antenna_rms,
    residual_phases,
    summarize,
)


def test_residual_phases_remove_the_antenna_correction_and_wrap():
    vis = np.exp(1j * np.array([0.5, 3.0, np.nan]))
    a1, a2 = np.array([0, 1, 0]), np.array([1, 2, 2])
    corr = np.array([[0.2, -0.1, 0.0], [0.0, -1.0, 1.0], [0.0, 0.0, 0.0]])
    res = residual_phases(vis, a1, a2, corr)
    # row 0: 0.5 - (0.2 + 0.1) = 0.2; row 1: 3.0 - (-1 - 1) = 5.0 -> 5 - 2 pi
    np.testing.assert_allclose(res[:2], [0.2, 5.0 - 2 * np.pi], atol=1e-12)
    assert np.isnan(res[2])


def test_per_antenna_rms_counts_each_baseline_for_both_antennas():
    res = np.array([0.1, 0.3, np.nan, 0.2])
    a1, a2 = np.array([0, 0, 1, 1]), np.array([1, 2, 2, 3])
    rms = per_antenna_rms(res, a1, a2, 5)
    np.testing.assert_allclose(rms[:4], np.sqrt([0.05, 0.025, 0.09, 0.04]), rtol=1e-12)
    assert np.isnan(rms[4])  # an antenna without data: NaN, not 0


def _scans(rng, sigma_long, sigma_short, n_scan=4, n_int=40):
    """(n_int, 3 baselines) phases per scan: two long baselines, one short."""
    sig = np.array([sigma_long, sigma_long, sigma_short])
    return [rng.normal(0.3 * k, sig, (n_int, 3)) for k in range(n_scan)]


def test_expected_phase_rms_uses_long_baselines_and_scales_with_frequency():
    rng = np.random.default_rng(101)
    length = np.array([2000.0, 5000.0, 300.0])
    # each pair removes its own mean: a 0.3 rad step between scans adds 0.15 rad in quadrature
    blocks = [_scans(rng, 0.05, 0.5), _scans(rng, 0.05, 0.5), _scans(rng, 0.05, 0.5)[:1]]
    got = expected_phase_rms(blocks, length, freq_ratio=2.0)
    expected = 2.0 * math.hypot(0.05, 0.15)
    # 9 pairs x 2 baselines of 80 samples: mean std to ~1 %; allow 5 %
    assert got == pytest.approx(expected, rel=0.05)
    short = expected_phase_rms(blocks, np.array([100.0, 200.0, 300.0]), freq_ratio=1.0)
    assert short > 0.25  # no baseline > 1.5 km: all three (the short one at 0.5 rad) count
    assert np.isnan(expected_phase_rms([blocks[2]], length, freq_ratio=1.0))  # no pairs
    assert np.isnan(expected_phase_rms([], length, freq_ratio=1.0))


def _summary(rng, n_block=3, sigma_res=0.2, offsets=None):
    n_ant, n_row = 4, 6000
    a1 = rng.integers(0, 3, n_row)
    a2 = a1 + 1
    residual = rng.normal(0.0, sigma_res, n_row)
    residual[:10] = np.nan
    if offsets is None:
        offsets = np.zeros((n_block, n_ant, 2, 2))
    return summarize(
        antenna_names=("DA41", "DA42", "DV01", "PM03"),
        residual=residual,
        antenna1=a1,
        antenna2=a2,
        offsets_rad=offsets,
        offset_times=np.arange(offsets.shape[0]) * 600.0,
        expected_rms_dgc_rad=math.radians(20.0),
        elevation_dgc_rad=math.radians(60.0),
        elevation_target_rad=math.radians(40.0),
    )


def test_summarize_reports_injected_residual_offset_drift_and_expected_coherence():
    rng = np.random.default_rng(102)
    off = np.zeros((3, 4, 2, 2))
    off[1, 2] = math.radians(10.0)  # antenna 2 jumps by 10 deg in block 2 and back
    off[2, 2] = 0.0
    off[:, 3, :, 1] = math.radians(170.0)  # two pols of antenna 3 at 170 and 190 deg:
    off[:, 3, :, 0] = math.radians(-170.0)  # circular mean 180 deg, not 0
    d = _summary(rng, offsets=off)
    # 5990 residuals of 0.2 rad: rms to 1 %; allow 4 %
    assert d.residual_rms_deg == pytest.approx(math.degrees(0.2), rel=0.04)
    np.testing.assert_allclose(d.residual_rms_antenna_deg, math.degrees(0.2), rtol=0.06)
    np.testing.assert_allclose(np.abs(d.offset_deg[:, 3]), 180.0, atol=1e-9)
    # changes: antenna 2 +10 then -10 deg in both spws -> RMS 10 deg; others 0
    np.testing.assert_allclose(d.offset_change_deg, [0.0, 0.0, 10.0, 0.0], atol=1e-9)
    # overall: 4 of 16 (block pair, antenna, spw) changes at 10 deg -> sqrt(100 x 4/16) = 5
    assert d.offset_change_rms_deg == pytest.approx(5.0, rel=1e-9)
    assert d.qa["offset_stability"] == pytest.approx(1 - 5.0 / OFFSET_CHANGE_SCALE_DEG)
    # section 3.1.2: 20 deg at 60 deg elevation -> 20 sin 60 / sin 40 at the target
    tgt = 20.0 * math.sin(math.radians(60)) / math.sin(math.radians(40))
    assert d.expected_rms_target_deg == pytest.approx(tgt, rel=1e-12)
    assert d.expected_rms_dgc_deg == pytest.approx(20.0)
    assert (d.elevation_dgc_deg, d.elevation_target_deg) == pytest.approx((60.0, 40.0))
    assert d.expected_coherence == pytest.approx(math.exp(-(math.radians(tgt) ** 2) / 2))
    assert d.qa["expected_coherence"] == d.expected_coherence
    assert d.dgc_loss == dgc_loss_fraction(d.residual_rms_deg) and d.dgc_loss == 0.0  # < 12 deg
    assert d.qa["dgc_loss"] == 1.0 - d.dgc_loss
    assert d.qa["dgc_residual"] == pytest.approx(
        math.exp(-(math.radians(d.residual_rms_deg) ** 2) / 2)
    )
    np.testing.assert_array_equal(d.offset_block_times, [0.0, 600.0, 1200.0])
    rec = d.to_record()
    assert rec["antennas"] == ["DA41", "DA42", "DV01", "PM03"]
    assert rec["offset_change_deg"] == [0.0, 0.0, 10.0, 0.0]
    assert rec["residual_rms_antenna_deg"] == np.round(d.residual_rms_antenna_deg, 4).tolist()
    assert rec["offset_block_times_mjd_s"] == [0.0, 600.0, 1200.0]
    assert np.shape(rec["offset_deg"]) == (3, 4, 2)
    for key in (
        "residual_rms_deg",
        "offset_change_rms_deg",
        "expected_rms_dgc_deg",
        "expected_rms_target_deg",
        "elevation_dgc_deg",
        "elevation_target_deg",
        "expected_coherence",
        "dgc_loss",
    ):
        assert rec[key] == getattr(d, key), key
    assert rec["qa"] == d.qa


def test_one_block_gives_a_neutral_stability_and_large_residuals_lose_coherence():
    rng = np.random.default_rng(103)
    d = _summary(rng, n_block=1, sigma_res=math.radians(30.0))
    assert np.all(np.isnan(d.offset_change_deg)) and math.isnan(d.offset_change_rms_deg)
    assert d.qa["offset_stability"] == 0.5
    # 30 deg residual: section 3.1.1 loses ~7 %
    assert d.dgc_loss == pytest.approx(0.0704, abs=0.005)
    assert d.qa["dgc_loss"] == pytest.approx(1 - d.dgc_loss)
    rec = d.to_record()
    assert all(math.isnan(v) for v in rec["offset_change_deg"])
    # a drift beyond the scale clips the score at 0
    off = np.zeros((2, 4, 2, 2))
    off[1] = math.radians(90.0)
    assert _summary(rng, offsets=off).qa["offset_stability"] == 0.0
