"""relcal_fit's inputs: every check before any visibility is read (no casatools)."""

import os

import numpy as np
import pytest

from almacal.casatask.checks import check_vis, split_names
from almacal.msinfo import FieldInfo, MsInfo, SpwInfo
from almacal.relcal.params import FitOptions, RelcalFitParams

DAY = 86400.0


def _info(path, day, **kw):
    base = dict(
        path=path,
        fields=tuple(FieldInfo(i, n) for i, n in enumerate(("SMM9", "SMM4", "SMM3", "SMM9"))),
        spws=(SpwInfo(0, np.array([3.40e11, 3.41e11])), SpwInfo(1, np.array([3.50e11, 3.52e11]))),
        ddid_spw=np.array([0, 1]),
        ddid_pol=np.array([0, 0]),
        corr_types=(np.array([9, 12]), np.array([10, 11])),
        columns=frozenset({"DATA", "CORRECTED_DATA"}),
        has_weight_spectrum=False,
        start_mjd_s=(58405.0 + day) * DAY + 3600,  # 2018-10-14 01:00 UTC + day
    )
    return MsInfo(**(base | kw))


def _chans(spws=(0, 1)):
    return {s: np.array([True, True]) for s in spws}


def _build(tmp_path, infos, **kw):
    args = dict(
        infos=infos,
        channels=[_chans() for _ in infos],
        field=["SMM9,SMM4", " SMM3 "],
        datacolumn="auto",
        uvrange="",
        perspw=True,
        groupby="day",
        exclude=[],
        outfile=str(tmp_path / "out"),
        overwrite=False,
    )
    return RelcalFitParams.build(**(args | kw))


def _ms(tmp_path, name):
    p = tmp_path / name
    p.mkdir()
    (p / "table.dat").write_bytes(b"")
    return str(p)


def test_check_vis_accepts_measurement_sets_and_names_the_problem(tmp_path, monkeypatch):
    a, b = _ms(tmp_path, "a.ms"), _ms(tmp_path, "b.ms")
    monkeypatch.chdir(tmp_path)
    assert check_vis(["a.ms", b]) == (a, b)  # absolute paths, order kept
    with pytest.raises(ValueError, match=r"vis must list one or more measurement sets, got \[\]"):
        check_vis([])
    with pytest.raises(ValueError, match="selfcalvis must list"):
        check_vis(["a.ms", " "], param="selfcalvis")
    with pytest.raises(FileNotFoundError, match="vis: measurement set 'c.ms' does not exist"):
        check_vis(["a.ms", "c.ms"])
    (tmp_path / "plain.ms").mkdir()  # a directory without table.dat
    (tmp_path / "file.ms").write_text("")  # a file
    for bad in ("plain.ms", "file.ms"):
        with pytest.raises(ValueError, match=f"'{bad}' is not a measurement set"):
            check_vis([bad])
    with pytest.raises(ValueError, match="the same measurement set twice"):
        check_vis(["a.ms", a])


def test_split_names():
    assert split_names(["a, b", "c", " ", ",d,"]) == ("a", "b", "c", "d")
    assert split_names([]) == ()


def test_build_sorts_by_date_groups_by_day_and_maps_fields(tmp_path):
    infos = [_info("c.ms", 2.5), _info("a.ms", 0.0), _info("b.ms", 0.2)]
    p = _build(tmp_path, infos, exclude=["2:SMM4", " 1:SMM3"])
    assert [i.path for i in p.infos] == ["a.ms", "b.ms", "c.ms"]  # date order
    assert p.fields == ("SMM9", "SMM4", "SMM3")
    assert [e.vis for e in p.epochs] == [("a.ms", "b.ms"), ("c.ms",)]
    assert [e.number for e in p.epochs] == [1, 2]
    assert [e.date for e in p.epochs] == ["2018-10-14", "2018-10-16"]
    np.testing.assert_array_equal(p.epoch_of_ms, [0, 0, 1])
    np.testing.assert_array_equal(p.field_index[0], [0, 1, 2, 0])  # both SMM9 rows
    assert p.columns == ("CORRECTED_DATA",) * 3
    assert p.excluded.tolist() == [[False, False, True], [False, True, False]]
    assert p.spws == (0, 1) and p.perspw and not p.overwrite
    assert p.spw_freq_hz() == (3.405e11, 3.51e11)
    assert p.outfile == str(tmp_path / "out") and p.uvrange is None
    assert p.options == FitOptions()
    by_ms = _build(tmp_path, infos, groupby="ms")
    assert [e.vis for e in by_ms.epochs] == [("a.ms",), ("b.ms",), ("c.ms",)]
    assert by_ms.excluded.shape == (3, 3)
    assert _build(tmp_path, infos, datacolumn="data").columns == ("DATA",) * 3
    assert _build(tmp_path, infos, uvrange="0~50klambda").uvrange is not None
    common = FitOptions(uvrange_common=True)
    assert _build(tmp_path, infos, uvrange="0~50klambda", options=common).uvrange is None
    assert _build(tmp_path, infos, options=FitOptions(minfamily=3)).options.minfamily == 3


def test_build_refuses_inconsistent_inputs(tmp_path):
    infos = [_info("a.ms", 0.0), _info("b.ms", 1.0)]
    with pytest.raises(ValueError, match="field must name the stable calibrators"):
        _build(tmp_path, infos, field=[" , "])
    with pytest.raises(ValueError, match="field lists a calibrator twice"):
        _build(tmp_path, infos, field=["SMM9", "SMM9"])
    with pytest.raises(ValueError, match="spw selects different spectral windows"):
        _build(tmp_path, infos, channels=[_chans(), _chans((0,))])
    cross = _info("b.ms", 1.0, ddid_pol=np.array([0, 1]))  # spw 1 has XY/YX only
    with pytest.raises(ValueError, match="polarization setup 1"):
        _build(tmp_path, [infos[0], cross])
    # the same MS with spw 1 not selected is fine: only selected spws are checked
    ok = _build(tmp_path, [infos[0], cross], channels=[_chans((0,)), _chans((0,))])
    assert ok.spws == (0,)
    with pytest.raises(ValueError, match="field 'SMM11' not found in a.ms"):
        _build(tmp_path, infos, field=["SMM11"])
    with pytest.raises(ValueError, match="minfamily=4 exceeds the 3 calibrators"):
        _build(tmp_path, infos, options=FitOptions(minfamily=4))
    with pytest.raises(ValueError, match=r"vis gives 1 epoch\(s\) \(groupby='day'\)"):
        _build(tmp_path, [infos[0], _info("c.ms", 0.3)])
    for bad in ("3:SMM9", "0:SMM9", "x:SMM9", "SMM9", "1:SMM11"):
        with pytest.raises(ValueError, match=f"exclude entry '{bad}'"):
            _build(tmp_path, infos, exclude=[bad])
    with pytest.raises(ValueError, match="datacolumn='corrected'"):
        _build(
            tmp_path,
            [infos[0], _info("b.ms", 1.0, columns=frozenset({"DATA"}))],
            datacolumn="corrected",
        )
    for ext in ("ecsv", "json", "png"):
        path = tmp_path / f"out.{ext}"
        path.write_text("")
        with pytest.raises(FileExistsError, match="set overwrite=True"):
            _build(tmp_path, infos)
        assert _build(tmp_path, infos, overwrite=True).overwrite
        os.remove(path)


def _options(**kw):
    args = dict(
        uvrange="",
        selfcal=False,
        solint=["inf"],
        refant="",
        gaintype="G",
        minsnr=3.0,
        combine="",
        rejectsigma=0.0,
        minfamily=0,
        fitspw="",
        model="point",
        modelcheck=False,
    )
    return FitOptions.from_task_args(**(args | kw))


def test_fit_options_defaults_change_nothing_and_values_pass_through():
    assert _options() == FitOptions()
    o = _options(
        uvrange=" Common ",
        selfcal=True,
        solint=["inf", "10s"],
        refant=" DV01 ",
        gaintype="T",
        minsnr=0.0,
        combine="spw",
        rejectsigma=2.0,
        minfamily=2,
        fitspw="auto",
        model="point+gaussian",
        modelcheck=True,
        fitposition=True,
    )
    assert o == FitOptions(
        selfcal=True,
        solints=("inf", "10s"),
        refant="DV01",
        gaintype="T",
        minsnr=0.0,
        combine="spw",
        rejectsigma=2.0,
        minfamily=2,
        fitspw_auto=True,
        uvrange_common=True,
        model="point+gaussian",
        modelcheck=True,
        fitposition=True,
    )
    # solint is only read with selfcal
    assert _options(solint=["often"]).solints == ("inf", "20.2s", "5.05s")
    assert _options(model="gaussian").model == "gaussian"
    assert _options(rejectsigma=5).rejectsigma == 5.0 and _options(minfamily=3).minfamily == 3


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"gaintype": "K"}, "gaintype='K' is not one of 'G', 'T'"),
        ({"combine": "scan"}, "combine='scan' is not one of '', 'spw'"),
        ({"fitspw": "all"}, "fitspw='all'"),
        ({"model": "disk"}, "model='disk' is not one of 'point', 'gaussian', 'point\\+gaussian'"),
        ({"minsnr": -0.1}, "minsnr must be a finite number >= 0, got -0.1"),
        ({"minsnr": float("inf")}, "minsnr must be"),
        ({"minsnr": float("nan")}, "minsnr must be"),
        ({"rejectsigma": -1.0}, "rejectsigma must be >= 0"),
        ({"rejectsigma": float("inf")}, "rejectsigma must be >= 0"),
        ({"rejectsigma": float("nan")}, "rejectsigma must be >= 0"),
        ({"rejectsigma": 1.99}, "rejectsigma=1.99 would reject good calibrators"),
        ({"rejectsigma": 0.5}, "would reject good calibrators"),
        ({"minfamily": 1}, "minfamily must be 0 \\(off\\) or >= 2, got 1"),
        ({"minfamily": -1}, "minfamily must be 0"),
        ({"selfcal": True, "solint": ["often"]}, "solint 'often'"),
    ],
)
def test_fit_options_refuse_bad_values_naming_them(kw, match):
    with pytest.raises(ValueError, match=match):
        _options(**kw)
