"""relcal_fit implementation. Parameters are defined in xml/relcal_fit.xml."""

from __future__ import annotations

from almacal.casatask.skeleton import run_task
from almacal.io.mpi import task_mapper
from almacal.io.ms import CasaMs
from almacal.io.selfcal import CasaSelfcal
from almacal.relcal.task import RelcalFitTask


def relcal_fit(
    vis,
    field,
    spw,
    datacolumn,
    uvrange,
    perspw,
    groupby,
    exclude,
    outfile,
    overwrite,
    selfcal,
    solint,
    refant,
    gaintype,
    minsnr,
    combine,
    fitspw,
    model,
    modelcheck,
    rejectsigma,
    minfamily,
    fitposition,
    minfluxsnr,
    fieldmatch,
    matchradius,
    parallel,
):
    """Relative flux calibration from stable calibrators. Parameters: xml/relcal_fit.xml."""
    return run_task(RelcalFitTask(CasaMs(), CasaSelfcal(), task_mapper(parallel)), locals())
