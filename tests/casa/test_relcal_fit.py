"""relcal_fit on simulated ACA epochs with injected flux-scale errors."""

import json
import os
import shutil

import numpy as np
import pytest
from astropy.table import Table

from almacal.figures import DPI
from almacal.simulate import SERPENS_FIELDS
from tests.casa.msutil import fingerprint, read_columns
from tests.pngutil import assert_figure_png

pytestmark = pytest.mark.casa


def _fit(sim, tmp_path, **kw):
    from almacal import relcal_fit

    kw.setdefault("outfile", str(tmp_path / "fit"))
    return relcal_fit(vis=list(sim.paths), field=list(sim.calibrators), **kw)


def test_recovers_injected_epoch_factors(epoch_copies, tmp_path):
    sim = epoch_copies
    before = [fingerprint(p) for p in sim.paths]
    rec = _fit(sim, tmp_path)
    truth = sim.truth
    expected = np.array(truth["expected_flux_jy"])
    expected_sigma = np.array(truth["expected_sigma_jy"])
    flux, sig_w = np.array(rec["flux"]), np.array(rec["flux_sigma_weights"])
    # the simulator writes exact radiometer weights: weight-based sigma is the thermal sigma
    np.testing.assert_allclose(sig_w, expected_sigma, rtol=1e-6)
    # each flux is within 5 thermal sigma of the noise-free fit of the same visibilities
    assert np.all(np.abs(flux - expected) < 5 * expected_sigma)
    # correct weights: reduced chi2 ~ 1 (dof > 1e4 -> scatter < 0.02); allow 0.1
    assert np.all(np.abs(np.array(rec["chi2_red"]) - 1) < 0.1)
    rfcf, rfcf_sigma = np.array(rec["rfcf"]), np.array(rec["rfcf_sigma"])
    # propagated rFCF sigma from Eq. 2; allow 5 sigma, and the 0.3 % at demo noise
    assert np.all(rfcf_sigma > 0) and np.all(rfcf_sigma < 6e-4)
    assert np.all(np.abs(rfcf - sim.true_rfcf) < 5 * rfcf_sigma)
    assert np.all(np.abs(rfcf / sim.true_rfcf - 1) < 3e-3)
    assert np.ptp(sim.true_rfcf) > 0.1  # guard: the injected errors are large
    assert rec["date"] == [e["date"] for e in truth["epochs"]]
    assert [fingerprint(p) for p in sim.paths] == before  # read-only on the MSs


def test_outputs_table_json_plot_and_refuses_to_overwrite(epoch_copies, tmp_path):
    sim = epoch_copies
    rec = _fit(sim, tmp_path, perspw=True)
    t = Table.read(tmp_path / "fit.ecsv", format="ascii.ecsv")
    assert len(t) == len(sim.paths) * 4
    np.testing.assert_allclose(np.array(t["mcf"]).reshape(-1, 4), rec["mcf"])
    np.testing.assert_allclose(np.array(t["rfcf"])[::4], rec["rfcf"])
    assert t["flux_spw"].shape == (len(t), 4)
    js = json.loads((tmp_path / "fit.json").read_text())
    assert js["rfcf"] == pytest.approx(rec["rfcf"])
    assert set(js["vis_factors"]) == set(sim.paths)
    assert_figure_png(tmp_path / "fit.png", figsize_in=(9, 7.5), dpi=DPI)  # relcal/plot.py
    with pytest.raises(FileExistsError, match="outfile"):
        _fit(sim, tmp_path)
    _fit(sim, tmp_path, overwrite=True)


def test_per_spw_fluxes_follow_injected_spw_errors(simulated_variant, tmp_path):
    sim = simulated_variant(spw_scale_sigma=0.008, seed=5)
    rec = _fit(sim, tmp_path, perspw=True, outfile="")
    expected = np.array(sim.truth["expected_flux_spw_jy"])
    flux = np.array(rec["flux_spw"])
    # per spw the thermal sigma is ~2x the all-spw one; 5 sigma of the spw fit
    assert np.all(np.abs(flux - expected) < 5 * np.array(rec["flux_sigma_spw"]))
    # per spw the source spectrum cancels in Eq. 1: MCF_ijk = mean_l(s_l g_lk) / (s_i g_ik)
    # with s the epoch scales and g the injected spw scales
    gain = np.array([[e["flux_scale"] * g for g in e["spw_scale"]] for e in sim.truth["epochs"]])
    true_mcf_spw = gain.mean(axis=0) / gain  # (epoch, spw)
    assert np.ptp(true_mcf_spw / true_mcf_spw.mean(axis=1, keepdims=True)) > 0.01  # guard
    mcf_spw, mcf_sigma_spw = np.array(rec["mcf_spw"]), np.array(rec["mcf_sigma_spw"])
    assert mcf_spw.shape == (len(sim.paths), 4, 4)
    # every calibrator sees the same spw errors, within 5 sigma of Eq. 2 per spw
    assert np.all(np.abs(mcf_spw - true_mcf_spw[:, None, :]) < 5 * mcf_sigma_spw)
    assert rec["spw"] == [0, 1, 2, 3]
    np.testing.assert_allclose(rec["spw_freq_hz"], sim.truth["spw_freq_hz"], rtol=1e-3)


def test_weight_spectrum_is_honoured_and_nan_dropped(simulated_variant, tmp_path):
    import casatools

    src = simulated_variant(weight_spectrum=True, n_epoch=2, seed=3)
    sim_dir = tmp_path / "ws"
    shutil.copytree(os.path.dirname(src.paths[0]), sim_dir)
    paths = [str(sim_dir / os.path.basename(p)) for p in src.paths]
    tb = casatools.table()
    tb.open(paths[0], nomodify=False)
    data, ws = tb.getcol("DATA"), tb.getcol("WEIGHT_SPECTRUM")
    data[:, 0, :] = 1e3  # garbage in channel 0 ...
    ws[:, 0, :] = 0.0  # ... that WEIGHT_SPECTRUM says to ignore
    data[0, 1, ::7] = np.nan  # and non-finite points
    tb.putcol("DATA", data)
    tb.putcol("WEIGHT_SPECTRUM", ws)
    tb.close()
    from almacal import relcal_fit

    rec = relcal_fit(vis=paths, field=list(src.calibrators), outfile="")
    flux = np.array(rec["flux"])
    assert np.all(np.isfinite(flux))
    # Stokes I points used: in the first MS the n_chan - 1 channels with weight less the
    # NaN ones (a NaN in XX makes I NaN), in the second every channel; per calibrator
    names = [f.name for f in SERPENS_FIELDS]
    n_chan = src.truth["n_chan"]
    expected_n = []
    for k, path in enumerate(paths):
        field_id = read_columns(path, "FIELD_ID")["FIELD_ID"]
        nan_row = np.zeros(field_id.size, bool)
        nan_row[::7] = k == 0
        rows = [field_id == names.index(c) for c in src.calibrators]
        expected_n.append([(n_chan - (k == 0)) * r.sum() - nan_row[r].sum() for r in rows])
    assert np.min(expected_n) > 0
    np.testing.assert_array_equal(rec["n_vis"], expected_n)
    # one of n_chan channels dropped: sigma grows by sqrt(n_chan / (n_chan - 1)); 5 sigma
    tol = 5 * np.sqrt(n_chan / (n_chan - 1)) * np.array(src.truth["expected_sigma_jy"])
    assert np.all(np.abs(flux - np.array(src.truth["expected_flux_jy"])) < tol)


def test_exclude_and_groupby_day(epoch_copies, tmp_path):
    sim = epoch_copies
    full = _fit(sim, tmp_path, outfile="")
    ex = _fit(sim, tmp_path, outfile="", exclude=["2:SMM9"])
    assert ex["used"][1][0] is False and ex["n_used"][1] == 3
    mcf = np.array(full["mcf"])
    assert ex["rfcf"][1] == pytest.approx(mcf[1, 1:].mean())
    assert ex["rfcf"][0] == pytest.approx(full["rfcf"][0])  # other epochs unchanged

    twin = str(tmp_path / "twin_of_epoch1.ms")
    shutil.copytree(sim.paths[0], twin)
    from almacal import relcal_fit

    day = relcal_fit(vis=[*sim.paths, twin], field=list(sim.calibrators), groupby="day", outfile="")
    assert len(day["epoch"]) == len(sim.paths) and sorted(day["vis"][0]) == sorted(
        [sim.paths[0], twin]
    )
    # two identical copies: same flux, sigma smaller by sqrt(2)
    np.testing.assert_allclose(day["flux"], full["flux"], rtol=1e-9)
    np.testing.assert_allclose(
        np.array(day["flux_sigma_weights"])[0], np.array(full["flux_sigma_weights"])[0] / 2**0.5
    )


def test_chain_fit_apply_refit_gives_unity(epoch_copies, tmp_path):
    from almacal import relcal_apply, relcal_fit

    sim = epoch_copies
    _fit(sim, tmp_path)
    applied = relcal_apply(vis=list(sim.paths), factorfile=str(tmp_path / "fit.json"))
    outs = [r["outputvis"] for r in applied["rescale"]]
    refit = relcal_fit(vis=outs, field=list(sim.calibrators), datacolumn="corrected", outfile="")
    rfcf, sig = np.array(refit["rfcf"]), np.array(refit["rfcf_sigma"])
    # after rescaling all epochs agree: rFCF = 1 within 5 propagated sigma
    assert np.all(np.abs(rfcf - 1) < 5 * sig) and np.all(sig > 0)
    assert np.all(np.abs(rfcf - 1) < 3e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vis": ["missing.ms", "FIRST"]}, FileNotFoundError, "vis"),
        ({"vis": ["FIRST", "FIRST"]}, ValueError, "vis lists the same"),
        ({"vis": ["FIRST"]}, ValueError, "at least two"),
        ({"field": ["SMM9", "NOSUCH"]}, ValueError, "field 'NOSUCH' not found"),
        ({"field": []}, ValueError, "field"),
        ({"spw": "7"}, ValueError, "spw"),
        ({"spw": "0:x~y"}, ValueError, "spw"),
        ({"datacolumn": "corrected"}, ValueError, "datacolumn"),
        ({"datacolumn": "model"}, ValueError, "datacolumn"),
        ({"uvrange": "10~5m"}, ValueError, "uvrange"),
        ({"uvrange": ">1e9m"}, ValueError, "uvrange"),
        ({"exclude": ["9:SMM9"]}, ValueError, "exclude"),
        ({"exclude": ["1:SMM1"]}, ValueError, "exclude"),
        ({"outfile": "/no/such/dir/fit"}, FileNotFoundError, "outfile"),
        ({"outfile": "EXISTING"}, FileExistsError, "outfile"),
        ({"groupby": "week"}, ValueError, "groupby"),
    ],
)
def test_bad_input_names_parameter(epoch_copies, tmp_path, kwargs, error, match):
    from almacal import relcal_fit

    sim = epoch_copies
    (tmp_path / "existing.json").write_text("{}")
    subst = {"FIRST": sim.paths[0], "EXISTING": str(tmp_path / "existing")}
    args = {"vis": list(sim.paths), "field": list(sim.calibrators), "outfile": ""}
    for k, v in kwargs.items():
        args[k] = [subst.get(x, x) for x in v] if isinstance(v, list) else subst.get(v, v)
    before = [fingerprint(p) for p in sim.paths]
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(error, match=match):
        relcal_fit(**args)
    assert [fingerprint(p) for p in sim.paths] == before
    assert sorted(os.listdir(tmp_path)) == listing


def test_all_flagged_field_is_excluded_in_its_epoch(epoch_copies, tmp_path):
    """A calibrator flagged throughout one epoch leaves that epoch's rFCF with its reason
    (issue 11: it used to stop the run, even when exclude named it); the other epochs
    keep theirs, since its Eq. 1 flux there is predicted by the other calibrators."""
    import casatools

    from almacal import relcal_fit

    sim = epoch_copies
    tb = casatools.table()
    tb.open(sim.paths[2], nomodify=False)
    sub = tb.query("FIELD_ID IN [select rowid() from ::FIELD where NAME=='SMM4']")
    n = sub.nrows()
    sub.putcol("FLAG", np.ones_like(sub.getcol("FLAG")))
    sub.close()
    tb.close()
    assert n > 0  # guard: rows were flagged
    before = [fingerprint(p) for p in sim.paths]
    rec = relcal_fit(vis=list(sim.paths), field=list(sim.calibrators), outfile="")
    assert rec["exclusions"] == [
        {"epoch": 3, "field": "SMM4", "reason": f"all data flagged in {sim.paths[2]}"}
    ]
    assert rec["used"][2] == [True, False, True, True]
    rfcf, sig = np.array(rec["rfcf"]), np.array(rec["rfcf_sigma"])
    assert np.all(np.abs(rfcf - sim.true_rfcf) < 5 * sig) and np.all(sig > 0)  # 5 sigma
    # named in exclude as well: the same (it used to be fatal either way)
    ex = relcal_fit(vis=list(sim.paths), field=list(sim.calibrators), outfile="",
                    exclude=["3:SMM4"])  # fmt: skip
    assert ex["rfcf"] == rec["rfcf"] and len(ex["exclusions"]) == 1
    assert [fingerprint(p) for p in sim.paths] == before
