"""QA handler of the almacal stages: the scores of each Section (almacal.pipeline.scores).

A QAPlugin subclass is registered with the pipeline's QA framework when the
framework first runs QA (it collects QAPlugin.__subclasses__() then); a stage
registered later is added to the running registry by register_stages().
"""

from __future__ import annotations

import pipeline.infrastructure.pipelineqa as pqa

from almacal.pipeline.scores import Score
from almacal.pipeline.stagebase import AlmacalResults


class AlmacalQAHandler(pqa.QAPlugin):
    """Every almacal stage: one score per metric and epoch/EB/MS, or 0 for an error."""

    result_cls = AlmacalResults
    child_cls = None

    def handle(self, context, result: AlmacalResults) -> None:
        for section in result.sections:
            result.qa.pool.extend(qa_score(s) for s in section.scores(result.stage))


def qa_score(s: Score) -> pqa.QAScore:
    return pqa.QAScore(
        s.score,
        longmsg=s.longmsg,
        shortmsg=s.shortmsg,
        origin=pqa.QAOrigin(metric_name=s.metric, metric_score=s.score, metric_units=""),
        applies_to=pqa.TargetDataSelection(vis=set(s.vis)),
    )
