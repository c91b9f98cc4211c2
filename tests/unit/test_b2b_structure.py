"""Structure finding, spw mapping and DGC blocks from synthetic scan lists."""

import numpy as np
import pytest

from almacal.b2b.blocks import group_blocks
from almacal.b2b.structure import (
    find_structure,
    map_spws,
    select_dgc_scans,
    select_phasecal,
    select_spws,
    select_targets,
    split_bands,
)
from almacal.msinfo import ScanInfo, SpwInfo


def _spw(spw: int, centre_hz: float, bbc: int) -> SpwInfo:
    return SpwInfo(spw, np.array([centre_hz]), bbc_no=bbc)


LOW = (0, 1, 2, 3)
HIGH = (4, 5, 6, 7)
SPWS = [
    *(
        _spw(s, f * 1e9, s + 1)
        for s, f in zip(LOW, (81.083, 90.048, 100.830, 102.041), strict=True)
    ),
    *(
        _spw(s, f * 1e9, s - 3)
        for s, f in zip(HIGH, (278.013, 279.971, 290.013, 291.971), strict=True)
    ),
]
REF, SRC = "CALIBRATE_DIFFGAIN#REFERENCE", "CALIBRATE_DIFFGAIN#ON_SOURCE"


def _scans(*, end_block=True, intents=True, gap_after_dgc=40.0):
    """DGC block, referencing, DGC block; scan numbers are consecutive throughout."""
    out, t, n = [], 0.0, 1

    def add(field, band, intent, length=9.2, gap=3.0):
        nonlocal t, n
        spws = LOW if band == "low" else HIGH
        out.append(ScanInfo(n, field, spws, (intent,) if intents else (), t, t + length))
        t += length + gap
        n += 1

    def block():
        for _ in range(4):
            add("DGC", "low", REF)
            add("DGC", "high", SRC)
        add("DGC", "low", REF, gap=gap_after_dgc)

    block()
    for _ in range(10):
        add("PC", "low", "CALIBRATE_PHASE#ON_SOURCE", 4.6, 5.1)
        add("TGT", "high", "OBSERVE_TARGET#ON_SOURCE", 9.2, 5.1)
    add("PC", "low", "CALIBRATE_PHASE#ON_SOURCE", 4.6, gap_after_dgc)
    if end_block:
        block()
    return out


def test_finds_everything_from_intents():
    st = find_structure(_scans(), SPWS)
    assert st.low_spws == LOW and st.high_spws == HIGH
    assert st.spwmap == {4: 0, 5: 1, 6: 2, 7: 3}
    assert st.ratio(4) == pytest.approx(278.013 / 81.083)
    assert (st.dgc_field, st.phasecal, st.targets) == ("DGC", "PC", ("TGT",))
    assert len(st.blocks) == 2 and not st.warnings
    assert st.blocks[0].low_scans == (1, 3, 5, 7, 9)
    assert st.blocks[1].high_scans == (32, 34, 36, 38)


def test_blocks_follow_time_gaps_not_scan_numbers():
    # Consecutive scan numbers (no scan-number gap) but a 2-minute gap in time.
    scans = [(k, 12.0 * k, 12.0 * k + 9, k % 2 == 1) for k in range(1, 9)]
    scans += [(k, 120.0 + 12.0 * k, 120.0 + 12.0 * k + 9, k % 2 == 1) for k in range(9, 17)]
    blocks, warnings = group_blocks(scans)
    assert [len(b.low_scans) + len(b.high_scans) for b in blocks] == [8, 8]
    assert not warnings
    # Large scan-number gaps inside one block do not split it.
    blocks, _ = group_blocks([(1, 0, 9, True), (50, 12, 21, False), (99, 24, 33, True)])
    assert len(blocks) == 1


def test_without_intents_needs_dgcfield():
    scans = _scans(intents=False)
    with pytest.raises(ValueError, match="give dgcfield"):
        find_structure(scans, SPWS)
    st = find_structure(scans, SPWS, dgcfield="DGC", phasecal="PC")
    assert st.targets == ("TGT",) and len(st.blocks) == 2 and not st.from_intents


def test_one_block_warns_that_drift_is_not_correctable():
    st = find_structure(_scans(end_block=False), SPWS)
    assert len(st.blocks) == 1
    assert any("drift" in w and "cannot be corrected" in w for w in st.warnings)


def test_missing_dgc_scans_is_an_error():
    scans = [s for s in _scans() if SRC not in s.intents]
    with pytest.raises(ValueError, match="missing DGC scans: found 10 low-frequency and 0 high"):
        find_structure(scans, SPWS)


def test_no_low_frequency_spws_is_an_error():
    with pytest.raises(ValueError, match="no low-frequency spws"):
        split_bands([_spw(s, (280 + s) * 1e9, 1) for s in range(4)])


def test_user_spwmap_and_frequency_order_fallback():
    st = find_structure(_scans(), SPWS, spwmap=[0, 1, 2, 3, 3, 2, 1, 0])
    assert st.spwmap == {4: 3, 5: 2, 6: 1, 7: 0}
    with pytest.raises(ValueError, match="not a low-frequency spw"):
        find_structure(_scans(), SPWS, spwmap=[0, 1, 2, 3, 4, 5, 6, 7])
    no_bbc = [_spw(s.id, s.centre_hz, 0) for s in SPWS]
    st = find_structure(_scans(), no_bbc)
    assert st.spwmap == {4: 0, 5: 1, 6: 2, 7: 3}
    assert any("frequency order" in n for n in st.notes)


# Each selector on both sides of its branch points.


def test_select_spws_lowspw_given_unknown_or_leaving_no_high_band():
    scans = _scans()
    bands = select_spws(scans, SPWS, lowspw=[1, 0, 3, 2])
    assert (bands.low, bands.high) == (LOW, HIGH) and bands.note.endswith("by baseband")
    with pytest.raises(ValueError, match=r"lowspw=\[0, 9\]: spws \[9\] have no data"):
        select_spws(scans, SPWS, lowspw=[0, 9])
    with pytest.raises(ValueError, match="leaves no high-frequency spws"):
        select_spws(scans, SPWS, lowspw=[*LOW, *HIGH])
    # spws without data take no part in the split (an unused spw at 30 GHz).
    bands = select_spws(scans, [*SPWS, _spw(8, 30e9, 1)])
    assert bands.low == LOW


def test_spw_map_rules():
    low_bbc_missing = [_spw(s.id, s.centre_hz, 0 if s.id == 0 else s.bbc_no) for s in SPWS]
    mapping, note = map_spws(LOW, HIGH, low_bbc_missing, [])
    assert "frequency order" in note and mapping == {4: 0, 5: 1, 6: 2, 7: 3}
    with pytest.raises(ValueError, match="cannot map 4 high-frequency spws onto 2 low ones"):
        map_spws((0, 1), HIGH, [_spw(s.id, s.centre_hz, 0) for s in SPWS], [])
    with pytest.raises(ValueError, match=r"has no entry for high-frequency spw 7 .* needs 8"):
        map_spws(LOW, HIGH, SPWS, [0, 1, 2, 3, 0, 1, 2])


def test_select_dgc_scans_by_field_or_intent():
    scans = _scans()
    by_intent = select_dgc_scans(scans, LOW, HIGH)
    by_field = select_dgc_scans(scans, LOW, HIGH, dgcfield="DGC")
    assert by_intent.from_intents and not by_field.from_intents
    assert by_intent.low == by_field.low and len(by_intent.high) == 8
    with pytest.raises(ValueError, match=r"dgcfield='X' has no scans; fields are: \['DGC', 'PC'"):
        select_dgc_scans(scans, LOW, HIGH, dgcfield="X")
    # A second quasar with DGC intents: the intents alone cannot tell which.
    two = [*scans, ScanInfo(99, "DGC2", LOW, (REF,), 1e4, 1e4 + 9)]
    with pytest.raises(ValueError, match=r"several fields \['DGC', 'DGC2'\]: give dgcfield"):
        select_dgc_scans(two, LOW, HIGH)
    assert select_dgc_scans(two, LOW, HIGH, dgcfield="DGC").field == "DGC"


def test_a_dgcfield_observed_in_one_band_only_is_named():
    # the phase calibrator has low-frequency scans only: not a DGC source
    with pytest.raises(ValueError) as err:
        select_dgc_scans(_scans(), LOW, HIGH, dgcfield="PC")
    msg = str(err.value)
    assert msg.startswith("dgcfield='PC' has 11 scans in the low-frequency spws")
    assert "and 0 in the high-frequency spws" in msg and "DGC intents: ['DGC']" in msg


def test_select_phasecal_needs_one_candidate_with_low_scans():
    scans = _scans()
    assert select_phasecal(scans, LOW, "DGC") == ("PC", tuple(range(10, 31, 2)))
    second = [*scans, ScanInfo(99, "PC2", LOW, ("CALIBRATE_PHASE#ON_SOURCE",), 1e4, 1e4 + 4)]
    with pytest.raises(ValueError, match=r"candidates: \['PC', 'PC2'\]\): give phasecal"):
        select_phasecal(second, LOW, "DGC")
    assert select_phasecal(second, LOW, "DGC", phasecal="PC2") == ("PC2", (99,))
    with pytest.raises(ValueError, match="candidates: none"):
        select_phasecal(_scans(intents=False), LOW, "DGC")
    with pytest.raises(ValueError, match="phasecal='TGT' has no scans in the low-frequency"):
        select_phasecal(scans, LOW, "DGC", phasecal="TGT")


def test_select_targets_given_by_intent_or_every_other_field():
    scans = _scans()
    tgt_scans = tuple(range(11, 30, 2))
    assert select_targets(scans, HIGH, ("PC", "DGC")) == (("TGT",), tgt_scans)
    # Without intents: every field in the high spws but the calibrators.
    assert select_targets(_scans(intents=False), HIGH, ("PC", "DGC")) == (("TGT",), tgt_scans)
    # With intents, an OBSERVE_TARGET field wins over other high-band fields.
    extra = [*scans, ScanInfo(99, "CHECK", HIGH, ("OBSERVE_CHECK_SOURCE",), 1e4, 1e4 + 9)]
    assert select_targets(extra, HIGH, ("PC", "DGC"))[0] == ("TGT",)
    assert select_targets(extra, HIGH, ("PC", "DGC"), target=["CHECK"]) == (("CHECK",), (99,))
    with pytest.raises(ValueError, match=r"target field 'X' not found; fields are: \['DGC'"):
        select_targets(scans, HIGH, ("PC", "DGC"), target=["TGT", "X"])
    with pytest.raises(ValueError, match=r"no high-frequency target scans \(target=\['PC'\]\)"):
        select_targets(scans, HIGH, ("PC", "DGC"), target=["PC"])


def test_blocks_without_both_bands_are_dropped_and_the_gap_can_be_given():
    # Two low scans alone 10 min after the first block: dropped with a warning.
    scans = [(1, 0, 9, True), (2, 12, 21, False), (3, 24, 33, True)]
    blocks, warnings = group_blocks([*scans, (4, 600, 609, True), (5, 612, 621, True)])
    assert len(blocks) == 1
    assert "DGC scans [4, 5] form a block without high-frequency scans" in warnings[0]
    with pytest.raises(ValueError, match="no block has both"):
        group_blocks([(1, 0, 9, True), (2, 600, 609, False)], gap_s=60)
    # The automatic gap is at least MIN_BLOCK_GAP_S (60 s): a 50 s gap does not split...
    assert len(group_blocks([*scans, (4, 83, 92, False), (5, 95, 104, True)])[0]) == 1
    # ...unless blockgap says so.
    assert len(group_blocks([*scans, (4, 83, 92, False), (5, 95, 104, True)], gap_s=40)[0]) == 2


def test_every_field_of_the_structure():
    st = find_structure(_scans(), SPWS)
    # scans: block 1 = 1..9 (low odd, high even), then PC/TGT 10..30, block 2 = 31..39
    assert st.dgc_low_scans == (1, 3, 5, 7, 9, 31, 33, 35, 37, 39)
    assert st.dgc_high_scans == (2, 4, 6, 8, 32, 34, 36, 38)
    assert st.phasecal_scans == tuple(range(10, 31, 2))
    assert st.target_scans == tuple(range(11, 30, 2))
    assert st.from_intents is True and st.notes == ("low -> high spws matched by baseband",)
    assert st.spw_freq_hz == {s.id: s.centre_hz for s in SPWS}
    rec = st.to_record()
    assert rec["low_spws"] == [0, 1, 2, 3] and rec["high_spws"] == [4, 5, 6, 7]
    assert rec["spwmap"] == {"4": 0, "5": 1, "6": 2, "7": 3}
    assert rec["freq_ratio"]["5"] == pytest.approx(279.971 / 90.048)
    assert rec["dgc_field"] == "DGC" and rec["phasecal"] == "PC" and rec["targets"] == ["TGT"]
    assert rec["dgc_low_scans"] == list(st.dgc_low_scans)
    assert rec["dgc_high_scans"] == list(st.dgc_high_scans)
    assert rec["phasecal_scans"] == list(st.phasecal_scans)
    assert rec["target_scans"] == list(st.target_scans)
    assert rec["blocks"] == [b.to_record() for b in st.blocks] and rec["from_intents"] is True


def test_explicit_lowspw_target_and_phasecal():
    st = find_structure(_scans(), SPWS, lowspw=[1, 0, 2, 3], target=["TGT"], phasecal="PC")
    assert st.low_spws == (0, 1, 2, 3) and st.high_spws == (4, 5, 6, 7)
    assert st.targets == ("TGT",) and st.phasecal == "PC"
    with pytest.raises(ValueError, match=r"lowspw=\[0, 9\]: spws \[9\] have no data"):
        find_structure(_scans(), SPWS, lowspw=[0, 9])
    with pytest.raises(ValueError, match="leaves no high-frequency spws"):
        find_structure(_scans(), SPWS, lowspw=list(range(8)))
    with pytest.raises(ValueError, match="target field 'M87' not found; fields are: "):
        find_structure(_scans(), SPWS, target=["M87"])
    with pytest.raises(ValueError, match=r"phasecal='TGT' has no scans in the low-frequency"):
        find_structure(_scans(), SPWS, phasecal="TGT")
    with pytest.raises(ValueError, match=r"dgcfield='X' has no scans; fields are: \['DGC'"):
        find_structure(_scans(), SPWS, dgcfield="X")
    # a blockgap longer than the referencing gap merges the two DGC blocks
    assert len(find_structure(_scans(), SPWS, blockgap=1e4).blocks) == 1


def test_intents_decide_phasecal_and_targets():
    scans = _scans()
    # a second low-band calibrator with a phase intent: ambiguous
    extra = ScanInfo(99, "PC2", LOW, ("CALIBRATE_PHASE#ON_SOURCE",), 1e4, 1e4 + 5)
    with pytest.raises(ValueError, match=r"candidates: \['PC', 'PC2'\]\): give phasecal"):
        find_structure([*scans, extra], SPWS)
    assert find_structure([*scans, extra], SPWS, phasecal="PC2").phasecal_scans == (99,)
    # no phase intent at all
    no_pc = [s for s in scans if s.field != "PC"]
    with pytest.raises(ValueError, match="candidates: none"):
        find_structure(no_pc, SPWS)
    # targets without a target intent: every other high-band field
    plain = [
        ScanInfo(s.scan, s.field, s.spws, () if s.field == "TGT" else s.intents, s.start, s.stop)
        for s in scans
    ]
    st = find_structure(plain, SPWS)
    assert st.targets == ("TGT",) and st.target_scans == tuple(range(11, 30, 2))
    # a high-band scan of a field observed only in the low band is not a target scan
    other = ScanInfo(98, "PC", HIGH, (), 2e4, 2e4 + 5)
    assert 98 not in find_structure([*plain, other], SPWS).target_scans
    with pytest.raises(ValueError, match="no high-frequency target scans"):
        find_structure([s for s in plain if s.field != "TGT"], SPWS)
    # DGC scans on two fields
    two = [ScanInfo(97, "DGC2", LOW, (REF,), 3e4, 3e4 + 5), *scans]
    with pytest.raises(ValueError, match=r"DGC scans cover several fields \['DGC', 'DGC2'\]"):
        find_structure(two, SPWS)


def test_blocks_sorted_by_start_with_times_and_the_automatic_gap():
    # given out of order; the middle gap (70 s) is above max(60 s, 5 x median 3 s) = 60 s
    scans = [(3, 24.0, 33.0, True), (1, 0.0, 9.0, True), (2, 12.0, 21.0, False)]
    scans += [(4, 103.0, 112.0, True), (5, 115.0, 124.0, False)]
    blocks, warnings = group_blocks(scans)
    assert [(b.low_scans, b.high_scans) for b in blocks] == [((1, 3), (2,)), ((4,), (5,))]
    assert [(b.start, b.stop) for b in blocks] == [(0.0, 33.0), (103.0, 124.0)]
    assert blocks[0].to_record() == {
        "low_scans": [1, 3],
        "high_scans": [2],
        "start_mjd_s": 0.0,
        "stop_mjd_s": 33.0,
    }
    assert warnings == []
    # a gap of exactly gap_s does not split; a user gap of 1 s splits at every 3 s gap
    assert len(group_blocks(scans, gap_s=70.0)[0]) == 1
    assert len(group_blocks(scans, gap_s=69.9)[0]) == 2
    # a block without high-frequency scans is dropped with a warning naming its scans
    lone = [*scans, (6, 300.0, 309.0, True)]
    blocks, warnings = group_blocks(lone)
    assert len(blocks) == 2
    assert warnings == ["DGC scans [6] form a block without high-frequency scans; block ignored"]
    blocks, warnings = group_blocks([*scans, (7, 300.0, 309.0, False)])
    assert "[7] form a block without low-frequency scans" in warnings[0]
    # a single scan: no gaps to take a median of; one block, which cannot be used alone
    with pytest.raises(ValueError, match="no block has both"):
        group_blocks([(1, 0.0, 9.0, True)])
    with pytest.raises(ValueError, match="no DGC scans to group"):
        group_blocks([])


def test_frequency_order_mapping_sorts_both_bands_by_frequency_not_id():
    # no baseband numbers; high spw ids in falling frequency: 4 is the highest
    spws = [_spw(0, 90e9, 0), _spw(1, 100e9, 0), _spw(4, 300e9, 0), _spw(5, 280e9, 0)]
    mapping, note = map_spws((1, 0), (4, 5), spws, [])
    assert "frequency order" in note and mapping == {5: 0, 4: 1}


def test_a_block_gap_below_a_second_is_used_as_given():
    # scans 0.5 s apart: a gap of 0.4 s splits every scan into its own block (none has
    # both bands), the automatic gap (>= MIN_BLOCK_GAP_S) keeps them in one
    scans = [(1, 0.0, 9.0, True), (2, 9.5, 18.5, False), (3, 19.0, 28.0, True)]
    assert len(group_blocks(scans)[0]) == 1
    with pytest.raises(ValueError, match="no block has both"):
        group_blocks(scans, gap_s=0.4)
    assert len(group_blocks(scans, gap_s=0.6)[0]) == 1
