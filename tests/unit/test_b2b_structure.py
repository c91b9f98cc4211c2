"""Structure finding, spw mapping and DGC blocks from synthetic scan lists."""

import numpy as np
import pytest

from almacal.b2b.blocks import group_blocks
from almacal.b2b.structure import find_structure, split_bands
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
