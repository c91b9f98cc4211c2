"""b2b_phasetransfer implementation. Parameters are defined in xml/b2b_phasetransfer.xml."""

from __future__ import annotations

import os

import numpy as np

from almacal.b2b import planner
from almacal.b2b.params import HISTORY_MARK, B2BParams
from almacal.b2b.plot import plot_dgc_phases, plot_residuals
from almacal.b2b.results import B2BResult, plan_record, write_ecsv
from almacal.b2b.snr import choose_refant
from almacal.b2b.structure import B2BStructure, find_structure
from almacal.casatask.log import casalog
from almacal.io import b2b_calls as calls
from almacal.io import b2b_solve, caltables
from almacal.outputs import staged, write_json


def b2b_phasetransfer(
    vis,
    mode,
    refant,
    dgcfield,
    phasecal,
    target,
    lowspw,
    spwmap,
    solint,
    combine,
    minsnr,
    blockgap,
    doapply,
    caltable,
    outfile,
    makeplots,
    force,
    overwrite,
    band,
    maxbaseline,
    sepinband,
    sepb2b,
    coherence,
    phaserms,
):
    """Band-to-band phase referencing with DGC (seed 003). Parameters: xml/b2b_phasetransfer.xml."""
    call = dict(locals())  # recorded in the HISTORY and the JSON output
    casalog.origin("b2b_phasetransfer")
    p = B2BParams.from_task_args(**call)
    if p.mode == "plan":
        return _plan(p)
    p.check_outputs()
    meta = calls.read_meta(p.vis)
    st = find_structure(
        meta.scans,
        meta.spws,
        dgcfield=p.dgcfield,
        phasecal=p.phasecal,
        target=p.target,
        lowspw=p.lowspw,
        spwmap=p.spwmap,
        blockgap=p.blockgap,
    )
    refant = choose_refant(meta.antenna_names, meta.antenna_itrf_m, p.refant)
    b2b_solve.check_unflagged(p.vis, st)
    if p.doapply and not p.force:
        b2b_solve.check_not_applied(p.vis)
    _log_structure(p.vis, st, refant)

    combine_spw, reason = b2b_solve.combine_policy(
        p.vis,
        st,
        n_antenna=len(meta.antenna_names),
        solint=p.solint,
        combine=p.combine,
        minsnr=p.minsnr,
    )
    casalog.post(reason)

    tmpdir = f"{p.caltable}.tmp{os.getpid()}"
    os.makedirs(tmpdir)
    final = p.tables()
    tmp = {k: os.path.join(tmpdir, os.path.basename(v)) for k, v in final.items()}
    log = b2b_solve.CallLog(calls.casa_version())
    try:
        target_times = np.concatenate([meta.scan_times[s] for s in st.target_scans])
        dgc_high_times = np.concatenate([meta.scan_times[s] for s in st.dgc_high_scans])
        solved = b2b_solve.solve(
            p.vis,
            st,
            n_antenna=len(meta.antenna_names),
            target_times=target_times,
            dgc_high_times=dgc_high_times,
            refant=refant,
            solint=p.solint,
            combine_spw=combine_spw,
            minsnr=p.minsnr,
            tables=tmp,
            log=log,
        )
        diagnostics = b2b_solve.diagnose(p.vis, st, solved, meta)
        if p.doapply:
            casalog.post("Applying the transfer to %s (CORRECTED_DATA)" % ", ".join(st.targets))
            b2b_solve.apply(p.vis, st, tmp, log)
            caltables.write_history(
                p.vis,
                [
                    "%s: %s + %s to %s spw %s"
                    % (
                        HISTORY_MARK,
                        final["phasecal_scaled"],
                        final["dgc_offset"],
                        ",".join(st.targets),
                        ",".join(map(str, st.high_spws)),
                    ),
                    *[f"{k:<11} = {v!r}" for k, v in call.items()],
                ],
                "b2b_phasetransfer",
            )
        for key in final:
            caltables.replace_tree(tmp[key], final[key])
    finally:
        caltables.remove_tree(tmpdir)

    result = B2BResult(
        vis=p.vis,
        structure=st,
        refant=refant,
        combine_spw=combine_spw,
        combine_reason=reason,
        caltables=final,
        applied=p.doapply,
        diagnostics=diagnostics,
        warnings=st.warnings,
        casa_calls=tuple(log.renamed({tmp[k]: final[k] for k in final})),
        casa_seconds=log.seconds,
        params=call,
    )
    record = result.to_record()
    _write(p, result, solved, st, record)
    _log_result(result)
    return record


def _plan(p: B2BParams) -> dict:
    pl = planner.plan(
        band=p.band,
        maxbaseline_km=p.maxbaseline,
        sep_inband_deg=p.sepinband,
        sep_b2b_deg=p.sepb2b,
        coherence_goal=p.coherence,
        phase_rms_deg=p.phaserms,
    )
    casalog.post("Plan: %s. %s" % (pl.choice, pl.reason))
    casalog.post(
        "Maximum calibrator separation for coherence %.2f at %.0f deg expected phase RMS: "
        "%.2f deg (%s)"
        % (
            pl.coherence_goal,
            pl.expected_phase_rms_deg,
            pl.max_separation_deg,
            pl.separation_source,
        )
    )
    return plan_record(pl)


def _log_structure(vis: str, st: B2BStructure, refant: str) -> None:
    casalog.post(
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
    for w in st.warnings:
        casalog.post(w, "WARN")


def _write(p: B2BParams, result: B2BResult, solved, st: B2BStructure, record: dict) -> None:
    out = p.outputs()
    with staged(out) as tmp:
        write_json(tmp["json"], record)
        write_ecsv(result, tmp["ecsv"])
        if p.makeplots:
            times = np.unique(solved.dgc_low.time)
            n_ant = len(result.diagnostics.antenna_names)
            first = st.high_spws[0]
            phase = b2b_solve.dgc_corrections(solved, st, times, n_ant)[first]
            plot_dgc_phases(
                tmp["plot_dgc"],
                times=times,
                phase_deg=np.degrees(np.unwrap(np.nan_to_num(phase), axis=0)),
                block_times=result.diagnostics.offset_block_times,
                offset_deg=result.diagnostics.offset_deg[:, :, 0],
                antenna_names=result.diagnostics.antenna_names,
            )
            plot_residuals(tmp["plot_residual"], result.diagnostics)
    casalog.post("Wrote %s" % ", ".join(out.values()))


def _log_result(result: B2BResult) -> None:
    d = result.diagnostics
    casalog.post(
        "Residual DGC phase RMS after transfer %.1f deg (DGC loss %.1f %%); band offset "
        "change between blocks %.1f deg RMS; expected phase RMS over the cycle %.1f deg at "
        "the target elevation (%.0f deg; DGC at %.0f deg) -> expected coherence %.3f; QA %.2f"
        % (
            d.residual_rms_deg,
            100 * d.dgc_loss,
            d.offset_change_rms_deg,
            d.expected_rms_target_deg,
            d.elevation_target_deg,
            d.elevation_dgc_deg,
            d.expected_coherence,
            result.qa_score(),
        )
    )
    worst = int(np.nanargmax(d.residual_rms_antenna_deg))
    casalog.post(
        "Worst antenna %s: residual %.1f deg"
        % (d.antenna_names[worst], d.residual_rms_antenna_deg[worst])
    )
