"""relcal_fit's steps over the measurement sets: self-calibration into scratch copies,
the common uv range, line-free channels, and the chunked fit pass(es).

Kept out of the task wrapper so that it stays validate -> read -> compute -> write.
The MSs are only read; self-calibration works on scratch copies.
"""

from __future__ import annotations

import time

import numpy as np

from almacal.casatask.log import casalog
from almacal.io import ms as ms_io
from almacal.io.selfcal import ReadTarget, selfcal_ms
from almacal.relcal.fluxfit import N_SUMS, SUM_W, PointFit
from almacal.relcal.linefree import line_masks
from almacal.relcal.params import FitOptions, RelcalFitParams
from almacal.relcal.posfit import PositionFit, fit_positions
from almacal.relcal.results import RelcalResult
from almacal.relcal.selfcal_plan import SelfcalReport
from almacal.relcal.uvgrid import MAX_OFFSET_ARCSEC, occupied_cells, uv_grid
from almacal.relcal.uvmodel import N_BIN_SUMS, fit_models, ratio_check, uv_edges_lambda
from almacal.uvrange import UvRange


def fit_epochs(p, targets, uvr, spw, uvrange, call, paths, extras) -> RelcalResult:
    opt: FitOptions = p.options
    n_cal, n_spw, n_ep = len(p.fields), len(p.spws), len(p.epochs)
    sums = np.zeros((n_ep, n_cal, n_spw, N_SUMS))
    binned = (opt.model != "point" and not opt.fitposition) or opt.modelcheck
    edges = uv_edges_lambda()
    bsums = np.zeros((n_ep, n_cal, n_spw, edges.size - 1, N_BIN_SUMS)) if binned else None
    grid = _position_grid(targets, uvr, n_cal, p.perspw) if opt.fitposition else None
    # dense grid sums only while an epoch is being read; then its occupied cells
    dense: dict[int, np.ndarray] = {}
    cells: list = [None] * n_ep
    last_ms = {int(e): int(np.flatnonzero(p.epoch_of_ms == e)[-1]) for e in range(n_ep)}
    for m, t in enumerate(targets):
        casalog.post(
            "Fitting %d calibrators x %d spws in %s (%s, epoch %d)"
            % (n_cal, n_spw, t.info.path, t.column, p.epoch_of_ms[m] + 1)
        )
        e = p.epoch_of_ms[m]
        point, bin_s, grid_s = ms_io.read_fit_sums(
            t.info,
            t.field_index,
            n_cal,
            t.channels,
            t.column,
            uvr,
            edges if binned else None,
            grid,
        )
        sums[e] += point
        if bsums is not None and bin_s is not None:
            bsums[e] += bin_s
        if grid_s is not None:
            dense[e] = dense[e] + grid_s if e in dense else grid_s
            if last_ms[e] == m:
                cells[e] = occupied_cells(dense.pop(e))
    empty = np.argwhere(sums[..., SUM_W].sum(axis=2) == 0)
    if empty.size:
        e, j = empty[0]
        raise ValueError(
            "field %r has no unflagged, finite data within spw=%r, uvrange=%r in epoch %d (%s)"
            % (p.fields[j], spw, uvrange, e + 1, ", ".join(p.epochs[e].vis))
        )
    total_fit, mf = None, None
    if grid is not None:
        pf = fit_positions(cells, grid, opt.model)
        extras.update(pf.record())
        _log_positions(pf, p)
        mf = pf.fit
    elif opt.model != "point" and bsums is not None:
        mf = fit_models(bsums.sum(axis=2), opt.model)
        extras.update(mf.record())
    if mf is not None:
        total_fit = PointFit(
            flux=mf.total,
            sigma_weights=mf.total_sigma_weights,
            sigma_chi2=mf.total_sigma,
            chi2_red=mf.chi2_red,
            n_vis=mf.n_vis,
        )
    if mf is not None and opt.model != "point":
        casalog.post(
            "model %s: total flux = point + Gaussian; Gaussian FWHM (arcsec) per calibrator, "
            "median over epochs: %s"
            % (opt.model, ", ".join("%.2f" % v for v in np.nanmedian(mf.fwhm_arcsec, axis=0)))
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
        total_fit=total_fit,
        rejectsigma=opt.rejectsigma,
        minfamily=opt.minfamily,
        extras=extras,
    )
    if opt.modelcheck and bsums is not None:  # modelcheck always bins (see binned)
        check = ratio_check(bsums, edges, result.used)
        result.extras.update(check.record())
        casalog.post(
            "model-free check over %.1f-%.1f klambda: rFCF %s (fit: %s)"
            % (
                *check.uv_klambda,
                ", ".join("%.4f" % r for r in check.rfcf),
                ", ".join("%.4f" % r for r in result.rfcf),
            )
        )
    if result.choice is not None:
        for ex in result.choice.exclusions:
            casalog.post("excluded epoch %(epoch)d %(field)s: %(reason)s" % ex)
    return result


def _position_grid(targets, uvr, n_cal, perspw):
    """One (u, v) grid for every MS, sized by the longest baseline of all of them."""
    q_max = max(ms_io.read_max_uv_lambda(t.info, t.field_index, t.channels, uvr) for t in targets)
    grid = uv_grid(q_max, n_cal)
    casalog.post("fitposition: (u, v) grid of %s" % grid.describe())
    if perspw:
        casalog.post(
            "fitposition: the per-spw fluxes (perspw) remain point fits at the phase centre",
            "WARN",
        )
    if grid.max_offset_arcsec < MAX_OFFSET_ARCSEC:
        casalog.post(
            "fitposition: baselines up to %.0f klambda cap the grid: offsets beyond %.2f arcsec "
            "cannot be fitted" % (q_max / 1e3, grid.max_offset_arcsec),
            "WARN",
        )
    return grid


def _log_positions(pf: PositionFit, p) -> None:
    for e, ep in enumerate(p.epochs):
        casalog.post(
            "fitposition epoch %d: offset (dRA, dDec) arcsec %s"
            % (
                ep.number,
                ", ".join(
                    "%s (%+.3f, %+.3f) +- %.3f"
                    % (
                        name,
                        pf.dra_arcsec[e, j],
                        pf.ddec_arcsec[e, j],
                        max(pf.dra_sigma_arcsec[e, j], pf.ddec_sigma_arcsec[e, j]),
                    )
                    for j, name in enumerate(p.fields)
                ),
            )
        )
    for e, j in zip(*np.nonzero(pf.at_limit), strict=True):
        casalog.post(
            "fitposition: epoch %d %s offset at the grid limit (%.2f arcsec): its flux is not "
            "reliable; check the field's position"
            % (e + 1, p.fields[j], pf.grid.max_offset_arcsec),
            "WARN",
        )


def self_calibrate(p, targets, workdir, extras) -> list[ReadTarget]:
    opt: FitOptions = p.options
    t0 = time.perf_counter()
    n_ep, n_cal = len(p.epochs), len(p.fields)
    before = np.zeros((n_ep, n_cal))
    after = np.zeros((n_ep, n_cal))
    rms = np.full((n_ep, n_cal, len(opt.solints)), np.nan)
    out, refants = [], []
    for m, t in enumerate(targets):
        casalog.post("selfcal %s: phase-only, solints %s" % (t.info.path, ", ".join(opt.solints)))
        o = selfcal_ms(
            t,
            fields=p.fields,
            uvrange=p.uvrange,
            solints=opt.solints,
            refant=opt.refant,
            gaintype=opt.gaintype,
            minsnr=opt.minsnr,
            combine=opt.combine,
            workdir=workdir,
        )
        e = p.epoch_of_ms[m]
        # an epoch of several MSs: report the mean of its MSs' fluxes and the largest rms
        k = np.count_nonzero(p.epoch_of_ms[:m] == e)
        before[e] = (before[e] * k + o.flux_before) / (k + 1)
        after[e] = (after[e] * k + o.flux_after) / (k + 1)
        rms[e] = np.fmax(rms[e], o.phase_rms_deg)
        out.append(o.target)
        refants.append(o.refant)
    report = SelfcalReport(
        solints=opt.solints,
        refant=tuple(refants),
        flux_before=before,
        flux_after=after,
        phase_rms_deg=rms,
        seconds=time.perf_counter() - t0,
    )
    extras.update(report.record())
    for e, ep in enumerate(p.epochs):
        casalog.post(
            "selfcal epoch %d: flux before -> after (Jy) %s"
            % (
                ep.number,
                ", ".join(
                    "%s %.4f -> %.4f" % (name, before[e, j], after[e, j])
                    for j, name in enumerate(p.fields)
                ),
            )
        )
    return out


def common_uvrange(p, targets, extras) -> UvRange:
    n_ep = len(p.epochs)
    lo, hi = np.full(n_ep, np.inf), np.zeros(n_ep)
    for m, t in enumerate(targets):
        a, b = ms_io.read_uv_limits(t.info, t.field_index, t.channels, t.column, None)
        e = p.epoch_of_ms[m]
        lo[e], hi[e] = min(lo[e], a), max(hi[e], b)
    common = UvRange(float(lo.max()), float(hi.min()), True)
    per_epoch = ", ".join(
        "%d: %.1f-%.1f" % (ep.number, a / 1e3, b / 1e3)
        for ep, a, b in zip(p.epochs, lo, hi, strict=True)
    )
    if not common.lo < common.hi:
        raise ValueError(
            "uvrange='common': the epochs share no uv-distance range (klambda per epoch: %s)"
            % per_epoch
        )
    casalog.post(
        "uvrange='common': %.2f-%.2f klambda (epochs: %s klambda)"
        % (common.lo / 1e3, common.hi / 1e3, per_epoch)
    )
    extras["uvrange_klambda"] = [common.lo / 1e3, common.hi / 1e3]
    extras["uvrange_klambda_epoch"] = np.stack([lo, hi], axis=1).__truediv__(1e3).tolist()
    return common


def drop_line_channels(p, targets, uvr, extras) -> list[ReadTarget]:
    n_ep, n_cal = len(p.epochs), len(p.fields)
    spectra: list[list[np.ndarray]] = [[] for _ in range(n_ep)]
    for m, t in enumerate(targets):
        spec = ms_io.read_spectra(t.info, t.field_index, n_cal, t.channels, t.column, uvr)
        e = p.epoch_of_ms[m]
        per_pos = [spec[s] for s in t.channels]
        spectra[e] = (
            per_pos if not spectra[e] else [a + b for a, b in zip(spectra[e], per_pos, strict=True)]
        )
    t0 = targets[0]
    freqs = [t0.info.chan_freq_hz[s] for s in t0.channels]
    usable = [t0.channels[s] for s in t0.channels]
    masks = line_masks(spectra, freqs, usable)
    report: dict = {}
    for j, name in enumerate(p.fields):
        for k, spw_id in enumerate(p.spws):
            chans = np.flatnonzero(masks[k][j]).tolist()
            if chans:
                report.setdefault(name, {})[str(spw_id)] = chans
                casalog.post(
                    "fitspw='auto': %s spw %d line channels %s excluded"
                    % (name, spw_id, _ranges(chans))
                )
    if not report:
        casalog.post("fitspw='auto': no line channels found")
    extras["line_channels"] = report
    out = []
    for t in targets:
        ch = {s: np.asarray(t.channels[s])[None, :] & ~masks[k] for k, s in enumerate(t.channels)}
        out.append(ReadTarget(t.info, t.field_index, ch, t.column))
    return out


def _ranges(chans: list[int]) -> str:
    """[3, 4, 5, 9] -> '3~5;9' (CASA channel-range syntax)."""
    c = np.asarray(chans)
    breaks = np.flatnonzero(np.diff(c) != 1)
    starts, ends = c[np.r_[0, breaks + 1]], c[np.r_[breaks, c.size - 1]]
    return ";".join(
        str(a) if a == b else "%d~%d" % (a, b) for a, b in zip(starts, ends, strict=True)
    )


def refuse_fully_flagged(p: RelcalFitParams) -> None:
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
