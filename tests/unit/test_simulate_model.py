"""almacal.simulate's numpy core against hand-worked values (no casatools)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from almacal import simulate as sim
from almacal.datasets import simulate_epochs

ARCSEC = math.pi / (180.0 * 3600.0)


def test_sefd_of_a_7m_antenna_in_band7():
    # 2 k Tsys / (eta A) = 2 * 1.380649e-23 * 150 / (0.7 * pi * 3.5^2) W m^-2 Hz^-1
    #                    = 4.141947e-21 / 26.939158 = 1.537519e-22 -> 15375.19 Jy
    assert sim.sefd_jy() == pytest.approx(15375.19, rel=1e-6)
    assert sim.sefd_jy(tsys_k=300.0) == pytest.approx(2 * sim.sefd_jy(), rel=1e-12)


def test_radiometer_sigma_of_one_tdm_channel():
    # TDM channel 1.875 GHz / 128 = 14.6484375 MHz, 1.01 s dump:
    # 15375.19 / sqrt(2 * 14.6484375e6 * 1.01) = 15375.19 / 5439.655 = 2.826500 Jy
    width = sim.SPW_BANDWIDTH_HZ / 128
    sigma = sim.radiometer_sigma_jy(width, 1.01, sefd=sim.sefd_jy())
    assert sigma == pytest.approx(2.826500, rel=1e-5)
    # 1 / sqrt(dnu tau): 4x the bandwidth-time product halves the noise
    assert sim.radiometer_sigma_jy(4 * width, 1.01, sefd=1e4) == pytest.approx(
        sim.radiometer_sigma_jy(width, 1.01, sefd=1e4) / 2
    )


def test_stokes_i_weight():
    # var(I) = (var XX + var YY) / 4 -> equal weights w give 2 w
    np.testing.assert_allclose(sim.stokes_i_weight(np.array([3.0]), np.array([3.0])), [6.0])
    # sigma_XX = 1, sigma_YY = 2: var(I) = (1 + 4) / 4 = 1.25 -> 0.8
    np.testing.assert_allclose(sim.stokes_i_weight(np.array([1.0]), np.array([0.25])), [0.8])


def test_spectral_index_scaling():
    assert sim.spectral_scaling(sim.REF_FREQ_HZ, 2.5) == pytest.approx(1.0)
    assert sim.spectral_scaling(2 * sim.REF_FREQ_HZ, 2.0) == pytest.approx(4.0)
    # spw 1 -> spw 4 of the Band 7 default set-up with alpha = 2.5
    ratio = sim.spectral_scaling(350.5e9, 2.5) / sim.spectral_scaling(336.5e9, 2.5)
    assert ratio == pytest.approx((350.5 / 336.5) ** 2.5, rel=1e-12)
    # broadcasting (row, 1) alphas against (row, chan) frequencies
    freq = np.array([[336.5e9, 343.5e9], [343.5e9, 350.5e9]])
    out = sim.spectral_scaling(freq, np.array([[2.0], [3.0]]))
    np.testing.assert_allclose(out, [[(336.5 / 343.5) ** 2, 1.0], [1.0, (350.5 / 343.5) ** 3]])


def test_gaussian_visibility_matches_a_direct_fourier_sum():
    fwhm = 8.0 * ARCSEC
    step = fwhm / 20
    grid = (np.arange(-100, 101)) * step  # +-5 FWHM
    ll, mm = np.meshgrid(grid, grid, indexing="ij")
    image = np.exp(-4 * math.log(2) * (ll**2 + mm**2) / fwhm**2)
    image /= image.sum()
    for u, v in [(0.0, 0.0), (8e3, 0.0), (6e3, -9e3), (2e4, 1.5e4)]:
        direct = np.sum(image * np.exp(2j * math.pi * (u * ll + v * mm)))
        expected = sim.gaussian_visibility(np.hypot(u, v), fwhm)
        assert direct.real == pytest.approx(expected, abs=1e-9)
        assert abs(direct.imag) < 1e-9  # centred: real


def test_gaussian_visibility_half_power_point():
    # exp(-(pi theta q)^2 / (4 ln 2)) = 1/2 at q = 2 ln2 / (pi theta)
    fwhm = sim.EXTENDED_FWHM_ARCSEC * ARCSEC
    q_half = 2 * math.log(2) / (math.pi * fwhm)
    assert sim.gaussian_visibility(q_half, fwhm) == pytest.approx(0.5)
    # the envelope is resolved by the ACA: 9 m at 343.5 GHz is 10.3 klambda
    q_short = 9.0 * sim.REF_FREQ_HZ / sim.SPEED_OF_LIGHT_M_S
    assert 0.5 < sim.gaussian_visibility(q_short, fwhm) < 0.6
    assert sim.gaussian_visibility(3 * q_short, fwhm) < 0.01


def test_true_rfcf_normalises_to_the_mean_scale():
    scale = np.array([1.0, 1.1, 0.9, 1.2])
    rfcf = sim.true_rfcf(scale)
    np.testing.assert_allclose(rfcf, 1.05 / scale)
    np.testing.assert_allclose(rfcf * scale, scale.mean())  # every epoch to the mean scale
    # flux_scale = 1 / (seed 000 rFCF) is recovered up to the normalisation
    seed_rfcf = np.array([1.02, 1.02, 0.98, 1.02, 1.09, 0.94, 0.92])
    recovered = sim.true_rfcf(1.0 / seed_rfcf)
    np.testing.assert_allclose(recovered / seed_rfcf, np.full(7, recovered[0] / seed_rfcf[0]))


def _model(**overrides):
    base = dict(
        point_flux_jy=np.array([0.5, 0.2]),
        extended_flux_jy=np.array([0.0, 0.1]),
        extended_fwhm_rad=np.array([0.0, 8 * ARCSEC]),
        spectral_index=np.array([2.0, 3.0]),
        gain=np.array([1.0, 1.1]),
        chan_freq_hz=np.array([[336.5e9, 337.0e9], [348.5e9, 349.0e9]]),
        ant_phase_rad=np.zeros((3, 4)),
        sigma_jy=np.array([0.1, 0.2]),
        noise_jy=np.array([0.1, 0.2]),
    )
    base.update(overrides)
    return sim.EpochModel(**base)


def _rows(n_row, rng, n_field=2, n_spw=2, n_time=3, n_ant=4):
    ant1 = rng.integers(0, n_ant - 1, n_row)
    return dict(
        uvw_m=rng.normal(0, 20, (3, n_row)),
        field=rng.integers(0, n_field, n_row),
        spw=rng.integers(0, n_spw, n_row),
        time_index=rng.integers(0, n_time, n_row),
        ant1=ant1,
        ant2=ant1 + 1,
    )


def test_point_source_visibility_is_gain_times_spectrum():
    model = _model()
    rows = dict(
        uvw_m=np.array([[10.0], [5.0], [0.0]]),
        field=np.array([0]),
        spw=np.array([1]),
        time_index=np.array([0]),
        ant1=np.array([0]),
        ant2=np.array([1]),
    )
    vis = model.visibilities(**rows)
    expected = 1.1 * 0.5 * (np.array([348.5e9, 349.0e9]) / sim.REF_FREQ_HZ) ** 2
    np.testing.assert_allclose(vis, expected[None, :], rtol=1e-14)
    assert vis.shape == (1, 2)


def test_extended_component_adds_a_resolved_gaussian():
    model = _model()
    uvw = np.array([[12.0], [-4.0], [1.0]])
    rows = dict(
        uvw_m=uvw,
        field=np.array([1]),
        spw=np.array([0]),
        time_index=np.array([2]),
        ant1=np.array([2]),
        ant2=np.array([3]),
    )
    vis = model.visibilities(**rows)
    freq = np.array([336.5e9, 337.0e9])
    q = math.hypot(12.0, -4.0) * freq / sim.SPEED_OF_LIGHT_M_S
    envelope = 0.1 * sim.gaussian_visibility(q, 8 * ARCSEC)
    expected = (freq / sim.REF_FREQ_HZ) ** 3 * (0.2 + envelope)
    np.testing.assert_allclose(vis[0], expected, rtol=1e-14)


def test_antenna_phases_enter_as_phi_a1_minus_phi_a2():
    phases = np.zeros((3, 4))
    phases[1, 0], phases[1, 2] = 0.3, -0.2
    model = _model(ant_phase_rad=phases)
    rows = dict(
        uvw_m=np.zeros((3, 2)),
        field=np.array([0, 0]),
        spw=np.array([0, 0]),
        time_index=np.array([1, 0]),
        ant1=np.array([0, 0]),
        ant2=np.array([2, 2]),
    )
    vis = model.visibilities(**rows)
    np.testing.assert_allclose(np.angle(vis[0]), 0.5)
    np.testing.assert_allclose(np.angle(vis[1]), 0.0, atol=0)  # other integration: exact


def test_fit_accumulator_is_the_weighted_mean_of_the_real_part():
    acc = sim.FitAccumulator.zeros(2, 2)
    model = np.array([[1.0 + 2j, 3.0], [5.0, 7.0], [2.0, 2.0]])  # (row, chan)
    acc.add(model, field=np.array([0, 0, 1]), spw=np.array([0, 1, 0]), w_i=np.array([1.0, 3, 4]))
    # field 0: (1 * (1 + 3) + 3 * (5 + 7)) / (2 * 1 + 2 * 3) = 40 / 8; imaginary parts ignored
    assert acc.flux()[0] == pytest.approx(5.0)
    np.testing.assert_allclose(acc.flux_spw()[0], [2.0, 6.0])
    assert acc.flux()[1] == pytest.approx(2.0)
    assert np.isnan(acc.flux_spw()[1, 1])  # no data for field 1 in spw 1
    # 1 / sqrt(sum w_I over rows and channels)
    np.testing.assert_allclose(acc.sigma(), [1 / math.sqrt(8.0), 1 / math.sqrt(8.0)])


def test_phase_noise_decorrelates_by_exp_minus_sigma_squared():
    rng = np.random.default_rng(1)
    sigma_phi = math.radians(30.0)
    n_time, n_ant, n_row = 4000, 4, 20000
    model = _model(
        ant_phase_rad=rng.normal(0, sigma_phi, (n_time, n_ant)),
        gain=np.array([1.0, 1.0]),
        spectral_index=np.array([0.0, 0.0]),
        extended_flux_jy=np.zeros(2),
    )
    rows = _rows(n_row, rng, n_time=n_time, n_ant=n_ant)
    acc = sim.FitAccumulator.zeros(2, 2)
    acc.add(model.visibilities(**rows), rows["field"], rows["spw"], np.ones(n_row))
    # baseline phase variance 2 sigma^2 -> <cos> = exp(-sigma^2); sample scatter ~0.3 %
    np.testing.assert_allclose(
        acc.flux() / model.point_flux_jy, math.exp(-(sigma_phi**2)), rtol=0.015
    )


def test_simulate_chunk_noise_and_weights():
    rng = np.random.default_rng(7)
    model = _model(extended_flux_jy=np.zeros(2))
    rows = _rows(40000, rng)
    out = sim.simulate_chunk(model, rng, **rows)
    assert out.data.shape == (2, 2, 40000) and out.data.dtype == np.complex64
    resid = out.data - out.model.T[None].astype(np.complex64)
    for k, sigma in enumerate(model.noise_jy):
        sel = resid[:, :, rows["spw"] == k]
        # 2 x 2 x ~20000 x 2 samples: the std of the std is ~0.25 %
        assert sel.real.std() == pytest.approx(sigma, rel=0.015)
        assert sel.imag.std() == pytest.approx(sigma, rel=0.015)
    np.testing.assert_allclose(out.weight, 1 / out.sigma**2)
    np.testing.assert_allclose(out.sigma[0], model.sigma_jy[rows["spw"]])
    np.testing.assert_allclose(out.w_i, 2 / model.sigma_jy[rows["spw"]] ** 2)


def test_noise_free_chunk_equals_the_model():
    rng = np.random.default_rng(3)
    model = _model(noise_jy=np.zeros(2))
    rows = _rows(100, rng)
    out = sim.simulate_chunk(model, rng, **rows)
    np.testing.assert_allclose(out.data[0], out.model.T, rtol=1e-6)
    np.testing.assert_array_equal(out.data[0], out.data[1])


def test_channel_frequencies_centre_each_spw():
    freq = sim.channel_frequencies(128)
    assert freq.shape == (4, 128)
    np.testing.assert_allclose(freq.mean(axis=1), sim.SPW_CENTRE_HZ, rtol=1e-15)
    np.testing.assert_allclose(np.diff(freq, axis=1), sim.SPW_BANDWIDTH_HZ / 128)


def test_serpens_fields_follow_seed_table1():
    names = [f.name for f in sim.SERPENS_FIELDS]
    assert names == ["SMM1", "EC53", "SMM10", "SMM2", "SMM9", "SMM4", "SMM3", "SMM11"]
    cal = [f.name for f in sim.SERPENS_FIELDS if f.role == "calibrator"]
    assert tuple(cal) == sim.CALIBRATORS
    smm9 = next(f for f in sim.SERPENS_FIELDS if f.name == "SMM9")
    # 18:29:48.07 +01:16:43.7
    assert smm9.ra_deg == pytest.approx(15 * (18 + 29 / 60 + 48.07 / 3600), abs=1e-12)
    assert smm9.dec_deg == pytest.approx(1 + 16 / 60 + 43.7 / 3600, abs=1e-12)
    assert sim.sexagesimal_to_deg("-00:30:00") == pytest.approx(-0.5)
    for f in sim.SERPENS_FIELDS:
        assert 2.0 <= f.spectral_index <= 3.0
        if f.role != "faint":
            assert f.flux_jy > 0.3  # seed 000: fluxes > 300 mJy except SMM2


def test_extended_fraction_applies_to_calibrators_only():
    fields = sim.field_models(0.2)
    for f in fields:
        if f.role == "calibrator":
            assert f.extended_flux_jy == pytest.approx(0.2 * f.flux_jy)
            assert f.extended_fwhm_arcsec == sim.EXTENDED_FWHM_ARCSEC
        elif f.role == "target":
            assert f.extended_flux_jy == 0.0


def test_reads_the_aca_cycle7_config():
    casadata = pytest.importorskip("casadata")
    cfg = sim.read_antenna_config(os.path.join(casadata.datapath, sim.ACA_CONFIG))
    assert cfg.coordsys.startswith("LOC")
    assert len(cfg.pad) == 10 and set(cfg.diameter_m) == {7.0}
    assert cfg.names[0] == "CM01"


def test_antenna_config_rejects_short_rows(tmp_path):
    path = tmp_path / "bad.cfg"
    path.write_text("# coordsys=LOC\n1 2 3 7\n")
    with pytest.raises(ValueError, match="x y z diam pad"):
        sim.read_antenna_config(str(path))


def test_scan_plan_is_centred_with_gaps():
    plan = sim.scan_plan(["A", "B", "C"], n_integration=3, integration_s=10.0, gap_s=5.0)
    assert [p.field for p in plan] == ["A", "B", "C"]
    assert plan[0].start_ha_s == pytest.approx(-50.0)  # (3 * 30 + 2 * 5) / 2
    assert plan[-1].stop_ha_s == pytest.approx(50.0)
    assert plan[1].start_ha_s - plan[0].stop_ha_s == pytest.approx(5.0)


def test_block_stays_within_the_utc_date():
    # 20 Sep 2019: Serpens transits ALMA near 23:04 UTC; a 2 h block must not cross midnight
    centre = sim.centre_within_day(transit_s=83040.0, duration_s=7200.0)
    assert 83040.0 + centre + 3600.0 == pytest.approx(86400.0 - 600.0)
    assert sim.centre_within_day(transit_s=40000.0, duration_s=7200.0) == 0.0
    assert 600.0 + sim.centre_within_day(600.0, 1800.0) - 900.0 == pytest.approx(600.0)


def test_names_and_projects():
    assert sim.ms_name(0, "2018-10-14") == "ep01_20181014.ms"
    assert sim.project_code("2018-10-14") == "2018.1.00917.S"
    assert sim.project_code("2019-10-29") == "2019.1.00475.S"
    assert len(sim.EPOCH_DATES) == 7 and sorted(sim.EPOCH_DATES) == list(sim.EPOCH_DATES)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_epoch": 0}, "n_epoch"),
        ({"n_epoch": 8}, "n_epoch"),
        ({"size": "huge"}, "size"),
        ({"flux_scale": [1.0, 1.0]}, "flux_scale"),
        ({"n_epoch": 2, "flux_scale": [1.0, -1.0]}, "flux_scale"),
        ({"spw_scale_sigma": -0.1}, "spw_scale_sigma"),
        ({"noise_scale": float("nan")}, "noise_scale"),
        ({"phase_rms_deg": "10"}, "phase_rms_deg"),
        ({"extended_fraction": -1}, "extended_fraction"),
        ({"weight_spectrum": 1}, "weight_spectrum"),
        ({"n_chan": 0}, "n_chan"),
        ({"integration_s": 0.0}, "integration_s"),
        ({"scan_s": 1.0}, "scan_s"),
        ({"seed": -1}, "seed"),
        ({"overwrite": "yes"}, "overwrite"),
    ],
)
def test_invalid_arguments_name_the_parameter(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        simulate_epochs(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()  # validated before anything is written


def test_simulated_set_from_truth(tmp_path):
    truth = {
        "calibrators": list(sim.CALIBRATORS),
        "epochs": [
            {"vis": "ep01_20181014.ms", "flux_scale": 1.0},
            {"vis": "ep02_20190306.ms", "flux_scale": 0.8},
        ],
    }
    path = tmp_path / sim.TRUTH_FILE
    path.write_text(json.dumps(truth))
    loaded = sim.SimulatedSet.from_truth(path)
    assert loaded.paths == (str(tmp_path / "ep01_20181014.ms"), str(tmp_path / "ep02_20190306.ms"))
    np.testing.assert_allclose(loaded.true_rfcf, [0.9, 0.9 / 0.8])


def test_importing_simulate_does_not_import_casatools():
    code = "import sys, almacal.simulate; sys.exit('casatools' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_epoch_set_config_from_keywords(tmp_path):
    cfg = sim.EpochSetConfig.from_keywords(tmp_path / "out", datapath=str(tmp_path), n_epoch=2)
    assert cfg.outdir == str(tmp_path / "out") and cfg.flux_scale == (1.0, 1.0)
    # the 'test' preset: 16 channels, 20.2 s dumps, 545.4 s = 27 integrations per scan
    assert (cfg.n_chan, cfg.integration_s, cfg.n_integration) == (16, 20.2, 27)
    assert cfg.scan_s == 545.4 and cfg.variations is None and cfg.source_offset_arcsec == {}
    np.testing.assert_array_equal(cfg.spw_scale_factor, np.ones((2, 4)))
    # scans are rounded down to whole integrations
    short = sim.EpochSetConfig.from_keywords(
        tmp_path, datapath="", n_epoch=1, integration_s=10.1, scan_s=65.0
    )
    assert short.n_integration == 6 and short.scan_s == 60.6
    with pytest.raises(TypeError, match=r"unexpected keyword arguments: \['n_epochs'\]"):
        sim.EpochSetConfig.from_keywords(tmp_path, datapath="", n_epochs=2)
    with pytest.raises(ValueError, match="line_peak_jy=.* expected a sequence of 2 values"):
        simulate_epochs(tmp_path / "bad", n_epoch=2, line_peak_jy=[1.0])
    assert not (tmp_path / "bad").exists()  # per-epoch options are checked before any write too


def test_importing_datasets_does_not_import_casatools():
    code = "import sys, almacal.datasets; sys.exit('casatools' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
