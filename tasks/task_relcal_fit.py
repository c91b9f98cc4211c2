"""relcal_fit implementation. Parameters are defined in xml/relcal_fit.xml."""

from __future__ import annotations

import numpy as np

from almacal.io import ms as ms_io
from almacal.io.casalog import casalog
from almacal.relcal.fluxfit import N_SUMS, SUM_W
from almacal.relcal.params import RelcalFitParams, check_vis
from almacal.relcal.results import RelcalResult, write_outputs


def relcal_fit(vis, field, spw, datacolumn, uvrange, perspw, groupby, exclude, outfile, overwrite):
    """Relative flux calibration from stable calibrators. Parameters: xml/relcal_fit.xml."""
    call = dict(locals())  # recorded in the JSON output: relcal_fit writes nothing to the MSs
    casalog.origin("relcal_fit")
    paths = check_vis(vis)
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
    )
    _refuse_fully_flagged(p)

    n_cal, n_spw = len(p.fields), len(p.spws)
    sums = np.zeros((len(p.epochs), n_cal, n_spw, N_SUMS))
    for m, info in enumerate(p.infos):
        casalog.post(
            "Fitting %d calibrators x %d spws in %s (%s, epoch %d)"
            % (n_cal, n_spw, info.path, p.columns[m], p.epoch_of_ms[m] + 1)
        )
        sums[p.epoch_of_ms[m]] += ms_io.read_point_sums(
            info, p.field_index[m], n_cal, p.channels[m], p.columns[m], p.uvrange
        )
    empty = np.argwhere(sums[..., SUM_W].sum(axis=2) == 0)
    if empty.size:
        e, j = empty[0]
        raise ValueError(
            "field %r has no unflagged, finite data within spw=%r, uvrange=%r in epoch %d (%s)"
            % (p.fields[j], spw, uvrange, e + 1, ", ".join(p.epochs[e].vis))
        )

    result = RelcalResult.compute(
        epochs=p.epochs,
        fields=p.fields,
        spws=p.spws,
        spw_freq_hz=p.spw_freq_hz(),
        sums=sums,
        excluded=p.excluded,
        perspw=p.perspw,
        params=call | {"vis": list(paths)},
    )
    _log_result(result)
    if p.outfile:
        written = write_outputs(result, p.outfile)
        casalog.post("Wrote %s" % ", ".join(written.values()))
    return result.to_record()


def _refuse_fully_flagged(p: RelcalFitParams) -> None:
    for m, info in enumerate(p.infos):
        ids = np.flatnonzero(p.field_index[m] >= 0)
        ddids = np.flatnonzero(np.isin(info.ddid_spw, list(p.channels[m])))
        have = ms_io.fields_with_data(info, ids, ddids)
        for j, name in enumerate(p.fields):
            if not have & set(np.flatnonzero(p.field_index[m] == j).tolist()):
                raise ValueError(
                    f"field {name!r}: all data are flagged in {info.path} "
                    f"for spw={list(p.channels[m])}"
                )


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
