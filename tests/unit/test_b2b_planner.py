"""Seed 003 numbers: Eq. 2, the DGC loss fit (section 3.1.1), Eq. 4 with Table 10."""

import math

import numpy as np
import pytest

from almacal.b2b.coherence import dgc_loss_fraction, elevation_scaled, expected_coherence
from almacal.b2b.planner import max_separation, plan


def test_break_even_is_0p11_over_0p052_for_band7_long_baselines():
    p = plan(band=7, maxbaseline_km=12.0, sep_inband_deg=3.0, sep_b2b_deg=1.0)
    # Section 4.4: B2B only when the calibrator is ~2.1 deg closer (0.11 / 0.052 = 2.115).
    assert p.break_even_deg == pytest.approx(0.11 / 0.052, rel=1e-12)
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
