"""relcal_fit implementation. Parameters are defined in xml/relcal_fit.xml."""

from __future__ import annotations

from contextlib import ExitStack

from almacal.casatask.checks import check_vis
from almacal.casatask.log import casalog
from almacal.io import ms as ms_io
from almacal.io import relcal_steps as steps
from almacal.io.selfcal import ReadTarget, scratch_directory
from almacal.relcal.params import FitOptions, RelcalFitParams
from almacal.relcal.results import RelcalResult, write_outputs


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
):
    """Relative flux calibration from stable calibrators. Parameters: xml/relcal_fit.xml."""
    call = dict(locals())  # recorded in the JSON output: relcal_fit writes nothing to the MSs
    casalog.origin("relcal_fit")
    paths = check_vis(vis)
    options = FitOptions.from_task_args(
        uvrange=uvrange,
        selfcal=selfcal,
        solint=solint,
        refant=refant,
        gaintype=gaintype,
        minsnr=minsnr,
        combine=combine,
        rejectsigma=rejectsigma,
        minfamily=minfamily,
        fitspw=fitspw,
        model=model,
        modelcheck=modelcheck,
        fitposition=fitposition,
    )
    infos = [ms_io.read_info(p) for p in paths]
    p = RelcalFitParams.build(
        infos=infos,
        channels=[ms_io.select_channels(i, spw) for i in infos],
        field=field,
        datacolumn=datacolumn,
        uvrange=uvrange,
        perspw=perspw,
        groupby=groupby,
        exclude=exclude,
        outfile=outfile,
        overwrite=overwrite,
        options=options,
    )
    steps.refuse_fully_flagged(p)
    targets = [
        ReadTarget(info, p.field_index[m], p.channels[m], p.columns[m])
        for m, info in enumerate(p.infos)
    ]
    extras: dict = {}
    with ExitStack() as stack:
        if options.selfcal:
            workdir = stack.enter_context(scratch_directory(p.infos[0].path))
            targets = steps.self_calibrate(p, targets, workdir, extras)
        uvr = p.uvrange
        if options.uvrange_common:
            uvr = steps.common_uvrange(p, targets, extras)
        if options.fitspw_auto:
            targets = steps.drop_line_channels(p, targets, uvr, extras)
        result = steps.fit_epochs(p, targets, uvr, spw, uvrange, call, paths, extras)
    _log_result(result)
    if p.outfile:
        written = write_outputs(result, p.outfile)
        casalog.post("Wrote %s" % ", ".join(written.values()))
    return result.to_record()


def _log_result(result: RelcalResult) -> None:
    f = result.total.fit
    for e, ep in enumerate(result.epochs):
        for j, name in enumerate(result.fields):
            casalog.post(
                "epoch %d %s %-8s F = %.5f +- %.5f Jy (weights: %.5f, chi2_red %.2f)  "
                "MCF = %.4f +- %.4f%s"
                % (
                    ep.number,
                    ep.date,
                    name,
                    f.flux[e, j],
                    f.sigma_chi2[e, j],
                    f.sigma_weights[e, j],
                    f.chi2_red[e, j],
                    result.total.mcf[e, j],
                    result.total.mcf_sigma[e, j],
                    "" if result.used[e, j] else "  (excluded)",
                )
            )
    casalog.post("rFCF per epoch: %s" % result.summary())
