"""The result of b2b_phasetransfer: a frozen record with QA scores, and its files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.b2b.diagnostics import Diagnostics
from almacal.b2b.planner import Plan
from almacal.b2b.structure import B2BStructure


@dataclass(frozen=True)
class B2BResult:
    vis: str
    structure: B2BStructure
    refant: str
    combine_spw: bool
    combine_reason: str
    caltables: dict[str, str]
    applied: bool
    diagnostics: Diagnostics
    warnings: tuple[str, ...]
    casa_calls: tuple[tuple[str, dict], ...]
    casa_seconds: float
    params: dict[str, Any]

    def qa_score(self) -> float:
        """The lowest of the QA scores, in [0, 1] (the pipeline's convention)."""
        return float(min(self.diagnostics.qa.values()))

    def to_record(self) -> dict:
        return {
            "mode": "transfer",
            "vis": self.vis,
            "structure": self.structure.to_record(),
            "refant": self.refant,
            "combine_spw": self.combine_spw,
            "combine_reason": self.combine_reason,
            "caltables": dict(self.caltables),
            "applied": self.applied,
            "diagnostics": self.diagnostics.to_record(),
            "qa_score": self.qa_score(),
            "warnings": list(self.warnings),
            "casa_calls": [[n, _plain(k)] for n, k in self.casa_calls],
            "casa_seconds": self.casa_seconds,
            "params": _plain(self.params),
        }


def plan_record(plan: Plan) -> dict:
    return {"mode": "plan", "plan": plan.to_record()}


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def write_ecsv(result: B2BResult, path: str) -> None:
    """One row per antenna: residual RMS, band offset per block and spw, change between blocks."""
    from astropy.table import Table

    d = result.diagnostics
    cols: dict[str, Any] = {
        "antenna": list(d.antenna_names),
        "residual_rms_deg": d.residual_rms_antenna_deg,
        "offset_change_deg": d.offset_change_deg,
    }
    for b in range(d.offset_deg.shape[0]):
        for j, spw in enumerate(result.structure.high_spws):
            cols[f"offset_block{b + 1}_spw{spw}_deg"] = d.offset_deg[b, :, j]
    table = Table(cols)
    table.meta.update(
        {
            "vis": result.vis,
            "refant": result.refant,
            "residual_rms_deg": d.residual_rms_deg,
            "expected_rms_target_deg": d.expected_rms_target_deg,
            "expected_coherence": d.expected_coherence,
            "dgc_loss": d.dgc_loss,
            "qa": dict(d.qa),
        }
    )
    table.write(path, format="ascii.ecsv", overwrite=True)
