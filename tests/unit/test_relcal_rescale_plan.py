"""relcal_apply's plan: factors per MS, output names and their checks (no casatools)."""

import json
import math

import pytest

from almacal.relcal.rescale_plan import (
    HISTORY_MARK,
    Rescale,
    plan_rescales,
    resolve_factors,
    stem,
)


def test_rescale_gencal_parameter_history_and_record():
    r = Rescale("/d/a.ms", 1.21, "/d/a.rescaled.ms", "/d/a.rescaled.relcal.amp")
    # applycal divides by g_i g_j: g = 1/sqrt(factor) multiplies amplitudes by factor
    assert r.gencal_parameter == pytest.approx(1 / 1.1, rel=1e-15)
    assert r.history_line() == (
        f"{HISTORY_MARK} amplitudes multiplied by factor=1.21 (gencal caltype='amp' "
        "parameter=0.9090909091, caltable=/d/a.rescaled.relcal.amp, source vis=/d/a.ms)"
    )
    assert r.to_record() == {
        "vis": "/d/a.ms",
        "factor": 1.21,
        "outputvis": "/d/a.rescaled.ms",
        "caltable": "/d/a.rescaled.relcal.amp",
        "gencal_parameter": r.gencal_parameter,
    }


def test_stem():
    assert stem("/d/a.ms") == "/d/a" and stem("/d/a.MS") == "/d/a" and stem("/d/a") == "/d/a"
    assert stem("/d/ms") == "/d/ms"


def test_factors_from_the_list_are_checked():
    assert resolve_factors(("a", "b"), [1, 2.5], "") == (1.0, 2.5)
    with pytest.raises(ValueError, match="either factor or factorfile, not both"):
        resolve_factors(("a",), [1.0], "f.json")
    with pytest.raises(ValueError, match="factor has 1 values for 2 vis"):
        resolve_factors(("a", "b"), [1.0], "")
    with pytest.raises(ValueError, match="factor is empty and no factorfile"):
        resolve_factors(("a",), [], "  ")
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="factor for b is .*finite and > 0"):
            resolve_factors(("a", "b"), [1.0, bad], "")


def test_factors_from_a_relcal_fit_json_by_path_or_unique_name(tmp_path):
    f = tmp_path / "fit.json"
    table = {"/x/ep1.ms": 1.1, "/y/ep2.ms/": 0.9, "/x/dup.ms": 1.0, "/y/dup.ms": 1.2}
    table["/x/bad.ms"] = None
    f.write_text(json.dumps({"vis_factors": table}))
    # exact path first; else a unique basename (trailing slash ignored)
    assert resolve_factors(("/x/ep1.ms", "/other/ep2.ms"), [], str(f)) == (1.1, 0.9)
    assert resolve_factors(("/y/dup.ms",), [], str(f)) == (1.2,)
    with pytest.raises(ValueError, match="'/z/dup.ms' has no epoch in factorfile .*covers: "):
        resolve_factors(("/z/dup.ms",), [], str(f))  # two candidates: refused
    with pytest.raises(ValueError, match="no epoch .* bad.ms, dup.ms, ep1.ms, ep2.ms"):
        resolve_factors(("/x/ep3.ms",), [], str(f))
    with pytest.raises(ValueError, match="has no valid factor for '/x/bad.ms'"):
        resolve_factors(("/x/bad.ms",), [], str(f))
    with pytest.raises(FileNotFoundError, match="factorfile .* does not exist"):
        resolve_factors(("a",), [], str(tmp_path / "none.json"))
    for text in ("{", "{}", "[1]"):
        f.write_text(text)
        with pytest.raises(ValueError, match="is not a relcal_fit JSON"):
            resolve_factors(("a",), [], str(f))


def test_plan_names_products_and_refuses_clashes(tmp_path):
    a, b = str(tmp_path / "a.ms"), str(tmp_path / "b.ms")
    kw = dict(outputvis=[], caltable=[], overwrite=False)
    split = plan_rescales((a, b), (1.1, 0.9), mode="split", **kw)
    assert [r.outputvis for r in split] == [
        str(tmp_path / "a.rescaled.ms"),
        str(tmp_path / "b.rescaled.ms"),
    ]
    assert split[0].caltable == str(tmp_path / "a.rescaled.relcal.amp")
    assert [r.factor for r in split] == [1.1, 0.9] and split[1].vis == b
    inplace = plan_rescales((a,), (1.1,), mode="inplace", **kw)
    assert inplace[0].outputvis == a and inplace[0].caltable == str(tmp_path / "a.relcal.amp")
    named = plan_rescales(
        (a,),
        (1.1,),
        mode="split",
        outputvis=[str(tmp_path / "o.ms")],
        caltable=[str(tmp_path / "c.amp")],
        overwrite=False,
    )
    assert named[0].outputvis == str(tmp_path / "o.ms")
    assert named[0].caltable == str(tmp_path / "c.amp")
    with pytest.raises(ValueError, match="outputvis has 1 names for 2 vis"):
        plan_rescales(
            (a, b), (1, 1), mode="split", outputvis=["o.ms"], caltable=[], overwrite=False
        )
    with pytest.raises(ValueError, match="caltable has 1 names for 2 vis"):
        plan_rescales((a, b), (1, 1), mode="split", outputvis=[], caltable=["c"], overwrite=False)
    with pytest.raises(ValueError, match="outputvis is only used with mode='split'"):
        plan_rescales((a,), (1,), mode="inplace", outputvis=["o.ms"], caltable=[], overwrite=False)
    with pytest.raises(ValueError, match="must be distinct"):
        plan_rescales((a,), (1,), mode="split", outputvis=[a], caltable=[], overwrite=False)
    with pytest.raises(ValueError, match="must be distinct"):
        plan_rescales(
            (a, b), (1, 1), mode="split", outputvis=[], caltable=["c", "c"], overwrite=False
        )
    with pytest.raises(FileNotFoundError, match="outputvis .*nodir.*directory does not exist"):
        plan_rescales(
            (a,),
            (1,),
            mode="split",
            outputvis=[str(tmp_path / "nodir" / "o.ms")],
            caltable=[],
            overwrite=False,
        )
    with pytest.raises(FileNotFoundError, match="caltable .*directory does not exist"):
        plan_rescales(
            (a,),
            (1,),
            mode="inplace",
            outputvis=[],
            caltable=[str(tmp_path / "nodir" / "c")],
            overwrite=False,
        )
    (tmp_path / "a.relcal.amp").mkdir()
    with pytest.raises(FileExistsError, match="caltable .*a.relcal.amp' exists; set overwrite"):
        plan_rescales((a,), (1,), mode="inplace", **kw)
    assert plan_rescales((a,), (1,), mode="inplace", outputvis=[], caltable=[], overwrite=True)
    (tmp_path / "b.rescaled.ms").mkdir()
    with pytest.raises(FileExistsError, match="outputvis .*b.rescaled.ms' exists"):
        plan_rescales((b,), (1,), mode="split", **kw)


@pytest.mark.parametrize("value", ["1.1x", True, [1.1], {"f": 1}])
def test_a_non_numeric_factor_in_the_file_names_the_file_and_the_ms(tmp_path, value):
    f = tmp_path / "fit.json"
    f.write_text(json.dumps({"vis_factors": {"/x/ep1.ms": value}}))
    with pytest.raises(ValueError) as err:
        resolve_factors(("/data/ep1.ms",), [], str(f))
    msg = str(err.value)
    assert str(f) in msg and "'/data/ep1.ms'" in msg and "not a number" in msg


def test_an_unreadable_factorfile_is_one_clear_error(tmp_path):
    f = tmp_path / "fit.json"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")  # not UTF-8 text
    with pytest.raises(ValueError, match="factorfile .*fit.json' is not a relcal_fit JSON"):
        resolve_factors(("a",), [], str(f))
    f.write_text(json.dumps({"vis_factors": [1.0]}))
    with pytest.raises(ValueError, match="'vis_factors' is a list, expected"):
        resolve_factors(("a",), [], str(f))
    with pytest.raises(ValueError, match="factorfile .* is not a file"):
        resolve_factors(("a",), [], str(tmp_path))
