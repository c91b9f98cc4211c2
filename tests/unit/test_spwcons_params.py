"""spwconsistency's parameter checks, on both sides of every rule (no casatools)."""

import pytest

from almacal.spwcons.params import FIT_PARAM_DEFAULTS, SpwConsistencyParams


def _build(**kw):
    args = dict(
        resultfile="",
        vis=["a.ms", "b.ms"],
        field=["SMM9,SMM4"],
        fit_params=dict(FIT_PARAM_DEFAULTS),
        nboot=100,
        nmc=100,
        seed=0,
        siglevel=0.05,
        outfile="",
        overwrite=False,
    )
    return SpwConsistencyParams.build(**(args | kw))


def test_vis_mode_passes_values_through():
    p = _build(fit_params=FIT_PARAM_DEFAULTS | {"spw": "0,1"}, nboot=500, seed=7)
    assert p.resultfile == "" and p.vis == ("a.ms", "b.ms") and p.field == ("SMM9,SMM4",)
    assert p.fit_params == FIT_PARAM_DEFAULTS | {"spw": "0,1"}
    assert (p.nboot, p.nmc, p.seed, p.siglevel) == (500, 100, 7, 0.05)
    assert p.outfile == "" and p.overwrite is False
    # one vis is enough when epochs are days of several MSs... only with groupby='day'
    assert _build(vis=["a.ms"], fit_params=FIT_PARAM_DEFAULTS | {"groupby": "day"}).vis == ("a.ms",)


def test_resultfile_mode(tmp_path):
    rf = tmp_path / "fit.json"
    rf.write_text("{}")
    p = _build(resultfile=str(rf), vis=[" "], field=[""], outfile=str(tmp_path / "sc"))
    assert p.resultfile == str(rf) and p.outfile == str(tmp_path / "sc")
    with pytest.raises(ValueError, match="give either resultfile .* or vis and field"):
        _build(resultfile=str(rf))
    with pytest.raises(ValueError, match="give either resultfile"):
        _build(resultfile=str(rf), vis=[], field=["SMM9"])
    with pytest.raises(ValueError, match="uvrange='<300m': only used when spwconsistency fits vis"):
        _build(
            resultfile=str(rf),
            vis=[],
            field=[],
            fit_params=FIT_PARAM_DEFAULTS | {"uvrange": "<300m"},
        )
    with pytest.raises(FileNotFoundError, match="resultfile .*none.json' does not exist"):
        _build(resultfile=str(tmp_path / "none.json"), vis=[], field=[])
    # relcal_fit's own stem: our fit.json would replace the input
    with pytest.raises(ValueError, match="would overwrite resultfile"):
        _build(resultfile=str(rf), vis=[], field=[], outfile=str(tmp_path / "fit"), overwrite=True)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"vis": [" "]}, "give resultfile .* or vis and field; all are empty"),
        ({"field": [" "]}, "field must name the stable calibrators"),
        ({"field": ["SMM9"]}, "names 1 calibrator"),
        ({"field": ["SMM9,"]}, "names 1 calibrator"),
        ({"vis": ["a.ms"]}, "is one epoch \\(groupby='vis'\\)"),
        ({"siglevel": 0.0}, "siglevel=0.0 must be between 0 and 1"),
        ({"siglevel": 1.0}, "siglevel=1.0 must be between 0 and 1"),
        ({"nboot": 99}, "nboot=99 must be an integer >= 100"),
        ({"nmc": 99}, "nmc=99 must be an integer >= 100"),
        ({"seed": -1}, "seed=-1 must be an integer >= 0"),
    ],
)
def test_refused_values_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        _build(**kw)


def test_limits_themselves_are_accepted(tmp_path):
    assert _build(siglevel=1e-9).siglevel == 1e-9 and _build(siglevel=0.999).siglevel == 0.999
    assert _build(fit_params=FIT_PARAM_DEFAULTS | {"spw": "3,4"}).fit_params["spw"] == "3,4"
    assert _build(field=["A", "B"]).field == ("A", "B")
    (tmp_path / "sc.json").write_text("")
    with pytest.raises(FileExistsError):
        _build(outfile=str(tmp_path / "sc"))
    assert _build(outfile=str(tmp_path / "sc"), overwrite=True).overwrite is True
