"""spwconsistency implementation. Parameters are defined in xml/spwconsistency.xml."""

from __future__ import annotations

from almacal.casatask.checks import check_vis
from almacal.casatask.log import casalog
from almacal.spwcons.inputs import PerSpwFits
from almacal.spwcons.params import SpwConsistencyParams
from almacal.spwcons.results import SpwConsistencyResult, write_outputs


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
):
    """Relative flux calibration between spws (seed 000 Sect. 3.4). Parameters: XML."""
    call = dict(locals())  # recorded in the JSON output
    casalog.origin("spwconsistency")
    fit_params = {"spw": spw, "datacolumn": datacolumn, "uvrange": uvrange, "groupby": groupby}
    p = SpwConsistencyParams.build(
        resultfile=resultfile,
        vis=vis,
        field=field,
        fit_params=fit_params,
        nboot=nboot,
        nmc=nmc,
        seed=seed,
        siglevel=siglevel,
        outfile=outfile,
        overwrite=overwrite,
    )
    if p.resultfile:
        casalog.post("Reading per-spw fits from %s" % p.resultfile)
        fits = PerSpwFits.from_json(p.resultfile)
    else:
        paths = check_vis(list(p.vis))
        fits = PerSpwFits.from_record(_fit_per_spw(paths, p), source="relcal_fit of vis")
    if fits.rfcf_excluded:
        casalog.post(
            "relcal_fit left %d (epoch, calibrator) pairs out of its rFCF (%s); their per-spw "
            "MCFs are kept here: MCF_ijk / MCF_ij does not depend on the calibrator's broadband "
            "flux in that epoch"
            % (
                len(fits.rfcf_excluded),
                "; ".join("epoch %(epoch)d %(field)s: %(reason)s" % e for e in fits.rfcf_excluded),
            ),
            "WARN",
        )
    n_e, n_c, n_s = fits.shape
    casalog.post(
        "%d epochs x %d calibrators x %d spws (%s GHz); %d bootstrap resamples, %d MC draws"
        % (n_e, n_c, n_s, ", ".join("%.3f" % (f / 1e9) for f in fits.spw_freq_hz), p.nboot, p.nmc)
    )
    result = SpwConsistencyResult.compute(
        fits, nboot=p.nboot, nmc=p.nmc, seed=p.seed, siglevel=p.siglevel, params=call
    )
    for line in result.summary_lines():
        casalog.post(line)
    if p.outfile:
        written = write_outputs(result, p.outfile)
        casalog.post("Wrote %s" % ", ".join(written.values()))
    return result.to_record()


def _fit_per_spw(paths: tuple[str, ...], p: SpwConsistencyParams) -> dict:
    """relcal_fit with perspw=True, keywords only: its other parameters keep their defaults."""
    from almacal import relcal_fit

    casalog.post("Running relcal_fit(perspw=True) on %d measurement sets" % len(paths))
    try:
        return relcal_fit(
            vis=list(paths), field=list(p.field), perspw=True, outfile="", **p.fit_params
        )
    finally:
        casalog.origin("spwconsistency")
