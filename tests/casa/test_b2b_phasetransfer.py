"""b2b_phasetransfer on a simulated B2B observation (almacal.simulate.b2b) with injected truth."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest

from almacal import b2b_phasetransfer
from almacal.constants import C_M_S
from almacal.datasets import simulate_b2b
from almacal.figures import DPI
from almacal.simulate.b2b import SimulatedB2B
from tests.casa.browser import check_report
from tests.casa.msutil import fingerprint, read_columns
from tests.pngutil import assert_figure_png
from tests.recordutil import assert_column, assert_json_is_record

SEED = 2017


@pytest.fixture(scope="session")
def b2b_sim(tmp_path_factory) -> SimulatedB2B:
    """Test-size B2B MS: 14 antennas to 15 km, Band 7 + Band 3, two DGC blocks."""
    return simulate_b2b(tmp_path_factory.mktemp("b2b"), size="test", seed=SEED)


@pytest.fixture(scope="session")
def b2b_one_block(tmp_path_factory) -> SimulatedB2B:
    return simulate_b2b(tmp_path_factory.mktemp("b2b1"), size="test", seed=SEED, blocks=1)


def _copy(sim: SimulatedB2B, tmp_path) -> str:
    dest = os.path.join(tmp_path, os.path.basename(sim.path))
    shutil.copytree(sim.path, dest)
    return dest


def _run(vis, **kw):
    kw.setdefault("refant", "")
    return b2b_phasetransfer(vis=vis, **kw)


def _wrap(x):
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


def _atmospheric_offset(psi: np.ndarray, ref: int) -> np.ndarray:
    """(n_ant,) phase-only antenna solution (rad, relative to ref) of the time-averaged
    baseline visibilities exp(i(psi_a - psi_b)): what gaincal solint='inf' finds when the
    interpolated low-frequency phases leave residuals psi (n_int, n_ant) in the block."""
    z = np.exp(1j * psi)
    m = (z[:, :, None] * z[:, None, :].conj()).mean(axis=0)
    np.fill_diagonal(m, 0)
    g = np.ones(psi.shape[1], complex)
    for _ in range(200):
        g = m @ g
        g = g / np.abs(g)
    return np.angle(g / g[ref])


def _true_offsets(truth: dict, ref: int, block: dict, *, atmosphere: bool = True) -> np.ndarray:
    """(n_ant, n_spw) band offset the DGC step must find at a block's mid time (rad).

    theta_high - ratio x theta_low relative to refant, with the low phase on the branch
    of the first low-frequency DGC solution (gaincal returns it in (-pi, pi]), plus the
    antenna solution of the atmospheric residual the interpolation in time leaves.
    """
    nu_low = np.array(truth["low_spw_ghz"]) * 1e9
    nu_high = np.array(truth["high_spw_ghz"]) * 1e9
    k_low, k_high = 2 * np.pi * nu_low / C_M_S * 1e-6, 2 * np.pi * nu_high / C_M_S * 1e-6
    th_low, th_high = np.array(truth["theta_low_rad"]), np.array(truth["theta_high_rad"])
    drift = np.array(truth["drift_high_rad_per_s"])
    p0 = np.array(truth["dgc_blocks"][0]["first_low_path_um"])
    x = (th_low - th_low[ref]) + k_low * (p0 - p0[ref])[:, None]
    branch = (_wrap(x) - x) / (2 * np.pi)
    high = th_high + drift[:, None] * (block["mid_time_mjd_s"] - truth["theta_ref_time_mjd_s"])
    ratio = nu_high / nu_low
    out = (high - high[ref]) - ratio * ((th_low - th_low[ref]) + 2 * np.pi * branch)
    if atmosphere:
        resid = np.array(block["residual_path_um"])
        out = out + np.stack([_atmospheric_offset(k * resid, ref) for k in k_high], axis=1)
    return out


def _thermal_offset_sigma(truth: dict, n_int: int, n_ant: int, n_chan: int) -> float:
    """Phase noise (rad) of one antenna's band offset: high-frequency DGC data plus the
    scaled low-frequency phases, each averaged over n_int x (n_ant-1) x 2 corr x n_chan."""
    n = n_int * (n_ant - 1) * 2 * n_chan
    s_high = truth["field_flux_jy_at_285ghz"]["J2253+1608"]
    s_low = s_high * (90.0 / 285.0) ** -0.7
    ratio = 285.0 / 90.0
    high = truth["sigma_jy"]["high"] / (s_high * math.sqrt(n))
    low = ratio * truth["sigma_jy"]["low"] / (s_low * math.sqrt(n / 2))
    return math.hypot(high, low)


def test_recovers_injected_dgc_offsets_and_drift(b2b_sim, tmp_path):
    vis = _copy(b2b_sim, tmp_path)
    rec = _run(vis, doapply=False)
    truth = b2b_sim.truth
    ref = truth["antennas"].index(rec["refant"])
    offsets = np.radians(np.array(rec["diagnostics"]["offset_deg"], dtype=float))
    assert offsets.shape == (2, 14, 4)
    blocks = truth["dgc_blocks"]
    expected = np.stack([_true_offsets(truth, ref, b) for b in blocks])
    err = _wrap(offsets - expected)
    sigma = _thermal_offset_sigma(truth, blocks[0]["n_high_integrations"], 14, 4)
    # Thermal noise ~0.03 deg per antenna; the truth's atmospheric term uses scan-mean
    # paths for the low-frequency scans where gaincal vector-averages them (third order
    # in the ~5 deg low-frequency scatter, < 0.1 deg). Tolerance: 5 sigma + 0.1 deg.
    tol = 5 * sigma + math.radians(0.1)
    assert np.max(np.abs(err)) < tol, np.degrees(np.abs(err)).max()
    # Not vacuous: offsets spread over the circle, and leaving out the atmospheric
    # residual (or the branch) would fail the tolerance.
    assert np.std(np.degrees(expected[0])) > 60
    no_atmosphere = np.stack([_true_offsets(truth, ref, b, atmosphere=False) for b in blocks])
    assert np.max(np.abs(_wrap(offsets - no_atmosphere))) > 3 * tol

    # Drift: the change between blocks follows the injected drift.
    change = _wrap(offsets[1] - offsets[0])
    true_change = _wrap(expected[1] - expected[0])
    assert np.max(np.abs(_wrap(change - true_change))) < 2 * tol
    assert np.sqrt(np.mean(true_change**2)) > 10 * tol  # drift ~ 40 deg/h x 10 min
    # The reported stability: each change is within 2 tol (~0.5 deg) of the truth, on a
    # ~12 deg RMS change (40 deg/h per antenna, ~57 relative to refant, over ~12 min): < 5 %.
    assert rec["diagnostics"]["offset_change_rms_deg"] == pytest.approx(
        np.degrees(np.sqrt(np.mean(true_change**2))), rel=0.05
    )
    _check_diagnostics_against_truth(rec, truth, ref)


def _check_diagnostics_against_truth(rec: dict, truth: dict, ref: int) -> None:
    """Residual and expected phase RMS of the record against the injected paths."""
    d = rec["diagnostics"]
    nu_high = np.mean(truth["high_spw_ghz"]) * 1e9
    k_high = 2 * np.pi * nu_high / C_M_S * 1e-6
    # Residual after the transfer: the atmosphere the DGC-low interpolation leaves on the
    # high DGC scans, less its per-block antenna solution (absorbed by the band offset).
    dphi = []
    for block in truth["dgc_blocks"]:
        psi = k_high * np.array(block["residual_path_um"])
        psi = psi - _atmospheric_offset(psi, ref)[None, :]
        i, j = np.triu_indices(psi.shape[1], 1)
        dphi.append(_wrap(psi[:, i] - psi[:, j]).ravel())
    true_residual = np.degrees(np.sqrt(np.mean(np.concatenate(dphi) ** 2)))
    # Thermal noise is ~0.4 deg per high-frequency row (adds < 0.01 deg in quadrature to
    # ~20 deg); what remains is gaincal's antenna solution against the truth's (measured
    # 0.1 %). 2 %, and the injected residual is large enough to be seen.
    assert d["residual_rms_deg"] == pytest.approx(true_residual, rel=0.02)
    assert true_residual > 10
    # Section 2.3 from the injected paths (paired low-frequency scans, baselines > 1.5 km,
    # at the mean target frequency). The code vector-sums the four low spws (81-102 GHz,
    # +-5 deg instrumental phases) and scales by the mean frequency ratio: a ~1 % effect
    # (measured 0.6 %); thermal noise is < 0.1 deg at the target frequency. 3 %.
    assert d["expected_rms_dgc_deg"] == pytest.approx(truth["dgc_expected_phase_rms_deg"], rel=0.03)
    # Section 3.1.2 scaling to the target elevation, with elevations from casatools'
    # measures (not the core's sidereal-time formula): sigma_tar = sigma_dgc sin(el_dgc) /
    # sin(el_tar). The formula is good to ~0.1 deg; 0.3 deg allowed.
    st = rec["structure"]
    el_dgc = _mean_elevation_deg(
        rec["vis"], st["dgc_field"], st["dgc_low_scans"] + st["dgc_high_scans"]
    )
    el_tgt = _mean_elevation_deg(rec["vis"], st["targets"][0], st["target_scans"])
    assert d["elevation_dgc_deg"] == pytest.approx(el_dgc, abs=0.3)
    assert d["elevation_target_deg"] == pytest.approx(el_tgt, abs=0.3)
    assert abs(el_tgt - el_dgc) > 10  # the scaling is visible
    want = (
        d["expected_rms_dgc_deg"] * math.sin(math.radians(el_dgc)) / math.sin(math.radians(el_tgt))
    )
    assert d["expected_rms_target_deg"] == pytest.approx(want, rel=0.01)
    assert d["expected_coherence"] == pytest.approx(
        math.exp(-(math.radians(d["expected_rms_target_deg"]) ** 2) / 2), rel=1e-6
    )
    # Section 3.1.1: 17.9 log10(sigma_deg) - 19.4 percent of the residual DGC phase RMS.
    assert d["dgc_loss"] == pytest.approx(
        (17.9 * math.log10(d["residual_rms_deg"]) - 19.4) / 100, rel=1e-6
    )


def _mean_elevation_deg(vis: str, name: str, scans: list[int]) -> float:
    """Mean elevation (deg) of a field over the integrations of the given scans (measures)."""
    import casatools

    c = read_columns(vis, "TIME", "SCAN_NUMBER")
    times = np.unique(c["TIME"][np.isin(c["SCAN_NUMBER"], scans)])
    field = read_columns(vis, "NAME", "PHASE_DIR", table="FIELD")
    ra, dec = field["PHASE_DIR"][:, 0, list(field["NAME"]).index(name)]
    me, qa = casatools.measures(), casatools.quanta()
    try:
        me.doframe(me.observatory("ALMA"))
        direction = me.direction("J2000", qa.quantity(ra, "rad"), qa.quantity(dec, "rad"))
        el = []
        for t in times:
            me.doframe(me.epoch("UTC", qa.quantity(t, "s")))
            el.append(me.measure(direction, "AZEL")["m1"]["value"])
    finally:
        me.done()
        qa.done()
    return math.degrees(float(np.mean(el)))


def _target_coherence(vis: str, truth: dict, column: str) -> tuple[float, float]:
    """(image-peak coherence, per-baseline vector coherence) of the target.

    Peak: mean Re(V / S_model) over all target samples -- the dirty-image peak over the
    injected flux for a point source at the phase centre. Vector: |mean_t V/S| per
    baseline, averaged over baselines.
    """
    import casatools

    tb = casatools.table()
    tb.open(vis)
    sub = tb.query("FIELD_ID==2 && ANTENNA1!=ANTENNA2")
    try:
        cols = {c: sub.getcol(c) for c in (column, "ANTENNA1", "ANTENNA2", "DATA_DESC_ID")}
    finally:
        sub.close()
        tb.close()
    chan = read_columns(vis, "CHAN_FREQ", table="SPECTRAL_WINDOW")["CHAN_FREQ"]  # (chan, spw)
    flux = truth["field_flux_jy_at_285ghz"]["J2228-0753"]
    model = flux * (chan / 285e9) ** truth["target_spectral_index"]
    v = cols[column] / model[:, cols["DATA_DESC_ID"]][None]  # DDID = spw in the simulation
    peak = float(np.mean(v.real))
    per_row = v.mean(axis=(0, 1))
    bl = cols["ANTENNA1"] * 1000 + cols["ANTENNA2"]
    _, inv = np.unique(bl, return_inverse=True)
    acc = np.zeros(inv.max() + 1, complex)
    np.add.at(acc, inv, per_row)
    vector = float(np.mean(np.abs(acc / np.bincount(inv))))
    return peak, vector


@pytest.mark.parametrize("combine", ["auto", "spw"])  # auto: per-spw at this SNR
def test_target_coherence_matches_injected_residual(b2b_sim, tmp_path, combine):
    vis = _copy(b2b_sim, tmp_path)
    rec = _run(vis, combine=combine)
    assert rec["applied"]
    assert rec["combine_spw"] == (combine == "spw")
    truth = b2b_sim.truth
    peak, vector = _target_coherence(vis, truth, "CORRECTED_DATA")
    raw_peak, _ = _target_coherence(vis, truth, "DATA")
    expected = truth["target_expected_coherence"]  # Eq. 2 of the injected residual RMS
    # Issue criterion: within 2 % of exp(-sigma^2/2), sigma the residual an ideal transfer
    # leaves (~18 deg here), computed by the simulator from the injected paths alone;
    # thermal noise on the mean is ~1e-3.
    assert abs(peak / expected - 1) < 0.02, (peak, expected)
    assert abs(vector / truth["target_vector_coherence"] - 1) < 0.02
    # Not vacuous: the residual costs ~5 %, and no calibration gives nothing coherent.
    assert expected < 0.97
    assert abs(raw_peak) < 0.2
    assert rec["diagnostics"]["expected_coherence"] > 0.8
    assert 0 < rec["qa_score"] <= 1


def test_input_ms_untouched_without_apply_and_outputs_written(b2b_sim, tmp_path):
    vis = _copy(b2b_sim, tmp_path)
    before = fingerprint(vis)
    prefix = str(tmp_path / "out")
    rec = _run(vis, doapply=False, caltable=prefix)
    assert fingerprint(vis) == before
    for path in rec["caltables"].values():
        assert os.path.isdir(path)
    assert_json_is_record(prefix + ".json", rec)
    with open(prefix + ".json", encoding="utf-8") as fh:
        assert json.load(fh)["structure"]["spwmap"] == {"4": 0, "5": 1, "6": 2, "7": 3}
    _assert_ecsv_is_the_diagnostics(prefix + ".ecsv", rec)
    # b2b/plot.py: (9, 7) and (9, 4) inches at 90 dpi
    assert_figure_png(prefix + "_dgc_phases.png", figsize_in=(10, 8), dpi=DPI)
    assert_figure_png(prefix + "_residuals.png", figsize_in=(10, 4.8), dpi=DPI)
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]
    with pytest.raises(FileExistsError, match="outputs exist"):
        _run(vis, doapply=False, caltable=prefix)


def _assert_ecsv_is_the_diagnostics(path: str, rec: dict) -> None:
    """One row per antenna with the record's per-antenna diagnostics (the record rounds
    them to 1e-4 deg), and the record's summary numbers in the table's meta."""
    from astropy.table import Table

    d = rec["diagnostics"]
    t = Table.read(path, format="ascii.ecsv")
    assert list(t["antenna"]) == d["antennas"] and len(t) > 2
    assert_column(t["residual_rms_deg"], d["residual_rms_antenna_deg"], atol=5e-5)
    assert_column(t["offset_change_deg"], d["offset_change_deg"], atol=5e-5)
    offset = np.array(d["offset_deg"], dtype=float)  # (block, antenna, high spw)
    high = rec["structure"]["high_spws"]
    assert offset.shape == (2, len(t), len(high))  # two DGC blocks
    for b in range(offset.shape[0]):
        for j, spw in enumerate(high):
            assert_column(t[f"offset_block{b + 1}_spw{spw}_deg"], offset[b, :, j], atol=5e-5)
    assert np.isfinite(offset).sum() > offset.size // 2  # not vacuous: solved offsets
    for key in ("residual_rms_deg", "expected_rms_target_deg", "expected_coherence", "dgc_loss"):
        assert t.meta[key] == d[key], key
    assert t.meta["qa"] == d["qa"] and t.meta["vis"] == rec["vis"]
    assert t.meta["refant"] == rec["refant"]


def test_apply_changes_only_corrected_data_and_refuses_a_second_time(b2b_sim, tmp_path):
    vis = _copy(b2b_sim, tmp_path)
    names = ("DATA", "FLAG", "WEIGHT", "SIGMA", "UVW", "TIME", "ANTENNA1", "SCAN_NUMBER")
    before = read_columns(vis, *names)
    subtables = {
        t: fingerprint(os.path.join(vis, t)) for t in ("ANTENNA", "FIELD", "SPECTRAL_WINDOW")
    }
    _run(vis)
    after = read_columns(vis, *names)
    for n in names:
        np.testing.assert_array_equal(after[n], before[n], err_msg=n)
    assert subtables == {t: fingerprint(os.path.join(vis, t)) for t in subtables}
    corrected = read_columns(vis, "CORRECTED_DATA")["CORRECTED_DATA"]
    assert not np.array_equal(corrected, before["DATA"])
    with pytest.raises(ValueError, match="already has a B2B transfer applied"):
        _run(vis, overwrite=True)
    assert _run(vis, overwrite=True, force=True)["applied"]


def test_one_block_warns_that_drift_is_not_corrected(b2b_one_block, tmp_path):
    vis = _copy(b2b_one_block, tmp_path)
    prefix = str(tmp_path / "one")
    rec = _run(vis, doapply=False, caltable=prefix)
    assert any("cannot be corrected" in w for w in rec["warnings"])
    d = rec["diagnostics"]
    check_report(
        prefix + ".html",
        numbers=[
            f"{d['residual_rms_deg']:.1f} deg",
            f"{d['expected_coherence']:.3f}",
            f"{100 * d['dgc_loss']:.1f} %",
            f"{rec['qa_score']:.2f}",
        ]
        + [f"{v:.2f}" for v in d["qa"].values()],
        figures=[prefix + "_dgc_phases.png", prefix + "_residuals.png"],
        warnings=rec["warnings"],
        tmp_path=tmp_path,
    )
    assert rec["diagnostics"]["qa"]["offset_stability"] == 0.5
    assert len(rec["structure"]["blocks"]) == 1


def test_bad_inputs_are_clear_errors_and_leave_the_ms_alone(b2b_sim, tmp_path):
    vis = _copy(b2b_sim, tmp_path)
    before = fingerprint(vis)
    with pytest.raises(ValueError, match="refant='DV99' is not an antenna"):
        _run(vis, refant="DV99")
    # the phase calibrator has no high-frequency scans: the error names dgcfield
    with pytest.raises(ValueError, match=r"dgcfield='J2229-0832' has 17 scans in the low.* and 0 "):
        _run(vis, dgcfield="J2229-0832", phasecal="J2228-0753")
    with pytest.raises(ValueError, match="lowspw=\\[9\\]"):
        _run(vis, lowspw=[9])
    with pytest.raises(FileNotFoundError, match="no measurement set"):
        _run(str(tmp_path / "nothing.ms"))
    assert fingerprint(vis) == before


def test_all_flagged_phase_calibrator_is_refused(b2b_sim, tmp_path):
    import casatools

    vis = _copy(b2b_sim, tmp_path)
    tb = casatools.table()
    tb.open(vis, nomodify=False)
    sub = tb.query("FIELD_ID==1")
    try:
        sub.putcol("FLAG", np.ones_like(sub.getcol("FLAG")))
    finally:
        sub.close()
        tb.close()
    with pytest.raises(ValueError, match="all data of the phase calibrator J2229-0832"):
        _run(vis)


def test_plan_mode_reproduces_seed_003():
    rec = b2b_phasetransfer(mode="plan", band=7, maxbaseline=15.0, sepinband=3.0, sepb2b=0.8)
    assert rec["plan"]["choice"] == "b2b"
    assert rec["plan"]["break_even_deg"] == pytest.approx(2.115, abs=1e-3)
    rec = b2b_phasetransfer(mode="plan", band=7, maxbaseline=15.0, sepinband=3.0, sepb2b=1.0)
    assert rec["plan"]["choice"] == "inband"


def test_without_intents_the_user_fields_give_the_same_offsets(b2b_sim, tmp_path):
    import casatools

    vis = _copy(b2b_sim, tmp_path)
    with_intents = _run(vis, doapply=False, caltable=str(tmp_path / "a"))
    tb = casatools.table()
    tb.open(os.path.join(vis, "STATE"), nomodify=False)
    try:
        tb.putcol("OBS_MODE", np.array([""] * tb.nrows()))
    finally:
        tb.close()
    with pytest.raises(ValueError, match="give dgcfield"):
        _run(vis, doapply=False, caltable=str(tmp_path / "b"))
    rec = _run(
        vis,
        doapply=False,
        caltable=str(tmp_path / "c"),
        dgcfield="J2253+1608",
        phasecal="J2229-0832",
        target=["J2228-0753"],
    )
    assert not rec["structure"]["from_intents"]
    assert rec["structure"]["dgc_high_scans"] == with_intents["structure"]["dgc_high_scans"]
    # Same data, same gaincal calls: identical solutions.
    np.testing.assert_allclose(
        rec["diagnostics"]["offset_deg"], with_intents["diagnostics"]["offset_deg"], atol=1e-6
    )
