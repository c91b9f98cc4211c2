"""register_stages(): the almacal stages in a running pipeline (CLI, QA, weblog).

Importing this module imports the pipeline: almacal.pipeline.register() does so
only when asked.
"""

from __future__ import annotations

import pipeline.cli
import pipeline.infrastructure.pipelineqa as pqa
import pipeline.infrastructure.renderer.qaadapter as qaadapter
import pipeline.infrastructure.renderer.weblog as weblog

from almacal.pipeline import STAGES
from almacal.pipeline.cli import COMMANDS
from almacal.pipeline.qa import AlmacalQAHandler
from almacal.pipeline.renderer import TEMPLATE_DIR, T2_4MDetailsAlmacalRenderer
from almacal.pipeline.stage_b2b import B2BDiagnostics, B2BDiagnosticsResults
from almacal.pipeline.stage_gridflux import GridfluxCheck, GridfluxResults
from almacal.pipeline.stage_relcal import Relcal, RelcalResults
from almacal.pipeline.stage_spwcons import SpwConsistency, SpwConsistencyResults

# (Task, Results, weblog description) per stage, in STAGES order.
_STAGES = (
    (GridfluxCheck, GridfluxResults, "Amplitude calibrator flux vs the catalog now"),
    (Relcal, RelcalResults, "Relative flux calibration between EBs"),
    (SpwConsistency, SpwConsistencyResults, "Flux consistency between spectral windows"),
    (B2BDiagnostics, B2BDiagnosticsResults, "Band-to-band calibration diagnostics"),
)

_registered: list[str] = []


def register_stages() -> tuple[str, ...]:
    if _registered:
        return tuple(_registered)
    weblog.register_mako_templates(TEMPLATE_DIR)
    for task, results, description in _STAGES:
        weblog.add_renderer(
            task, T2_4MDetailsAlmacalRenderer(description), group_by=weblog.UNGROUPED
        )
        qaadapter.registry.register_to_calibration_topic(results)
    # the registry collects QAPlugin subclasses at its first QA call; after that a
    # handler is only found if added
    if getattr(pqa.qa_registry, "_QARegistry__plugins_loaded", False):
        pqa.qa_registry.add_handler(AlmacalQAHandler())
    for name, command in COMMANDS.items():
        setattr(pipeline.cli, name, command)
    _registered.extend(STAGES)
    return STAGES
