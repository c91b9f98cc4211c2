"""b2b_phasetransfer's result record and ECSV (no casatools)."""

import math

import numpy as np
import pytest
from astropy.table import Table

from almacal.b2b.diagnostics import DgcPhases
from almacal.b2b.planner import plan
from almacal.b2b.results import B2BResult, PlanResult, write_ecsv
from almacal.b2b.structure import find_structure
from tests.unit.test_b2b_diagnostics import _summary
from tests.unit.test_b2b_structure import SPWS, _scans


def _result():
    st = find_structure(_scans(), SPWS)
    off = np.zeros((2, 4, 4, 2))
    off[1, 1, 2] = math.radians(-20.0)  # block 2, antenna 1, third high spw
    diag = _summary(np.random.default_rng(111), offsets=off)
    return B2BResult(
        vis="/d/x.ms",
        structure=st,
        refant="DA41",
        combine_spw=True,
        combine_reason="low SNR",
        caltables={"dgc": "/d/x.dgc"},
        applied=False,
        diagnostics=diag,
        warnings=("w1",),
        casa_calls=(("gaincal", {"spw": np.int64(3), "t": (1, np.float32(0.5))}),),
        casa_seconds=12.5,
        params={"combine": "auto", 7: np.arange(2)},
        dgc_phases=DgcPhases(np.zeros(1), np.zeros((1, 4, 4))),
        files={},
    )


def test_record_and_qa_score():
    r = _result()
    rec = r.to_record()
    assert rec["mode"] == "transfer" and rec["vis"] == "/d/x.ms" and rec["refant"] == "DA41"
    assert rec["structure"] == r.structure.to_record()
    assert rec["combine_spw"] is True and rec["combine_reason"] == "low SNR"
    assert rec["caltables"] == {"dgc": "/d/x.dgc"} and rec["applied"] is False
    assert rec["diagnostics"] == r.diagnostics.to_record()
    assert rec["warnings"] == ["w1"] and rec["casa_seconds"] == 12.5
    # numpy scalars and arrays, tuples and non-str keys become plain JSON types
    assert rec["casa_calls"] == [["gaincal", {"spw": 3, "t": [1, 0.5]}]]
    assert type(rec["casa_calls"][0][1]["spw"]) is int
    assert rec["params"] == {"combine": "auto", "7": [0, 1]}
    # the lowest score: the expected coherence (26.9 deg at the target: 0.895), below the
    # offset stability (one 20 deg change in 16 (antenna, spw) entries: 1 - 5/60 = 0.917)
    qa = r.diagnostics.qa
    assert qa["offset_stability"] == pytest.approx(1 - math.sqrt(400 / 16) / 60.0)
    assert r.qa_score() == qa["expected_coherence"] == pytest.approx(0.8953, abs=1e-4)
    assert rec["qa_score"] == r.qa_score()
    p = plan(band=7, maxbaseline_km=12.0, sep_inband_deg=3.0, sep_b2b_deg=1.0)
    assert PlanResult(p).to_record() == {"mode": "plan", "plan": p.to_record()}


def test_ecsv_one_row_per_antenna_with_offsets_per_block_and_spw(tmp_path):
    r = _result()
    path = tmp_path / "b2b.ecsv"
    write_ecsv(r, str(path))
    t = Table.read(path, format="ascii.ecsv")
    d = r.diagnostics
    assert list(t["antenna"]) == ["DA41", "DA42", "DV01", "PM03"]
    np.testing.assert_array_equal(t["residual_rms_deg"], d.residual_rms_antenna_deg)
    np.testing.assert_array_equal(t["offset_change_deg"], d.offset_change_deg)
    names = [f"offset_block{b}_spw{s}_deg" for b in (1, 2) for s in (4, 5, 6, 7)]
    assert t.colnames == ["antenna", "residual_rms_deg", "offset_change_deg", *names]
    assert t["offset_block2_spw6_deg"][1] == pytest.approx(-20.0)
    assert t["offset_block1_spw6_deg"][1] == 0.0 and t["offset_block2_spw5_deg"][1] == 0.0
    assert t.meta["vis"] == "/d/x.ms" and t.meta["refant"] == "DA41"
    for key in ("residual_rms_deg", "expected_rms_target_deg", "expected_coherence", "dgc_loss"):
        assert t.meta[key] == getattr(d, key), key
    assert t.meta["qa"] == d.qa
