"""Which field, spws and flux.csv rows each EB is checked with (no MS needed)."""

import pytest

from almacal.gridflux.fluxcsv import read_flux_csv
from almacal.gridflux.targets import build_targets, phase_calibrators
from tests.unit.gridflux_eb import eb_info

HEAD = "ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment\n"


def _meta(flux=("J1751+0939",), phase=("J1830+0619",)):
    return eb_info(flux, phase)


def _csv(tmp_path, rows):
    p = tmp_path / "flux.csv"
    p.write_text(HEAD + "".join(rows))
    return read_flux_csv(str(p))


def _row(spw, field="0", note="field=J1751+0939 intents=AMPLITUDE,BANDPASS", ms="uid___A002_X1.ms"):
    return f'{ms},{field},{spw},2.0,0,0,0,-0.6,0,0,"# {note} origin=DB"\n'


def test_intent_picks_the_field_and_flux_csv_the_spws(tmp_path):
    table = _csv(tmp_path, [_row(17), _row(21), _row(17, "1", "field=J1830+0619 intents=PHASE")])
    (t,) = build_targets([_meta()], table, "")
    assert (t.field, t.spws, t.freq_hz) == ("J1751+0939", (17, 21), (336.5e9, 348.5e9))
    assert [r.line for r in t.pipe_rows] == [2, 3]
    assert t.radec_deg == (267.886, 9.650)  # the catalogue search cone's centre
    (t,) = build_targets([_meta()], None, "")
    assert t.spws == (17, 19, 21) and t.pipe_rows == () and t.radec_deg == (267.886, 9.650)


def test_non_positive_flux_is_refused_only_for_the_calibrator(tmp_path):
    target_row = '{ms},2,17,0.0,0,0,0,0.0,0,0,"# field=SMM1 intents=TARGET origin=N/A"\n'
    table = _csv(tmp_path, [_row(17), target_row.format(ms="uid___A002_X1.ms")])
    (t,) = build_targets([_meta()], table, "")  # the target's I = 0 row is only copied
    assert t.spws == (17,)
    bad = _csv(tmp_path, [_row(17).replace(",2.0,", ",-1,")])
    with pytest.raises(
        ValueError, match=r"line 2: I is -1.0 Jy for uid___A002_X1.ms field J1751\+0939 spw 17"
    ):
        build_targets([_meta()], bad, "")


def test_amplitude_row_stands_in_for_a_missing_intent(tmp_path):
    table = _csv(tmp_path, [_row(17)])
    (t,) = build_targets([_meta(flux=())], table, "")
    assert t.field == "J1751+0939"


@pytest.mark.parametrize(
    ("meta", "rows", "field", "match"),
    [
        (_meta(flux=()), None, "", "no field with intent CALIBRATE_FLUX .* field='J....'"),
        (_meta(flux=("J1751+0939", "SMM1")), None, "", "several amplitude calibrators"),
        (
            _meta(),
            [_row(17, ms="other.ms")],
            "",
            "has no rows for uid___A002_X1.ms; it lists other",
        ),
        (
            _meta(),
            [_row(17), _row(17)],
            "",
            r"lines 2 and 3: two rows for uid___A002_X1.ms field J1751\+0939 spw 17",
        ),
        (_meta(), [_row(25)], "", "no row for uid___A002_X1.ms field J1751.*spws \\[17, 19, 21\\]"),
        (_meta(), None, "J0000+0000", "field 'J0000\\+0000' not found"),
    ],
)
def test_ambiguous_or_missing_calibrator_is_a_clear_error(tmp_path, meta, rows, field, match):
    table = _csv(tmp_path, rows) if rows is not None else None
    with pytest.raises(ValueError, match=match):
        build_targets([meta], table, field)


def test_phase_calibrators():
    (t,) = phase_calibrators([_meta()])
    assert t.field == "J1830+0619" and t.spws == (17, 19, 21) and t.radec_deg == (277.6, 6.3)
    with pytest.raises(ValueError, match="phasecheck=True but uid___A002_X1.ms has no field"):
        phase_calibrators([_meta(phase=())])


def test_calibrator_rows_match_by_name_or_by_field_id(tmp_path):
    # spw 17 names the field only in its comment (another id), spw 19 gives only its id
    rows = [_row(17, field="7"), _row(19, note="intents=AMPLITUDE,BANDPASS")]
    (t,) = build_targets([_meta()], _csv(tmp_path, rows), "")
    assert t.spws == (17, 19) and [r.line for r in t.pipe_rows] == [2, 3]


@pytest.mark.parametrize(("flux", "ok"), [("0.0", False), ("0.5", True), ("1.0", True)])
def test_calibrator_flux_must_be_positive_and_any_positive_flux_will_do(tmp_path, flux, ok):
    table = _csv(tmp_path, [_row(17).replace(",2.0,", f",{flux},")])
    if ok:
        (t,) = build_targets([_meta()], table, "")
        assert t.pipe_rows[0].flux == float(flux)
    else:
        with pytest.raises(ValueError, match=r"line 2: I is 0.0 Jy .* needs I > 0"):
            build_targets([_meta()], table, "")
