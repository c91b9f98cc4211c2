"""almacal_b2b_diagnostics: scores the band-to-band calibration of a recipe.

For every MS with differential-gain intents (DIFFGAINREF/DIFFGAINSRC) it runs
b2b_phasetransfer with doapply=False: almacal's own solve on the MS's DATA
(per-scan low-frequency DGC phases unwrapped jointly with the phase calibrator's,
the band offset per DGC block), which changes nothing in the MS and yields the
diagnostics: residual DGC phase RMS, band offset stability between blocks,
expected target coherence. hifa_diffgaincal's tables are not reused: they hold
the offsets with its own spw combination and linearPD interpolation, and no
phase-calibrator phases, so they cannot give the residual after a transfer.
Beside almacal's numbers the page lists the tables hifa_diffgaincal registered
and the RMS of its own residual (diagnostic) table.

The per-MS runs go through the Task's mapper (serial by default): each job is
picklable and returns a small Section, what an MPI server would send back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pipeline.infrastructure as infrastructure
import pipeline.infrastructure.basetask as basetask
import pipeline.infrastructure.vdp as vdp
from pipeline.infrastructure import task_registry

from almacal.b2b.phases import circular_rms
from almacal.b2b.task import B2BTask
from almacal.io import b2b_calls
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
from almacal.report.model import Table

LOG = infrastructure.get_logger(__name__)

TASK = "b2b_phasetransfer"  # the CASA task whose core and parameters the stage uses
STAGE = "almacal_b2b_diagnostics"
DIFFGAIN_INTENTS = {"DIFFGAINREF", "DIFFGAINSRC"}


class B2BDiagnosticsInputs(vdp.StandardInputs):
    refant = vdp.VisDependentProperty(default="")
    dgcfield = xml_property(TASK, "dgcfield")
    phasecal = xml_property(TASK, "phasecal")
    target = xml_property(TASK, "target")
    solint = xml_property(TASK, "solint")
    combine = xml_property(TASK, "combine")
    minsnr = xml_property(TASK, "minsnr")
    blockgap = xml_property(TASK, "blockgap")

    def __init__(
        self,
        context,
        output_dir=None,
        vis=None,
        refant=None,
        dgcfield=None,
        phasecal=None,
        target=None,
        solint=None,
        combine=None,
        minsnr=None,
        blockgap=None,
    ):
        """Inputs of almacal_b2b_diagnostics.

        Args:
            context: the pipeline context.
            output_dir: where the products go (default: the working directory).
            vis: the MSs (default: every MS of the context with DIFFGAIN intents).
            refant: reference antenna (default: the first of the context's list for
                the MS, from hif_refant; else b2b_phasetransfer's own choice).
            dgcfield, phasecal, target, solint, combine, minsnr, blockgap: as
                b2b_phasetransfer's (its XML; empty: found by intent).
        """
        super().__init__()
        self.context = context
        self.output_dir = output_dir
        self.vis = vis
        self.refant = refant
        self.dgcfield = dgcfield
        self.phasecal = phasecal
        self.target = target
        self.solint = solint
        self.combine = combine
        self.minsnr = minsnr
        self.blockgap = blockgap


class B2BDiagnosticsResults(AlmacalResults):
    def __init__(self, vis: Sequence[str], sections: Sequence[Section]):
        super().__init__(STAGE, vis, sections)


@dataclass(frozen=True)
class DiffgainTables:
    """What hifa_diffgaincal registered for one MS, and its residual diagnostic table."""

    registered: tuple[tuple[str, str, str, str], ...]  # (caltable, intent, spw, interp)
    residual_table: str | None


@dataclass(frozen=True)
class B2BJob:
    """One MS's diagnostics: picklable, so that a mapper can run it on an MPI server."""

    vis: str
    args: dict[str, Any]
    diffgain: DiffgainTables | None


SOLVE_NOTE = (
    "almacal solves the DGC and phase-calibrator phases itself, as b2b_phasetransfer does, "
    "on the MS's DATA column without the recipe's earlier tables (WVR, bandpass) "
    "pre-applied; the MS is not changed."
)


def run_b2b_job(job: B2BJob) -> Section:
    section = run_core(B2BTask(b2b_calls), job.args, title=os.path.basename(job.vis), vis=[job.vis])
    section = replace(section, notes=(SOLVE_NOTE,))
    if job.diffgain is None:
        note = "hifa_diffgaincal did not run on this MS before this stage."
        return replace(section, notes=(*section.notes, note))
    return replace(section, tables=(_diffgain_table(job.diffgain),))


def _diffgain_table(dg: DiffgainTables) -> Table:
    rows = [
        ("registered", os.path.basename(t), f"intent {i or 'all'}, spw {s or 'all'}, interp {p}")
        for t, i, s, p in dg.registered
    ]
    if dg.residual_table:
        rows.append(
            (
                "residual (diagnostic)",
                os.path.basename(dg.residual_table),
                "phase RMS %.1f deg over antennas, spws and scans"
                % _table_rms_deg(dg.residual_table),
            )
        )
    return Table(
        "hifa_diffgaincal's tables for this MS: what the recipe applies to the targets, and "
        "the RMS of its own residual DGC phases (its pre-applies; a cross-check of the "
        "residual above).",
        ("Role", "Caltable", "Detail"),
        tuple(rows),
    )


def _table_rms_deg(path: str) -> float:
    """RMS about zero of a phase table's unflagged solutions, reference antenna left out."""
    sol = b2b_calls.read_caltable(path)
    use = ~sol.flag & (sol.antenna != sol.refant)[:, None]
    return float(np.degrees(circular_rms(sol.phase[use])))


@task_registry.set_equivalent_casa_task(STAGE)
@task_registry.set_casa_commands_comment(
    "Band-to-band diagnostics of the DGC calibration: residual phase, band offset stability, "
    "expected target coherence (almacal b2b_phasetransfer, doapply=False)."
)
class B2BDiagnostics(basetask.StandardTaskTemplate):
    Inputs = B2BDiagnosticsInputs
    is_multi_vis_task = True

    def prepare(self) -> B2BDiagnosticsResults:
        inputs = self.inputs
        mses = [inputs.context.observing_run.get_ms(v) for v in names(inputs.vis)]
        b2b = [ms for ms in mses if DIFFGAIN_INTENTS & set(ms.intents)]
        if not b2b:
            message = (
                "none of %s has DIFFGAINREF/DIFFGAINSRC intents: no band-to-band data"
                % ", ".join(ms.basename for ms in mses)
            )
            LOG.error("%s: %s", STAGE, message)
            return B2BDiagnosticsResults(
                [ms.name for ms in mses], [Section(TASK, STAGE, None, error=message)]
            )
        jobs = [self._job(ms) for ms in b2b]
        # the pipeline's MPI servers in a cluster run (one job per MS), else this process
        sections = pipeline_mapper().map(run_b2b_job, jobs, [job.vis for job in jobs])
        return B2BDiagnosticsResults([ms.name for ms in b2b], list(sections))

    def analyse(self, result: B2BDiagnosticsResults) -> B2BDiagnosticsResults:
        return result

    def _job(self, ms) -> B2BJob:
        inputs = self.inputs
        stem = products_stem(inputs.output_dir, STAGE, inputs.context.task_counter, ms.basename)
        refant = inputs.refant or (ms.reference_antenna or "").split(",")[0]
        args = task_defaults(TASK) | {
            "vis": ms.name,
            "refant": refant,
            "dgcfield": inputs.dgcfield,
            "phasecal": inputs.phasecal,
            "target": names(inputs.target),
            "solint": inputs.solint,
            "combine": inputs.combine,
            "minsnr": float(inputs.minsnr),
            "blockgap": float(inputs.blockgap),
            "doapply": False,
            "caltable": stem,
            "outfile": stem,
            "overwrite": True,
        }
        return B2BJob(ms.name, args, _diffgain_tables(inputs.context, ms))


def _diffgain_tables(context, ms) -> DiffgainTables | None:
    """The last hifa_diffgaincal result for ms in the context, if any."""
    found = None
    for proxy in context.results:
        result = proxy.read() if hasattr(proxy, "read") else proxy
        if getattr(result, "taskname", "") != "hifa_diffgaincal":
            continue
        for r in result:
            if os.path.basename(getattr(r, "vis", "") or "") == ms.basename:
                found = r
    if found is None:
        return None
    registered = tuple((str(c.gaintable), c.intent, c.spw, str(c.interp)) for c in found.final)
    residual = found.residual_phase_result
    table = residual.final[0].gaintable if residual is not None and residual.final else None
    return DiffgainTables(registered, table)
