"""Reference antenna and the spw-combination policy for the low-frequency solutions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from almacal.baselinevis import BaselineVis

# Combine spws when a per-spw solution would have SNR below this multiple of minsnr:
# its phase noise (1/SNR rad) is multiplied by nu_high/nu_low (~3 for Band 7-3).
COMBINE_SNR_FACTOR = 3.0


def choose_refant(names: Sequence[str], itrf_m: np.ndarray, refant: str) -> str:
    """refant as given (name or index) when it exists; '' -> the antenna nearest the
    array centre. Raises ValueError naming the unknown antenna."""
    if refant:
        first = refant.split(",")[0].strip()
        if first in names:
            return refant
        if first.isdigit() and int(first) < len(names):
            return names[int(first)]
        raise ValueError(
            f"refant={refant!r} is not an antenna of the MS; antennas are: {', '.join(names)}"
        )
    centre = np.mean(itrf_m, axis=0)
    return names[int(np.argmin(np.linalg.norm(itrf_m - centre, axis=1)))]


def predicted_snr(
    vis: np.ndarray,
    noise_var: np.ndarray,
    n_sample: np.ndarray,
    spw: np.ndarray,
    *,
    n_antenna: int,
    n_int: int,
) -> dict[int, float]:
    """Per-spw SNR of an antenna phase solution over n_int integrations.

    vis, noise_var, n_sample : per row (one baseline, one integration, one spw) channel
    averages, the per-sample noise variance per component and the sample count. The
    amplitude is debiased; the solution sees (n_antenna - 1) baselines.
    """
    out = {}
    for s in np.unique(spw):
        m = (spw == s) & np.isfinite(vis) & (n_sample > 0)
        if not np.any(m):
            out[int(s)] = 0.0
            continue
        var_mean = 2.0 * noise_var[m] / n_sample[m]
        amp2 = max(float(np.mean(np.abs(vis[m]) ** 2 - var_mean)), 0.0)
        sigma = float(np.sqrt(np.mean(noise_var[m])))
        n = float(np.median(n_sample[m])) * (n_antenna - 1) * n_int
        out[int(s)] = float(np.sqrt(amp2) * np.sqrt(n) / sigma) if sigma > 0 else np.inf
    return out


def sample_snr(sample: BaselineVis, *, n_antenna: int, solint: str) -> dict[int, float]:
    """predicted_snr of a sample of channel-averaged rows (a phase-calibrator scan):
    solint='inf' solves over all its integrations, anything else over one."""
    n_int = {"int": 1, "inf": max(1, np.unique(sample.time).size)}.get(solint, 1)
    return predicted_snr(
        sample.vis,
        sample.noise_var,
        sample.n_sample,
        sample.spw,
        n_antenna=n_antenna,
        n_int=n_int,
    )


def combine_decision(policy: str, snr: dict[int, float], minsnr: float) -> tuple[bool, str]:
    """(combine spws?, reason for the log)."""
    if policy == "spw":
        return True, "combine='spw' requested"
    if policy == "none":
        return False, "combine='none' requested"
    worst = min(snr, key=lambda s: snr[s])
    limit = COMBINE_SNR_FACTOR * max(minsnr, 1.0)
    text = ", ".join("spw %d: %.0f" % (s, v) for s, v in sorted(snr.items()))
    if snr[worst] < limit:
        return True, (
            "low-frequency spws combined: predicted per-spw phase-calibrator SNR %s; "
            "spw %d is below %.1f (3 x minsnr)" % (text, worst, limit)
        )
    return False, "per-spw solutions: predicted phase-calibrator SNR %s (>= %.1f)" % (text, limit)
