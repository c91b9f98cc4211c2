"""almacal_spwconsistency: the spw flux consistency of the context's calibrators.

spwconsistency on the context's MSs (relcal_fit per spw, or a relcal_fit JSON
given as resultfile): the normalised MCFs, their decomposition, the slope test
and two spectral consistency scores, the pipeline's K_spw convention and the
finer one. When hifa_gfluxscale ran earlier in the recipe its own K_spw scores are
listed beside them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import pipeline.infrastructure as infrastructure
import pipeline.infrastructure.basetask as basetask
import pipeline.infrastructure.vdp as vdp
from pipeline.infrastructure import task_registry

from almacal.io.ms import CasaMs
from almacal.io.selfcal import CasaSelfcal
from almacal.pipeline.mpi import pipeline_mapper
from almacal.pipeline.stagebase import (
    AlmacalResults,
    Section,
    names,
    products_stem,
    run_core,
    task_defaults,
    xml_property,
)
from almacal.relcal.task import RelcalFitTask
from almacal.report.model import Table
from almacal.spwcons.task import SpwConsistencyTask

LOG = infrastructure.get_logger(__name__)

TASK = "spwconsistency"  # the CASA task whose core and parameters the stage uses
STAGE = "almacal_spwconsistency"
# hifa_gfluxscale's spectral consistency score (pipeline.qa.scorecalculator)
GFLUXSCALE_METRIC = "score_gfluxscale_k_spw"


class SpwConsistencyInputs(vdp.StandardInputs):
    resultfile = xml_property(TASK, "resultfile")
    field = vdp.VisDependentProperty(default="")
    spw = xml_property(TASK, "spw")
    datacolumn = xml_property(TASK, "datacolumn")
    uvrange = xml_property(TASK, "uvrange")
    groupby = xml_property(TASK, "groupby")
    nboot = xml_property(TASK, "nboot")
    nmc = xml_property(TASK, "nmc")
    seed = xml_property(TASK, "seed")
    siglevel = xml_property(TASK, "siglevel")

    def __init__(
        self,
        context,
        output_dir=None,
        vis=None,
        resultfile=None,
        field=None,
        spw=None,
        datacolumn=None,
        uvrange=None,
        groupby=None,
        nboot=None,
        nmc=None,
        seed=None,
        siglevel=None,
    ):
        """Inputs of almacal_spwconsistency.

        Args:
            context: the pipeline context.
            output_dir: where the products go (default: the working directory).
            vis: the EBs (default: every MS of the context).
            resultfile: a relcal_fit JSON with per-spw fits (then vis is not read).
            field: the stable calibrators, e.g. 'SMM9,SMM4,SMM3,SMM11' (required with vis).
            spw, datacolumn, uvrange, groupby, nboot, nmc, seed, siglevel: as
                spwconsistency's (its XML).
        """
        super().__init__()
        self.context = context
        self.output_dir = output_dir
        self.vis = vis
        self.resultfile = resultfile
        self.field = field
        self.spw = spw
        self.datacolumn = datacolumn
        self.uvrange = uvrange
        self.groupby = groupby
        self.nboot = nboot
        self.nmc = nmc
        self.seed = seed
        self.siglevel = siglevel


class SpwConsistencyResults(AlmacalResults):
    def __init__(self, vis: Sequence[str], sections: Sequence[Section]):
        super().__init__(STAGE, vis, sections)


@task_registry.set_equivalent_casa_task(STAGE)
@task_registry.set_casa_commands_comment(
    "Relative flux calibration between spectral windows of the calibrators "
    "(almacal spwconsistency)."
)
class SpwConsistency(basetask.StandardTaskTemplate):
    Inputs = SpwConsistencyInputs
    is_multi_vis_task = True

    def prepare(self) -> SpwConsistencyResults:
        inputs = self.inputs
        vis = names(inputs.vis)
        stem = products_stem(inputs.output_dir, STAGE, inputs.context.task_counter)
        args = task_defaults(TASK) | {
            "resultfile": inputs.resultfile,
            "vis": [] if inputs.resultfile else vis,
            "field": names(inputs.field),
            "spw": inputs.spw,
            "datacolumn": inputs.datacolumn,
            "uvrange": inputs.uvrange,
            "groupby": inputs.groupby,
            "nboot": int(inputs.nboot),
            "nmc": int(inputs.nmc),
            "seed": int(inputs.seed),
            "siglevel": float(inputs.siglevel),
            "outfile": stem,
            "overwrite": True,
        }
        steps = SpwConsistencyTask(RelcalFitTask(CasaMs(), CasaSelfcal(), pipeline_mapper()))
        section = run_core(steps, args, title=f"{STAGE}: spwconsistency", vis=vis)
        if section.error is None:
            section = replace(section, **_gfluxscale_beside(inputs.context))
        return SpwConsistencyResults(vis, [section])

    def analyse(self, result: SpwConsistencyResults) -> SpwConsistencyResults:
        return result


def _gfluxscale_beside(context) -> dict:
    """hifa_gfluxscale's own K_spw scores in this run, as a table (or a note when none)."""
    rows = []
    for proxy in context.results:
        result = proxy.read() if hasattr(proxy, "read") else proxy
        if getattr(result, "taskname", "") != "hifa_gfluxscale":
            continue
        for s in result.qa.pool:
            if getattr(s.origin, "metric_name", "") == GFLUXSCALE_METRIC:
                # its messages carry HTML markup; the report shows plain text
                text = re.sub(r"<[^>]+>", "", str(s.longmsg))
                rows.append((str(result.stage_number), "%.2f" % s.score, text))
    if not rows:
        return {
            "notes": (
                "hifa_gfluxscale did not run before this stage: the score "
                "pipeline_spectral_consistency below is hifa_gfluxscale's K_spw convention "
                "applied to these fits by almacal.",
            )
        }
    table = Table(
        "hifa_gfluxscale's own spectral consistency (K_spw) scores in this run.",
        ("Stage", "Score", "Message"),
        tuple(rows),
    )
    return {"tables": (table,)}
