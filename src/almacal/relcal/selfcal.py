"""Phase-only self-calibration of the calibrators in scratch copies: the rounds and
their decisions (the CASA steps are injected, almacal.io.selfcal).

The user's MS is only read: the calibrator fields are copied (the chosen data
column becomes DATA) into a temporary directory; MODEL_DATA, the gaincal tables
and CORRECTED_DATA live in that copy. Per solint: MODEL_DATA = the fitted point
flux per (calibrator, spw), gaincal calmode='p' on top of the earlier tables,
applycal of all of them, refit (see selfcal_plan for the reasoning).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from almacal.casatask.log import casalog
from almacal.msinfo import MsInfo
from almacal.relcal.accumulate import MsSums, PassSpec, accumulate
from almacal.relcal.fluxfit import fit_point
from almacal.relcal.plan import Target, VisReader, ms_plan
from almacal.relcal.selfcal_plan import SelfcalReport, central_antenna, phase_rms_deg, spw_map
from almacal.uvrange import UvRange


class SelfcalCalls(Protocol):
    """The CASA steps of self-calibration (almacal.io.selfcal.CasaSelfcal)."""

    def scratch_directory(self, near: str) -> AbstractContextManager[str]: ...

    def scratch_copy(self, vis: str, field_ids: Sequence[int], column: str, workdir: str) -> str:
        """split the fields (column -> DATA, flags kept) into a new MS under workdir,
        with a MODEL_DATA column; its path."""
        ...

    def antennas_with_data(self, vis: str) -> np.ndarray:
        """ANTENNA ids in unflagged cross-correlation rows."""
        ...

    def write_model(self, info: MsInfo, model_jy: np.ndarray) -> None:
        """MODEL_DATA = model_jy[DATA_DESC_ID, FIELD_ID] on the parallel hands, 0 elsewhere."""
        ...

    def gaincal(self, **params: Any) -> None: ...

    def applycal(self, **params: Any) -> None: ...

    def solved_phases(self, caltable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(CPARAM, FLAG, FIELD_ID) of a gaincal table; None when it has no rows."""
        ...


class SelfcalReader(VisReader, Protocol):
    def read_info(self, path: str) -> MsInfo: ...


@dataclass(frozen=True)
class SelfcalSettings:
    """What self-calibration needs from relcal_fit's parameters."""

    fields: tuple[str, ...]
    uvrange: UvRange | None
    solints: tuple[str, ...]
    refant: str
    gaintype: str
    minsnr: float
    combine: str
    minfluxsnr: float = 0.0


@dataclass(frozen=True)
class SelfcalOutcome:
    target: Target  # the scratch copy, CORRECTED_DATA
    refant: str
    flux_before: np.ndarray  # (n_cal,) Jy
    flux_after: np.ndarray  # (n_cal,) Jy
    phase_rms_deg: np.ndarray  # (n_cal, n_round)
    calibrated: np.ndarray | None = None  # (n_cal,) bool: self-calibrated (else too weak)


def _bright_enough(sums: MsSums, minfluxsnr: float) -> np.ndarray:
    """(n_cal,) calibrators whose flux is > 0 and at least minfluxsnr sigma: a weaker one
    gets no gaincal solution with SNR >= minsnr per antenna and solint, and applycal
    would flag all its data."""
    fit = fit_point(sums.point.sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = fit.flux / fit.sigma_chi2
    return np.asarray((fit.flux > 0) & (snr >= minfluxsnr))


def _log_skipped(user: Target, s: SelfcalSettings, sums: MsSums, bright: np.ndarray) -> None:
    fit = fit_point(sums.point.sum(axis=1))
    for j in np.flatnonzero(~bright):
        casalog.post(
            "selfcal %s: %s not self-calibrated: flux %.4g +- %.2g Jy is below minfluxsnr %g "
            "sigma, too weak for gaincal solutions (its data stay as they are)"
            % (user.info.path, s.fields[j], fit.flux[j], fit.sigma_chi2[j], s.minfluxsnr),
            "WARN",
        )


def selfcal_ms(
    user: Target,
    s: SelfcalSettings,
    reader: SelfcalReader,
    calls: SelfcalCalls,
    workdir: str,
) -> SelfcalOutcome:
    """Self-calibrate one MS's calibrators in a scratch copy; calibrators below
    minfluxsnr are left out of gaincal and applycal (their data stay as they are)."""
    target = _scratch_target(user, reader, calls, workdir)
    scratch, info, field_index = target.info.path, target.info, target.field_index
    ant = s.refant or _central_antenna_name(info, calls.antennas_with_data(scratch))
    n_cal = len(s.fields)
    sums = _sums(reader, target, n_cal, s.uvrange)
    flux = _fluxes(sums)
    before = flux[:, 0, 0]
    bright = _bright_enough(sums, s.minfluxsnr)
    _log_skipped(user, s, sums, bright)
    rms = np.full((n_cal, len(s.solints)), np.nan)
    if not bright.any():
        return SelfcalOutcome(target, ant, before, before, rms, bright)
    solved = (field_index >= 0) & bright[np.maximum(field_index, 0)]  # per FIELD_ID
    fields = ",".join(str(i) for i in np.flatnonzero(solved))
    target, flux = _rounds(user, target, s, reader, calls, ant, fields, flux, rms)
    return SelfcalOutcome(target, ant, before, flux[:, 0, 0], rms, bright)


def _rounds(
    user: Target,
    target: Target,
    s: SelfcalSettings,
    reader: SelfcalReader,
    calls: SelfcalCalls,
    ant: str,
    fields: str,
    flux: np.ndarray,
    rms: np.ndarray,
) -> tuple[Target, np.ndarray]:
    """The gaincal/applycal rounds on the scratch copy target (fields: the FIELD ids
    solved); rms (n_cal, n_round) filled in place; the corrected target and its fluxes."""
    scratch, info, field_index = target.info.path, target.info, target.field_index
    n_cal = len(s.fields)
    tables: list[str] = []
    maps: list[list[int]] = []
    spw_ids = sorted(int(x) for x in np.unique(info.ddid_spw))
    for k, solint in enumerate(s.solints):
        calls.write_model(info, model_table(info, field_index, flux[:, 1], target.channels))
        table = f"{scratch}.p{k}"
        calls.gaincal(
            vis=scratch,
            caltable=table,
            field=fields,
            solint=solint,
            combine=s.combine,
            refant=ant,
            gaintype=s.gaintype,
            calmode="p",
            minsnr=s.minsnr,
            gaintable=list(tables),
            spwmap=list(maps),
        )
        tables.append(table)
        maps.append(spw_map(spw_ids, s.combine))
        # calwt=False: the weights stay those of the user's data
        calls.applycal(
            vis=scratch,
            field=fields,
            gaintable=list(tables),
            spwmap=list(maps),
            calwt=False,
            flagbackup=False,
        )
        rms[:, k] = _phase_rms(calls.solved_phases(table), field_index, n_cal)
        target = Target(info, field_index, target.channels, "CORRECTED_DATA")
        flux = _fluxes(_sums(reader, target, n_cal, s.uvrange))
        casalog.post(
            "selfcal %s round %d (solint %s, refant %s): phase rms %s deg; flux %s Jy"
            % (
                os.path.basename(user.info.path),
                k + 1,
                solint,
                ant,
                ", ".join("%.1f" % r for r in rms[:, k]),
                ", ".join("%.4f" % f for f in flux[:, 0, 0]),
            )
        )
    return target, flux


def _scratch_target(
    user: Target, reader: SelfcalReader, calls: SelfcalCalls, workdir: str
) -> Target:
    """The calibrators of user copied into a scratch MS (its DATA), matched by name."""
    ids = np.flatnonzero(user.field_index >= 0)
    scratch = calls.scratch_copy(user.info.path, ids.tolist(), user.column, workdir)
    info = reader.read_info(scratch)
    names = {user.info.field_names[i]: int(user.field_index[i]) for i in ids}
    field_index = np.array([names.get(n, -1) for n in info.field_names])
    return Target(info, field_index, match_spws(user, info), "DATA")


def _sums(reader: VisReader, target: Target, n_cal: int, uvrange: UvRange | None) -> MsSums:
    plan = ms_plan(target, n_cal, PassSpec(uvrange=uvrange))
    return accumulate(reader.chunks(plan.selection), plan)


def _fluxes(sums: MsSums) -> np.ndarray:
    """(n_cal, 2, n_spw): [:, 0, 0] the all-spw flux (others 0), [:, 1, :] per-spw fluxes."""
    out = np.zeros((sums.point.shape[0], 2, sums.point.shape[1]))
    out[:, 0, 0] = fit_point(sums.point.sum(axis=1)).flux
    out[:, 1, :] = fit_point(sums.point).flux
    return out


def match_spws(user: Target, info: MsInfo) -> dict[int, np.ndarray]:
    """The user's channel masks keyed by the scratch copy's spw ids (matched by frequency)."""
    out = {}
    for spw, mask in user.channels.items():
        freq = user.info.chan_freq_hz[spw]
        hits = [
            s
            for s, f in enumerate(info.chan_freq_hz)
            if f.shape == freq.shape and np.allclose(f, freq, rtol=0, atol=1.0)
        ]
        if not hits:
            raise RuntimeError(f"spw {spw} of {user.info.path} is missing from its split copy")
        out[hits[0]] = mask
    return out


def _central_antenna_name(info: MsInfo, with_data: np.ndarray) -> str:
    present = np.zeros(len(info.antenna_names), bool)
    present[with_data] = True
    return info.antenna_names[central_antenna(info.antenna_itrf_m, present)]


def model_table(
    info: MsInfo, field_index: np.ndarray, flux_spw: np.ndarray, channels: dict[int, np.ndarray]
) -> np.ndarray:
    """(n_ddid, n_field) model flux: that of (calibrator, spw); spws not fitted get the
    calibrator's mean over spws; 0 for other fields and without a fit.

    flux_spw : (n_cal, n_spw) in the order of channels.
    """
    spw_pos = {s: k for k, s in enumerate(channels)}
    out = np.zeros((len(info.ddid_spw), len(info.fields)))
    for dd, spw in enumerate(info.ddid_spw):
        k = spw_pos.get(int(spw))
        flux = np.nanmean(flux_spw, axis=1) if k is None else flux_spw[:, k]
        flux = np.where(np.isfinite(flux), flux, 0.0)
        out[dd] = np.where(field_index >= 0, flux[np.maximum(field_index, 0)], 0.0)
    return out


def _phase_rms(
    solved: tuple[np.ndarray, np.ndarray, np.ndarray] | None, field_index: np.ndarray, n_cal: int
) -> np.ndarray:
    """(n_cal,) RMS in degrees of the unflagged phases of a gaincal table."""
    if solved is None:
        return np.full(n_cal, np.nan)
    g, flag, field = solved  # (pol, 1, row) complex, bool; (row,)
    group = np.broadcast_to(field_index[field][None, None, :], g.shape)
    return phase_rms_deg(np.angle(g).ravel(), ~flag.ravel(), group.ravel(), n_cal)


def self_calibrate(
    targets: Sequence[Target],
    epoch_of_ms: np.ndarray,
    n_epoch: int,
    s: SelfcalSettings,
    run: Callable[[int, Target], SelfcalOutcome],
) -> tuple[list[Target], SelfcalReport]:
    """run(m, target) for every MS, and the report per epoch: an epoch of several MSs
    gets the mean of its MSs' fluxes and the largest phase rms."""
    t0 = time.perf_counter()
    n_cal = len(s.fields)
    before, after = np.zeros((n_epoch, n_cal)), np.zeros((n_epoch, n_cal))
    rms = np.full((n_epoch, n_cal, len(s.solints)), np.nan)
    calibrated = np.ones((n_epoch, n_cal), bool)
    out, refants = [], []
    for m, t in enumerate(targets):
        casalog.post("selfcal %s: phase-only, solints %s" % (t.info.path, ", ".join(s.solints)))
        o = run(m, t)
        e = epoch_of_ms[m]
        k = np.count_nonzero(epoch_of_ms[:m] == e)
        before[e] = (before[e] * k + o.flux_before) / (k + 1)
        after[e] = (after[e] * k + o.flux_after) / (k + 1)
        rms[e] = np.fmax(rms[e], o.phase_rms_deg)
        if o.calibrated is not None:
            calibrated[e] &= o.calibrated
        out.append(o.target)
        refants.append(o.refant)
    report = SelfcalReport(
        solints=s.solints,
        refant=tuple(refants),
        flux_before=before,
        flux_after=after,
        phase_rms_deg=rms,
        seconds=time.perf_counter() - t0,
        calibrated=calibrated,
    )
    return out, report
