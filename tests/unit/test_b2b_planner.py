"""Seed 003 numbers: Eq. 2, the DGC loss fit (section 3.1.1), Eq. 4 with Table 10."""

import math

import numpy as np
import pytest

from almacal.b2b.coherence import dgc_loss_fraction, elevation_scaled, expected_coherence
from almacal.b2b.planner import max_separation, plan

# Eq. 2 loss at the seed's 30 deg expected phase RMS: 1 - exp(-phi^2 / 2) = 0.1281
LOSS30 = 1.0 - math.exp(-(math.radians(30.0) ** 2) / 2)


def test_break_even_is_0p11_over_0p052_for_band7_long_baselines():
    p = plan(band=7, maxbaseline_km=12.0, sep_inband_deg=3.0, sep_b2b_deg=1.0)
    # Section 4.4: B2B only when the calibrator is ~2.1 deg closer (0.11 / 0.052 = 2.115).
    assert p.break_even_deg == pytest.approx(0.11 / 0.052, rel=1e-9)
    assert p.break_even_deg == pytest.approx(2.1, abs=0.02)
    assert p.slope_per_deg == -0.052


@pytest.mark.parametrize(
    ("sep_b2b", "choice"),
    [(0.8, "b2b"), (1.0, "inband")],  # 2.2 deg closer: B2B; 2.0 deg closer: in-band
)
def test_eq4_decision_either_side_of_break_even(sep_b2b, choice):
    p = plan(band=7, maxbaseline_km=15.0, sep_inband_deg=3.0, sep_b2b_deg=sep_b2b)
    assert p.choice == choice
    assert p.metric == pytest.approx(0.11 - 0.052 * (3.0 - sep_b2b))
    assert "Eq. 4" in p.reason


def test_inband_beyond_the_separation_limit_forces_b2b():
    # Section 4.4: an in-band calibrator only beyond the maximal separation -> B2B.
    p = plan(band=7, maxbaseline_km=15.0, sep_inband_deg=4.5, sep_b2b_deg=3.0)
    assert p.metric > 0 and p.choice == "b2b"
    assert "beyond" in p.reason and "also beyond" not in p.reason
    # Both beyond the limit: Eq. 4 decides, and the reason says neither reaches the goal.
    p = plan(band=7, maxbaseline_km=15.0, sep_inband_deg=8.0, sep_b2b_deg=5.0)
    assert p.choice == "b2b" and "Eq. 4" in p.reason and "also beyond" in p.reason


def test_separation_limit_near_table9():
    # Table 9: 3.8 deg for band 7 8.5-16 km at 70 % with 30 deg expected phase RMS;
    # (0.984 - (1 - exp(-(30 deg)^2/2)) - 0.70) / (0.049 - 0.007) = 3.71.
    sep, source = max_separation(7, 15.0, coherence_goal=0.7, phase_rms_deg=30.0)
    assert sep == pytest.approx(3.71, abs=0.01)
    assert abs(sep - 3.8) < 0.15
    assert source == "Table 7"
    # A case without a Table 7 fit falls back to Table 8 by baseline in wavelengths.
    _, source = max_separation(8, 10.0, coherence_goal=0.7, phase_rms_deg=30.0)
    assert source.startswith("Table 8 (long")


def test_unknown_case_is_a_clear_error():
    with pytest.raises(ValueError, match="Table 10 has no"):
        plan(band=10, maxbaseline_km=2.0, sep_inband_deg=3.0, sep_b2b_deg=1.0)


def test_dgc_loss_fit_values():
    # Section 3.1.1: ~4 % at 20 deg, ~7 % at 30 deg, ~0 at 12 deg.
    assert dgc_loss_fraction(20.0) == pytest.approx(0.0389, abs=5e-4)
    assert dgc_loss_fraction(30.0) == pytest.approx(0.0704, abs=5e-4)
    assert dgc_loss_fraction(12.0) == pytest.approx(0.0, abs=2e-3)
    assert dgc_loss_fraction(5.0) == 0.0


def test_eq2_and_elevation_scaling():
    # Section 4.2: 30 deg expected phase RMS gives ~87 % coherence.
    assert expected_coherence(math.radians(30.0)) == pytest.approx(0.872, abs=1e-3)
    s = elevation_scaled(0.2, math.radians(40.0), math.radians(70.0))
    assert s == pytest.approx(0.2 * math.sin(math.radians(40)) / math.sin(math.radians(70)))
    assert np.isclose(expected_coherence(0.0), 1.0)


@pytest.mark.parametrize(
    ("band", "km", "expected"),
    [
        # Table 8 long (> 5e6 lambda): band 8 at 10 km is 1.3e7 lambda;
        # (0.945 - 0.128 - 0.70) / (0.054 - 0.012) = 2.78 deg (short would give 7.41)
        (8, 10.0, (0.945 - LOSS30 - 0.70) / (0.054 - 0.012)),
        # Table 8 short: band 6 at 3 km is 2.3e6 lambda; (0.954 - 0.128 - 0.70) / 0.017
        (6, 3.0, (0.954 - LOSS30 - 0.70) / (0.022 - 0.005)),
        # Table 7 rows (seed 003 Table 9: 8.4 deg for band 7 3.7-8.5 km, planar fits aside)
        (7, 5.0, (0.975 - LOSS30 - 0.70) / (0.024 - 0.007)),
        (8, 2.0, (0.920 - LOSS30 - 0.70) / (0.020 - 0.009)),
        (9, 2.0, (0.960 - LOSS30 - 0.70) / (0.052 - 0.015)),
    ],
)
def test_separation_limit_values(band, km, expected):
    sep, _ = max_separation(band, km, coherence_goal=0.7, phase_rms_deg=30.0)
    assert sep == pytest.approx(expected, rel=1e-9)


def test_table8_long_and_short_limits_differ_by_the_seed_values():
    long, src_long = max_separation(8, 10.0, coherence_goal=0.7, phase_rms_deg=30.0)
    short, src_short = max_separation(6, 3.0, coherence_goal=0.7, phase_rms_deg=30.0)
    assert long == pytest.approx(2.78, abs=0.01) and src_long.startswith("Table 8 (long")
    assert short == pytest.approx(7.41, abs=0.01) and src_short.startswith("Table 8 (short")
    assert "1.3e+07 lambda" in src_long and "2.3e+06 lambda" in src_short


def test_separation_limit_is_zero_when_the_goal_is_out_of_reach():
    sep, _ = max_separation(7, 12.0, coherence_goal=0.95, phase_rms_deg=30.0)
    assert sep == 0.0
    # a better phase RMS moves the limit out: 10 deg loses 1.5 % instead of 12.8 %
    good, _ = max_separation(7, 12.0, coherence_goal=0.7, phase_rms_deg=10.0)
    loss = 1 - math.exp(-(math.radians(10.0) ** 2) / 2)
    assert good == pytest.approx((0.984 - loss - 0.7) / 0.042, abs=1e-9)


def test_table8_split_at_5e6_wavelengths():
    # band 7 (279 GHz): 5e6 lambda is 5.372 km; Table 7 has no band 7 fit below 3.7 km
    # and band 6 none at all, so use band 6 (230 GHz): 5e6 lambda = 6.517 km
    edge_km = 5e6 * 299_792_458.0 / 230e9 / 1e3
    _, below = max_separation(6, edge_km * (1 - 1e-9), coherence_goal=0.7, phase_rms_deg=30.0)
    _, above = max_separation(6, edge_km * (1 + 1e-9), coherence_goal=0.7, phase_rms_deg=30.0)
    assert below.startswith("Table 8 (short") and above.startswith("Table 8 (long")


@pytest.mark.parametrize(
    ("band", "km", "slope", "table7"),
    [
        (7, 3.7, -0.025, (0.975, -0.024)),  # lower edge belongs to the 3.7-8.5 km row
        (7, 8.5 - 1e-9, -0.025, (0.975, -0.024)),
        (7, 8.5, -0.052, (0.984, -0.049)),  # 8.5 km starts the long row
        (7, 16.5 - 1e-9, -0.052, (0.984, -0.049)),
        (8, 0.0, -0.023, (0.920, -0.020)),
        (8, 3.7 - 1e-9, -0.023, (0.920, -0.020)),
        (9, 3.7 - 1e-9, -0.042, (0.960, -0.052)),
    ],
)
def test_table_rows_either_side_of_each_bin_edge(band, km, slope, table7):
    p = plan(band=band, maxbaseline_km=km, sep_inband_deg=3.0, sep_b2b_deg=1.0)
    assert p.slope_per_deg == slope
    assert p.separation_source == "Table 7"
    offset, m = table7
    err = {-0.024: 0.007, -0.049: 0.007, -0.020: 0.009, -0.052: 0.015}[m]
    expected = max((offset - LOSS30 - 0.7) / (abs(m) - err), 0.0)
    assert p.max_separation_deg == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("band", "km"), [(7, 3.7 - 1e-9), (7, 16.5), (8, 3.7), (9, 3.7)])
def test_outside_every_table10_row_is_an_error(band, km):
    with pytest.raises(ValueError, match=f"band={band}, maxbaseline={km} km"):
        plan(band=band, maxbaseline_km=km, sep_inband_deg=3.0, sep_b2b_deg=1.0)
    # the separation limit still exists: from Table 8 where Table 7 has no row
    _, source = max_separation(band, km, coherence_goal=0.7, phase_rms_deg=30.0)
    assert source.startswith("Table 8")


def test_plan_echoes_its_inputs_and_defaults():
    p = plan(band=8, maxbaseline_km=2.0, sep_inband_deg=3.0, sep_b2b_deg=1.0)
    assert (p.band, p.maxbaseline_km, p.sep_inband_deg, p.sep_b2b_deg) == (8, 2.0, 3.0, 1.0)
    # section 4.2 defaults: 70 % image coherence at 30 deg expected phase RMS
    assert p.coherence_goal == 0.7 and p.expected_phase_rms_deg == 30.0
    assert p.max_separation_deg == pytest.approx((0.920 - LOSS30 - 0.7) / 0.011, rel=1e-9)
    assert p.separation_source == "Table 7" and p.slope_per_deg == -0.023
    rec = p.to_record()
    assert rec["band"] == 8 and rec["choice"] == p.choice and rec["metric"] == p.metric
    assert set(rec) == set(p.__dataclass_fields__)
    q = plan(band=8, maxbaseline_km=2.0, sep_inband_deg=3.0, sep_b2b_deg=1.0, phase_rms_deg=10.0)
    assert q.expected_phase_rms_deg == 10.0 and q.max_separation_deg > p.max_separation_deg
