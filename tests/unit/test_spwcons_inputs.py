"""spwconsistency inputs: relcal_fit records checked with errors that say what is wrong."""

import json

import numpy as np
import pytest

from almacal.relcal.factors import mean_correction_factors
from almacal.spwcons.inputs import PerSpwFits
from almacal.spwcons.normalize import normalized_mcfs
from almacal.spwcons.results import SpwConsistencyResult
from tests.unit.ascii_locale import ascii_locale  # noqa: F401 (fixture)
from tests.unit.spwcons_synth import synthetic_record


@pytest.fixture
def record():
    return synthetic_record(np.random.default_rng(1))


def test_record_round_trips_through_json(record, tmp_path):
    path = tmp_path / "fit.json"
    record["mcf_sigma"][0][0] = float("nan")  # relcal_fit writes NaN as null: not needed here
    path.write_text(json.dumps(record).replace("NaN", "null"))
    fits = PerSpwFits.from_json(str(path))
    assert fits.shape == (7, 4, 4)
    np.testing.assert_allclose(fits.mcf_spw, record["mcf_spw"])
    assert fits.source == f"resultfile {str(path)!r}"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r: r.pop("mcf_spw"), "no per-spw fits: run relcal_fit with perspw=True"),
        (lambda r: r.update(task="relcal_apply"), "not a relcal_fit result"),
        (lambda r: r.pop("spw_freq_hz"), "lacks"),
        (lambda r: r.update(field=r["field"][:3]), "flux_spw has shape"),
        (lambda r: r.update(spw_freq_hz=[1.0, 2.0]), "spw_freq_hz"),
        (lambda r: r["mcf_spw"][2][1].__setitem__(3, None), "epoch 3, field 'CAL2', spw 3"),
        (lambda r: r["mcf_spw"].__setitem__(0, "x"), "not a numeric"),
        (lambda r: r.update(spw_freq_hz=[343.5e9] * 4), "two different spw frequencies"),
        (lambda r: r["mcf_sigma_spw"][0][0].__setitem__(1, 0.0), "epoch 1, field 'CAL1', spw 1"),
        (lambda r: r["mcf_spw"][1][2].__setitem__(0, 0.0), "epoch 2, field 'CAL3', spw 0"),
        (
            lambda r: r.update(task="gridflux_check"),
            r"not a relcal_fit result \(task='gridflux_check'\)",
        ),
        (lambda r: r["flux_sigma_spw"].__setitem__(0, "x"), "flux_sigma_spw .*not a numeric"),
    ],
    ids=[
        "no-perspw",
        "other-task",
        "no-freq",
        "field-mismatch",
        "freq-mismatch",
        "gap",
        "junk",
        "one-freq",
        "zero-error",
        "zero-mcf",
        "task-named",
        "junk-named",
    ],
)
def test_bad_records_are_refused_with_a_clear_message(record, change, match):
    change(record)
    with pytest.raises(ValueError, match=match):
        PerSpwFits.from_record(record, source="resultfile 'x.json'")


def test_one_spw_or_one_calibrator_is_refused():
    rng = np.random.default_rng(2)
    rec = synthetic_record(rng, freq_hz=np.array([343.5e9]))
    with pytest.raises(ValueError, match=r"1 spectral windows \(spw=\[0\]\).*at least two"):
        PerSpwFits.from_record(rec)
    rec = synthetic_record(rng, n_cal=1)
    with pytest.raises(ValueError, match="1 calibrators"):
        PerSpwFits.from_record(rec)


def test_missing_or_non_json_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="resultfile"):
        PerSpwFits.from_json(str(tmp_path / "none.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(ValueError, match="not a JSON file"):
        PerSpwFits.from_json(str(bad))


def test_full_result_on_one_sloped_epoch(record):
    rng = np.random.default_rng(21)
    slope = np.zeros(7)
    slope[3] = 1.5  # fluxes x nu^1.5: 6 % across Band 7, vs sigma_alpha ~0.15 at 0.4 %
    rec = synthetic_record(rng, sigma_spw=0.004, sigma_fit=0.004, slope=slope)
    res = SpwConsistencyResult.compute(
        PerSpwFits.from_record(rec), nboot=500, nmc=10000, seed=1, siglevel=0.05, params={}
    )
    alpha = np.array([p.alpha for p in res.powerlaws])
    # MCFs are corrections (mean / F): alpha = -1.5 + 1.5/7 (Eq. 1 centres over epochs);
    # sigma_alpha from the Monte Carlo ~0.2 here: allow 3 of it
    assert abs(alpha[3] - (-1.5 + 1.5 / 7)) < 3 * res.null.sigma_alpha
    assert res.p_all[3] < 0.01
    assert np.all(np.abs(np.delete(alpha, 3) - 1.5 / 7) < 3 * res.null.sigma_alpha)
    assert list(np.flatnonzero(res.slope_flagged)) == [3]
    out = res.to_record()
    assert all(0.0 <= v <= 1.0 for v in out["qa"].values()) and out["qa"]["spectral_slope"] == 0.5
    assert out["montecarlo"]["slope_flagged"][3] is True
    assert len(res.summary_lines()) == 7 + 3


@pytest.mark.parametrize(
    "factor", [[[1.0] * 4] * 3, [[1.0, 1.0, 1.0, -1.0]] * 4, "x"], ids=["shape", "sign", "junk"]
)
def test_simulate_spw_scale_factor_is_checked_before_building(tmp_path, factor):
    from almacal.datasets import simulate_epochs

    with pytest.raises(ValueError, match=r"spw_scale_factor=.* is invalid: expected \(4, 4\)"):
        simulate_epochs(tmp_path / "sim", n_epoch=4, spw_scale_factor=factor)
    assert not (tmp_path / "sim").exists()


def test_rfcf_exclusions_are_reported_and_their_mcfs_kept(record):
    reasons = [{"epoch": 2, "field": "CAL1", "reason": "MCF outlier: +30 %"}]
    fits = PerSpwFits.from_record(record | {"exclusions": reasons})
    assert fits.rfcf_excluded == tuple(reasons) and fits.shape == (7, 4, 4)
    used = np.ones((7, 4), dtype=bool)
    used[4, 3] = False  # relcal_fit exclude=['5:CAL4'] without rejectsigma: only `used`
    fits = PerSpwFits.from_record(record | {"used": used.tolist()})
    assert fits.rfcf_excluded == ({"epoch": 5, "field": "CAL4", "reason": "not used in the rFCF"},)
    with pytest.raises(ValueError, match=r"used must be \(epoch, field\) = \(7, 4\)"):
        PerSpwFits.from_record(record | {"used": used[:3].tolist()})


def test_a_grey_flare_cancels_in_the_normalized_mcfs(record):
    # why excluded pairs may stay: calibrator 2 30 % brighter in epoch 3, in every spw
    def normalized(v):
        f, s = np.array(record["flux_spw"]), np.array(record["flux_sigma_spw"])
        fa, sa = np.array(record["flux"]), np.array(record["flux_sigma"])
        for a in (f, s, fa, sa):
            a[2, 1] *= v
        mcf_spw, mcf_sigma_spw = mean_correction_factors(f, s)
        return mcf_spw, normalized_mcfs(mcf_spw, mcf_sigma_spw, mean_correction_factors(fa, sa)[0])[
            0
        ]

    (raw0, norm0), (raw1, norm1) = normalized(1.0), normalized(1.3)
    assert np.abs(raw1[2, 1] / raw0[2, 1] - 1).min() > 0.2  # guard: the MCFs do see it
    # left: second order, 0.3 x the spw deviations (~1 %) / 7 epochs ~ 4e-4; allow 1e-3
    np.testing.assert_allclose(norm1, norm0, atol=1e-3)


def test_record_is_plain_and_finite_when_sigma_spw_is_zero():
    rec = synthetic_record(np.random.default_rng(3), sigma_spw=0.0)
    res = SpwConsistencyResult.compute(
        PerSpwFits.from_record(rec), nboot=100, nmc=1000, seed=0, siglevel=0.05, params={}
    )
    assert res.decomposition.sigma_spw == 0.0  # guard: this seed's estimate is negative

    def leaves(obj):
        if isinstance(obj, dict):
            return [x for v in obj.values() for x in leaves(v)]
        if isinstance(obj, list):
            return [x for v in obj for x in leaves(v)]
        return [obj]

    values = leaves(res.to_record())
    # what CASA, the pipeline and json.dump get: Python scalars, no NaN for a user to meet
    assert all(type(v) in (bool, int, float, str) for v in values)
    assert all(np.isfinite(v) for v in values if type(v) is float)
    assert res.to_record()["decomposition"]["sigma_spw"]["error"] > 0


@pytest.mark.usefixtures("ascii_locale")
def test_resultfile_is_read_as_utf8_whatever_the_locale(record, tmp_path):
    record["field"][0] = "Großer Quasar"  # a user's own name: not ASCII
    path = tmp_path / "fit.json"
    path.write_bytes(json.dumps(record, ensure_ascii=False).encode("utf-8"))
    assert PerSpwFits.from_json(str(path)).fields[0] == "Großer Quasar"


def test_any_positive_spw_frequency_is_taken(record):
    # only a positive frequency is needed (the fits use ratios): 0.5 Hz is odd, not wrong
    record["spw_freq_hz"] = [0.5, 0.75, 1.0, 1.25]
    assert PerSpwFits.from_record(record).spw_freq_hz.tolist() == [0.5, 0.75, 1.0, 1.25]
