"""hifa_gfluxscale spectral consistency score (seed 004) and the finer sigma_spw-scaled one."""

import numpy as np
import pytest

from almacal.spwcons.pipeline_qa import spectral_consistency


def _fluxes(offsets, n_epoch=5, n_cal=3):
    """(n_epoch, n_cal, 4) fluxes; epoch 0 spw k scaled by 1 + offsets[k]; spw 1 has best SNR."""
    flux = np.ones((n_epoch, n_cal, 4)) * np.array([1.0, 1.2, 1.1, 0.9])
    flux[0] *= 1 + np.asarray(offsets)
    sigma = np.full(flux.shape, 0.01)
    sigma[..., 1] = 0.001
    return flux, sigma


@pytest.mark.parametrize(("dev", "score"), [(0.05, 1.0), (0.15, 0.75), (0.35, 0.5)])
def test_pipeline_levels_relative_to_highest_snr_spw(dev, score):
    flux, sigma = _fluxes([0.0, 0.0, 0.0, dev])
    qa = spectral_consistency(flux, sigma, sigma_spw=0.008, sigma_fit=0.005)
    assert np.all(qa.ref_spw == 1)
    # R = F / mean over 5 epochs, which includes epoch 0's offset; K = R / R(spw 1) = R / 1
    np.testing.assert_allclose(qa.k_spw[0, :, 3], (1 + dev) / (1 + dev / 5))
    assert np.all(qa.pipeline_score[0] == score)
    # the other epochs only see the shift of the mean, dev / 5 <= 7 %: below 10 %
    np.testing.assert_allclose(qa.k_spw[1:, :, 3], 1 / (1 + dev / 5))
    assert np.all(qa.pipeline_score[1:] == 1.0)


def test_fine_score_sees_what_the_pipeline_misses():
    # a 4 % spw offset: pipeline QA 1.0 (< 10 %), but ~9 sigma_K for sigma_spw 0.3 %
    flux, sigma = _fluxes([0.0, 0.0, 0.04, 0.0])
    qa = spectral_consistency(flux, sigma, sigma_spw=0.003, sigma_fit=0.002)
    assert np.all(qa.pipeline_score == 1.0)
    assert qa.fine_score[0] == 0.5 and qa.verdicts()[0] == "outlier"
    # two spws, each with sigma_spw and the mean fit noise of 3 calibrators, centred
    # over 5 epochs by the mean flux that stands in for the catalog
    assert qa.sigma_k == pytest.approx(np.sqrt(2 * (0.003**2 + 0.002**2 / 3) * 4 / 5))
    # the other epochs only see the 4 % / 5 shift of the mean: 0.8 % ~ 2 sigma_K
    assert np.all(qa.fine_score[1:] == 1.0)
    # the same data judged against a 2 % spw error are fine
    assert spectral_consistency(flux, sigma, sigma_spw=0.02, sigma_fit=0.002).fine_score[0] == 1.0


def test_sigma_k_is_the_scatter_of_k_without_an_offset():
    from tests.unit.spwcons_synth import synthetic_record

    rng = np.random.default_rng(6)
    dev, sigma_k = [], None
    for _ in range(300):
        rec = synthetic_record(rng, sigma_spw=0.008, sigma_fit=0.005)
        flux = np.array(rec["flux_spw"])
        # spw 1 the most sensitive by design (as Tsys makes one in real data), so the
        # reference is not picked by its own calibration error
        sigma = np.array(rec["flux_sigma_spw"]) * np.array([1.0, 0.5, 1.0, 1.0])
        qa = spectral_consistency(flux, sigma, sigma_spw=0.008, sigma_fit=0.005)
        assert np.all(qa.fine_ref_spw == 1)
        dev.append(1.0 - np.delete(qa.fine_k, 1, axis=1))
        sigma_k = qa.sigma_k
    # 300 sets x 7 epochs x 3 spws (~2000 independent): the std is known to ~2 %; allow 6 %
    assert np.std(dev) == pytest.approx(sigma_k, rel=0.06)


def test_fine_score_at_exactly_five_sigma_is_marginal_not_outlier():
    # 1 calibrator, 2 epochs: K = 0.5 and 1.5 against spw 0 (the higher SNR), and
    # sigma_K = sqrt(2 sigma_spw^2 (n_e - 1) / n_e) = 0.1: |1 - K| / sigma_K is 5.0 exactly
    flux = np.array([[[1.0, 1.0]], [[1.0, 3.0]]])
    sigma = np.array([[[0.01, 0.1]], [[0.01, 0.1]]])
    q = spectral_consistency(flux, sigma, sigma_spw=0.1, sigma_fit=0.0)
    assert list(q.fine_z) == [5.0, 5.0] and list(q.fine_ref_spw) == [0, 0]
    assert list(q.fine_score) == [0.75, 0.75] and q.verdicts() == ["marginal", "marginal"]
    wider = spectral_consistency(flux, sigma, sigma_spw=0.099, sigma_fit=0.0)
    assert list(wider.fine_score) == [0.5, 0.5]  # just above 5 sigma: outlier


def test_verdict_words():
    flux = np.array([[[1.0, 1.0]], [[1.0, 1.0]]])  # no deviation at all: consistent
    q = spectral_consistency(flux, np.full(flux.shape, 0.01), sigma_spw=0.1, sigma_fit=0.0)
    assert q.verdicts() == ["consistent", "consistent"]
