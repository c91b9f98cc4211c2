"""The results of b2b_phasetransfer (a transfer, or a plan) and the files a transfer writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.b2b.diagnostics import DgcPhases, Diagnostics
from almacal.b2b.planner import Plan
from almacal.b2b.plot import plot_dgc_phases, plot_residuals
from almacal.b2b.structure import B2BStructure
from almacal.outputs import write_json


@dataclass(frozen=True)
class B2BResult:
    """A transfer: what was found, solved and checked, and the CASA calls that did it.

    casa_calls : (name, arguments) with the final table names, applycal included when
    applied; casa_seconds : wall time of those calls. dgc_phases and files are not part
    of the record.
    """

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
    dgc_phases: DgcPhases
    files: dict[str, str]

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


@dataclass(frozen=True)
class PlanResult:
    """mode='plan': seed 003 Eq. 4 and the section 4.2 separation limit."""

    plan: Plan

    def to_record(self) -> dict:
        return {"mode": "plan", "plan": self.plan.to_record()}


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


def write_files(result: B2BResult, paths: Mapping[str, str], *, with_json: bool = True) -> None:
    """The record as JSON (unless with_json is False), the per-antenna ECSV and, when
    paths name them, the PNGs."""
    if with_json:
        write_json(paths["json"], result.to_record())
    write_ecsv(result, paths["ecsv"])
    d = result.diagnostics
    if "plot_dgc" in paths:
        first_spw = result.dgc_phases.phase[:, :, 0]
        plot_dgc_phases(
            paths["plot_dgc"],
            times=result.dgc_phases.times,
            phase_deg=np.degrees(np.unwrap(np.nan_to_num(first_spw), axis=0)),
            block_times=d.offset_block_times,
            offset_deg=d.offset_deg[:, :, 0],
            antenna_names=d.antenna_names,
        )
    if "plot_residual" in paths:
        plot_residuals(paths["plot_residual"], d)
