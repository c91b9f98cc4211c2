"""The stages' QA scores from a task's record (almacal.pipeline.scores): no pipeline needed."""

from __future__ import annotations

import math

import pytest

from almacal.pipeline.scores import error_score, relcal_scores, task_scores


def _relcal_record(rfcf, std, n_used):
    return {
        "epoch": list(range(1, len(rfcf) + 1)),
        "vis": [[f"/data/ep{i}.ms"] for i in range(len(rfcf))],
        "rfcf": rfcf,
        "rfcf_std": std,
        "n_used": n_used,
    }


@pytest.mark.parametrize(
    ("rel_scatter", "expected"),
    [(0.019, 1.0), (0.021, 0.75), (0.049, 0.75), (0.051, 0.5)],
)
def test_relcal_scatter_levels(rel_scatter, expected):
    rec = _relcal_record([1.0], [rel_scatter], [4])
    scatter = [s for s in relcal_scores(rec) if s.metric == "relcal.calibrator_scatter"]
    assert [s.score for s in scatter] == [expected]
    assert scatter[0].vis == ("ep0.ms",)


@pytest.mark.parametrize(
    ("rfcf", "expected"), [(1.049, 1.0), (0.951, 1.0), (1.09, 0.9), (0.899, 0.66), (1.2, 0.66)]
)
def test_relcal_correction_levels(rfcf, expected):
    rec = _relcal_record([rfcf], [0.0], [4])
    (corr,) = [s for s in relcal_scores(rec) if s.metric == "relcal.correction"]
    assert corr.score == expected
    assert "%+.2f %%" % (100 * (rfcf - 1)) in corr.longmsg


def test_one_calibrator_or_missing_factor_cannot_be_cross_checked():
    rec = _relcal_record([1.01, math.nan], [math.nan, math.nan], [1, 0])
    scores = relcal_scores(rec)
    assert [s.metric for s in scores] == [
        "relcal.calibrator_scatter",
        "relcal.correction",
        "relcal.calibrator_scatter",
    ]
    assert scores[0].score == 0.5 and "1 calibrator(s)" in scores[0].longmsg
    assert scores[2].score == 0.5  # no rFCF: no correction score either


def test_b2b_scores_are_the_tasks_own_clipped_to_the_unit_interval():
    rec = {
        "mode": "solve",
        "vis": "/data/b2b.ms",
        "refant": "DA42",
        "applied": False,
        "warnings": [],
        "qa_score": 0.5,
        "diagnostics": {
            "residual_rms_deg": 21.0,
            "expected_coherence": 0.9,
            "elevation_target_deg": 70.0,
            "expected_rms_target_deg": 20.0,
            "dgc_loss": 0.04,
            "offset_change_rms_deg": 8.0,
            "antennas": ["DA41"],
            "residual_rms_antenna_deg": [21.0],
            "offset_change_deg": [8.0],
            "qa": {"dgc_residual": 0.93, "offset_stability": 1.2},
        },
    }
    scores = task_scores("b2b_phasetransfer", rec, ["/data/b2b.ms"])
    assert [(s.metric, s.score) for s in scores] == [
        ("b2b_phasetransfer.dgc_residual", 0.93),
        ("b2b_phasetransfer.offset_stability", 1.0),
    ]
    assert all(s.vis == ("b2b.ms",) and s.shortmsg and s.longmsg for s in scores)


def test_error_score_is_zero_and_says_why():
    s = error_score("almacal_relcal", "field 'NOSUCH' is not in ep1.ms", ["/d/ep1.ms"])
    assert s.score == 0.0 and "NOSUCH" in s.longmsg and s.vis == ("ep1.ms",)
