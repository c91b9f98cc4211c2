"""relcal_fit on archive-like simulated MSs (issue 11, simulate.archive): MSs split per day
whose OBSERVATION table names the first day, a calibrator missing in one epoch, one at
SNR ~1 in another, a name with importuvfits' '_0' suffix, a mosaic named alike, an epoch
in Band 9. Every input MS is hashed before and after each call."""

from __future__ import annotations

import numpy as np
import pytest

from tests.casa.msutil import fingerprint

pytestmark = pytest.mark.casa

# SMM11 (0.35 Jy at SNR ~600 in a test-size epoch) scaled to ~0.6 mJy: SNR ~1 in epoch 3
FAINT = 1.0 / 600
ARCHIVE = {
    "n_epoch": 3,
    "seed": 15,  # a seed whose faint flux comes out positive (SNR ~1.0)
    "flux_scale": [1.0, 0.93, 1.05],
    "cal_flux_scale": [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, FAINT]],
    "split_observation": True,
    "missing_fields": [[], ["SMM3"], []],
    "field_rename": [{}, {}, {"SMM9": "SMM9_0"}],
    "mosaic": {"SMM1": 11},
}


@pytest.fixture(scope="module")
def archive(simulated_set_factory):
    return simulated_set_factory(**ARCHIVE)


def _fit(sim, **kw):
    from almacal import relcal_fit

    kw.setdefault("field", list(sim.calibrators))
    before = [fingerprint(p) for p in sim.paths]
    try:
        return relcal_fit(vis=list(sim.paths), outfile="", **kw)
    finally:
        assert [fingerprint(p) for p in sim.paths] == before


def test_archive_set_gives_true_factors_with_every_trait_named(archive):
    rec = _fit(archive, fieldmatch="position", groupby="day")
    truth = archive.truth["epochs"]
    # dated from the rows (the OBSERVATION tables all name the first day): three epochs
    assert rec["date"] == [e["date"] for e in truth]
    assert len(set(rec["date"])) == 3  # guard: different days
    assert all(s.startswith(d + "T") for s, d in zip(rec["start_utc"], rec["date"], strict=True))
    assert all(0 < e - s < 1 for s, e in zip(rec["start_mjd"], rec["end_mjd"], strict=True))
    # SMM3 has no rows in epoch 2; SMM11 is at SNR ~1 in epoch 3: both out, with reasons
    ex = {(e["epoch"], e["field"]): e["reason"] for e in rec["exclusions"]}
    assert sorted(ex) == [(2, "SMM3"), (3, "SMM11")]
    assert ex[(2, "SMM3")].startswith(f"no data in {archive.paths[1]}")
    assert ex[(3, "SMM11")].startswith("weak: flux ") and "minfluxsnr 10" in ex[(3, "SMM11")]
    snr = np.array(rec["flux_snr"])
    assert abs(snr[2, 3]) < 5 and np.nanmin(np.delete(snr.ravel(), [6, 11])) > 300  # guards
    # SMM9_0 in epoch 3 is SMM9 by position, and measured
    assert rec["used"][2][0] and np.isfinite(rec["flux"][2][0])
    # every rFCF within 5 propagated sigma (~5e-4) of the truth
    rfcf, sig = np.array(rec["rfcf"]), np.array(rec["rfcf_sigma"])
    assert np.all(sig > 0) and np.all(np.abs(rfcf - archive.true_rfcf) < 5 * sig), (rfcf, sig)
    # guard: with the SNR check off, the noise-level flux moves epoch 3 far from the truth
    off = _fit(archive, fieldmatch="position", minfluxsnr=0.0)
    dev = np.abs(np.array(off["rfcf"]) - archive.true_rfcf)
    assert off["used"][2][3] and dev[2] > 20 * sig[2], (off["rfcf"], off["flux"][2])


def test_names_that_differ_leave_the_calibrator_out_and_suggest_position(archive):
    rec = _fit(archive)
    ex = {(e["epoch"], e["field"]): e["reason"] for e in rec["exclusions"]}
    assert ex[(3, "SMM9")].startswith(f"no data in {archive.paths[2]} (no field named 'SMM9'")
    assert "'SMM9_0'" in ex[(3, "SMM9")] and "fieldmatch='position'" in ex[(3, "SMM9")]
    assert not rec["used"][2][0]


def test_a_mosaic_named_like_a_calibrator_is_an_error_listing_its_pointings(archive):
    pointings = r"field 'SMM1' names 11 FIELD rows of .* at different positions .*: "
    with pytest.raises(ValueError, match=pointings + r"0 'SMM1' \(.*\), 8 'SMM1' .*Give one"):
        _fit(archive, field=["SMM1", "SMM9", "SMM4"])


def test_an_epoch_in_another_band_is_refused_naming_the_mss(simulated_set_factory):
    mixed = simulated_set_factory(n_epoch=2, seed=13, epoch_band=[7, 9])
    bands = r"vis mixes ALMA bands: Band 7: .*ep01_\d+\.ms \(.* GHz\); Band 9: .*ep02_\d+\.ms "
    with pytest.raises(ValueError, match=bands + r"\(6\d\d\.\d+, .* GHz\)"):
        _fit(mixed)


def test_selfcal_leaves_a_calibrator_at_snr_4_out_and_goes_on(simulated_set_factory):
    # SMM11 at ~2.3 mJy in epoch 3 (SNR ~4 over the epoch, far below gaincal's minsnr 3
    # per antenna and solint): gaincal used to flag all its solutions and the run died
    sim = simulated_set_factory(
        n_epoch=3,
        seed=14,
        flux_scale=[1.0, 0.93, 1.05],
        cal_flux_scale=[[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 4 * FAINT]],
    )
    rec = _fit(sim, selfcal=True)
    assert rec["selfcal_calibrated"] == [[True] * 4, [True] * 4, [True, True, True, False]]
    (ex,) = rec["exclusions"]
    assert (ex["epoch"], ex["field"]) == (3, "SMM11") and ex["reason"].startswith("weak: flux ")
    assert 2 < rec["flux_snr"][2][3] < 7  # guard: the faint calibrator is at SNR ~4
    rfcf, sig = np.array(rec["rfcf"]), np.array(rec["rfcf_sigma"])
    assert np.all(sig > 0) and np.all(np.abs(rfcf - sim.true_rfcf) < 5 * sig), (rfcf, sig)
