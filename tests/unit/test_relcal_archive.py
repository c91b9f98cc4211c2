"""relcal_fit on archive-like inputs (issue 11), synthetic MSs and no casatools: epoch
dates from the data, weak, missing and zero-weight calibrators, failed fits, field
names and positions, one band."""

import dataclasses
import re

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.msinfo import FieldInfo, ScanInfo, SpwInfo
from almacal.relcal.dates import rows_time_range, utc_date
from almacal.relcal.fields import format_position, match_fields
from almacal.relcal.task import RelcalFitTask
from tests.unit.fake_log import casatasks_log
from tests.unit.relcal_synth import DAY_S, FakeMs, FakeReader, fake_ms
from tests.unit.test_relcal_run import FakeSelfcal

SCALE = np.array([1.0, 0.92, 1.06, 0.97])
CALS = ["A", "B", "C"]
# J2000 positions of the fake fields (A, B, C, TARGET), a few arcmin apart
RADEC = ((277.45, 1.27), (277.49, 1.22), (277.50, 1.23), (277.46, 1.25))


@pytest.fixture(autouse=True)
def log(monkeypatch):
    """casalog without CASA, keeping each line's priority."""
    return casatasks_log(monkeypatch)


def _with_positions(ms: FakeMs) -> FakeMs:
    fields = tuple(
        FieldInfo(f.id, f.name, *RADEC[f.id], "J2000", f.intents) for f in ms.info.fields
    )
    return dataclasses.replace(ms, info=dataclasses.replace(ms.info, fields=fields))


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Four point-source epochs 30 days apart, with J2000 field positions."""
    rng = np.random.default_rng(1111)
    out = []
    for i, g in enumerate(SCALE):
        d = tmp_path_factory.mktemp("arch") / f"ep{i + 1}.ms"
        d.mkdir()
        (d / "table.dat").write_bytes(b"")
        out.append(_with_positions(fake_ms(rng, str(d), day=30 * i, scale=g)))
    return out


def _run(sets, reader=None, calls=None, **kw):
    reader = reader or FakeReader(sets)
    args = load_spec("relcal_fit").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": CALS, "outfile": ""} | kw
    return run_task(RelcalFitTask(reader, calls), args | {"selfcal": calls is not None})


def _dev(rec):
    truth = SCALE.mean() / SCALE
    return np.abs(np.array(rec["rfcf"]) - truth), np.array(rec["rfcf_sigma"])


def _replace_data(ms: FakeMs, field: int, rng, flux=None, weight=None) -> FakeMs:
    """ms with one field's visibilities replaced by flux + noise (sigma 0.3) and/or its
    weights set to weight."""
    rows = ms.field_id == field
    data = [d.copy() for d in ms.data]
    if flux is not None:
        for d in data:
            shape = d[..., rows].shape
            noise = 0.3 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
            d[..., rows] = flux + noise
    w = ms.weight.copy()
    if weight is not None:
        w[:, rows] = weight
    return dataclasses.replace(ms, data=data, weight=w)


# --- item 1: dates from the data -------------------------------------------------------


def _split_copies(sets):
    """The sets as split from one MS: every OBSERVATION table starts on the first epoch's
    day (start_mjd_s), the rows keep their own times."""
    first = sets[0].info.start_mjd_s
    out = []
    for ms in sets:
        rows = (float(ms.time.min()), float(ms.time.max()))
        info = dataclasses.replace(ms.info, start_mjd_s=first, data_time_range=rows)
        out.append(dataclasses.replace(ms, info=info))
    return out


def test_epochs_are_dated_and_grouped_by_their_rows_not_the_observation_table(sets, log):
    split = _split_copies(sets)
    rec = _run(split, groupby="day")
    # four days 30 days apart: four epochs (the OBSERVATION tables alone give one)
    assert len(rec["epoch"]) == 4
    # the first and last TIME of the calibrators' rows (the pass's usable data)
    cal_times = [ms.time[(ms.field_id < 3) & (ms.ant[0] != ms.ant[1])] for ms in sets]
    starts = [float(t.min()) for t in cal_times]
    assert rec["date"] == [utc_date(t) for t in starts]
    assert len(set(rec["date"])) == 4  # guard: the dates differ
    np.testing.assert_allclose(rec["start_mjd"], np.array(starts) / DAY_S, rtol=0, atol=1e-9)
    ends = [float(t.max()) for t in cal_times]
    np.testing.assert_allclose(rec["end_mjd"], np.array(ends) / DAY_S, rtol=0, atol=1e-9)
    assert rec["start_utc"][0].startswith(rec["date"][0] + "T") and rec["end_utc"][0][-1] == "Z"
    warned = [m for p, m in log if p == "WARN" and "OBSERVATION table starts on" in m]
    assert len(warned) == 3  # every copy but the first names the first day
    # the same MSs with honest OBSERVATION tables give the same epochs, without a warning
    log.clear()
    assert _run(sets, groupby="day")["date"] == rec["date"]
    assert not [m for p, m in log if "OBSERVATION" in m]


def test_rows_time_range_uses_the_calibrator_scans_in_the_selected_spws(sets):
    info = dataclasses.replace(
        sets[0].info,
        scans=(
            ScanInfo(1, "A", (0, 1), (), 100.0, 200.0, 0),
            ScanInfo(2, "TARGET", (0, 1), (), 50.0, 400.0, 3),
            ScanInfo(3, "B", (1,), (), 300.0, 350.0, 1),
        ),
    )
    index = np.array([0, 1, 2, -1])
    assert rows_time_range(info, index, [0, 1]) == (100.0, 350.0)
    assert rows_time_range(info, index, [0]) == (100.0, 200.0)  # B has only spw 1
    # no scans: the rows' range, else the OBSERVATION start
    bare = dataclasses.replace(info, scans=(), data_time_range=(5.0, 9.0))
    assert rows_time_range(bare, index, [0]) == (5.0, 9.0)
    assert rows_time_range(dataclasses.replace(bare, data_time_range=(0.0, 0.0)), index, [0]) == (
        info.start_mjd_s,
        info.start_mjd_s,
    )


# --- item 2: weak calibrators -----------------------------------------------------------


def test_a_calibrator_at_snr_1_leaves_the_rfcf_and_every_epoch_stays_true(sets, log):
    rng = np.random.default_rng(11)
    faint = list(sets)
    faint[1] = _replace_data(sets[1], 2, rng, flux=0.0015 * SCALE[1])  # C at ~1.5 mJy, SNR 1
    rec = _run(faint)
    snr = np.array(rec["flux_snr"])
    assert 0 < snr[1, 2] < 3 and np.all(np.delete(snr.ravel(), 5) > 100)  # guard: SNR ~1
    (ex,) = rec["exclusions"]
    assert (ex["epoch"], ex["field"]) == (2, "C")
    assert ex["reason"].startswith("weak: flux ") and "< minfluxsnr 10" in ex["reason"]
    assert rec["used"][1] == [True, True, False] and rec["n_used"] == [3, 2, 3, 3]
    assert any(p == "WARN" and "excluded epoch 2 C: weak" in m for p, m in log)
    # every rFCF within 5 of its propagated sigma (~1.5e-3) of the truth
    dev, sig = _dev(rec)
    assert np.all(sig > 0) and np.all(dev < 5 * sig), (dev, sig)
    # guard: with the check off the noise-level flux gives epoch 2 an rFCF of 65
    off = _run(faint, minfluxsnr=0.0)
    assert np.array(off["mcf"])[1, 2] > 100 and _dev(off)[0][1] > 10
    # a negative flux is never used, even with minfluxsnr=0
    neg = list(sets)
    neg[1] = _replace_data(sets[1], 2, rng, flux=-0.05)
    rec = _run(neg, minfluxsnr=0.0)
    assert re.fullmatch(
        r"flux <= 0 \(-5\d\.\d \+- \d\.\d mJy\): not a detection", rec["exclusions"][0]["reason"]
    )
    assert not rec["used"][1][2]


def test_an_epoch_without_a_usable_calibrator_is_an_error_naming_it(sets):
    rng = np.random.default_rng(8)
    faint = list(sets)
    for j in range(3):
        faint[2] = _replace_data(faint[2], j, rng, flux=0.001)
    with pytest.raises(
        ValueError,
        match=r"epoch 3 \(.*ep3\.ms\) has no usable calibrator: A (-?[\d.]+) \+- [\d.]+ mJy: "
        r"weak: .*; B .*; C .* lower minfluxsnr",
    ):
        _run(faint)
    # excluding every calibrator of an epoch is refused before any data are read
    reader = FakeReader(sets)
    with pytest.raises(ValueError, match=r"exclude leaves epoch 2 \(.*ep2\.ms\) without"):
        _run(sets, reader=reader, exclude=["2:A", "2:B", "2:C"])
    assert not reader.passes


def test_selfcal_leaves_a_weak_calibrator_out_and_goes_on(sets, tmp_path, log):
    rng = np.random.default_rng(9)
    faint = list(sets)
    faint[1] = _replace_data(sets[1], 2, rng, flux=0.006 * SCALE[1])  # C at SNR ~4
    reader = FakeReader(faint)
    calls = FakeSelfcal(reader, str(tmp_path))
    rec = _run(faint, reader=reader, calls=calls)
    assert rec["selfcal_calibrated"][1] == [True, True, False]
    assert all(row == [True] * 3 for k, row in enumerate(rec["selfcal_calibrated"]) if k != 1)
    # epoch 2's gaincal and applycal solve and correct A and B only (FIELD ids 0, 1)
    ep2 = [g for g in calls.gaincals if "ep2.ms" in g["vis"]]
    assert len(ep2) == 3 and {g["field"] for g in ep2} == {"0,1"}
    assert {a["field"] for a in calls.applycals if "ep2.ms" in a["vis"]} == {"0,1"}
    assert {g["field"] for g in calls.gaincals if "ep1.ms" in g["vis"]} == {"0,1,2"}
    assert any(p == "WARN" and "C not self-calibrated" in m for p, m in log)
    assert rec["exclusions"][0]["field"] == "C" and "weak" in rec["exclusions"][0]["reason"]
    dev, sig = _dev(rec)
    assert np.all(dev < 5 * sig), (dev, sig)


# --- item 8: zero weights, item 5: missing calibrators -----------------------------------


def test_zero_or_negative_weights_are_named_as_such(sets):
    rng = np.random.default_rng(10)
    for w in (0.0, -1.0):
        bad = list(sets)
        bad[2] = _replace_data(sets[2], 1, rng, weight=w)
        rec = _run(bad)
        (ex,) = rec["exclusions"]
        assert (ex["epoch"], ex["field"]) == (3, "B")
        assert "zero or negative weight" in ex["reason"] and "ep3.ms" in ex["reason"]
        dev, sig = _dev(rec)
        assert np.all(dev < 5 * sig)


def test_a_calibrator_without_rows_is_excluded_there_not_reported_flagged(sets, log):
    gone = list(sets)
    ms = sets[2]
    field_id = np.where(ms.field_id == 1, 3, ms.field_id)  # B's rows become the target's
    gone[2] = dataclasses.replace(ms, field_id=field_id)
    rec = _run(gone)
    (ex,) = rec["exclusions"]
    assert (ex["epoch"], ex["field"]) == (3, "B")
    assert ex["reason"].startswith(f"no data in {ms.info.path}") and "flagged" not in ex["reason"]
    dev, sig = _dev(rec)
    assert np.all(dev < 5 * sig), (dev, sig)
    # also when its name is missing from that MS's FIELD table (an EB without it)
    fields = tuple(
        dataclasses.replace(f, name="OTHER") if f.name == "B" else f for f in ms.info.fields
    )
    renamed = list(sets)
    renamed[2] = dataclasses.replace(ms, info=dataclasses.replace(ms.info, fields=fields))
    rec = _run(renamed)
    (ex,) = rec["exclusions"]
    assert ex["reason"] == (
        f"no data in {ms.info.path} (no field named 'B' (field 1 'OTHER' "
        f"({format_position(RADEC[1])}) is at its position: fieldmatch='position'))"
    )
    # matched by position the renamed field is B again, and nothing is excluded
    log.clear()
    by_pos = _run(renamed, fieldmatch="position")
    assert by_pos["exclusions"] == [] and np.all(np.array(by_pos["used"]))
    np.testing.assert_allclose(by_pos["flux"], _run(sets)["flux"], rtol=1e-12)
    assert any("'B' is 1 'OTHER'" in m for _, m in log)


# --- item 4: failed fits ----------------------------------------------------------------


def test_a_fit_at_its_evaluation_limit_is_marked_and_kept_out(sets, monkeypatch, log):
    import scipy.optimize

    real = scipy.optimize.least_squares
    calls = []

    def limited(*args, **kw):  # epoch 2's fits of A and B stop after two evaluations
        calls.append(1)
        return real(*args, **(kw | {"max_nfev": 2})) if 4 <= len(calls) <= 5 else real(*args, **kw)

    monkeypatch.setattr(scipy.optimize, "least_squares", limited)
    rec = _run(sets, model="gaussian")
    status = rec["fit_status"]
    limit = "did not converge: stopped at the evaluation limit without converging (status 0)"
    assert status[1] == [limit, limit, "ok"]
    assert all(s == ["ok"] * 3 for k, s in enumerate(status) if k != 1)
    assert [(e["epoch"], e["field"]) for e in rec["exclusions"]] == [(2, "A"), (2, "B")]
    assert all(e["reason"].startswith("fit: did not converge") for e in rec["exclusions"])
    # where the fit stopped is still reported, not NaN
    assert np.all(np.isfinite(rec["model_flux_gaussian"]))
    assert any("model gaussian: total flux = Gaussian flux;" in m for _, m in log)
    assert not any("point + Gaussian" in m for _, m in log)


def test_no_numpy_warning_escapes_when_every_fit_of_a_calibrator_fails(sets, monkeypatch):
    import scipy.optimize

    real = scipy.optimize.least_squares
    calls = []

    def limited(*args, **kw):  # every fit of calibrator C (every third) stops at once
        calls.append(1)
        return real(*args, **(kw | {"max_nfev": 1} if len(calls) % 3 == 0 else kw))

    monkeypatch.setattr(scipy.optimize, "least_squares", limited)
    # pytest turns warnings into errors (filterwarnings = error): this would raise on
    # numpy's "All-NaN slice" or "Mean of empty slice"
    rec = _run(sets, model="gaussian")
    assert [e["field"] for e in rec["exclusions"]] == ["C"] * 4
    assert rec["n_used"] == [2, 2, 2, 2]


# --- item 5: fields ----------------------------------------------------------------------


def _info_with(ms: FakeMs, fields) -> FakeMs:
    return dataclasses.replace(ms, info=dataclasses.replace(ms.info, fields=tuple(fields)))


def test_a_name_shared_by_fields_at_different_positions_is_an_error_listing_them(sets):
    f = sets[0].info.fields
    # TARGET renamed 'A': two FIELD rows named A, ~2.6 arcmin apart
    mosaic = _info_with(sets[0], (*f[:3], FieldInfo(3, "A", *RADEC[3], "J2000")))
    with pytest.raises(
        ValueError,
        match=r"field 'A' names 2 FIELD rows of .*ep1\.ms at different positions \(\d+\.\d "
        r"arcsec apart, more than matchradius=1\): 0 'A' \(18:29:48\.000 \+01:16:12\.00\), "
        r"3 'A' \(18:29:50\.400 \+01:15:00\.00\)\. Give one of them by id",
    ):
        _run([mosaic, *sets[1:]])
    # rows of one name within matchradius (the same source, listed twice) are one calibrator
    near = (RADEC[0][0] + 0.1 / 3600, RADEC[0][1])
    twice = _info_with(sets[0], (*f[:3], FieldInfo(3, "A", *near, "J2000")))
    infos = [twice.info, *(s.info for s in sets[1:])]
    m = match_fields(infos, CALS, "name", 1.0)
    np.testing.assert_array_equal(m.field_index[0], [0, 1, 2, 0])


def test_field_ids_are_accepted_and_checked_against_the_first_ms(sets):
    infos = [s.info for s in sets]
    m = match_fields(infos, ["0", "B"], "name", 1.0)
    assert all(list(ix) == [0, 1, -1, -1] for ix in m.field_index)
    # in another EB FIELD id 0 is another source: refused
    a, b = FieldInfo(0, "B", *RADEC[1], "J2000"), FieldInfo(1, "A", *RADEC[0], "J2000")
    swapped = _info_with(sets[1], [a, b, *sets[1].info.fields[2:]])
    with pytest.raises(ValueError, match=r"field '0' is FIELD id 0 in .*ep1\.ms at .* but in "
                       r".*ep2\.ms at .*field ids differ"):  # fmt: skip
        match_fields([infos[0], swapped.info], ["0", "B"], "name", 1.0)
    # by position the id finds its source whatever its id and name there
    m = match_fields([infos[0], swapped.info], ["0", "B"], "position", 1.0)
    assert list(m.field_index[1]) == [1, 0, -1, -1]
    with pytest.raises(ValueError, match=r"field 'NOSUCH' not found in .*ep1\.ms; fields are: "
                       r"A, B, C, TARGET \(nor in the other 3 MSs in vis\)"):  # fmt: skip
        match_fields(infos, ["A", "NOSUCH"], "name", 1.0)
    # with one MS there are no others to name
    with pytest.raises(ValueError, match=r"fields are: A, B, C, TARGET$"):
        match_fields(infos[:1], ["A", "NOSUCH"], "name", 1.0)
    with pytest.raises(ValueError, match="'A' and '0' both match FIELD 0 'A'"):
        match_fields(infos, ["A", "0"], "name", 1.0)


def test_fieldmatch_and_matchradius_are_checked(sets):
    with pytest.raises(ValueError, match="fieldmatch='nearest' is not one of 'name', 'position'"):
        _run(sets, fieldmatch="nearest")
    with pytest.raises(ValueError, match="matchradius must be a positive number"):
        _run(sets, matchradius=0.0)
    with pytest.raises(ValueError, match="minfluxsnr must be a finite number >= 0"):
        _run(sets, minfluxsnr=-1.0)


# --- item 3: one band -------------------------------------------------------------------


def _retuned(ms: FakeMs, factor: float, band_name: str = "") -> FakeMs:
    spws = tuple(SpwInfo(s.id, s.chan_freq_hz * factor, band_name or s.name) for s in ms.info.spws)
    return dataclasses.replace(ms, info=dataclasses.replace(ms.info, spws=spws))


def test_epochs_in_different_bands_or_tunings_are_refused_naming_them(sets):
    band9 = list(sets)
    band9[3] = _retuned(sets[3], 1.95)  # 663-683 GHz: Band 9
    with pytest.raises(
        ValueError,
        match=r"vis mixes ALMA bands: Band 7: .*ep1\.ms, .*ep2\.ms, .*ep3\.ms \(339\.875, "
        r"349\.875 GHz\); Band 9: .*ep4\.ms \(662\.756, 682\.256 GHz\)",
    ):
        _run(band9)
    # the spw name says the band when the frequency alone would not (ALMA_RB_nn)
    named = list(sets)
    named[0] = _retuned(sets[0], 1.0, "ALMA_RB_06#BB_1#SW-01#FULL_RES")
    with pytest.raises(ValueError, match="Band 6: .*ep1.ms"):
        _run(named)
    shifted = list(sets)
    shifted[2] = _retuned(sets[2], 1.005)  # 0.5 %: another tuning in the same band
    with pytest.raises(ValueError, match=r"differ by up to 0\.50 % .*more than 0\.1 %.*ep3\.ms: "
                       r"341\.574, 351\.624 GHz"):  # fmt: skip
        _run(shifted)
    # Doppler tracking (1e-4) is the same tuning; the record keeps each epoch's frequencies
    doppler = list(sets)
    doppler[2] = _retuned(sets[2], 1.0001)
    rec = _run(doppler)
    freq = np.array(rec["epoch_spw_freq_hz"])
    assert freq.shape == (4, 2) and freq[2, 0] == pytest.approx(1.0001 * freq[0, 0], rel=1e-12)


class FlaggingSelfcal(FakeSelfcal):
    """applycal flags all of FIELD 1 in the scratch copy of ep2.ms, as CASA's does for a
    field without a gaincal solution of SNR >= minsnr."""

    def applycal(self, **params):
        super().applycal(**params)
        if params["vis"].endswith("ep2.ms.selfcal.ms"):
            ms = self.reader.sets[params["vis"]]
            flags = [f.copy() for f in ms.flag]
            for f in flags:
                f[..., ms.field_id == 1] = True
            self.reader.sets[params["vis"]] = dataclasses.replace(ms, flag=flags)


def test_data_flagged_by_selfcal_are_named_as_such_and_the_run_goes_on(sets, tmp_path):
    reader = FakeReader(sets)
    rec = _run(sets, reader=reader, calls=FlaggingSelfcal(reader, str(tmp_path)))
    (ex,) = rec["exclusions"]
    assert (ex["epoch"], ex["field"]) == (2, "B")
    assert ex["reason"] == (
        f"all data flagged in {sets[1].info.path} after self-calibration (no gaincal "
        "solution with SNR >= minsnr 3)"
    )
    dev, sig = _dev(rec)
    assert np.all(dev < 5 * sig), (dev, sig)  # 5 propagated sigma (~1.5e-3)


def test_each_reason_for_no_data_in_the_order_the_pass_finds_it():
    """Six calibrators of one epoch, each stopped at one step: no rows, every row
    flagged, nothing valid in the selection, no positive weight, nothing left after the
    cuts (the point sums are made after them), and one with data (no reason)."""
    from almacal.relcal.accumulate import COUNT_ROWS, COUNT_VALID, COUNT_WEIGHTED, MsSums
    from almacal.relcal.fluxfit import N_SUMS, SUM_W
    from almacal.relcal.usable import Selection, data_reasons

    counts = np.array([[0, 0, 0], [40, 0, 0], [40, 0, 0], [40, 64, 0], [40, 64, 64], [40, 64, 64]])
    assert list(range(3)) == [COUNT_ROWS, COUNT_VALID, COUNT_WEIGHTED]
    rows_unflagged = np.array([0, 0, 40, 40, 40, 40])
    sums = MsSums(
        point=np.zeros((6, 2, N_SUMS)),
        rows_unflagged=rows_unflagged,
        time_range=np.full((6, 2), np.nan),
        counts=counts,
    )
    point = np.zeros((1, 6, 2, N_SUMS))
    point[0, 5, :, SUM_W] = [0.0, 3.5]  # one spw has data after the cuts
    sel = Selection(spw="0,1", uvrange="", cuts="uvrange='common'")
    (why,) = data_reasons([sums], point, [["a.ms"]], [{}], sel)
    assert why[0] == "no data in a.ms (its field has no rows (without FLAG_ROW) in spw='0,1')"
    assert why[1] == "all data flagged in a.ms"
    assert why[2] == "no unflagged, finite data within spw='0,1', uvrange='' in a.ms"
    assert why[3].startswith("every unflagged visibility in a.ms has a zero or negative weight")
    assert why[4] == "no data left after uvrange='common' in a.ms"
    assert why[5] == ""
