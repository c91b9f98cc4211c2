"""almacal_relcal: relcal_fit over the context's EBs, then one amplitude table per MS.

The factor of each MS is relcal_fit's rFCF of its epoch; the table is what
relcal_apply makes of it (gencal caltype='amp', per-antenna gain 1/sqrt(rFCF):
applycal multiplies the amplitudes by rFCF and the weights by 1/rFCF^2, seed 000
App. E). It is registered in the context's calibration library for all fields,
spws and intents of the MS, the way the pipeline's own calibration stages
register theirs (CalTo/CalFrom, context.callibrary.add in merge_with_context),
so the next hif_applycal applies it with the rest of the calibration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace

import pipeline.infrastructure as infrastructure
import pipeline.infrastructure.basetask as basetask
import pipeline.infrastructure.callibrary as callibrary
import pipeline.infrastructure.vdp as vdp
from pipeline.infrastructure import casa_tasks, task_registry

from almacal.io.ms import CasaMs
from almacal.io.selfcal import CasaSelfcal
from almacal.outputs import remove_path
from almacal.pipeline.mpi import pipeline_mapper
from almacal.pipeline.stagebase import (
    EXPECTED_ERRORS,
    AlmacalResults,
    Section,
    failed,
    names,
    products_stem,
    run_core,
    task_defaults,
    xml_property,
)
from almacal.relcal.apply import ApplyResult, RelcalApplyTask
from almacal.relcal.task import RelcalFitTask
from almacal.report.model import Table
from almacal.tasks.task_relcal_apply import CasaApplyCalls

LOG = infrastructure.get_logger(__name__)

TASK = "relcal_fit"  # the CASA task whose core and parameters the stage uses
STAGE = "almacal_relcal"


class PipelineApplyCalls(CasaApplyCalls):
    """relcal_apply's CASA calls, with gencal run by the pipeline's executor (so that
    casa_commands.log lists it) and the log through the pipeline's logger."""

    def __init__(self, executor):
        self.executor = executor

    def make_amp_table(self, vis: str, caltable: str, gain: float) -> None:
        remove_path(caltable)  # a re-run of the recipe: the pipeline replaces its tables
        job = casa_tasks.gencal(vis=vis, caltable=caltable, caltype="amp", parameter=[gain])
        self.executor.execute(job)
        if not os.path.isdir(caltable):
            raise RuntimeError(f"gencal did not write {caltable}; see the CASA log")

    def post(self, message: str, priority: str = "INFO") -> None:
        level = {"WARN": logging.WARNING, "SEVERE": logging.ERROR}.get(priority, logging.INFO)
        LOG.log(level, message)


class RelcalInputs(vdp.StandardInputs):
    field = vdp.VisDependentProperty(default="")
    spw = xml_property(TASK, "spw")
    datacolumn = xml_property(TASK, "datacolumn")
    uvrange = xml_property(TASK, "uvrange")
    groupby = xml_property(TASK, "groupby")
    exclude = vdp.VisDependentProperty(default="")

    def __init__(
        self,
        context,
        output_dir=None,
        vis=None,
        field=None,
        spw=None,
        datacolumn=None,
        uvrange=None,
        groupby=None,
        exclude=None,
    ):
        """Inputs of almacal_relcal.

        Args:
            context: the pipeline context.
            output_dir: where the products go (default: the working directory).
            vis: the EBs to align (default: every MS of the context).
            field: the stable calibrators, e.g. 'SMM9,SMM4,SMM3,SMM11' (required).
            spw, datacolumn, uvrange, groupby, exclude: as relcal_fit's (its XML;
                datacolumn 'auto' fits CORRECTED_DATA when the MS has it).
        """
        super().__init__()
        self.context = context
        self.output_dir = output_dir
        self.vis = vis
        self.field = field
        self.spw = spw
        self.datacolumn = datacolumn
        self.uvrange = uvrange
        self.groupby = groupby
        self.exclude = exclude


class RelcalResults(AlmacalResults):
    def __init__(self, vis: Sequence[str], sections: Sequence[Section], calapps=()):
        super().__init__(STAGE, vis, sections)
        self.calapps = list(calapps)

    def merge_with_context(self, context) -> None:
        for calapp in self.calapps:
            LOG.info("Adding calibration to callibrary:\n%s\n%s", calapp.calto, calapp.calfrom)
            context.callibrary.add(calapp.calto, calapp.calfrom)


@task_registry.set_equivalent_casa_task(STAGE)
@task_registry.set_casa_commands_comment(
    "Relative flux calibration between the EBs from stable calibrators (almacal relcal_fit); "
    "an amplitude table per MS for the next hif_applycal."
)
class Relcal(basetask.StandardTaskTemplate):
    Inputs = RelcalInputs
    is_multi_vis_task = True

    def prepare(self) -> RelcalResults:
        inputs = self.inputs
        vis = names(inputs.vis)
        stem = products_stem(inputs.output_dir, STAGE, inputs.context.task_counter)
        args = task_defaults(TASK) | {
            "vis": vis,
            "field": names(inputs.field),
            "spw": inputs.spw,
            "datacolumn": inputs.datacolumn,
            "uvrange": inputs.uvrange,
            "groupby": inputs.groupby,
            "exclude": names(inputs.exclude),
            "outfile": stem,
            "overwrite": True,
        }
        section = run_core(
            RelcalFitTask(CasaMs(), CasaSelfcal(), pipeline_mapper()),
            args,
            title=f"{STAGE}: relcal_fit",
            vis=vis,
        )
        if section.error is not None:
            return RelcalResults(vis, [section])
        try:
            applied = self._amp_tables(vis, stem, inputs.context.task_counter)
        except EXPECTED_ERRORS as exc:
            return RelcalResults(vis, [failed(section, f"rescale tables: {exc}")])
        run = inputs.context.observing_run
        calapps = [
            callibrary.CalApplication(
                # the context knows each MS by its own name (the tasks resolve paths)
                callibrary.CalTo(vis=run.get_ms(os.path.basename(r.vis)).name),
                callibrary.CalFrom(r.caltable, caltype="amp", interp="", calwt=True),
            )
            for r in applied.rescales
        ]
        return RelcalResults(vis, [replace(section, tables=(_registrations(applied),))], calapps)

    def analyse(self, result: RelcalResults) -> RelcalResults:
        return result

    def _amp_tables(self, vis: list[str], stem: str, stage_number: int) -> ApplyResult:
        """relcal_apply's plan and gencal for each MS (factors from relcal_fit's JSON); no
        applycal: hif_applycal applies the tables."""
        out_dir = os.path.dirname(stem)
        tables = [
            os.path.join(out_dir, f"{os.path.basename(v)}.{STAGE}.s{stage_number}.amp.tbl")
            for v in vis
        ]
        apply = RelcalApplyTask(PipelineApplyCalls(self._executor))
        params = apply.params(
            task_defaults("relcal_apply")
            | {
                "vis": vis,
                "factorfile": stem + ".json",
                "mode": "inplace",
                "caltable": tables,
                "overwrite": True,
            }
        )
        # hif_applycal recomputes CORRECTED_DATA from DATA with the whole library
        return apply.compute(params, ("DATA",) * len(vis), params.products())


def _registrations(applied: ApplyResult) -> Table:
    rows = tuple(
        (
            os.path.basename(r.vis),
            "%.6f" % r.factor,
            "%.6f" % r.gencal_parameter,
            "%.6f" % r.factor**-2,
            os.path.basename(r.caltable),
        )
        for r in applied.rescales
    )
    return Table(
        "Amplitude tables registered in the calibration library (all fields, spws and "
        "intents; interp='', calwt=True): the next hif_applycal applies them.",
        ("Measurement set", "Amplitude factor (rFCF)", "gencal gain", "Weight factor", "Caltable"),
        rows,
    )
