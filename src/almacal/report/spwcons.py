"""spwconsistency: what its report and summary show, from the record (seed 000 Sect. 3.4)."""

from __future__ import annotations

from typing import Any

from almacal.report.model import Headline, Parts, QaScore, Table, Warning, num, pm

SIGMA_ALPHA = (
    "σ_α(MC) is the standard deviation of the power-law index α that fit noise and σ_spw "
    "alone give (Monte Carlo, all epochs); δα is one epoch's least-squares error of α"
)

FIGURES = {
    "mcf_png": (
        "Normalized MCFs MCF_ijk / MCF_ij against spw frequency, one panel per epoch "
        "(triangles: calibrators, error bars 1 sigma; short black bars: the mean over "
        "calibrators per spw, Eq. 5; grey line: the power law fitted to the epoch, dashed "
        "when its slope is flagged; the panel title gives α ± δα). " + SIGMA_ALPHA + "."
    ),
    "hist_png": (
        "Histograms (number of normalized MCFs per bin) of, left to right: normalized MCF - 1; "
        "the residuals from each spw's calibrator mean (Eq. 4, fit noise); the calibrator "
        "means - 1 (Eq. 5, noise plus spw calibration error). Black curves: Gaussians of "
        "the sample widths, scaled to the counts."
    ),
    "mc_png": (
        "Grey histogram: α of the Monte Carlo draws (fit noise + σ_spw alone, all epochs), "
        "shaded band ± σ_α(MC). Points: each epoch's measured α ± δα, at its epoch number "
        "on the right axis; red when flagged. " + SIGMA_ALPHA + "."
    ),
}

QA_MEANING = {
    "pipeline_spectral_consistency": (
        "hifa_gfluxscale's spectral consistency score (K_spw), worst epoch: 1 when every "
        "spw's flux ratio is within the pipeline's tolerance"
    ),
    "spectral_consistency": (
        "the same ratios judged against this data set's own sigma_spw and fit noise "
        "(finer than the pipeline's fixed tolerance), worst epoch"
    ),
    "spectral_slope": "1 when no epoch's power-law index is flagged by the Monte Carlo, else 0.5",
}


def _sigma_spw(dec: dict[str, Any]) -> str:
    s = dec["sigma_spw"]
    if s["detected"]:
        return f"{pm(100 * s['sigma'], 100 * s['error'], '%.3f')} %"
    upper, estimate = num(100 * s["upper95"], "%.3f"), num(100 * s["sigma"], "%.3f")
    return f"< {upper} % (95 %; estimate {estimate} %)"


def parts(rec: dict[str, Any]) -> Parts:
    """sigma_spw first (Eq. 4-5), then alpha per epoch against the Monte Carlo."""
    dec, mc, pl = rec["decomposition"], rec["montecarlo"], rec["powerlaw"]
    headline = (
        Headline("σ_spw", _sigma_spw(dec), "spw-to-spw flux calibration error (Eq. 5)"),
        Headline(
            "σ_fit",
            f"{pm(100 * dec['sigma_fit']['sigma'], 100 * dec['sigma_fit']['error'], '%.3f')} %",
            "fit noise of one normalized MCF (Eq. 4)",
        ),
        Headline(
            "σ_total",
            f"{pm(100 * dec['sigma_total']['sigma'], 100 * dec['sigma_total']['error'], '%.3f')} %",
            "scatter of the normalized MCFs",
        ),
        Headline(
            "σ_α(MC)",
            num(mc["sigma_alpha"], "%.3f"),
            f"{mc['n_mc']} draws; " + SIGMA_ALPHA,
        ),
    )
    epochs = Table(
        "Power law per epoch: α ± δα (fit), the Monte Carlo probability of "
        "|α| this large from noise (one epoch; any of the epochs), QA per epoch",
        ("epoch", "date", "α ± δα", "P one", "P any", "flagged", "pipeline QA"),
        tuple(
            (
                str(e),
                d,
                pm(pl["alpha"][i], pl["alpha_error"][i], "%+.3f"),
                num(mc["p_one"][i], "%.4f"),
                num(mc["p_all_epochs"][i], "%.4f"),
                "yes" if mc["slope_flagged"][i] else "no",
                num(min(rec["pipeline_qa"]["score"][i]), "%.2f"),
            )
            for i, (e, d) in enumerate(zip(rec["epoch"], rec["date"], strict=True))
        ),
    )
    warnings = tuple(
        Warning(
            f"epoch {x['epoch']} {x['field']}: left out of relcal_fit's rFCF; its per-spw "
            "MCFs are kept",
            str(x.get("reason", "")),
        )
        for x in rec.get("rfcf_excluded", ())
    ) + tuple(
        Warning(f"epoch {e}: power-law slope flagged", f"P(any of the epochs) = {p:.4f}")
        for e, p, f in zip(rec["epoch"], mc["p_all_epochs"], mc["slope_flagged"], strict=True)
        if f
    )
    qa = tuple(QaScore(k, float(v), QA_MEANING.get(k, "")) for k, v in rec["qa"].items())
    title = "spwconsistency: %d epochs x %d calibrators x %d spws" % (
        len(rec["epoch"]),
        len(rec["field"]),
        len(rec["spw"]),
    )
    return Parts(title, headline, (epochs,), warnings, qa, FIGURES)
