"""spwconsistency on simulated ACA epochs with injected spw errors and spectral slopes."""

import json

import numpy as np
import pytest
from astropy.table import Table

from almacal.figures import DPI
from almacal.simulate import SPW_CENTRE_HZ
from tests.casa.msutil import fingerprint
from tests.pngutil import assert_figure_png
from tests.unit.spwcons_synth import synthetic_record

pytestmark = pytest.mark.casa


def _relcal_json(sim, tmp_path, name="fit", exclude=()):
    from almacal import relcal_fit

    out = tmp_path / name
    relcal_fit(
        vis=list(sim.paths),
        field=list(sim.calibrators),
        perspw=True,
        exclude=list(exclude),
        outfile=str(out),
    )
    return str(out) + ".json"


def _realised_sigma_spw(truth):
    """What sigma_spw should measure from the injected per-(epoch, spw) scales g: Eq. 1
    centres them over epochs and the all-spw normalization over spws, so their
    double-centred rms with (n_epoch - 1)(n_spw - 1) degrees of freedom."""
    log_g = np.log([e["spw_scale"] for e in truth["epochs"]])
    centred = log_g - log_g.mean(axis=0) - log_g.mean(axis=1, keepdims=True) + log_g.mean()
    n_e, n_s = log_g.shape
    return float(np.sqrt((centred**2).sum() / ((n_e - 1) * (n_s - 1))))


def test_recovers_injected_spw_error_and_fit_noise(simulated_variant, tmp_path):
    sim = simulated_variant(spw_scale_sigma=0.008, seed=5)  # shared with test_relcal_fit
    # a pair left out of the rFCF stays in the spw analysis and is reported
    resultfile = _relcal_json(sim, tmp_path, exclude=[f"2:{sim.calibrators[0]}"])
    from almacal import spwconsistency

    rec = spwconsistency(resultfile=resultfile, outfile=str(tmp_path / "spw"))
    assert rec["rfcf_excluded"] == [
        {"epoch": 2, "field": sim.calibrators[0], "reason": "exclude (user)"}
    ]
    dec = rec["decomposition"]
    truth = sim.truth
    # fit noise: the simulator's exact radiometer weights give each per-spw flux its sigma;
    # the injected per-point noise is their rms relative value
    with open(resultfile, encoding="utf-8") as fh:
        fits = json.load(fh)
    flux = np.array(fits["flux_spw"])
    known_fit = float(np.sqrt(np.mean((np.array(fits["flux_sigma_spw"]) / flux) ** 2)))
    # dof 54, fewer effectively (SMM11 is 3x noisier than SMM9): the reported error is
    # ~12 %; allow 3 of them
    assert abs(dec["sigma_fit"]["sigma"] - known_fit) < 3 * dec["sigma_fit"]["error"]
    # this realisation's noise, flux vs the noise-free fit of the same visibilities, is
    # known exactly; only the centring's loss of dof separates the estimate from it: 2 errors
    realised_fit = float(
        np.sqrt(np.mean((flux / np.array(truth["expected_flux_spw_jy"]) - 1) ** 2))
    )
    assert abs(dec["sigma_fit"]["sigma"] - realised_fit) < 2 * dec["sigma_fit"]["error"]
    # spw error: 28 injected scales (7 epochs x 4 spws) -> compare with their realised,
    # double-centred rms; the estimator's error (dof 18, ~17 %, which also covers the
    # sampling of the scales themselves) is reported; allow 3 of them
    realised = _realised_sigma_spw(truth)
    assert abs(dec["sigma_spw"]["sigma"] - realised) < 3 * dec["sigma_spw"]["error"]
    assert dec["sigma_spw"]["detected"] and realised > 3 * known_fit  # guard: a real effect
    assert rec["spw_freq_hz"] == pytest.approx(list(SPW_CENTRE_HZ), rel=1e-3)
    # Sect. 4.1 from the output: sigma_alpha between the outer spws at sigma_F = sigma_spw
    s = rec["spectral_index_sigma"]
    expected = np.sqrt(2) * dec["sigma_spw"]["sigma"] / np.log(350.5 / 336.5)
    assert s["sigma_alpha"] == pytest.approx(expected, rel=1e-3)
    assert all(0.0 <= v <= 1.0 for v in rec["qa"].values())
    # outputs: two tables, the record as JSON, three figures
    t = Table.read(tmp_path / "spw.ecsv", format="ascii.ecsv")
    assert len(t) == 7 * 4 * 4
    np.testing.assert_allclose(np.array(t["norm_mcf"]).reshape(7, 4, 4), rec["norm_mcf"])
    ep = Table.read(tmp_path / "spw_epochs.ecsv", format="ascii.ecsv")
    np.testing.assert_allclose(ep["alpha"], rec["powerlaw"]["alpha"])
    assert json.loads((tmp_path / "spw.json").read_text())["qa"] == rec["qa"]
    # spwcons/plot.py: 7 epochs in 2 rows of 4 panels of 3.6 x 3.3 in (+0.9 in of legend);
    # the histograms; MC
    figures = {"mcf": (4 * 3.6, 2 * 3.3 + 0.9), "hist": (13, 4.6), "mc": (9, 5.4)}
    for fig, size in figures.items():
        assert_figure_png(tmp_path / f"spw_{fig}.png", figsize_in=size, dpi=DPI)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        spwconsistency(resultfile=resultfile, outfile=str(tmp_path / "spw"))
    again = spwconsistency(resultfile=resultfile, outfile=str(tmp_path / "spw"), overwrite=True)
    assert again["powerlaw"]["alpha"] == rec["powerlaw"]["alpha"]  # seeded: same numbers


def test_from_vis_without_spw_error_gives_sigma_spw_consistent_with_zero(simulated_set, tmp_path):
    from almacal import spwconsistency

    before = [fingerprint(p) for p in simulated_set.paths]
    rec = spwconsistency(
        vis=list(simulated_set.paths), field=list(simulated_set.calibrators), outfile=""
    )
    assert not rec["decomposition"]["sigma_spw"]["detected"]
    # at ~0.25 % fit noise the 95 % limit is well below the seed's 0.8 %
    assert rec["decomposition"]["sigma_spw"]["upper95"] < 0.004
    assert not any(rec["montecarlo"]["slope_flagged"])
    assert rec["qa"]["spectral_slope"] == 1.0
    assert [fingerprint(p) for p in simulated_set.paths] == before  # read-only
    assert list(tmp_path.iterdir()) == []  # outfile='' writes nothing


def test_injected_slope_in_one_epoch_is_flagged_with_its_sign(simulated_set_factory, tmp_path):
    from almacal import spwconsistency

    x = np.array(SPW_CENTRE_HZ) / np.exp(np.log(SPW_CENTRE_HZ).mean())
    factor = np.ones((4, 4))
    factor[1] = x**1.5  # epoch 2's fluxes x nu^1.5: 6 % across the band
    sim = simulated_set_factory(
        n_epoch=4, spw_scale_sigma=0.002, spw_scale_factor=factor.tolist(), seed=3
    )
    applied = np.array([e["spw_scale"] for e in sim.truth["epochs"]])
    assert np.all(np.abs(applied / factor - 1) < 0.01)  # truth: drawn N(1, 0.2 %) x factor
    rec = spwconsistency(vis=list(sim.paths), field=list(sim.calibrators), outfile="")
    alpha = np.array(rec["powerlaw"]["alpha"])
    sigma_alpha = rec["montecarlo"]["sigma_alpha"]
    # MCFs are corrections: alpha = -1.5 + 1.5/4 (Eq. 1 spreads 1/n_epoch of it); MC 3 sigma
    assert abs(alpha[1] - (-1.5 + 1.5 / 4)) < 3 * sigma_alpha
    assert rec["montecarlo"]["p_all_epochs"][1] < 0.01
    assert rec["montecarlo"]["slope_flagged"] == [False, True, False, False]
    assert rec["powerlaw"]["consistent_with_zero"][1] is False
    assert rec["qa"]["spectral_slope"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "give resultfile"),
        ({"resultfile": "R", "vis": ["a.ms"]}, ValueError, "not both"),
        ({"resultfile": "R", "spw": "0,1"}, ValueError, "spw='0,1': only used when"),
        ({"resultfile": "/no/such.json"}, FileNotFoundError, "resultfile"),
        ({"resultfile": "R", "siglevel": 0.0}, ValueError, "siglevel"),
        ({"resultfile": "R", "nmc": 10}, ValueError, "nmc=10 .*>= 100"),
        ({"resultfile": "ONESPW"}, ValueError, "1 spectral windows"),
        ({"resultfile": "NOSPW"}, ValueError, "perspw=True"),
        ({"vis": ["/no/a.ms", "/no/b.ms"], "field": "SMM9,SMM4"}, FileNotFoundError, "vis"),
        ({"vis": ["x.ms"]}, ValueError, "field must name"),
        ({"vis": ["a.ms", "b.ms"], "field": ["SMM9"]}, ValueError, "field=.*at least two"),
        ({"vis": ["a.ms"], "field": "SMM9,SMM4"}, ValueError, "vis=.*one epoch"),
        ({"resultfile": "R", "outfile": "/no/dir/out"}, FileNotFoundError, "outfile"),
        (
            {"resultfile": "R", "outfile": "R", "overwrite": True},
            ValueError,
            "overwrite resultfile",
        ),
    ],
    ids=[
        "nothing",
        "both",
        "fit-param-with-file",
        "missing-file",
        "siglevel",
        "nmc",
        "one-spw",
        "no-perspw",
        "missing-ms",
        "no-field",
        "one-field",
        "one-vis",
        "outdir",
        "outfile-is-input",
    ],
)
def test_bad_input_names_the_parameter(tmp_path, monkeypatch, kwargs, error, match):
    from almacal import spwconsistency

    monkeypatch.chdir(tmp_path)  # the default outfile, 'spwconsistency', lands here
    rng = np.random.default_rng(0)
    files = {
        "R": synthetic_record(rng),
        "ONESPW": synthetic_record(rng, freq_hz=np.array([343.5e9])),
        "NOSPW": {k: v for k, v in synthetic_record(rng).items() if not k.endswith("_spw")},
    }
    if kwargs.get("resultfile") in files:
        path = tmp_path / f"{kwargs['resultfile']}.json"
        path.write_text(json.dumps(files[kwargs["resultfile"]]))
        kwargs = kwargs | {"resultfile": str(path)}
        if kwargs.get("outfile") == "R":  # the relcal_fit stem of that file
            kwargs = kwargs | {"outfile": str(path)[: -len(".json")]}
    before = sorted(tmp_path.iterdir())
    with pytest.raises(error, match=match):
        spwconsistency(**kwargs)
    assert sorted(tmp_path.iterdir()) == before  # refused before any output was written


@pytest.mark.parametrize(
    ("spw", "match"),
    [
        # the MS has spws 0-3: name the spw and what exists (not "selects one spectral window")
        ("9", r"spw '9' does not select data in .*ep01_20181014\.ms: .*; its spws are 0 "
              r"\(336\.500 GHz, 16 channels\), 1 .*, 3 \(350\.500 GHz, 16 channels\)"),
        ("2:4~12", r"spw='2:4~12' selects 1 spectral window \(2\) of .*ep01_20181014\.ms; "
                   r"spwconsistency needs at least two"),
        ("0,1:100~200", r"spw '0,1:100~200': channels 100~200 lie outside spw 1 of .*, which "
                        r"has 16 channels \(0~15\)"),
    ],
    ids=["no-such-spw", "one-spw-selected", "channels-outside"],
)  # fmt: skip
def test_spw_selection_is_checked_against_the_mss_before_any_fit(
    simulated_set, tmp_path, monkeypatch, spw, match
):
    from almacal import spwconsistency

    monkeypatch.chdir(tmp_path)
    paths = list(simulated_set.paths[:3])
    before = [fingerprint(p) for p in paths]
    with pytest.raises(ValueError, match=match):
        spwconsistency(vis=paths, field=list(simulated_set.calibrators), spw=spw)
    assert [fingerprint(p) for p in paths] == before
    assert sorted(tmp_path.iterdir()) == []  # nothing written
