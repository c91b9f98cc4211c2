"""relcal_fit and relcal_apply: what their reports and summaries show, from the record."""

from __future__ import annotations

import os
from typing import Any

from almacal.report.model import Headline, Parts, Table, Warning, num, pm

FIT_FIGURES = {
    "png": (
        "Mean correction factor MCF_ij (Eq. 1) of each calibrator j (coloured points, "
        "error bars: Eq. 2) and the relative flux calibration factor rFCF_i of each epoch "
        "(Eq. 3; black squares, error bars: the scatter of its MCFs), against the observing "
        "date; epoch numbers above the points. Red circles: MCFs left out of the rFCF. "
        "1 = the mean flux scale of all epochs."
    ),
}


def _name(path: Any) -> str:
    if isinstance(path, list):
        return ", ".join(_name(p) for p in path)
    return os.path.basename(str(path).rstrip("/"))


def fit_parts(rec: dict[str, Any]) -> Parts:
    """relcal_fit: the rFCF per epoch first, then fluxes and MCFs per calibrator."""
    epochs = list(zip(rec["epoch"], rec["date"], strict=True))
    headline = tuple(
        Headline(
            f"epoch {e} ({d})",
            "rFCF " + pm(rec["rfcf"][i], rec["rfcf_sigma"][i]),
            f"MCF scatter {num(rec['rfcf_std'][i])}, {rec['n_used'][i]} calibrators",
        )
        for i, (e, d) in enumerate(epochs)
    )
    per_epoch = Table(
        "rFCF per epoch (Eq. 3): propagated error (Eq. 2) and scatter of the MCFs averaged",
        ("epoch", "date", "MS", "rFCF", "± propagated", "± MCF scatter", "calibrators used"),
        tuple(
            (
                str(e),
                d,
                _name(rec["vis"][i]),
                num(rec["rfcf"][i]),
                num(rec["rfcf_sigma"][i]),
                num(rec["rfcf_std"][i]),
                str(rec["n_used"][i]),
            )
            for i, (e, d) in enumerate(epochs)
        ),
    )
    fields = rec["field"]
    per_cal = Table(
        "Point-source flux F_ij (Jy, error from chi2-scaled weights) and MCF_ij (Eq. 1-2); "
        "(excluded) = left out of the rFCF",
        ("epoch", "calibrator", "flux (Jy)", "MCF", "used"),
        tuple(
            (
                str(e),
                f,
                pm(rec["flux"][i][j], rec["flux_sigma"][i][j], "%.5f"),
                pm(rec["mcf"][i][j], rec["mcf_sigma"][i][j]),
                "yes" if rec["used"][i][j] else "(excluded)",
            )
            for i, (e, _) in enumerate(epochs)
            for j, f in enumerate(fields)
        ),
    )
    warnings = tuple(
        Warning(f"epoch {x['epoch']} {x['field']} left out of the rFCF", str(x["reason"]))
        for x in rec.get("exclusions", ())
    )
    title = "relcal_fit: %d epochs, %d calibrators (%s)" % (
        len(epochs),
        len(fields),
        ", ".join(fields),
    )
    return Parts(title, headline, (per_epoch, per_cal), warnings, (), FIT_FIGURES)


def apply_parts(rec: dict[str, Any]) -> Parts:
    """relcal_apply: the factor applied to each MS and where the result went."""
    verb = "would multiply" if rec["dryrun"] else "multiplied"
    rows = rec["rescale"]
    headline = tuple(
        Headline(
            _name(r["vis"]),
            "factor %s" % num(r["factor"], "%.6f"),
            f"amplitudes {verb} by it, weights by 1/factor² = {num(r['factor'] ** -2, '%.6f')}",
        )
        for r in rows
    )
    table = Table(
        "Rescaling per MS (seed 000 App. E: gencal caltype='amp' parameter=1/sqrt(factor), "
        "applycal)",
        ("MS", "column", "factor", "gencal parameter", "output", "caltable"),
        tuple(
            (
                _name(r["vis"]),
                r["datacolumn"],
                num(r["factor"], "%.6f"),
                num(r["gencal_parameter"], "%.6f"),
                _name(r["outputvis"]),
                _name(r["caltable"]),
            )
            for r in rows
        ),
    )
    what = "dry run: nothing written" if rec["dryrun"] else "applied"
    title = f"relcal_apply: {len(rows)} MS, mode {rec['mode']} ({what})"
    return Parts(title, headline, (table,), (), (), {})
