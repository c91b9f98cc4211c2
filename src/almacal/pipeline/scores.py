"""QA scores in [0, 1] of the almacal stages, from a task's record (the pipeline's convention).

The pipeline colours a score red at <= 0.33, yellow <= 0.66, blue <= 0.9, green
above. Where a task already scores its result (gridflux_check per EB,
spwconsistency's record['qa'], b2b_phasetransfer's diagnostics['qa']) the score
is reused unchanged: it is the one almacal.report shows in the standalone report
(almacal.report.build.task_parts(...).qa), with the same meaning text as the long
message.

relcal_fit computes no score; the stage defines two, per epoch:

- calibrator scatter (RELCAL_SCATTER_LEVELS): the scatter of the calibrators' MCFs
  about the rFCF, relative to it. Seed 000 reaches ~3 % relative accuracy with four
  calibrators; calibrators that agree within 2 % support a correction at that level
  (1.0), within 5 % a poorer one (0.75); beyond, a calibrator varied or was fitted
  badly (0.5). One calibrator alone cannot be cross-checked (0.5).
- correction size (RELCAL_CORRECTION_LEVELS): |rFCF - 1| within ALMA's 5 % flux
  accuracy goal (seed 001) scores 1.0, within 10 % 0.9 (the correction repairs it),
  beyond 0.66: a flux-scale error that large deserves a look at that EB.

A failed stage scores 0.0 with its error as the message.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from almacal.report.build import task_parts

RELCAL_SCATTER_LEVELS = ((0.02, 1.0), (0.05, 0.75))
RELCAL_SCATTER_ABOVE = 0.5
RELCAL_CORRECTION_LEVELS = ((0.05, 1.0), (0.10, 0.9))
RELCAL_CORRECTION_ABOVE = 0.66

Record = Mapping[str, Any]


@dataclass(frozen=True)
class Score:
    """A QA score in [0, 1] with the pipeline's short and long messages."""

    score: float
    shortmsg: str
    longmsg: str
    metric: str
    vis: tuple[str, ...] = ()  # the MSs it applies to (basenames)


def _level(value: float, levels: Sequence[tuple[float, float]], above: float) -> float:
    for limit, score in levels:
        if value <= limit:
            return score
    return above


def _names(paths: Sequence[str]) -> tuple[str, ...]:
    return tuple(os.path.basename(os.path.normpath(str(p))) for p in paths)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def error_score(stage: str, message: str, vis: Sequence[str] = ()) -> Score:
    return Score(
        0.0, f"{stage} failed", f"{stage} failed: {message}", f"{stage}.error", _names(vis)
    )


def relcal_scores(record: Record) -> tuple[Score, ...]:
    """Per epoch: calibrator scatter and correction size (module docstring)."""
    out = []
    for i, epoch in enumerate(record["epoch"]):
        vis = _names(record["vis"][i])
        rfcf, std, n_used = record["rfcf"][i], record["rfcf_std"][i], record["n_used"][i]
        where = f"epoch {epoch} ({', '.join(vis)})"
        if n_used < 2 or not (_finite(rfcf) and _finite(std)):
            out.append(
                Score(
                    RELCAL_SCATTER_ABOVE,
                    "rFCF from one calibrator",
                    f"{where}: rFCF from {n_used} calibrator(s); no cross-check of the factor",
                    "relcal.calibrator_scatter",
                    vis,
                )
            )
        else:
            rel = std / rfcf
            out.append(
                Score(
                    _level(rel, RELCAL_SCATTER_LEVELS, RELCAL_SCATTER_ABOVE),
                    "Calibrator MCFs scatter %.1f %%" % (100 * rel),
                    f"{where}: the {n_used} calibrators' MCFs scatter by {100 * rel:.2f} % about "
                    f"the rFCF {rfcf:.4f} (1.0 within 2 %, 0.75 within 5 %, else 0.5)",
                    "relcal.calibrator_scatter",
                    vis,
                )
            )
        if _finite(rfcf):
            out.append(_correction_score(where, rfcf, vis))
    return tuple(out)


def _correction_score(where: str, rfcf: float, vis: tuple[str, ...]) -> Score:
    change = rfcf - 1.0
    return Score(
        _level(abs(change), RELCAL_CORRECTION_LEVELS, RELCAL_CORRECTION_ABOVE),
        "Flux scale off by %+.1f %%" % (100 * change),
        f"{where}: flux scale corrected by rFCF {rfcf:.4f} ({100 * change:+.2f} %; 1.0 within "
        "5 %, 0.9 within 10 %, else 0.66)",
        "relcal.correction",
        vis,
    )


def report_scores(task: str, record: Record, vis: Sequence[str]) -> tuple[Score, ...]:
    """The scores the task computes itself, as almacal.report shows them."""
    parts = task_parts(task, record)
    return tuple(
        Score(
            float(q.score),
            f"{q.name} {q.score:.2f}",
            f"{parts.title}: {q.name} = {q.score:.2f}: {q.meaning}",
            f"{task}.{q.name}",
            _names(vis),
        )
        for q in parts.qa
    )


def task_scores(task: str, record: Record, vis: Sequence[str]) -> tuple[Score, ...]:
    """The scores of one task's record, every one clipped to [0, 1]."""
    found = relcal_scores(record) if task == "relcal_fit" else report_scores(task, record, vis)
    return tuple(
        Score(min(1.0, max(0.0, s.score)), s.shortmsg, s.longmsg, s.metric, s.vis) for s in found
    )
