"""The CASA side of a B2B transfer: the gaincal / applycal sequence, with the
scaled tables written in between, and the visibilities the diagnostics read.

Every casatasks call is recorded (name and arguments) so that the benchmark
can time the bare calls against the whole task.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from almacal.b2b import diagnostics as diag
from almacal.b2b.geometry import elevation_rad
from almacal.b2b.params import HISTORY_MARK
from almacal.b2b.phases import interp_phase
from almacal.b2b.snr import combine_decision, predicted_snr
from almacal.b2b.structure import B2BStructure
from almacal.b2b.transfer import (
    DgcOffsets,
    PhaseSolutions,
    joint_unwrap,
    refuse_linearpd_spwmap,
    scaled_solutions,
)
from almacal.casatask.log import casalog
from almacal.io import b2b_calls as calls
from almacal.io import caltables


@dataclass
class CallLog:
    """casatasks calls made, and their time. version: the CASA (major, minor, patch)."""

    version: tuple[int, ...]
    calls: list[tuple[str, dict]] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, name: str, fn: Any, **kwargs: Any) -> None:
        # Every call that interpolates a caltable passes here: CAS-14703 is checked once.
        if "interp" in kwargs:
            refuse_linearpd_spwmap(self.version, kwargs["interp"], kwargs.get("spwmap", []))
        self.calls.append((name, dict(kwargs)))
        t0 = time.perf_counter()
        try:
            fn(**kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def renamed(self, names: dict[str, str]) -> list[tuple[str, dict]]:
        """The calls with temporary table names replaced by their final ones (the record)."""

        def swap(v: Any) -> Any:
            if isinstance(v, list):
                return [swap(x) for x in v]
            return names.get(v, v) if isinstance(v, str) else v

        return [(name, {k: swap(v) for k, v in kw.items()}) for name, kw in self.calls]


def check_not_applied(vis: str) -> None:
    """ValueError when the HISTORY records an earlier b2b_phasetransfer application."""
    previous = [m for m in caltables.history_messages(vis) if m.startswith(HISTORY_MARK)]
    if previous:
        raise ValueError(
            f"vis {vis} already has a B2B transfer applied ({previous[-1]}); "
            "set force=True to apply again (CORRECTED_DATA is recomputed from DATA)"
        )


def check_unflagged(vis: str, st: B2BStructure) -> None:
    """ValueError when every sample of one of the four scan groups is flagged."""
    low, high = calls.ddids_for_spws(vis, st.low_spws), calls.ddids_for_spws(vis, st.high_spws)
    for what, scans, ddids in (
        ("low-frequency DGC scans", st.dgc_low_scans, low),
        ("high-frequency DGC scans", st.dgc_high_scans, high),
        (f"phase calibrator {st.phasecal}", st.phasecal_scans, low),
        (f"target {','.join(st.targets)}", st.target_scans, high),
    ):
        if not calls.has_unflagged(vis, scans, ddids):
            raise ValueError(f"vis {vis}: all data of the {what} (scans {list(scans)}) are flagged")


def combine_policy(
    vis: str, st: B2BStructure, *, n_antenna: int, solint: str, combine: str, minsnr: float
) -> tuple[bool, str]:
    """Combine the low spws? Predicted from the first phase-calibrator scan's SNR per spw."""
    sample = calls.read_baseline_vis(vis, st.phasecal_scans[:1], st.low_spws)
    n_int = {"int": 1, "inf": max(1, np.unique(sample.time).size)}.get(solint, 1)
    snr = predicted_snr(
        sample.vis,
        sample.noise_var,
        sample.n_sample,
        sample.spw,
        n_antenna=n_antenna,
        n_int=n_int,
    )
    return combine_decision(combine, snr, minsnr)


@dataclass(frozen=True)
class Solved:
    dgc_low: PhaseSolutions
    dgc_low_unwrapped: np.ndarray
    phasecal: PhaseSolutions
    offsets: DgcOffsets
    source_spw: dict[int, int]
    ratio: dict[int, float]


def _csv(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def solve(
    vis: str,
    st: B2BStructure,
    *,
    n_antenna: int,
    target_times: np.ndarray,
    dgc_high_times: np.ndarray,
    refant: str,
    solint: str,
    combine_spw: bool,
    minsnr: float,
    tables: dict[str, str],
    log: CallLog,
) -> Solved:
    """gaincal low DGC and phase calibrator, scaled tables, gaincal high DGC per block."""
    common = {"vis": vis, "calmode": "p", "gaintype": "G", "refant": refant, "minsnr": minsnr}
    combine = "spw" if combine_spw else ""
    low = _csv(st.low_spws)
    casalog.post("Solving per-scan phases of %d low-frequency DGC scans" % len(st.dgc_low_scans))
    log.run(
        "gaincal",
        calls.gaincal,
        caltable=tables["dgc_low"],
        field=st.dgc_field,
        spw=low,
        scan=_csv(st.dgc_low_scans),
        solint="inf",
        combine=combine,
        **common,
    )
    casalog.post(
        "Solving phase-calibrator %s phases (solint=%s, combine=%r)"
        % (st.phasecal, solint, combine)
    )
    log.run(
        "gaincal",
        calls.gaincal,
        caltable=tables["phasecal"],
        field=st.phasecal,
        spw=low,
        scan=_csv(st.phasecal_scans),
        solint=solint,
        combine=combine,
        **common,
    )
    dgc_low = calls.read_caltable(tables["dgc_low"])
    pc = calls.read_caltable(tables["phasecal"])
    if combine_spw:
        nu_low = float(np.mean([st.spw_freq_hz[s] for s in st.low_spws]))
        key = int(np.bincount(dgc_low.spw).argmax())
        source = {h: key for h in st.high_spws}
        ratio = {h: st.spw_freq_hz[h] / nu_low for h in st.high_spws}
    else:
        source = dict(st.spwmap)
        ratio = {h: st.ratio(h) for h in st.high_spws}
    u_dgc, u_pc = joint_unwrap([dgc_low, pc])
    antennas = list(range(n_antenna))
    # Rows at every high-frequency integration each table will calibrate (the DGC
    # high scans here, the targets below): CASA's 'linear' then only interpolates
    # between values that differ by far less than pi (scaled phases can step by more
    # than pi between low-frequency solutions; linearPD would handle that, but not with
    # a spwmap before CASA 6.7.3).
    calls.write_phase_table(
        tables["dgc_low"],
        tables["dgc_low_scaled"],
        scaled_solutions(
            dgc_low,
            u_dgc,
            source_spw=source,
            ratio=ratio,
            times=np.concatenate([dgc_low.time, dgc_high_times]),
            antennas=antennas,
        ),
    )
    calls.write_phase_table(
        tables["phasecal"],
        tables["phasecal_scaled"],
        scaled_solutions(
            pc,
            u_pc,
            source_spw=source,
            ratio=ratio,
            times=np.concatenate([pc.time, target_times]),
            antennas=antennas,
        ),
    )
    for k, block in enumerate(st.blocks):
        casalog.post(
            "Solving the band offset of DGC block %d (high-frequency scans %s)"
            % (k + 1, list(block.high_scans))
        )
        log.run(
            "gaincal",
            calls.gaincal,
            caltable=tables["dgc_offset"],
            field=st.dgc_field,
            spw=_csv(st.high_spws),
            scan=_csv(block.high_scans),
            solint="inf",
            combine="scan",
            gaintable=[tables["dgc_low_scaled"]],
            interp=["linear"],
            append=k > 0,
            **common,
        )
    offsets = DgcOffsets.from_solutions(
        calls.read_caltable(tables["dgc_offset"]), n_antenna=n_antenna, spws=st.high_spws
    )
    return Solved(dgc_low, u_dgc, pc, offsets, source, ratio)


def apply(vis: str, st: B2BStructure, tables: dict[str, str], log: CallLog) -> None:
    """applycal of the scaled phase-calibrator table and the band offsets to the targets.

    Both tables already hold rows of the high-frequency spws: no spwmap, no linearPD.
    """
    interp = ["linear", "linear"]
    log.run(
        "applycal",
        calls.applycal,
        vis=vis,
        field=",".join(st.targets),
        spw=_csv(st.high_spws),
        gaintable=[tables["phasecal_scaled"], tables["dgc_offset"]],
        interp=interp,
        calwt=[False, False],
    )


def dgc_corrections(solved: Solved, st: B2BStructure, times: np.ndarray, n_ant: int) -> dict:
    """spw -> (n_t, n_ant) transferred phase (rad) at times: scaled DGC-low + band offset."""
    out = {}
    off = solved.offsets.at(times)  # (n_t, n_ant, n_spw, n_pol)
    sol, u = solved.dgc_low, solved.dgc_low_unwrapped
    for j, h in enumerate(st.high_spws):
        corr = np.full((times.size, n_ant, sol.n_pol), np.nan)
        for a in range(n_ant):
            rows = np.flatnonzero((sol.antenna == a) & (sol.spw == solved.source_spw[h]))
            for p in range(sol.n_pol):
                ok = rows[np.isfinite(u[rows, p])]
                if ok.size:
                    corr[:, a, p] = solved.ratio[h] * interp_phase(times, sol.time[ok], u[ok, p])
        total = corr + off[:, :, j, :]
        out[h] = np.angle(np.nanmean(np.exp(1j * total), axis=2))
    return out


def diagnose(vis: str, st: B2BStructure, solved: Solved, meta: calls.MsMeta) -> diag.Diagnostics:
    """Residual phases of the high DGC data, expected phase RMS from paired low DGC scans."""
    n_ant = len(meta.antenna_names)
    # one pass over the MS for both bands: each DGC scan holds one band's spws
    both = calls.read_baseline_vis(
        vis, (*st.dgc_high_scans, *st.dgc_low_scans), (*st.high_spws, *st.low_spws)
    )
    hi = both.subset(np.isin(both.spw, st.high_spws) & np.isin(both.scan, st.dgc_high_scans))
    lo = both.subset(np.isin(both.spw, st.low_spws) & np.isin(both.scan, st.dgc_low_scans))
    times = np.unique(hi.time)
    corr = dgc_corrections(solved, st, times, n_ant)
    ti = np.searchsorted(times, hi.time)
    residual = np.full(hi.vis.size, np.nan)
    for h, c in corr.items():
        m = hi.spw == h
        residual[m] = diag.residual_phases(hi.vis[m], hi.antenna1[m], hi.antenna2[m], c[ti[m]])

    bl = lo.antenna1 * n_ant + lo.antenna2
    baselines = np.unique(bl)
    bi = np.searchsorted(baselines, bl)
    per_block = []
    for block in st.blocks:
        scans = []
        for s in block.low_scans:
            m = lo.scan == s
            t = np.unique(lo.time[m])
            z = np.zeros((t.size, baselines.size), dtype=complex)
            np.add.at(z, (np.searchsorted(t, lo.time[m]), bi[m]), np.nan_to_num(lo.vis[m]))
            scans.append(np.where(z != 0, np.angle(z), np.nan))
        per_block.append(scans)
    pos = meta.antenna_itrf_m
    length = np.linalg.norm(pos[baselines // n_ant] - pos[baselines % n_ant], axis=1)
    nu_high = float(np.mean([st.spw_freq_hz[h] for h in st.high_spws]))
    nu_low = float(np.mean([st.spw_freq_hz[s] for s in st.low_spws]))
    expected = diag.expected_phase_rms(per_block, length, freq_ratio=nu_high / nu_low)

    def mean_elevation(field_name: str, scans: Sequence[int]) -> float:
        t = np.concatenate([meta.scan_times[s] for s in scans])
        ra, dec = meta.field_radec_deg[meta.field_id(field_name)]
        return float(np.mean(elevation_rad(t, ra, dec)))

    el_dgc = mean_elevation(st.dgc_field, st.dgc_low_scans + st.dgc_high_scans)
    el_tgt = mean_elevation(st.targets[0], st.target_scans)
    return diag.summarize(
        antenna_names=meta.antenna_names,
        residual=residual,
        antenna1=hi.antenna1,
        antenna2=hi.antenna2,
        offsets_rad=solved.offsets.offset,
        offset_times=solved.offsets.times,
        expected_rms_dgc_rad=expected,
        elevation_dgc_rad=el_dgc,
        elevation_target_rad=el_tgt,
    )
