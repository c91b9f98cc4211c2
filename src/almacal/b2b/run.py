"""A B2B transfer, start to end: MsInfo -> structure -> solve -> diagnose -> apply.

CASA is reached only through a CasaCalls object (almacal.b2b.calls), so the
whole sequence runs in unit tests with a fake. Tables are written under the
names given (the task's temporary names); the record names the final ones.
apply() changes the MS and is meant to run last, after every other product.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.b2b import calls as args
from almacal.b2b.calls import CallLog, CasaCalls, LogSink
from almacal.b2b.diagnostics import DgcPhases, Diagnostics, assess, field_radec_deg
from almacal.b2b.params import HISTORY_MARK, IN_PROGRESS, B2BParams
from almacal.b2b.results import B2BResult
from almacal.b2b.snr import choose_refant, combine_decision, sample_snr
from almacal.b2b.structure import B2BStructure, find_structure
from almacal.b2b.transfer import (
    DgcOffsets,
    TransferSolutions,
    joint_unwrap,
    parse_casa_version,
    scaled_solutions,
    spw_sources,
)
from almacal.msinfo import MsInfo
from almacal.outputs import run_stamp
from almacal.solutions import PhaseSolutions


@dataclass(frozen=True)
class Setup:
    """What the run settled before the first gaincal."""

    info: MsInfo
    structure: B2BStructure
    refant: str
    combine_spw: bool
    combine_reason: str


def transfer(
    p: B2BParams, info: MsInfo, casa: CasaCalls, tables: Mapping[str, str], log: LogSink
) -> B2BResult:
    """Solve and diagnose (tables: where CASA writes each caltable). The applycal that
    apply() makes later is in the result's calls when p.doapply."""
    setup = set_up(p, info, casa, log)
    session = Session(casa, CallLog(parse_casa_version(casa.casa_version())), tables, log)
    solved = solve(p, setup, session)
    diagnostics, dgc_phases = diagnose(setup, solved, casa)
    if p.doapply:
        session.calls.add("applycal", **args.target_applycal(p.vis, setup.structure, tables))
    return _result(p, setup, session, diagnostics, dgc_phases)


def set_up(p: B2BParams, info: MsInfo, casa: CasaCalls, log: LogSink) -> Setup:
    """Structure, reference antenna and spw combination; every check that can fail
    before CASA solves anything."""
    st = find_structure(
        info.scans,
        info.spws,
        dgcfield=p.dgcfield,
        phasecal=p.phasecal,
        target=p.target,
        lowspw=p.lowspw,
        spwmap=p.spwmap,
        blockgap=p.blockgap,
    )
    refant = choose_refant(info.antenna_names, info.antenna_itrf_m, p.refant)
    # The diagnostics' elevations need J2000 positions: a field in another frame is
    # refused here rather than after the gaincal calls.
    field_radec_deg(info, st.dgc_field)
    field_radec_deg(info, st.targets[0])
    check_unflagged(casa, info, st)
    if p.doapply:
        check_history(casa, p.vis, p.force, log)
    log.post(structure_summary(p.vis, st, refant))
    for w in st.warnings:
        log.post(w, "WARN")
    combine_spw, reason = combine_policy(p, info, st, casa)
    log.post(reason)
    return Setup(info, st, refant, combine_spw, reason)


def check_unflagged(casa: CasaCalls, info: MsInfo, st: B2BStructure) -> None:
    """ValueError when every sample of one of the four scan groups is flagged."""
    low, high = info.ddids_of(st.low_spws), info.ddids_of(st.high_spws)
    for what, scans, ddids in (
        ("low-frequency DGC scans", st.dgc_low_scans, low),
        ("high-frequency DGC scans", st.dgc_high_scans, high),
        (f"phase calibrator {st.phasecal}", st.phasecal_scans, low),
        (f"target {','.join(st.targets)}", st.target_scans, high),
    ):
        if not casa.has_unflagged(info.path, scans, ddids):
            raise ValueError(
                f"vis {info.path}: all data of the {what} (scans {list(scans)}) are flagged"
            )


def check_history(casa: CasaCalls, vis: str, force: bool, log: LogSink) -> None:
    """ValueError when the HISTORY records a completed b2b_phasetransfer application
    (unless force); a WARN when the last run was interrupted during its applycal."""
    marks = [m for m in casa.history_messages(vis) if m.startswith((HISTORY_MARK, IN_PROGRESS))]
    applied = [m for m in marks if m.startswith(HISTORY_MARK)]
    if applied and not force:
        raise ValueError(
            f"vis {vis} already has a B2B transfer applied ({applied[-1]}); "
            "set force=True to apply again (CORRECTED_DATA is recomputed from DATA)"
        )
    if marks and marks[-1].startswith(IN_PROGRESS):
        log.post(
            "vis %s: an earlier b2b_phasetransfer did not finish applying (%s); applying "
            "again recomputes CORRECTED_DATA of the targets from DATA" % (vis, marks[-1]),
            "WARN",
        )


def combine_policy(
    p: B2BParams, info: MsInfo, st: B2BStructure, casa: CasaCalls
) -> tuple[bool, str]:
    """(combine the low spws?, why): as asked, or for combine='auto' predicted from the
    first phase-calibrator scan's SNR per spw."""
    if p.combine != "auto":
        return combine_decision(p.combine, {}, p.minsnr)
    sample = casa.read_baseline_vis(info, st.phasecal_scans[:1], st.low_spws)
    snr = sample_snr(sample, n_antenna=len(info.antenna_names), solint=p.solint)
    return combine_decision(p.combine, snr, p.minsnr)


def structure_summary(vis: str, st: B2BStructure, refant: str) -> str:
    return (
        "%s: low spws %s -> high spws %s (%s); DGC %s: %d low + %d high scans in %d block(s); "
        "phase calibrator %s (%d scans); target %s (%d scans); refant %s"
        % (
            vis,
            list(st.low_spws),
            list(st.high_spws),
            "; ".join(st.notes),
            st.dgc_field,
            len(st.dgc_low_scans),
            len(st.dgc_high_scans),
            len(st.blocks),
            st.phasecal,
            len(st.phasecal_scans),
            ",".join(st.targets),
            len(st.target_scans),
            refant,
        )
    )


@dataclass(frozen=True)
class Session:
    """The CASA side of one run: the calls, their log, where each caltable goes (the
    task's temporary names) and the logger."""

    casa: CasaCalls
    calls: CallLog
    tables: Mapping[str, str]
    log: LogSink

    def gaincal(self, **kwargs: Any) -> None:
        self.calls.run("gaincal", self.casa.gaincal, **kwargs)


def solve(p: B2BParams, setup: Setup, s: Session) -> TransferSolutions:
    """gaincal of the low DGC scans and the phase calibrator, their scaled tables, then
    gaincal of each block's band offset through the scaled DGC table."""
    common = args.gaincal_common(p.vis, setup.refant, p.minsnr)
    dgc_low, pc = solve_low(p, setup, s, common)
    source, ratio = spw_sources(setup.structure, setup.combine_spw, dgc_low)
    u_dgc = write_scaled_tables(setup, s, (dgc_low, pc), source, ratio)
    offsets = solve_offsets(setup, s, common)
    return TransferSolutions(dgc_low, u_dgc, pc, offsets, source, ratio)


def solve_low(
    p: B2BParams, setup: Setup, s: Session, common: Mapping[str, Any]
) -> tuple[PhaseSolutions, PhaseSolutions]:
    """(DGC, phase calibrator) low-frequency solutions: per DGC scan, and at solint."""
    st, combine = setup.structure, "spw" if setup.combine_spw else ""
    for what, field, scans, solint in (
        ("dgc_low", st.dgc_field, st.dgc_low_scans, "inf"),
        ("phasecal", st.phasecal, st.phasecal_scans, p.solint),
    ):
        s.log.post(
            "Solving low-frequency phases of %s, %d scans (solint=%s, combine=%r)"
            % (field, len(scans), solint, combine)
        )
        s.gaincal(
            **args.low_gaincal(
                s.tables[what],
                field=field,
                spws=st.low_spws,
                scans=scans,
                solint=solint,
                combine_spw=setup.combine_spw,
                common=common,
            )
        )
    return s.casa.read_caltable(s.tables["dgc_low"]), s.casa.read_caltable(s.tables["phasecal"])


def write_scaled_tables(
    setup: Setup,
    s: Session,
    low: tuple[PhaseSolutions, PhaseSolutions],
    source: dict[int, int],
    ratio: dict[int, float],
) -> np.ndarray:
    """The DGC and phase-calibrator low solutions, unwrapped jointly and scaled into
    rows of the high spws; returns the unwrapped DGC phases (n_row, n_pol)."""
    info, st = setup.info, setup.structure
    unwrapped = joint_unwrap(low)
    antennas = list(range(len(info.antenna_names)))
    # Rows at every high-frequency integration each table will calibrate (the DGC
    # high scans, the targets): CASA's 'linear' then only interpolates between values
    # that differ by far less than pi (scaled phases can step by more than pi between
    # low-frequency solutions; linearPD would handle that, but not with a spwmap
    # before CASA 6.7.3).
    for sol, u, (template, out), scans in zip(
        low,
        unwrapped,
        (("dgc_low", "dgc_low_scaled"), ("phasecal", "phasecal_scaled")),
        (st.dgc_high_scans, st.target_scans),
        strict=True,
    ):
        times = np.concatenate([sol.time, *[info.scan_times[k] for k in scans]])
        rows = scaled_solutions(
            sol, u, source_spw=source, ratio=ratio, times=times, antennas=antennas
        )
        s.casa.write_phase_table(s.tables[template], s.tables[out], rows)
    return unwrapped[0]


def solve_offsets(setup: Setup, s: Session, common: Mapping[str, Any]) -> DgcOffsets:
    """One band offset per DGC block, appended to one table."""
    st = setup.structure
    for k, block in enumerate(st.blocks):
        s.log.post(
            "Solving the band offset of DGC block %d (high-frequency scans %s)"
            % (k + 1, list(block.high_scans))
        )
        s.gaincal(
            **args.offset_gaincal(
                st,
                block,
                first=k == 0,
                caltable=s.tables["dgc_offset"],
                scaled_dgc_low=s.tables["dgc_low_scaled"],
                common=common,
            )
        )
    return DgcOffsets.from_solutions(
        s.casa.read_caltable(s.tables["dgc_offset"]),
        n_antenna=len(setup.info.antenna_names),
        spws=st.high_spws,
    )


def diagnose(
    setup: Setup, solved: TransferSolutions, casa: CasaCalls
) -> tuple[Diagnostics, DgcPhases]:
    """Residual phases of the high DGC data, expected phase RMS from paired low DGC
    scans: one read of the DGC visibilities of both bands."""
    st = setup.structure
    dgc_vis = casa.read_baseline_vis(
        setup.info, (*st.dgc_high_scans, *st.dgc_low_scans), (*st.high_spws, *st.low_spws)
    )
    return assess(st, solved, dgc_vis, setup.info)


def apply(p: B2BParams, st: B2BStructure, casa: CasaCalls, tables: Mapping[str, str]) -> None:
    """The in-progress HISTORY line, then applycal to the targets (the call transfer()
    recorded). mark_applied completes the HISTORY once the products are in place."""
    line = args.in_progress_line(st, p.tables(), run_stamp())
    casa.write_history(p.vis, [line], "b2b_phasetransfer")
    casa.applycal(**args.target_applycal(p.vis, st, tables))


def mark_applied(p: B2BParams, st: B2BStructure, casa: CasaCalls) -> None:
    """The HISTORY lines of a completed application: the final tables, the arguments."""
    casa.write_history(p.vis, args.history_lines(st, p.tables(), p.call), "b2b_phasetransfer")


def _result(
    p: B2BParams, setup: Setup, s: Session, diagnostics: Diagnostics, dgc_phases: DgcPhases
) -> B2BResult:
    final = p.tables()
    return B2BResult(
        vis=p.vis,
        structure=setup.structure,
        refant=setup.refant,
        combine_spw=setup.combine_spw,
        combine_reason=setup.combine_reason,
        caltables=final,
        applied=p.doapply,
        diagnostics=diagnostics,
        warnings=setup.structure.warnings,
        casa_calls=tuple(s.calls.renamed({s.tables[k]: final[k] for k in final})),
        casa_seconds=s.calls.seconds,
        params=p.call,
        dgc_phases=dgc_phases,
        files=p.outputs(),
    )
