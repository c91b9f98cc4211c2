"""Ambiguity resolution, scaling, circular statistics, DGC offsets, SNR policy."""

import math

import numpy as np
import pytest

from almacal.b2b.calls import CallLog
from almacal.b2b.coherence import paired_scan_std
from almacal.b2b.diagnostics import per_antenna_rms
from almacal.b2b.phases import circular_rms, unwrap_joint, wrap
from almacal.b2b.snr import choose_refant, combine_decision, predicted_snr
from almacal.b2b.transfer import (
    DgcOffsets,
    joint_unwrap,
    parse_casa_version,
    refuse_linearpd_spwmap,
    scaled_solutions,
)
from almacal.solutions import PhaseSolutions


def _sol(time, phase, *, spw=0, antenna=1, field=0):
    n = time.size
    return PhaseSolutions(
        time=time,
        field=np.full(n, field),
        spw=np.full(n, spw),
        antenna=np.full(n, antenna),
        refant=np.zeros(n, dtype=int),
        scan=np.ones(n, dtype=int),
        phase=wrap(phase)[:, None],
        flag=np.zeros((n, 1), dtype=bool),
        snr=np.full((n, 1), 100.0),
    )


def test_joint_unwrap_makes_a_non_integer_ratio_exact():
    """DGC offset + scaled phase-calibrator phase = true high-frequency phase, any branch."""
    rng = np.random.default_rng(3)
    ratio = 278.013 / 81.083  # Table 2, not an integer
    t = np.arange(0.0, 3000.0, 6.0)
    # A trend plus a random walk: several turns at the low frequency, < pi per step.
    low_true = 2.9 + 0.02 * t + np.cumsum(rng.normal(0.0, 0.15, t.size))
    theta_high = 1.1
    high_true = ratio * (low_true - 2.9) + theta_high  # atmosphere x ratio + band phase
    dgc, pc = t < 600, t >= 600
    tables = [_sol(t[dgc], low_true[dgc]), _sol(t[pc], low_true[pc], field=1)]
    u_dgc, u_pc = joint_unwrap(tables)
    # The band offset as the DGC step measures it (high data minus scaled low phase).
    offset = wrap(high_true[dgc] - ratio * u_dgc[:, 0])
    assert np.ptp(np.unwrap(offset)) < 1e-9  # one constant: the branch cancels
    transferred = ratio * u_pc[:, 0] + offset[0]
    np.testing.assert_allclose(wrap(transferred - high_true[pc]), 0.0, atol=1e-9)
    assert np.ptp(low_true) > 4 * np.pi  # not a vacuous pass: several wraps at low frequency
    # Unwrapping the tables separately starts the second on another branch: wrong by
    # 2 pi k (ratio - 3) -- what the joint unwrap prevents.
    sep = np.unwrap(tables[1].phase[:, 0])
    bad = wrap(ratio * sep + offset[0] - high_true[pc])
    assert np.max(np.abs(bad)) > 0.5


def test_scaled_solutions_rows_per_high_spw_and_time():
    t = np.array([0.0, 10.0, 20.0])
    sol = _sol(t, np.array([0.1, 0.2, 0.4]))
    (u,) = joint_unwrap([sol])
    out = scaled_solutions(
        sol,
        u,
        source_spw={4: 0, 5: 0},
        ratio={4: 3.0, 5: 2.0},
        times=np.array([5.0]),
        antennas=[1, 2],
    )
    assert out.time.size == 4  # 2 spws x 2 antennas x 1 time
    got = {
        (int(s), int(a)): (p[0], f[0])
        for s, a, p, f in zip(out.spw, out.antenna, out.phase, out.flag, strict=True)
    }
    assert got[(4, 1)][0] == pytest.approx(3.0 * 0.15)
    assert got[(5, 1)][0] == pytest.approx(2.0 * 0.15)
    assert got[(4, 2)][1]  # antenna 2 has no low solution: flagged row


def test_dgc_offsets_interpolate_between_blocks_and_hold_outside():
    sol = PhaseSolutions(
        time=np.array([100.0, 100.0, 1100.0, 1100.000001]),
        field=np.zeros(4, dtype=int),
        spw=np.array([4, 5, 4, 5]),
        antenna=np.ones(4, dtype=int),
        refant=np.zeros(4, dtype=int),
        scan=np.ones(4, dtype=int),
        phase=np.array([[3.0], [0.0], [-3.0], [0.5]]),  # spw 4 drifts across +-pi
        flag=np.zeros((4, 1), dtype=bool),
        snr=np.ones((4, 1)),
    )
    off = DgcOffsets.from_solutions(sol, n_antenna=2, spws=[4, 5])
    assert off.times.size == 2  # microsecond-different spw times are one block
    mid = off.at(np.array([600.0, 0.0, 2000.0]))
    step = wrap(-3.0 - 3.0)  # +0.283 rad through pi, not -6 rad
    assert mid[0, 1, 0, 0] == pytest.approx(3.0 + step / 2)
    assert mid[0, 1, 1, 0] == pytest.approx(0.25)
    assert mid[1, 1, 1, 0] == pytest.approx(0.0) and mid[2, 1, 1, 0] == pytest.approx(0.5)
    assert np.isnan(mid[0, 0, 0, 0])  # antenna 0 unsolved


def test_one_dgc_block_gives_its_offsets_at_every_time_and_flags_are_unsolved():
    sol = PhaseSolutions(
        time=np.array([100.0, 100.000001, 100.0]),
        field=np.zeros(3, dtype=int),
        spw=np.array([4, 5, 4]),
        antenna=np.array([1, 1, 0]),
        refant=np.zeros(3, dtype=int),
        scan=np.ones(3, dtype=int),
        phase=np.array([[0.7, -0.2], [1.5, 0.1], [2.0, 2.5]]),
        flag=np.array([[False, False], [False, True], [True, False]]),
        snr=np.ones((3, 2)),
    )
    off = DgcOffsets.from_solutions(sol, n_antenna=2, spws=[4, 5])
    assert off.times.size == 1
    got = off.at(np.array([0.0, 100.0, 5000.0]))
    assert got.shape == (3, 2, 2, 2)
    for row in got:  # held at every time: no drift can be followed from one block
        np.testing.assert_array_equal(row[1, 0], [0.7, -0.2])
        assert row[1, 1, 0] == 1.5 and np.isnan(row[1, 1, 1])  # flagged: unsolved
        assert np.isnan(row[0, 0, 0]) and row[0, 0, 1] == 2.5
        assert np.isnan(row[0, 1]).all()  # antenna 0 has no spw 5 solution


def test_circular_statistics():
    rng = np.random.default_rng(7)
    sigma = math.radians(20.0)
    x = rng.normal(0.0, sigma, 200_000) + 3.0  # about a mean near +-pi
    # Phases near +-pi minus 3: each difference wrapped before squaring gives sigma, where
    # a plain RMS would mix values near 0 and near -2 pi. 200k draws: ~0.2 % error.
    assert circular_rms(wrap(x) - 3.0) == pytest.approx(sigma, rel=0.01)
    ph = np.array([0.1, -0.1, np.nan])
    assert per_antenna_rms(ph, np.array([0, 0, 1]), np.array([1, 2, 2]), 3)[0] == pytest.approx(0.1)


def test_paired_scan_std_recovers_injected_scatter():
    rng = np.random.default_rng(11)
    sigma = 0.2
    # Each baseline about its own mean, one near +-pi: a plain mean would give ~pi.
    centre = np.linspace(-np.pi, np.pi, 50, endpoint=False)
    scans = [wrap(rng.normal(centre, sigma, (8, 50))) for _ in range(3)]
    scans[1][2, :10] = np.nan  # flagged samples take no part
    std = paired_scan_std(scans)
    # 16 samples per pair, 2 pairs x 50 baselines: the mean std has ~2 % scatter; 3x that.
    assert np.mean(std) == pytest.approx(sigma, rel=0.06)
    assert std.shape == (2, 50) and np.all(np.isfinite(std))
    # A flagged sample filled with 0 would pull the circular mean of baselines near +-pi.
    assert np.max(std[:, :10]) < 2 * sigma


def test_snr_policy_and_refant():
    rng = np.random.default_rng(5)
    n = 2000
    vis = 1.0 + rng.normal(0, 0.1, n) + 1j * rng.normal(0, 0.1, n)
    spw = np.repeat([0, 1], n // 2)
    noise = np.full(n, 0.1**2 * 8)  # per-sample variance for 8 samples per row
    snr = predicted_snr(vis, noise, np.full(n, 8), spw, n_antenna=10, n_int=1)
    # amplitude 1, sigma sqrt(0.08) per sample, 8 x 9 samples: SNR = sqrt(72)/0.283 = 30.
    assert snr[0] == pytest.approx(30.0, rel=0.05)
    combine, why = combine_decision("auto", snr, minsnr=3.0)
    assert not combine and "per-spw" in why
    combine, why = combine_decision("auto", snr, minsnr=20.0)
    assert combine and "below" in why
    names = ("DA41", "DA42", "DA43")
    pos = np.array([[0.0, 0, 0], [10.0, 0, 0], [1000.0, 0, 0]])
    assert choose_refant(names, pos, "") == "DA42"
    assert choose_refant(names, pos, "2") == "DA43"
    with pytest.raises(ValueError, match="refant='DV99' is not an antenna"):
        choose_refant(names, pos, "DV99")


def test_linearpd_with_spwmap_is_refused_before_6_7_3():
    with pytest.raises(RuntimeError, match="CAS-14703"):
        refuse_linearpd_spwmap((6, 7, 0, 31), ["linearPD"], [[0, 1, 2, 3, 0, 1, 2, 3]])
    with pytest.raises(RuntimeError, match="CAS-14703"):  # CASA's flat form, a plain string
        refuse_linearpd_spwmap((6, 7, 0), "linearPD", [0, 1, 0, 1])
    refuse_linearpd_spwmap((6, 7, 3, 1), ["linearPD"], [[0, 1, 0, 1]])
    refuse_linearpd_spwmap((6, 7, 0, 31), ["linear"], [[0, 1, 0, 1]])
    refuse_linearpd_spwmap((6, 7, 0, 31), ["linearPD"], [[]])


def test_every_interpolating_call_is_checked_for_cas_14703():
    made = []
    old = CallLog((6, 7, 0))
    with pytest.raises(RuntimeError, match="CAS-14703"):
        old.run("applycal", made.append, interp=["linearPD"], spwmap=[[0, 1, 0, 1]])
    assert made == [] and old.calls == []  # refused before CASA is called
    old.run("applycal", lambda **kw: made.append(kw), interp=["linear"], spwmap=[[0, 1, 0, 1]])
    CallLog((6, 7, 3)).run(
        "applycal", lambda **kw: made.append(kw), interp=["linearPD"], spwmap=[[0, 1, 0, 1]]
    )
    assert len(made) == 2


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("6.7.0.31", (6, 7, 0)),  # casatasks.version_string()
        ("6.7.0-31", (6, 7, 0)),  # casatools.version_string()
        ("6.7.3rc1.5", (6, 7, 3)),  # a pre-release tag must not shift the fields
        ("6.10.1.2", (6, 10, 1)),  # two-digit minor compares as a number
    ],
)
def test_casa_version_parsing(text, version):
    assert parse_casa_version(text) == version
    # The fix for CAS-14703 is in 6.7.3: versions on either side of it.
    assert (version >= (6, 7, 3)) == (text not in ("6.7.0.31", "6.7.0-31"))


def test_unparsable_casa_version_is_an_error():
    with pytest.raises(ValueError, match="cannot read a CASA version from 'dev'"):
        parse_casa_version("dev")


def test_unwrap_joint_keeps_input_order():
    t = np.array([3.0, 1.0, 2.0])
    ph = wrap(np.array([3 * 2.0, 2.0, 2 * 2.0]))
    np.testing.assert_allclose(unwrap_joint(t, ph), [6.0 - 2 * np.pi * 0, 2.0, 4.0], atol=1e-12)


def test_call_log_adds_the_wall_time_of_each_call_also_a_failed_one():
    import time

    log = CallLog((6, 7, 0))
    t0 = time.perf_counter()
    log.run("gaincal", lambda **kw: time.sleep(0.02), vis="a.ms")

    def fail(**kw):
        time.sleep(0.02)
        raise RuntimeError("gaincal failed")

    with pytest.raises(RuntimeError, match="gaincal failed"):
        log.run("gaincal", fail, vis="b.ms")
    assert 0.04 <= log.seconds <= time.perf_counter() - t0
    assert log.calls == [("gaincal", {"vis": "a.ms"}), ("gaincal", {"vis": "b.ms"})]
