"""relcal_apply on real VLA data (NGC5921 from casadata): exact scaling, untouched input."""

import json
import os
import shutil

import numpy as np
import pytest

from tests.casa.msutil import fingerprint, ratio_where_nonzero, read_columns

pytestmark = pytest.mark.casa


@pytest.fixture(scope="session")
def ngc5921_master(tmp_path_factory):
    import casadata
    import casatasks

    path = str(tmp_path_factory.mktemp("ngc5921") / "ngc5921.ms")
    casatasks.importuvfits(
        fitsfile=os.path.join(casadata.datapath, "demo", "NGC5921.fits"), vis=path
    )
    return path


@pytest.fixture
def ngc(ngc5921_master, tmp_path):
    path = str(tmp_path / "ngc5921.ms")
    shutil.copytree(ngc5921_master, path)
    return path


def test_split_mode_scales_amplitudes_by_f_and_weights_by_inverse_square(ngc, tmp_path):
    from almacal import relcal_apply

    before = fingerprint(ngc)
    f = 1.137
    rec = relcal_apply(vis=[ngc], factor=[f])
    out = rec["rescale"][0]["outputvis"]
    assert out == str(tmp_path / "ngc5921.rescaled.ms") and rec["applied"]
    assert fingerprint(ngc) == before  # input MS untouched, byte for byte

    # applycal rebuilds importuvfits' WEIGHT_SPECTRUM (WEIGHT / nchan) from WEIGHT
    # whatever the gain, so compare with the same chain at factor 1
    unit = relcal_apply(vis=[ngc], factor=[1.0], outputvis=[str(tmp_path / "unit.ms")])
    ref = read_columns(unit["rescale"][0]["outputvis"], "WEIGHT_SPECTRUM")
    src = read_columns(ngc, "DATA", "FLAG", "WEIGHT")
    got = read_columns(out, "DATA", "CORRECTED_DATA", "FLAG", "WEIGHT", "WEIGHT_SPECTRUM")
    r = ratio_where_nonzero(got["CORRECTED_DATA"], src["DATA"])
    # DATA is complex64 and the gain float32: exact to single precision (~1e-7)
    np.testing.assert_allclose(np.abs(r), f, rtol=1e-6)
    np.testing.assert_allclose(np.angle(r), 0.0, atol=1e-5)
    np.testing.assert_array_equal(got["DATA"], src["DATA"])
    np.testing.assert_array_equal(got["FLAG"], src["FLAG"])
    w_ratio = ratio_where_nonzero(got["WEIGHT"], src["WEIGHT"])
    np.testing.assert_allclose(w_ratio, f**-2, rtol=1e-6)
    ws_ratio = ratio_where_nonzero(got["WEIGHT_SPECTRUM"], ref["WEIGHT_SPECTRUM"])
    np.testing.assert_allclose(ws_ratio, f**-2, rtol=1e-6)
    assert os.path.isdir(rec["rescale"][0]["caltable"])  # the gencal table is kept
    hist = read_columns(out, "MESSAGE", table="HISTORY")["MESSAGE"]
    assert any("factor=1.137" in m for m in hist)
    assert any(m.startswith("factor") and "[1.137]" in m for m in hist)  # the call's parameters


def test_second_application_is_refused_unless_forced(ngc, tmp_path):
    from almacal import relcal_apply

    out = relcal_apply(vis=[ngc], factor=[1.1])["rescale"][0]["outputvis"]
    before = fingerprint(out)
    with pytest.raises(ValueError, match="already rescaled"):
        relcal_apply(vis=[out], factor=[1.1])
    assert fingerprint(out) == before
    again = relcal_apply(vis=[out], factor=[1.1], force=True)["rescale"][0]["outputvis"]
    hist = read_columns(again, "MESSAGE", table="HISTORY")["MESSAGE"]
    assert sum("almacal relcal_apply:" in m for m in hist) == 2


def test_dryrun_writes_nothing(ngc, tmp_path):
    from almacal import relcal_apply

    listing = sorted(os.listdir(tmp_path))
    rec = relcal_apply(vis=[ngc], factor=[0.9], dryrun=True)
    assert not rec["applied"] and rec["rescale"][0]["factor"] == 0.9
    assert sorted(os.listdir(tmp_path)) == listing


def test_inplace_writes_corrected_data_only(ngc, tmp_path):
    import casatasks

    from almacal import relcal_apply

    with pytest.raises(ValueError, match="CORRECTED_DATA"):  # split output of relcal has one
        relcal_apply(
            vis=[relcal_apply(vis=[ngc], factor=[1.2])["rescale"][0]["outputvis"]],
            factor=[1.1],
            mode="inplace",
            force=True,
            caltable=[str(tmp_path / "x.amp")],
        )
    plain = str(tmp_path / "plain.ms")
    casatasks.split(vis=ngc, outputvis=plain, datacolumn="data")
    src = read_columns(plain, "DATA", "FLAG")
    relcal_apply(vis=[plain], factor=[0.8], mode="inplace")
    got = read_columns(plain, "DATA", "CORRECTED_DATA", "FLAG")
    np.testing.assert_array_equal(got["DATA"], src["DATA"])
    np.testing.assert_array_equal(got["FLAG"], src["FLAG"])
    np.testing.assert_allclose(
        np.abs(ratio_where_nonzero(got["CORRECTED_DATA"], src["DATA"])), 0.8, rtol=1e-6
    )


def test_factorfile_is_matched_by_name(ngc, tmp_path):
    from almacal import relcal_apply

    ff = tmp_path / "fit.json"
    ff.write_text(json.dumps({"vis_factors": {"/elsewhere/ngc5921.ms": 1.05, "/x/other.ms": 2.0}}))
    rec = relcal_apply(vis=[ngc], factorfile=str(ff), dryrun=True)
    assert rec["rescale"][0]["factor"] == 1.05
    ff.write_text(json.dumps({"vis_factors": {"/a/ngc5921.ms": 1.05, "/b/ngc5921.ms": 0.9}}))
    with pytest.raises(ValueError, match="no epoch in factorfile"):  # two candidates: refuse
        relcal_apply(vis=[ngc], factorfile=str(ff), dryrun=True)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vis": ["nope.ms"], "factor": [1.1]}, FileNotFoundError, "vis"),
        ({"factor": [0.0]}, ValueError, "factor"),
        ({"factor": [-1.0]}, ValueError, "factor"),
        ({"factor": [float("nan")]}, ValueError, "factor"),
        ({"factor": [1.0, 1.1]}, ValueError, "factor has 2 values for 1 vis"),
        ({"factor": []}, ValueError, "factor"),
        ({"factor": [1.1], "factorfile": "x.json"}, ValueError, "factorfile"),
        ({"factorfile": "missing.json"}, FileNotFoundError, "factorfile"),
        ({"factorfile": "WRONG_EPOCHS"}, ValueError, "no epoch in factorfile"),
        ({"factor": [1.1], "outputvis": ["EXISTING"]}, FileExistsError, "outputvis"),
        ({"factor": [1.1], "outputvis": ["a.ms", "b.ms"]}, ValueError, "outputvis"),
        ({"factor": [1.1], "datacolumn": "corrected"}, ValueError, "datacolumn"),
        ({"factor": [1.1], "mode": "sideways"}, ValueError, "mode"),
        ({"factor": [2.5]}, ValueError, r"is 2.5, outside factorrange=\[0.5, 2\]"),
        ({"factor": [1e30], "force": True}, ValueError, "refused even with force=True"),
        ({"factor": [1.1], "factorrange": [2.0, 1.0]}, ValueError, "factorrange"),
        ({"factorfile": "TEXT_FACTOR"}, ValueError, r"text.json': the factor for vis .*not a num"),
    ],
)
def test_bad_input_names_parameter_and_touches_nothing(ngc, tmp_path, kwargs, error, match):
    from almacal import relcal_apply

    existing = tmp_path / "existing.ms"
    existing.mkdir()
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"vis_factors": {"/x/epoch1.ms": 1.0}}))
    text = tmp_path / "text.json"
    text.write_text(json.dumps({"vis_factors": {"/x/ngc5921.ms": "1.1 (check)"}}))
    subst = {"EXISTING": str(existing), "WRONG_EPOCHS": str(wrong), "TEXT_FACTOR": str(text)}
    kwargs = {
        k: (
            subst.get(v, v)
            if isinstance(v, str)
            else [subst.get(x, x) for x in v]
            if isinstance(v, list)
            else v
        )
        for k, v in kwargs.items()
    }
    kwargs.setdefault("vis", [ngc])
    before = fingerprint(ngc)
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(error, match=match):
        relcal_apply(**kwargs)
    assert fingerprint(ngc) == before
    assert sorted(os.listdir(tmp_path)) == listing
