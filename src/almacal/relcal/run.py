"""relcal_fit's story: read plan -> per-MS accumulate -> sum per epoch -> cuts -> fits.

``measure`` reads: self-calibration into scratch copies when asked, then one pass
per MS (almacal.relcal.accumulate) that gathers everything the options need, and
the cuts that need every epoch (common uv range, line channels). ``solve`` is
pure: the fit sums after the cuts, the model fits, Eq. 1-3 and the choice of
calibrators. The readers are arguments (MsReader, SelfcalCalls), so both run in
unit tests on synthetic chunks.

One pass per MS serves every option except two: selfcal (its rounds read their
scratch copies) and fitspw='auto' with fitposition=True, whose (u, v) cells must
leave out each calibrator's line channels, known only after a first pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

import numpy as np

from almacal.casatask.log import casalog
from almacal.casatask.terminal import progress
from almacal.constants import C_M_S
from almacal.msinfo import MsInfo
from almacal.parallel import SERIAL, Mapper
from almacal.relcal.accumulate import (
    BinPlan,
    MsPlan,
    MsSums,
    PassSpec,
    accumulate,
    max_bin_bytes,
    sum_epochs,
)
from almacal.relcal.choice import USER_EXCLUSION
from almacal.relcal.cuts import CommonUvRange, LineChannels, cut_sums, find_lines
from almacal.relcal.dates import pass_time_range, utc_date
from almacal.relcal.params import RelcalFitParams
from almacal.relcal.plan import Target, VisReader, ms_plan, read_slices
from almacal.relcal.posfit import PositionFit, fit_positions
from almacal.relcal.results import Epoch, Options, RelcalResult
from almacal.relcal.selfcal import (
    SelfcalCalls,
    SelfcalOutcome,
    SelfcalSettings,
    self_calibrate,
    selfcal_ms,
)
from almacal.relcal.selfcal_plan import SelfcalReport
from almacal.relcal.usable import Selection, data_reasons
from almacal.relcal.uvbins import FINE_PER_DECADE, MODEL_PER_DECADE
from almacal.relcal.uvgrid import MAX_OFFSET_ARCSEC, UvGrid, uv_grid
from almacal.relcal.uvmodel import ModelFit, fit_models, ratio_check, uv_edges_lambda
from almacal.uvrange import UvRange
from almacal.vischunk import ReadSelection, VisChunk


class MsReader(Protocol):
    """What relcal_fit reads from MSs (almacal.io.ms.CasaMs)."""

    def read_info(self, path: str) -> MsInfo: ...

    def select_channels(self, info: MsInfo, spw: str) -> dict[int, np.ndarray]: ...

    def chunks(self, selection: ReadSelection) -> Iterator[VisChunk]: ...

    def longest_baselines_m(self, selection: ReadSelection) -> tuple[float, ...]: ...


@dataclass(frozen=True)
class Measured:
    """What the passes gave: per-epoch sums and the cuts decided from all epochs.

    exact : the sums were read with the cuts applied (second pass), so the epochs
    hold final point sums, model bins and cells.
    """

    epochs: tuple[MsSums, ...]
    selfcal: SelfcalReport | None = None
    common_uv: CommonUvRange | None = None
    lines: LineChannels | None = None
    grid: UvGrid | None = None
    exact: bool = False


def _needs_bins(p: RelcalFitParams) -> bool:
    opt = p.options
    return (opt.model != "point" and not opt.fitposition) or opt.modelcheck


def measure(
    p: RelcalFitParams,
    reader: MsReader,
    selfcal: SelfcalCalls | None = None,
    mapper: Mapper = SERIAL,
) -> Measured:
    """The passes over every MS (see the module docstring); mapper runs each MS's pass
    (almacal.parallel: here, or on MPI servers), the rest stays in this process."""
    with ExitStack() as stack:
        targets = list(p.targets())
        report = None
        if p.options.selfcal:
            if selfcal is None:
                raise ValueError("selfcal=True needs the self-calibration steps")
            workdir = stack.enter_context(selfcal.scratch_directory(p.infos[0].path))
            targets, report = _self_calibrate(p, targets, reader, selfcal, workdir)
        twice = p.options.fitspw_auto and p.options.fitposition
        m = (_measure_twice if twice else _measure_once)(p, reader, targets, mapper)
        return replace(m, selfcal=report)


def _measure_once(
    p: RelcalFitParams, reader: MsReader, targets: list[Target], mapper: Mapper
) -> Measured:
    opt = p.options
    deferred = opt.uvrange_common or opt.fitspw_auto
    grid = _position_grid(p, reader, targets, p.uvrange, mapper) if opt.fitposition else None
    per_decade = FINE_PER_DECADE if opt.uvrange_common else 0
    if not per_decade and _needs_bins(p):
        per_decade = MODEL_PER_DECADE
    spec = PassSpec(
        uvrange=p.uvrange,
        model_edges=uv_edges_lambda() if _needs_bins(p) and not deferred else None,
        bins=BinPlan(per_decade, opt.fitspw_auto) if deferred else None,
        grid=grid,
        uv_limits=opt.uvrange_common,
        max_bin_bytes=max_bin_bytes(len(targets)),
    )
    epochs = read_epochs(p, reader, targets, spec, mapper)
    common = _common_uvrange(p, epochs) if opt.uvrange_common else None
    lines = _find_lines(p, epochs, targets[0], common) if opt.fitspw_auto else None
    return Measured(epochs, None, common, lines, grid)


def _measure_twice(
    p: RelcalFitParams, reader: MsReader, targets: list[Target], mapper: Mapper
) -> Measured:
    opt = p.options
    spec = PassSpec(
        uvrange=p.uvrange,
        bins=BinPlan(FINE_PER_DECADE if opt.uvrange_common else 0, True),
        uv_limits=opt.uvrange_common,
        max_bin_bytes=max_bin_bytes(len(targets)),
    )
    first = read_epochs(p, reader, targets, spec, mapper)
    common = _common_uvrange(p, first) if opt.uvrange_common else None
    lines = _find_lines(p, first, targets[0], common)
    line_free = [lines.without_lines(t) for t in targets]
    uvr = p.uvrange if common is None else common.uvrange
    grid = _position_grid(p, reader, line_free, uvr, mapper)
    spec = PassSpec(
        uvrange=uvr,
        model_edges=uv_edges_lambda() if _needs_bins(p) else None,
        grid=grid,
    )
    epochs = read_epochs(p, reader, line_free, spec, mapper)
    return Measured(epochs, None, common, lines, grid, exact=True)


def read_epochs(
    p: RelcalFitParams,
    reader: MsReader,
    targets: Sequence[Target],
    spec: PassSpec,
    mapper: Mapper = SERIAL,
) -> tuple[MsSums, ...]:
    """One pass per MS, summed per epoch in MS order (the same additions wherever the
    passes ran; a calibrator without data in an epoch is excluded there by solve,
    relcal.usable)."""
    n_cal = len(p.fields)
    jobs = [
        (
            (m + 1, len(targets), t.info.path),
            "%d calibrators x %d spws, %s, epoch %d"
            % (n_cal, len(p.spws), t.column, p.epoch_of_ms[m] + 1),
            ms_plan(t, n_cal, spec),
        )
        for m, t in enumerate(targets)
    ]
    sums = mapper.map(MsPass(reader), jobs, [t.info.path for t in targets])
    return tuple(sum_epochs(sums, p.epoch_of_ms, len(p.epochs)))


@dataclass(frozen=True)
class MsPass:
    """One MS's pass, a picklable unit a casampi server can run: ((index, total, path),
    what, plan) -> MsSums, with its progress line ('[3/7] ep03.ms: 1.2 GB read in 2.1 s')."""

    reader: VisReader

    def __call__(self, job: tuple[tuple[int, int, str], str, MsPlan]) -> MsSums:
        (index, total, path), what, plan = job
        with progress(index, total, path, what) as counted:
            return accumulate(counted(self.reader.chunks(plan.selection)), plan)


def _self_calibrate(
    p: RelcalFitParams,
    targets: list[Target],
    reader: MsReader,
    calls: SelfcalCalls,
    workdir: str,
) -> tuple[list[Target], SelfcalReport]:
    opt = p.options
    s = SelfcalSettings(
        fields=p.fields,
        uvrange=p.uvrange,
        solints=opt.solints,
        refant=opt.refant,
        gaintype=opt.gaintype,
        minsnr=opt.minsnr,
        combine=opt.combine,
        minfluxsnr=opt.minfluxsnr,
    )

    def one(m: int, t: Target) -> SelfcalOutcome:
        return selfcal_ms(t, s, reader, calls, workdir)

    out, report = self_calibrate(targets, p.epoch_of_ms, len(p.epochs), s, one)
    for e, ep in enumerate(p.epochs):
        casalog.post(
            "selfcal epoch %d: flux before -> after (Jy) %s"
            % (
                ep.number,
                ", ".join(
                    "%s %.4f -> %.4f" % (name, report.flux_before[e, j], report.flux_after[e, j])
                    for j, name in enumerate(p.fields)
                ),
            )
        )
    return out, report


def max_uv_lambda(reader: MsReader, target: Target, uvrange: UvRange | None) -> float:
    """Longest projected baseline of the calibrator rows x highest selected frequency
    (wavelengths), within uvrange's upper limit; reads UVW only."""
    slices = read_slices(target)
    selection = ms_plan(target, target.n_cal, PassSpec()).selection
    out = 0.0
    for (_, s), d_max in zip(slices, reader.longest_baselines_m(selection), strict=True):
        mask = target.channels[s.spw]
        chans = mask.any(axis=0) if mask.ndim == 2 else mask
        f_max = float(target.info.chan_freq_hz[s.spw][chans].max())
        q = d_max * f_max / C_M_S
        if uvrange is not None:
            q = min(q, uvrange.hi * (1.0 if uvrange.in_wavelengths else f_max / C_M_S))
        out = max(out, q)
    return out


def _position_grid(
    p: RelcalFitParams,
    reader: MsReader,
    targets: Sequence[Target],
    uvr: UvRange | None,
    mapper: Mapper,
) -> UvGrid:
    """One (u, v) grid for every MS, sized by the longest baseline of all of them."""
    longest = partial(max_uv_lambda, reader, uvrange=uvr)
    q_max = max(mapper.map(longest, targets, [t.info.path for t in targets]))
    grid = uv_grid(q_max, len(p.fields))
    casalog.post("fitposition: (u, v) grid of %s" % grid.describe())
    if p.perspw:
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


def _common_uvrange(p: RelcalFitParams, epochs: Sequence[MsSums]) -> CommonUvRange:
    common = CommonUvRange.from_epochs(epochs)
    per_epoch = ", ".join(
        "%d: %.1f-%.1f" % (ep.number, a / 1e3, b / 1e3)
        for ep, (a, b) in zip(p.epochs, common.epoch_lambda, strict=True)
    )
    if not common.lo_lambda < common.hi_lambda:
        raise ValueError(
            "uvrange='common': the epochs share no uv-distance range (klambda per epoch: %s)"
            % per_epoch
        )
    casalog.post(
        "uvrange='common': %.2f-%.2f klambda (epochs: %s klambda)"
        % (common.lo_lambda / 1e3, common.hi_lambda / 1e3, per_epoch)
    )
    return common


def _find_lines(
    p: RelcalFitParams,
    epochs: Sequence[MsSums],
    target: Target,
    common: CommonUvRange | None,
) -> LineChannels:
    lines = find_lines([e.binned or () for e in epochs], target, p.fields, common)
    found = lines.channels()
    for name, per_spw in found.items():
        for spw, chans in per_spw.items():
            casalog.post(
                "fitspw='auto': %s spw %s line channels %s excluded" % (name, spw, _ranges(chans))
            )
    if not found:
        casalog.post("fitspw='auto': no line channels found")
    return lines


def _ranges(chans: list[int]) -> str:
    """[3, 4, 5, 9] -> '3~5;9' (CASA channel-range syntax)."""
    c = np.asarray(chans)
    breaks = np.flatnonzero(np.diff(c) != 1)
    starts, ends = c[np.r_[0, breaks + 1]], c[np.r_[breaks, c.size - 1]]
    return ";".join(
        str(a) if a == b else "%d~%d" % (a, b) for a, b in zip(starts, ends, strict=True)
    )


@dataclass(frozen=True)
class FitSums:
    """The sums the fits use, after the cuts: point (n_epoch, n_cal, n_spw, N_SUMS),
    model bins (n_epoch, n_cal, n_spw, n_bin, N_BIN_SUMS), cells[epoch][cal]."""

    point: np.ndarray
    model_bins: np.ndarray | None
    cells: list[list[np.ndarray]] | None


def fit_sums(p: RelcalFitParams, m: Measured) -> FitSums:
    """The point sums, model bins and (u, v) cells of every epoch after the cuts."""
    n_bin = uv_edges_lambda().size - 1 if _needs_bins(p) else None
    deferred = not m.exact and (p.options.uvrange_common or p.options.fitspw_auto)
    if deferred:
        sums = [
            cut_sums(e.binned or (), len(p.fields), m.common_uv, m.lines, n_bin) for e in m.epochs
        ]
    else:
        sums = [(e.point, e.model_bins) for e in m.epochs]
    point = np.stack([s[0] for s in sums])
    model = None if n_bin is None else np.stack([s[1] for s in sums if s[1] is not None])
    return FitSums(point, model, _cells(m, m.common_uv if deferred else None))


def _cells(m: Measured, cut: CommonUvRange | None) -> list[list[np.ndarray]] | None:
    """cells[epoch][cal], within the common range when it is still to be cut."""
    if m.grid is None:
        return None
    out = []
    for e in m.epochs:
        cells = e.cells or ()
        if cut is not None:
            cells = tuple(c.within(m.grid, cut.lo_lambda, cut.hi_lambda) for c in cells)
        out.append([c.sums for c in cells])
    return out


def unusable_data(p: RelcalFitParams, m: Measured, point: np.ndarray) -> np.ndarray:
    """(n_epoch, n_cal) why a pair has no data ('' when it has), relcal.usable."""
    missing: list[dict[int, str]] = []
    for e in range(len(p.epochs)):
        texts: dict[int, list[str]] = {}
        for k in np.flatnonzero(p.epoch_of_ms == e):
            for j, why in p.missing[k].items():
                texts.setdefault(j, []).append(why)
        missing.append({j: "; ".join(dict.fromkeys(t)) for j, t in texts.items()})
    cuts = [
        name
        for name, on in (("uvrange='common'", m.common_uv), ("fitspw='auto'", m.lines))
        if on is not None
    ]
    sel = Selection(
        spw=str(p.call.get("spw", "")),
        uvrange=str(p.call.get("uvrange", "")),
        cuts=" and ".join(cuts),
        selfcal_minsnr=p.options.minsnr if p.options.selfcal else None,
        selfcal_had_data=None if m.selfcal is None else np.isfinite(m.selfcal.flux_before),
    )
    return data_reasons(m.epochs, point, [ep.vis for ep in p.epochs], missing, sel)


def dated_epochs(p: RelcalFitParams, m: Measured) -> tuple[Epoch, ...]:
    """The epochs with the first and last TIME of their usable calibrator data (the
    pass), or of their selected rows (MsInfo) where no calibrator has data."""
    out = []
    for ep, sums in zip(p.epochs, m.epochs, strict=True):
        start, end = pass_time_range(sums.time_range)
        if np.isfinite(start):
            ep = replace(ep, date=utc_date(start), start_mjd_s=start, end_mjd_s=end)
        out.append(ep)
    return tuple(out)


def solve(p: RelcalFitParams, m: Measured) -> RelcalResult:
    """The fits from the measured sums (pure)."""
    opt = p.options
    fs = fit_sums(p, m)
    model, position = _model_fit(p, fs, m.grid)
    result = RelcalResult.compute(
        epochs=dated_epochs(p, m),
        fields=p.fields,
        spws=p.spws,
        spw_freq_hz=p.spw_freq_hz(),
        sums=fs.point,
        excluded=p.excluded,
        perspw=p.perspw,
        params=p.call,
        rejectsigma=opt.rejectsigma,
        minfamily=opt.minfamily,
        options=Options(m.selfcal, m.common_uv, m.lines, model, position),
        unusable=unusable_data(p, m, fs.point),
        minfluxsnr=opt.minfluxsnr,
        epoch_spw_freq_hz=p.epoch_spw_freq_hz(),
    )
    if opt.modelcheck and fs.model_bins is not None:
        check = ratio_check(fs.model_bins, uv_edges_lambda(), result.used)
        result = replace(result, options=replace(result.options, check=check))
        casalog.post(
            "model-free check over %.1f-%.1f klambda: rFCF %s (fit: %s)"
            % (
                *check.uv_klambda,
                ", ".join("%.4f" % r for r in check.rfcf),
                ", ".join("%.4f" % r for r in result.rfcf),
            )
        )
    for ex in result.exclusions:
        user = ex["reason"] == USER_EXCLUSION
        casalog.post(
            "excluded epoch %(epoch)d %(field)s: %(reason)s" % ex, "INFO" if user else "WARN"
        )
    return result


def _model_fit(
    p: RelcalFitParams, fs: FitSums, grid: UvGrid | None
) -> tuple[ModelFit | None, PositionFit | None]:
    """fitposition's fit, or the uv-distance model fit, or (None, None) for a point."""
    model = p.options.model
    if grid is not None and fs.cells is not None:
        pf = fit_positions(fs.cells, grid, model)
        _log_positions(pf, p)
        mf: ModelFit | None = pf.fit
    elif model != "point" and fs.model_bins is not None:
        pf, mf = None, fit_models(fs.model_bins.sum(axis=2), model)
    else:
        return None, None
    if model != "point" and mf is not None:
        casalog.post(
            "model %s: total flux = %s; Gaussian FWHM (arcsec) per calibrator, median over "
            "the good fits: %s"
            % (
                model,
                "Gaussian flux" if model == "gaussian" else "point + Gaussian",
                ", ".join(_median_fwhm(mf)),
            )
        )
    return mf, pf


def _median_fwhm(mf: ModelFit) -> list[str]:
    """Per calibrator the median FWHM over epochs whose fit is good, 'none' without one."""
    good = np.isfinite(mf.fwhm_arcsec) & (np.asarray(mf.status) == "")
    return [
        "%.2f" % np.median(mf.fwhm_arcsec[good[:, j], j]) if good[:, j].any() else "none"
        for j in range(mf.fwhm_arcsec.shape[1])
    ]


def _log_positions(pf: PositionFit, p: RelcalFitParams) -> None:
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
            "reliable and leaves the rFCF; check the field's position"
            % (e + 1, p.fields[j], pf.grid.max_offset_arcsec),
            "WARN",
        )


def log_result(result: RelcalResult) -> None:
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
