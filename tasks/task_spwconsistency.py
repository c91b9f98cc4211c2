"""spwconsistency implementation. Parameters are defined in xml/spwconsistency.xml."""

from __future__ import annotations

from almacal.casatask.skeleton import run_task
from almacal.io.mpi import task_mapper
from almacal.io.ms import CasaMs
from almacal.io.selfcal import CasaSelfcal
from almacal.relcal.task import RelcalFitTask
from almacal.spwcons.task import SpwConsistencyTask


def spwconsistency(
    resultfile,
    vis,
    field,
    spw,
    datacolumn,
    uvrange,
    groupby,
    nboot,
    nmc,
    seed,
    siglevel,
    outfile,
    overwrite,
    parallel,
):
    """Relative flux calibration between spws (seed 000 Sect. 3.4). Parameters: XML."""
    return run_task(
        SpwConsistencyTask(RelcalFitTask(CasaMs(), CasaSelfcal(), task_mapper(parallel))), locals()
    )
