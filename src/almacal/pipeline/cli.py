"""The recipe commands of the almacal stages (pipeline.h.cli.utils.cli_wrapper).

Each function's parameters are its stage's Inputs (None: the default); a recipe's
<Command> finds it in pipeline.cli once almacal.pipeline.register() has run.
"""

from __future__ import annotations

import pipeline.h.cli.utils as utils


@utils.cli_wrapper
def almacal_gridflux_check(
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
    """Check the amplitude calibrators' fluxes in flux.csv against the ALMA calibrator
    catalog as it is now (almacal gridflux_check); write the updated flux.csv and, with
    updatemodels=True, update the context's flux models.

    Returns:
        The results object for the pipeline task is returned.
    """


@utils.cli_wrapper
def almacal_relcal(
    vis=None,
    field=None,
    spw=None,
    datacolumn=None,
    uvrange=None,
    groupby=None,
    exclude=None,
):
    """Align the flux scales of the EBs on stable calibrators (almacal relcal_fit) and
    register one amplitude table per MS for the next hif_applycal.

    Returns:
        The results object for the pipeline task is returned.
    """


@utils.cli_wrapper
def almacal_spwconsistency(
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
    """Relative flux calibration between spectral windows of the calibrators (almacal
    spwconsistency): the finer spectral consistency score beside the pipeline's K_spw.

    Returns:
        The results object for the pipeline task is returned.
    """


@utils.cli_wrapper
def almacal_b2b_diagnostics(
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
    """Diagnostics of the band-to-band calibration (almacal b2b_phasetransfer with
    doapply=False): residual DGC phase RMS, band offset stability, expected target
    coherence.

    Returns:
        The results object for the pipeline task is returned.
    """


COMMANDS = {
    f.__name__: f
    for f in (
        almacal_gridflux_check,
        almacal_relcal,
        almacal_spwconsistency,
        almacal_b2b_diagnostics,
    )
}
