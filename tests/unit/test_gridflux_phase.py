"""Seed 000 App. C phase-calibrator check from a known extrapolation (no casatools)."""

import dataclasses
import math

import numpy as np
import pytest

from almacal.gridflux.phase import phase_check
from tests.unit.test_gridflux_extrapolate import m, run


def test_phase_check_weights_catalog_like_the_fit_and_propagates_errors():
    ex = run([m(-1, 100.0, 2.0, 0.06), m(-1, 300.0, 1.2, 0.06)], freqs=(336e9, 338e9, 348e9))
    flux = np.array([1.0, 1.1, np.nan])  # spw 3 without data drops out despite its weight
    weight = np.array([1e4, 3e4, 5e4])
    pc = phase_check("x.ms", "J1924", ex, flux, weight)
    assert pc.measured_jy == pytest.approx((1e4 * 1.0 + 3e4 * 1.1) / 4e4, rel=1e-12)
    assert pc.measured_sigma_jy == pytest.approx(1 / math.sqrt(4e4), rel=1e-12)
    cat = (1e4 * ex.flux[0] + 3e4 * ex.flux[1]) / 4e4
    assert pc.catalog_jy == pytest.approx(cat, rel=1e-12)
    cat_sigma = (1e4 * ex.flux_sigma[0] + 3e4 * ex.flux_sigma[1]) / 4e4
    assert pc.catalog_sigma_jy == pytest.approx(cat_sigma, rel=1e-12) and cat_sigma > 0
    assert pc.rfcf == pytest.approx(cat / pc.measured_jy, rel=1e-12)
    rel = math.hypot(cat_sigma / cat, pc.measured_sigma_jy / pc.measured_jy)
    assert pc.rfcf_sigma == pytest.approx(pc.rfcf * rel, rel=1e-12)
    assert pc.band3_age_days == pytest.approx(1.0) and pc.warnings == ex.warnings
    rec = pc.to_record()
    assert rec == {
        "ms": "x.ms",
        "field": "J1924",
        "measured_jy": pc.measured_jy,
        "measured_sigma_jy": pc.measured_sigma_jy,
        "catalog_jy": pc.catalog_jy,
        "catalog_sigma_jy": pc.catalog_sigma_jy,
        "rfcf": pc.rfcf,
        "rfcf_sigma": pc.rfcf_sigma,
        "band3_age_days": pc.band3_age_days,
        "warnings": list(ex.warnings),
    }
    # a zero weight drops a spw as well
    zero = phase_check("x.ms", "J1924", ex, np.array([1.0, 5.0, 1.0]), np.array([1.0, 0.0, 1.0]))
    assert zero.measured_jy == pytest.approx(1.0)
    assert zero.catalog_jy == pytest.approx((ex.flux[0] + ex.flux[2]) / 2)


def test_phase_check_without_data_is_an_error():
    ex = run([m(-1, 100.0, 2.0), m(-1, 300.0, 1.2)], freqs=(336e9, 338e9))
    with pytest.raises(ValueError, match="x.ms: phase calibrator J1924 has no unflagged data"):
        phase_check("x.ms", "J1924", ex, np.array([np.nan, 1.0]), np.array([1.0, 0.0]))


def test_small_total_weight_is_data_and_the_extrapolation_warnings_are_kept():
    ex = run([m(-1, 100.0, 2.0), m(-1, 300.0, 1.2)], freqs=(336e9, 338e9))
    ex = dataclasses.replace(ex, warnings=("index from a pair 2.5 d apart",))
    # weights are sums of visibility weights (1/Jy^2): a total below 1 is still data
    pc = phase_check("x.ms", "J1924", ex, np.array([1.0, 1.2]), np.array([0.25, 0.5]))
    assert pc.measured_jy == pytest.approx((0.25 * 1.0 + 0.5 * 1.2) / 0.75, rel=1e-12)
    assert pc.measured_sigma_jy == pytest.approx(1 / math.sqrt(0.75), rel=1e-12)
    assert pc.warnings == ("index from a pair 2.5 d apart",)
    assert pc.to_record()["warnings"] == ["index from a pair 2.5 d apart"]
