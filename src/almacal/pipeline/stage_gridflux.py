"""almacal_gridflux_check: the grid calibrators' flux.csv fluxes against the catalog now.

gridflux_check reads the flux.csv that hifa_importdata wrote in the working
directory (the file the context's flux models were read from) and writes it back
updated: the amplitude calibrators' rows at the catalog's present flux, the other
rows as they were; the previous file is kept as <stage products>.flux_before.csv.
With updatemodels=True the context's flux models are re-read from the updated
file the way hifa_importdata reads flux.csv (pipeline.h.tasks.importdata.fluxes.
import_flux), so hif_setmodels and hifa_gfluxscale use them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace

import pipeline.infrastructure as infrastructure
import pipeline.infrastructure.basetask as basetask
import pipeline.infrastructure.vdp as vdp
from pipeline.h.tasks.importdata import fluxes
from pipeline.infrastructure import task_registry

from almacal.gridflux.task import GridfluxCheckTask
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
from almacal.tasks.task_gridflux_check import CasaGridfluxReaders

LOG = infrastructure.get_logger(__name__)

TASK = "gridflux_check"  # the CASA task whose core and parameters the stage uses
STAGE = "almacal_gridflux_check"
FLUX_CSV = "flux.csv"


class GridfluxInputs(vdp.StandardInputs):
    fluxcsv = vdp.VisDependentProperty(default="")
    field = xml_property(TASK, "field")
    catalog = xml_property(TASK, "catalog")
    serviceurl = xml_property(TASK, "serviceurl")
    lightcurveurl = xml_property(TASK, "lightcurveurl")
    cachedir = xml_property(TASK, "cachedir")
    timeout = xml_property(TASK, "timeout")
    window = xml_property(TASK, "window")
    maxage = xml_property(TASK, "maxage")
    asof = xml_property(TASK, "asof")
    updatemodels = vdp.VisDependentProperty(default=False)

    def __init__(
        self,
        context,
        output_dir=None,
        vis=None,
        fluxcsv=None,
        field=None,
        catalog=None,
        serviceurl=None,
        lightcurveurl=None,
        cachedir=None,
        timeout=None,
        window=None,
        maxage=None,
        asof=None,
        updatemodels=None,
    ):
        """Inputs of almacal_gridflux_check.

        Args:
            context: the pipeline context.
            output_dir: the working directory (default: the context's).
            vis: the EBs (default: every MS of the context).
            fluxcsv: the flux.csv to check (default: flux.csv in the working directory).
            field: the amplitude calibrator (default: by its intent in each EB).
            catalog, serviceurl, lightcurveurl, cachedir, timeout, window, maxage, asof:
                as gridflux_check's (its XML): catalog='service' asks the ALMA
                calibrator catalog, a file name reads an offline catalog.
            updatemodels: also update the context's flux models (default False).
        """
        super().__init__()
        self.context = context
        self.output_dir = output_dir
        self.vis = vis
        self.fluxcsv = fluxcsv
        self.field = field
        self.catalog = catalog
        self.serviceurl = serviceurl
        self.lightcurveurl = lightcurveurl
        self.cachedir = cachedir
        self.timeout = timeout
        self.window = window
        self.maxage = maxage
        self.asof = asof
        self.updatemodels = updatemodels


class GridfluxResults(AlmacalResults):
    def __init__(
        self,
        vis: Sequence[str],
        sections: Sequence[Section],
        fluxcsv: str | None = None,
        updatemodels: bool = False,
    ):
        super().__init__(STAGE, vis, sections)
        self.fluxcsv = fluxcsv  # the updated flux.csv in the working directory
        self.updatemodels = updatemodels

    def merge_with_context(self, context) -> None:
        if self.updatemodels and self.fluxcsv:
            LOG.info("Updating the context's flux models from %s", self.fluxcsv)
            fluxes.import_flux(context.output_dir, context.observing_run, filename=self.fluxcsv)


@task_registry.set_equivalent_casa_task(STAGE)
@task_registry.set_casa_commands_comment(
    "Amplitude calibrator fluxes of flux.csv against the ALMA calibrator catalog as it is now "
    "(almacal gridflux_check)."
)
class GridfluxCheck(basetask.StandardTaskTemplate):
    Inputs = GridfluxInputs
    is_multi_vis_task = True

    def prepare(self) -> GridfluxResults:
        inputs = self.inputs
        vis = names(inputs.vis)
        stem = products_stem(inputs.output_dir, STAGE, inputs.context.task_counter)
        source = inputs.fluxcsv or os.path.join(inputs.output_dir, FLUX_CSV)
        args = task_defaults(TASK) | {
            "vis": vis,
            "fluxcsv": source,
            "field": inputs.field,
            "catalog": inputs.catalog,
            "serviceurl": names(inputs.serviceurl),
            "lightcurveurl": names(inputs.lightcurveurl),
            "cachedir": inputs.cachedir,
            "timeout": float(inputs.timeout),
            "window": float(inputs.window),
            "maxage": float(inputs.maxage),
            "asof": inputs.asof,
            "outfile": stem,
            "overwrite": True,
        }
        section = run_core(
            GridfluxCheckTask(CasaGridfluxReaders(), pipeline_mapper()),
            args,
            title=f"{STAGE}: gridflux_check",
            vis=vis,
        )
        if section.error is not None:
            return GridfluxResults(vis, [section])
        written, table = _write_working_flux_csv(stem, inputs.output_dir, bool(inputs.updatemodels))
        section = replace(section, tables=(table,))
        return GridfluxResults(vis, [section], written, bool(inputs.updatemodels))

    def analyse(self, result: GridfluxResults) -> GridfluxResults:
        return result


def _write_working_flux_csv(stem: str, output_dir: str, updatemodels: bool) -> tuple[str, Table]:
    """gridflux_check's updated flux.csv becomes the working directory's flux.csv; the
    previous one is kept beside the stage's products."""
    target = os.path.join(output_dir, FLUX_CSV)
    backup = stem + ".flux_before.csv"
    rows = []
    if os.path.exists(target):
        shutil.copy2(target, backup)
        rows.append((FLUX_CSV + " before this stage", os.path.basename(backup)))
    shutil.copy2(stem + ".flux.csv", target)
    rows.append((FLUX_CSV + " now (working directory)", "updated amplitude calibrator rows"))
    rows.append(
        (
            "Context flux models",
            "updated from it (hif_setmodels and hifa_gfluxscale use them)"
            if updatemodels
            else "unchanged (updatemodels=False)",
        )
    )
    LOG.info("Wrote the updated %s (previous kept as %s)", target, backup)
    return target, Table("flux.csv and the context's flux models.", ("What", "State"), tuple(rows))
