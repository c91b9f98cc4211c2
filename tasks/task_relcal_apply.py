"""relcal_apply implementation. Parameters are defined in xml/relcal_apply.xml."""

from __future__ import annotations

import os

from almacal.casatask.checks import check_vis
from almacal.casatask.log import casalog
from almacal.io import caltables
from almacal.io import ms as ms_io
from almacal.relcal.rescale_plan import HISTORY_MARK, Rescale, plan_rescales, resolve_factors


def relcal_apply(
    vis, factor, factorfile, mode, outputvis, datacolumn, caltable, force, dryrun, overwrite
):
    """Rescale amplitudes per epoch (seed 000 App. E). Parameters: xml/relcal_apply.xml."""
    call = dict(locals())  # the parameters, recorded in the HISTORY like casatasks do
    casalog.origin("relcal_apply")
    paths = check_vis(vis)
    factors = resolve_factors(paths, factor, factorfile)
    plan = plan_rescales(
        paths, factors, mode=mode, outputvis=outputvis, caltable=caltable, overwrite=overwrite
    )
    columns = []
    for r in plan:
        info = ms_io.read_info(r.vis)
        if mode == "inplace" and "CORRECTED_DATA" in info.columns:
            raise ValueError(
                f"vis {r.vis} already has CORRECTED_DATA; mode='inplace' recomputes it from DATA "
                "and would discard that calibration: use mode='split' (datacolumn='corrected')"
            )
        columns.append(info.datacolumn(datacolumn))
        previous = [m for m in caltables.history_messages(r.vis) if m.startswith(HISTORY_MARK)]
        if previous and not force:
            raise ValueError(
                f"vis {r.vis} was already rescaled ({previous[-1]}); "
                "set force=True to rescale it again"
            )

    for r, col in zip(plan, columns, strict=True):
        casalog.post(
            "%s %s: amplitudes x %.6f, weights x %.6f -> %s (caltable %s)"
            % (
                "Would rescale" if dryrun else "Rescaling",
                r.vis,
                r.factor,
                r.factor**-2,
                r.outputvis if mode == "split" else f"{r.vis} CORRECTED_DATA",
                r.caltable,
            )
        )
        if not dryrun:
            _rescale(r, col, mode, [f"{k:<11} = {v!r}" for k, v in call.items()])
    return {
        "mode": mode,
        "dryrun": dryrun,
        "applied": not dryrun,
        "rescale": [r.to_record() | {"datacolumn": c} for r, c in zip(plan, columns, strict=True)],
    }


def _rescale(r: Rescale, column: str, mode: str, call: list[str]) -> None:
    """Work on temporary names; move products into place only when all steps succeeded."""
    tmp_cal = f"{r.caltable}.tmp{os.getpid()}"
    tmp_vis = f"{r.outputvis}.tmp{os.getpid()}" if mode == "split" else r.vis
    try:
        if mode == "split":
            caltables.split_column(r.vis, tmp_vis, column)
        caltables.make_amp_table(tmp_vis, tmp_cal, r.gencal_parameter)
        caltables.apply_table(tmp_vis, tmp_cal)
        caltables.write_history(tmp_vis, [r.history_line(), *call], "relcal_apply")
        caltables.replace_tree(tmp_cal, r.caltable)
        if mode == "split":
            caltables.replace_tree(tmp_vis, r.outputvis)
    finally:
        caltables.remove_tree(tmp_cal)
        if mode == "split":
            caltables.remove_tree(tmp_vis)
