"""relcal_fit's real-world options (issue 6) on simulated epochs with one injected defect each.

Every test shows the defect biasing the plain fit (so a broken option cannot
pass) and the matching option removing the bias. Sets are 3-4 test-size epochs.
"""

import os

import numpy as np
import pytest

from tests.casa.msutil import fingerprint

pytestmark = pytest.mark.casa

CALS = ["SMM9", "SMM4", "SMM3", "SMM11"]
FLUX_SCALE = [1.0, 0.92, 1.06, 0.97]


def _fit(sim, **kw):
    from almacal import relcal_fit

    kw.setdefault("outfile", "")
    return relcal_fit(vis=list(sim.paths), field=CALS, **kw)


def _dev(rec, sim):
    """rFCF - truth per epoch, and the propagated sigma."""
    return np.array(rec["rfcf"]) - sim.true_rfcf, np.array(rec["rfcf_sigma"])


@pytest.fixture(scope="module")
def phase_noise_set(simulated_set_factory):
    # 23 deg per antenna and integration (20.2 s) in epoch 2: baseline phases of
    # 32 deg rms decorrelate by exp(-0.4^2) ~ 0.85, the paper's ~15 %
    return simulated_set_factory(
        n_epoch=3, flux_scale=FLUX_SCALE[:3], epoch_phase_rms_deg=[0.0, 23.0, 0.0], seed=61
    )


def _listing(sim):
    d = os.path.dirname(sim.paths[0])
    return sorted(os.listdir(d))


def test_selfcal_removes_decorrelation_bias(phase_noise_set):
    sim = phase_noise_set
    before = [fingerprint(p) for p in sim.paths]
    listing = _listing(sim)
    plain = _fit(sim)
    sc = _fit(sim, selfcal=True)
    d_plain, _ = _dev(plain, sim)
    d_sc, sig = _dev(sc, sim)
    # residual decorrelation after selfcal: the faintest calibrator (0.3 Jy) has a
    # per-antenna, per-integration, per-spw SNR ~17, phase error ~0.04 rad, so
    # < 0.2 % loss, the same in every epoch to ~0.1 %; with the propagated sigma
    # (~5e-4) the tolerance is 5 sigma + 0.2 %
    tol = 5 * sig + 2e-3
    assert np.all(np.abs(d_sc) < tol), (d_sc, tol)
    # guard: without selfcal epoch 2 is off by > 5 % (decorrelation ~15 %)
    assert abs(d_plain[1]) > 0.05 and abs(d_plain[1]) > 10 * tol[1]
    f0, f1 = np.array(sc["selfcal_flux_before"]), np.array(sc["selfcal_flux_after"])
    gain = f1 / f0
    # epoch 2 gains ~1/0.85 (15-20 %); the clean epochs gain < 0.5 %
    assert np.all((gain[1] > 1.12) & (gain[1] < 1.22)), gain
    assert np.all(np.abs(gain[[0, 2]] - 1) < 5e-3), gain
    rms = np.array(sc["selfcal_phase_rms_deg"])  # (epoch, cal, round)
    assert rms.shape == (3, 4, 3) and sc["selfcal_solint"] == ["inf", "20.2s", "5.05s"]
    # the 20.2 s round solves sqrt(2) x 23 = 33 deg (antenna minus reference antenna)
    assert np.all((rms[1, :, 1] > 27) & (rms[1, :, 1] < 39)), rms[1]
    assert np.all(rms[[0, 2], :, 1] < 8)  # only thermal phase noise elsewhere
    assert sc["selfcal_seconds"] > 0
    # the user's MSs and their directory are untouched (scratch copy removed)
    assert [fingerprint(p) for p in sim.paths] == before
    assert _listing(sim) == listing


def test_selfcal_combined_spw_T_and_refant(phase_noise_set):
    sim = phase_noise_set
    sc = _fit(
        sim, selfcal=True, solint=["20.2s"], combine="spw", gaintype="T", refant="CM03", minsnr=2.0
    )
    d, sig = _dev(sc, sim)
    # one spw-combined solution has 4x the data of a per-spw one: tolerance as above
    assert np.all(np.abs(d) < 5 * sig + 2e-3), d
    assert sc["selfcal_refant"] == ["CM03"] * 3
    assert np.array(sc["selfcal_phase_rms_deg"]).shape == (3, 4, 1)


def test_selfcal_bad_solint_is_refused_before_work(phase_noise_set):
    with pytest.raises(ValueError, match="solint 'sometimes'"):
        _fit(phase_noise_set, selfcal=True, solint=["inf", "sometimes"])


def test_fitspw_auto_drops_line_channels(simulated_set_factory):
    # SMM9 has a line in spw 0 whose peak changes between epochs (3 Jy, 0, 1 Jy);
    # a line constant in every epoch would scale with the flux scale and cancel in Eq. 1
    sim = simulated_set_factory(
        n_epoch=3, flux_scale=FLUX_SCALE[:3], line_peak_jy=[3.0, 0.0, 1.0], seed=62
    )
    plain = _fit(sim)
    auto = _fit(sim, fitspw="auto")
    d_plain, sig_p = _dev(plain, sim)
    d_auto, sig = _dev(auto, sim)
    # 5 propagated sigma (line channels removed cost ~5 % of SMM9's data)
    assert np.all(np.abs(d_auto) < 5 * sig), (d_auto, sig)
    assert np.max(np.abs(d_plain)) > 10 * np.max(sig_p)  # guard: the line biases the plain fit
    lines = auto["line_channels"]
    assert set(lines) == {"SMM9"} and set(lines["SMM9"]) == {"0"}
    # line centred on channel 8 of 16, FWHM 1.7 channels: 3 Jy x 2 % at +-2 channels
    # is still > 5 sigma (4.5 mJy per channel), so 6-10 clipped, +1 padding
    assert {7, 8, 9} <= set(lines["SMM9"]["0"]) and len(lines["SMM9"]["0"]) <= 8


@pytest.fixture(scope="module")
def scaled_aca(tmp_path_factory):
    """The ACA cycle 7 pads stretched x3 and x1.5 about their centre: two more
    extended configurations with the same antennas."""
    import casadata

    from almacal.simulate import ACA_CONFIG

    src = os.path.join(casadata.datapath, ACA_CONFIG)
    with open(src, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    rows = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    xyz = np.array([[float(v) for v in r[:3]] for r in rows])
    out = {}
    for factor in (3.0, 1.5):
        c = xyz.mean(axis=0)
        new = xyz.copy()
        new[:, :2] = c[:2] + factor * (xyz[:, :2] - c[:2])
        path = tmp_path_factory.mktemp("cfg") / f"aca_x{factor}.cfg"
        body = [
            " ".join([*(f"{v:.4f}" for v in p), *r[3:]]) for p, r in zip(new, rows, strict=True)
        ]
        path.write_text("\n".join(head + body) + "\n")
        out[factor] = str(path)
    return out


@pytest.fixture(scope="module")
def two_config_set(simulated_set_factory, scaled_aca):
    # calibrators with a 25 % Gaussian envelope (FWHM 8"); epoch 2 on pads x3
    # (27-135 m), epochs 1 and 3 on the ACA (9-45 m)
    return simulated_set_factory(
        n_epoch=3,
        flux_scale=FLUX_SCALE[:3],
        extended_fraction=0.25,
        antenna_config=[None, scaled_aca[3.0], None],
        seed=63,
    )


def test_uvrange_common_removes_configuration_bias(two_config_set):
    sim = two_config_set
    plain = _fit(sim)
    common = _fit(sim, uvrange="common")
    d_plain, sig_p = _dev(plain, sim)
    d, sig = _dev(common, sim)
    lo, hi = common["uvrange_klambda"]
    # shortest x3 baseline 27 m and longest ACA one 45 m at 336-351 GHz
    assert 28 < lo < 33 and 49 < hi < 54, (lo, hi)
    # the envelope is < 1 % of its flux beyond 30 klambda (0.25 x 1 % = 0.25 % of the
    # total, in all epochs alike): 5 propagated sigma + 0.1 %
    assert np.all(np.abs(d) < 5 * sig + 1e-3), (d, sig)
    assert np.max(np.abs(d_plain)) > 0.01 and np.max(np.abs(d_plain)) > 20 * np.max(sig_p)


def test_modelcheck_matches_truth_over_common_bins(two_config_set):
    sim = two_config_set
    rec = _fit(sim, modelcheck=True)
    check = np.array(rec["check_rfcf"])
    sig = np.sqrt(np.nansum(np.array(rec["check_mcf_sigma"]) ** 2, axis=1)) / 4
    # model-free: each bin's ratio is free of the envelope; 5 sigma + 0.1 % (bin
    # averaging of a 6 % wide bin across 30-50 klambda, envelope < 0.25 %)
    assert np.all(np.abs(check - sim.true_rfcf) < 5 * sig + 1e-3), (check, sim.true_rfcf)
    lo, hi = rec["check_uv_klambda"]
    assert 25 < lo and hi < 60
    # the point fit of the same call is biased (guard)
    assert np.max(np.abs(np.array(rec["rfcf"]) - sim.true_rfcf)) > 0.01


def test_point_plus_gaussian_model_uses_total_flux(simulated_set_factory, scaled_aca):
    # epoch 2 on pads x1.5 (13-67 m): both configurations see the envelope on short
    # baselines (visibility 0.3 at 13 m), so the total flux is constrained in each;
    # noise / 4 so that the point, Gaussian and FWHM separate to < 0.5 % in the total
    sim = simulated_set_factory(
        n_epoch=3,
        flux_scale=FLUX_SCALE[:3],
        noise_scale=0.25,
        extended_fraction=0.5,
        antenna_config=[None, scaled_aca[1.5], None],
        seed=64,
    )
    plain = _fit(sim)
    pg = _fit(sim, model="point+gaussian", modelcheck=True)
    d_plain, _ = _dev(plain, sim)
    d, sig = _dev(pg, sim)
    # sigma of the total flux from the fit covariance, propagated by Eq. 2-3; 5 sigma
    assert np.all(np.abs(d) < 5 * sig), (d, sig)
    assert np.max(np.abs(d_plain)) > 5 * np.max(sig) and np.max(np.abs(d_plain)) > 0.01
    fwhm = np.array(pg["model_fwhm_arcsec"])
    np.testing.assert_allclose(np.nanmedian(fwhm), 8.0, rtol=0.15)
    # the model-free check on the same data, where the envelope is steep in the
    # common bins (visibility 0.3 -> 0.05 over 15-25 klambda): per-spw bin ratios,
    # 5 sigma + 0.1 % for the q distribution within a 6 % wide bin
    check = np.array(pg["check_rfcf"])
    check_sig = np.sqrt(np.nansum(np.array(pg["check_mcf_sigma"]) ** 2, axis=1)) / 4
    assert np.all(np.abs(check - sim.true_rfcf) < 5 * check_sig + 1e-3), check
    flux = np.array(pg["flux"])
    np.testing.assert_allclose(
        flux, np.array(pg["model_flux_point"]) + np.array(pg["model_flux_gaussian"])
    )


@pytest.fixture(scope="module")
def variable_set(simulated_set_factory):
    # SMM3 (CAL 3) is 30 % brighter in epoch 2 only
    scale = np.ones((4, 4))
    scale[1, 2] = 1.3
    return simulated_set_factory(
        n_epoch=4, flux_scale=FLUX_SCALE, cal_flux_scale=scale.tolist(), seed=65
    )


def test_variable_calibrator_rejected_automatically(variable_set, tmp_path):
    import json

    sim = variable_set
    plain = _fit(sim)
    rej = _fit(sim, rejectsigma=5.0, outfile=str(tmp_path / "rej"))
    d_plain, sig_p = _dev(plain, sim)
    d, sig = _dev(rej, sim)
    assert rej["exclusions"] == [
        {"epoch": 2, "field": "SMM3", "reason": rej["exclusions"][0]["reason"]}
    ]
    assert "MCF outlier" in rej["exclusions"][0]["reason"]
    assert rej["used"][1][2] is False and rej["dropped"][1][2] is True
    # every epoch within 5 propagated sigma of the truth once SMM3 in epoch 2 is out
    assert np.all(np.abs(d) < 5 * sig), (d, sig)
    # guard: the variable pair (MCF 1.075 / 1.3 = 0.83) biases epoch 2 by ~4.5 % and,
    # through SMM3's mean flux, the others by ~2 %
    assert abs(d_plain[1]) > 0.03 and np.all(np.abs(np.delete(d_plain, 1)) > 10 * sig_p[0])
    stab = np.array(rej["stability_chi2"])
    assert np.all(stab < 5)  # all calibrators stable once the outlier is gone
    js = json.loads((tmp_path / "rej.json").read_text())
    assert js["exclusions"] == rej["exclusions"] and set(js["vis_factors"]) == set(sim.paths)


def test_family_search_excludes_the_variable_calibrator(variable_set):
    sim = variable_set
    fam = _fit(sim, minfamily=3, exclude=["1:SMM4"])
    assert fam["family"] == ["SMM9", "SMM4", "SMM11"]
    reasons = {(e["epoch"], e["field"]): e["reason"] for e in fam["exclusions"]}
    assert reasons[(1, "SMM4")] == "exclude (user)"
    assert all("best-agreeing family" in reasons[(i, "SMM3")] for i in range(1, 5))
    # SMM3 out of every epoch: the other epochs are unbiased; epoch 2 too (5 sigma)
    d, sig = _dev(fam, sim)
    assert np.all(np.abs(d) < 5 * sig), (d, sig)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rejectsigma": 1.0}, "rejectsigma"),
        ({"rejectsigma": -1.0}, "rejectsigma"),
        ({"minfamily": 1}, "minfamily"),
        ({"minfamily": 5}, "minfamily"),
        ({"model": "disk"}, "model"),
        ({"fitspw": "0:1~3"}, "fitspw"),
        ({"combine": "scan"}, "combine"),
    ],
)
def test_bad_options_name_the_parameter(variable_set, kwargs, match):
    with pytest.raises(ValueError, match=match):
        _fit(variable_set, **kwargs)


# east, north arcsec of each calibrator's emission from its phase centre
OFFSETS = {"SMM9": (0.8, -0.5), "SMM4": (-1.2, 0.6), "SMM3": (0.5, 1.0), "SMM11": (1.5, -1.0)}


@pytest.fixture(scope="module")
def offset_set(simulated_set_factory, scaled_aca):
    # every calibrator 0.9-1.8" off its phase centre; epoch 2 on pads x1.5 (13-67 m),
    # so the loss of a phase-centre fit differs between epochs and biases the rFCF
    return simulated_set_factory(
        n_epoch=3,
        flux_scale=FLUX_SCALE[:3],
        antenna_config=[None, scaled_aca[1.5], None],
        source_offset_arcsec=OFFSETS,
        seed=66,
    )


def _true_total_flux(sim):
    """flux_jy x flux_scale x the channel mean of (nu / nu0)^alpha: what a point fit at
    the true position returns (equal weights in every channel and spw)."""
    from almacal.simulate import REF_FREQ_HZ, channel_frequencies

    tr = sim.truth
    nu = channel_frequencies(tr["n_chan"]) / REF_FREQ_HZ
    return np.array(
        [
            [
                tr["fields"][c]["flux_jy"]
                * e["flux_scale"]
                * np.mean(nu ** tr["fields"][c]["spectral_index"])
                for c in CALS
            ]
            for e in tr["epochs"]
        ]
    )


def test_fitposition_recovers_offsets_and_total_flux(offset_set, tmp_path):
    import json

    from astropy.table import Table

    sim = offset_set
    assert sim.truth["source_offset_arcsec"] == {k: list(v) for k, v in OFFSETS.items()}
    plain = _fit(sim)
    pos = _fit(sim, fitposition=True, outfile=str(tmp_path / "pos"))
    total = _true_total_flux(sim)
    f_plain = np.array(plain["flux"])
    # guard: at the phase centre the fit loses 11-64 % (phase 2 pi q r ~ 1 rad at
    # 30 klambda for 1.4"), far beyond noise, and the noise-free ideal fit agrees
    assert np.all(f_plain < 0.9 * total), f_plain / total
    np.testing.assert_allclose(f_plain, sim.truth["expected_flux_jy"], rtol=0.01)
    d_plain, sig_p = _dev(plain, sim)
    assert np.max(np.abs(d_plain)) > 0.05 and np.max(np.abs(d_plain)) > 50 * np.max(sig_p)

    f, f_sig = np.array(pos["flux"]), np.array(pos["flux_sigma"])
    # 5 fitted sigma (0.6-1 mJy) + the cell-averaging bound 6e-4 of the flux (uvgrid)
    assert np.all(np.abs(f - total) < 5 * f_sig + 6e-4 * total), (f - total) / f_sig
    d, sig = _dev(pos, sim)
    assert np.all(np.abs(d) < 5 * sig + 6e-4), (d, sig)  # rFCF: 5 propagated sigma
    dra, ddec = np.array(pos["model_dra_arcsec"]), np.array(pos["model_ddec_arcsec"])
    sra, sdec = np.array(pos["model_dra_sigma_arcsec"]), np.array(pos["model_ddec_sigma_arcsec"])
    true = np.array([OFFSETS[c] for c in CALS])
    # offsets: 5 sigma (1-3 mas; beam ~4" / SNR ~1000) in every epoch
    assert np.all(np.abs(dra - true[:, 0]) < 5 * sra) and np.all(sra < 0.01), dra
    assert np.all(np.abs(ddec - true[:, 1]) < 5 * sdec) and np.all(sdec < 0.01), ddec
    assert not np.any(pos["model_position_at_limit"])
    # the same keys and columns in the files; the existing keys are all still there
    assert set(plain) <= set(pos)
    js = json.loads((tmp_path / "pos.json").read_text())
    assert js["model_dra_arcsec"] == pos["model_dra_arcsec"]
    t = Table.read(tmp_path / "pos.ecsv", format="ascii.ecsv")
    np.testing.assert_allclose(t["ddec"], ddec.ravel())
    assert str(t["dra"].unit) == "arcsec"


def test_one_pass_sums_equal_the_point_sums(offset_set):
    """fitposition reads point, bin and grid sums in one pass; the point sums are the
    ones the default (fitposition=False) path has always used, bit for bit."""
    from almacal.io.ms import CasaMs
    from almacal.relcal.accumulate import accumulate
    from almacal.relcal.plan import PassSpec, Target, ms_plan
    from almacal.relcal.run import max_uv_lambda
    from almacal.relcal.uvgrid import G_N, uv_grid
    from almacal.relcal.uvmodel import uv_edges_lambda

    ms = CasaMs()
    info = ms.read_info(offset_set.paths[0])
    index = np.full(len(info.field_names), -1)
    for j, c in enumerate(CALS):
        index[info.field_ids(c)] = j
    target = Target(info, index, ms.select_channels(info, ""), info.datacolumn("auto"))
    q_max = max_uv_lambda(ms, target, None)
    assert 45e3 < q_max < 60e3  # ACA: ~48 m at 351 GHz

    def one_pass(spec):
        plan = ms_plan(target, 4, spec)
        return accumulate(ms.chunks(plan.selection), plan)

    both = one_pass(PassSpec(model_edges=uv_edges_lambda(), grid=uv_grid(q_max, 4)))
    # the extra sums in the same pass change neither the point nor the bin sums
    assert np.array_equal(both.point, one_pass(PassSpec()).point)
    alone = one_pass(PassSpec(model_edges=uv_edges_lambda())).model_bins
    assert np.array_equal(both.model_bins, alone)
    # every unflagged visibility lands in one cell
    np.testing.assert_array_equal(
        [c.sums[:, G_N].sum() for c in both.cells], both.point[..., 3].sum(axis=1)
    )
