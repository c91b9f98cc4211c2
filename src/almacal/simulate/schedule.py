"""Timing: the scans of one epoch's block, its placement in the UTC day, MS
names and project codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from almacal.constants import DAY_S
from almacal.simulate.serpens import SCAN_GAP_S


@dataclass(frozen=True)
class ScanPlan:
    """One scan: field name and hour angles (s) of the first field at start and stop."""

    field: str
    start_ha_s: float
    stop_ha_s: float


def scan_plan(
    fields: Sequence[str],
    *,
    n_integration: int,
    integration_s: float,
    centre_ha_s: float = 0.0,
    gap_s: float = SCAN_GAP_S,
) -> tuple[ScanPlan, ...]:
    """One scan per field in order, the block centred on centre_ha_s."""
    scan_len = n_integration * integration_s
    total = block_duration_s(len(fields), n_integration, integration_s, gap_s)
    start = centre_ha_s - total / 2.0
    plans = []
    for k, name in enumerate(fields):
        t0 = start + k * (scan_len + gap_s)
        plans.append(ScanPlan(name, t0, t0 + scan_len))
    return tuple(plans)


def block_duration_s(n_field: int, n_integration: int, integration_s: float, gap_s: float) -> float:
    return n_field * n_integration * integration_s + (n_field - 1) * gap_s


def centre_within_day(transit_s: float, duration_s: float, margin_s: float = 600.0) -> float:
    """Hour angle (s) of the block centre: at transit unless that crosses a UTC midnight.

    transit_s : seconds after 00:00 UTC of the first field's transit on the date.
    The margin covers the simulator's own hour-angle origin, which differs from
    the apparent transit by up to ~2.5 min (measured -59 to +146 s on the 7 dates).
    """
    lo = margin_s + duration_s / 2.0 - transit_s
    hi = DAY_S - margin_s - duration_s / 2.0 - transit_s
    return float(min(max(0.0, lo), hi))


def ms_name(epoch_index: int, date: str) -> str:
    """ep01_20181014.ms for epoch_index 0 on 2018-10-14."""
    return f"ep{epoch_index + 1:02d}_{date.replace('-', '')}.ms"


def project_code(date: str) -> str:
    """Seed 000 programmes: 2018.1.00917.S, then 2019.1.00475.S from Cycle 7 (Oct 2019)."""
    return "2019.1.00475.S" if date >= "2019-10-01" else "2018.1.00917.S"
