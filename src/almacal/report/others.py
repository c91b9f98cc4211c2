"""gridflux_check and b2b_phasetransfer: what their reports and summaries show."""

from __future__ import annotations

import os
from typing import Any

from almacal.report.model import Headline, Parts, QaScore, Table, Warning, num, pm

GRIDFLUX_FIGURES = {
    "png": (
        "Catalog light curve of each EB's amplitude calibrator, ±30 days around the "
        "observation (dashed line, day 0): measurements by band (Band 3 red, Band 6 green, "
        "Band 7 blue; error bars 1 sigma), those the flux rule used circled; at day 0 the "
        "catalog flux recomputed now (black square) and the pipeline's flux.csv value "
        "(magenta triangle), both the mean over spws."
    ),
}

GRIDFLUX_QA = (
    "1.0 when catalog and pipeline fluxes agree within 2 %, 0.9 within 5 %, 0.66 within 10 %, "
    "0.33 beyond"
)

B2B_FIGURES = {
    "plot_dgc": (
        "Top: low-frequency phases of the DGC source scaled by nu_high/nu_low, one line per "
        "antenna, against minutes from the first DGC scan. Bottom: the band offset solved "
        "in each DGC block, per antenna (legend)."
    ),
    "plot_residual": (
        "Residual phase RMS of the high-frequency DGC data after the transfer, per antenna "
        "(bars), overall (blue dashed) and the RMS expected over the switching cycle at the "
        "DGC elevation (red dotted)."
    ),
}

B2B_QA = {
    "dgc_residual": "coherence exp(-sigma^2/2) of the residual DGC phase (Eq. 2)",
    "dgc_loss": "1 - the DGC coherence loss 17.9 log10(sigma) - 19.4 % (seed 003 Sect. 3.1.1)",
    "offset_stability": "1 when the band offset does not change between DGC blocks",
    "expected_coherence": "coherence expected at the target from the cycle's phase RMS (Eq. 2)",
}


def gridflux_parts(rec: dict[str, Any]) -> Parts:
    """gridflux_check: the factor per EB first, then the flux per spw."""
    ebs = rec["eb"]
    headline = tuple(
        Headline(
            f"{eb['ms']} {eb['field']}",
            "factor " + pm(eb.get("factor"), eb.get("factor_sigma")),
            eb.get("qa_reason", "no pipeline flux to compare"),
        )
        for eb in ebs
    )
    rows = []
    for eb in ebs:
        for k, spw in enumerate(eb["spw"]):
            change = eb.get("flux_change_pct")
            rows.append(
                (
                    eb["ms"],
                    str(spw),
                    num(eb["freq_hz"][k] / 1e9, "%.3f"),
                    pm(eb["catalog_flux_jy"][k], eb["catalog_flux_sigma_jy"][k]),
                    num(eb["pipeline_flux_jy"][k]) if "pipeline_flux_jy" in eb else "-",
                    pm(change[k], eb["flux_change_sigma_pct"][k], "%+.2f") if change else "-",
                )
            )
    table = Table(
        "Flux per spw: catalog (recomputed now) vs the pipeline's flux.csv",
        ("EB", "spw", "frequency (GHz)", "catalog (Jy)", "pipeline (Jy)", "change (%)"),
        tuple(rows),
    )
    warnings = tuple(Warning(w, eb["ms"]) for eb in ebs for w in eb["warnings"])
    warnings += tuple(Warning(s, "phase check skipped") for s in rec["phase_check_skipped"])
    qa = tuple(
        QaScore(f"{eb['ms']} flux", float(eb["qa_score"]), f"{eb['qa_reason']}; {GRIDFLUX_QA}")
        for eb in ebs
        if "qa_score" in eb
    )
    title = f"gridflux_check: {len(ebs)} EB(s)"
    return Parts(title, headline, (table,), warnings, qa, GRIDFLUX_FIGURES)


def b2b_plan_parts(rec: dict[str, Any]) -> Parts:
    """b2b_phasetransfer mode='plan': the Eq. 4 choice and its reason."""
    p = rec["plan"]
    headline = (
        Headline("choice", p["choice"], p["reason"]),
        Headline(
            "max calibrator separation",
            f"{num(p['max_separation_deg'], '%.2f')} deg",
            f"for coherence {num(p['coherence_goal'], '%.2f')} ({p['separation_source']})",
        ),
    )
    title = "b2b_phasetransfer plan: Band %d, %s km baselines" % (p["band"], p["maxbaseline_km"])
    return Parts(title, headline, (), (), (), {})


def b2b_parts(rec: dict[str, Any]) -> Parts:
    """b2b_phasetransfer: residual phase and coherence first."""
    if rec.get("mode") == "plan":
        return b2b_plan_parts(rec)
    d = rec["diagnostics"]
    headline = (
        Headline(
            "residual DGC phase RMS",
            f"{num(d['residual_rms_deg'], '%.1f')} deg",
            "high-frequency DGC data after the transfer",
        ),
        Headline(
            "expected coherence",
            num(d["expected_coherence"], "%.3f"),
            "at the target elevation %s deg, phase RMS %s deg"
            % (num(d["elevation_target_deg"], "%.0f"), num(d["expected_rms_target_deg"], "%.1f")),
        ),
        Headline("DGC coherence loss", f"{num(100 * d['dgc_loss'], '%.1f')} %", "Sect. 3.1.1"),
        Headline(
            "band offset change",
            f"{num(d['offset_change_rms_deg'], '%.1f')} deg",
            "RMS between DGC blocks ('-': one block, no drift measured)",
        ),
        Headline("QA score", num(rec["qa_score"], "%.2f"), "the lowest of the scores below"),
    )
    table = Table(
        "Per antenna: residual phase RMS after the transfer, band offset change between blocks",
        ("antenna", "residual RMS (deg)", "offset change (deg)"),
        tuple(
            (a, num(r, "%.1f"), num(c, "%.1f"))
            for a, r, c in zip(
                d["antennas"], d["residual_rms_antenna_deg"], d["offset_change_deg"], strict=True
            )
        ),
    )
    warnings = tuple(Warning(w) for w in rec["warnings"])
    qa = tuple(QaScore(k, float(v), B2B_QA.get(k, "")) for k, v in d["qa"].items())
    title = "b2b_phasetransfer: %s (refant %s%s)" % (
        os.path.basename(str(rec["vis"]).rstrip("/")),
        rec["refant"],
        ", applied" if rec["applied"] else "",
    )
    return Parts(title, headline, (table,), warnings, qa, B2B_FIGURES)
