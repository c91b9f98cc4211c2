"""B2B or in-band? The operational metric of seed 003 section 4.4 (Eq. 4).

0.11 + m * dtheta < 0 -> B2B, > 0 -> in-band, where dtheta (deg) is how much
closer the B2B calibrator is than the best in-band one and m the Table 10
slope of the coherence difference for the band and maximum baseline. The
separation needed for a chosen image coherence follows section 4.2: the
Table 7 line (Table 8 by baseline in wavelengths where Table 7 has no fit)
minus the coherence lost to the expected phase RMS (Eq. 2).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from almacal.b2b.coherence import expected_coherence
from almacal.constants import C_M_S

# Eq. 4: the DGC loss at 30 deg residual (~7 %) plus the B2B time overhead net
# of the in-band noise penalty (~4 %), as a fraction of coherence.
METRIC_CONSTANT = 0.11

# (band, min km, max km) -> slope per degree: Table 10 (coherence difference).
TABLE10 = {
    (7, 3.7, 8.5): -0.025,
    (7, 8.5, 16.5): -0.052,
    (8, 0.0, 3.7): -0.023,
    (9, 0.0, 3.7): -0.042,
}

# (band, min km, max km) -> (offset, slope, slope error): Table 7 (corrected coherence).
TABLE7 = {
    (7, 3.7, 8.5): (0.975, -0.024, 0.007),
    (7, 8.5, 16.5): (0.984, -0.049, 0.007),
    (8, 0.0, 3.7): (0.920, -0.020, 0.009),
    (9, 0.0, 3.7): (0.960, -0.052, 0.015),
}

# Table 8: by baseline in wavelengths, split at 5e6.
TABLE8 = {"short": (0.954, -0.022, 0.005), "long": (0.945, -0.054, 0.012)}
TABLE8_SPLIT_LAMBDA = 5e6

# Representative target frequencies (Table 2 and Table 9 headings).
BAND_FREQ_GHZ = {3: 100.0, 4: 145.0, 5: 190.0, 6: 230.0, 7: 279.0, 8: 394.0, 9: 681.0, 10: 870.0}


@dataclass(frozen=True)
class Plan:
    band: int
    maxbaseline_km: float
    sep_inband_deg: float
    sep_b2b_deg: float
    slope_per_deg: float
    metric: float
    choice: str
    break_even_deg: float
    reason: str
    coherence_goal: float
    expected_phase_rms_deg: float
    max_separation_deg: float
    separation_source: str

    def to_record(self) -> dict:
        return asdict(self)


def _lookup(table: dict, band: int, km: float):
    for (b, lo, hi), value in table.items():
        if b == band and lo <= km < hi:
            return value
    return None


def table10_slope(band: int, maxbaseline_km: float) -> float:
    slope = _lookup(TABLE10, band, maxbaseline_km)
    if slope is None:
        known = ", ".join(f"band {b} {lo}-{hi} km" for b, lo, hi in TABLE10)
        raise ValueError(
            f"band={band}, maxbaseline={maxbaseline_km} km: seed 003 Table 10 has no "
            f"coherence-difference slope for this case (fits exist for {known})"
        )
    return float(slope)


def max_separation(
    band: int, maxbaseline_km: float, *, coherence_goal: float, phase_rms_deg: float
) -> tuple[float, str]:
    """Separation (deg) at which the corrected-coherence line minus the Eq. 2 loss
    reaches coherence_goal (section 4.2; the seed uses the shallowest slope, 1 sigma)."""
    fit = _lookup(TABLE7, band, maxbaseline_km)
    source = "Table 7"
    if fit is None:
        if band not in BAND_FREQ_GHZ:
            raise ValueError(f"band={band} is not an ALMA band with a known frequency")
        wavelength_m = C_M_S / (BAND_FREQ_GHZ[band] * 1e9)
        length = maxbaseline_km * 1e3 / wavelength_m
        fit = TABLE8["long" if length > TABLE8_SPLIT_LAMBDA else "short"]
        source = "Table 8 (%s baselines, %.2g lambda)" % (
            "long" if length > TABLE8_SPLIT_LAMBDA else "short",
            length,
        )
    offset, slope, err = fit
    loss = 1.0 - float(expected_coherence(math.radians(phase_rms_deg)))
    shallowest = abs(slope) - err
    sep = (offset - loss - coherence_goal) / shallowest
    return max(sep, 0.0), source


def plan(
    *,
    band: int,
    maxbaseline_km: float,
    sep_inband_deg: float,
    sep_b2b_deg: float,
    coherence_goal: float = 0.7,
    phase_rms_deg: float = 30.0,
) -> Plan:
    """Eq. 4 decision with its reason, and the section 4.2 separation limit."""
    m = table10_slope(band, maxbaseline_km)
    dtheta = sep_inband_deg - sep_b2b_deg
    metric = METRIC_CONSTANT + m * dtheta
    break_even = METRIC_CONSTANT / abs(m)
    limit, source = max_separation(
        band, maxbaseline_km, coherence_goal=coherence_goal, phase_rms_deg=phase_rms_deg
    )
    choice = "b2b" if metric < 0 else "inband"
    if sep_inband_deg > limit >= sep_b2b_deg:
        choice = "b2b"
        reason = (
            "the in-band calibrator (%.2f deg) is beyond the %.2f deg limit for coherence "
            "%.2f, the B2B one is within it" % (sep_inband_deg, limit, coherence_goal)
        )
    else:
        reason = (
            "Eq. 4: 0.11 + (%.3f/deg)(%.2f deg) = %+.3f %s 0 (B2B pays off only %.2f deg closer)"
            % (
                m,
                dtheta,
                metric,
                "<" if metric < 0 else ">=",
                break_even,
            )
        )
    if sep_b2b_deg > limit:
        reason += (
            "; note: the B2B calibrator (%.2f deg) is also beyond the %.2f deg limit for "
            "coherence %.2f" % (sep_b2b_deg, limit, coherence_goal)
        )
    return Plan(
        band=band,
        maxbaseline_km=maxbaseline_km,
        sep_inband_deg=sep_inband_deg,
        sep_b2b_deg=sep_b2b_deg,
        slope_per_deg=m,
        metric=metric,
        choice=choice,
        break_even_deg=break_even,
        reason=reason,
        coherence_goal=coherence_goal,
        expected_phase_rms_deg=phase_rms_deg,
        max_separation_deg=limit,
        separation_source=source,
    )
