"""What a B2B transfer asks of CASA, and the arguments it asks with (pure).

CasaCalls is the small interface the run needs (almacal.io.b2b_calls in the
task, a fake in the unit tests). The gaincal / applycal arguments are built
here from the structure, so the sequence can be read and tested without CASA;
CallLog records every casatasks call (name and arguments) for the result and
the benchmark, and refuses CAS-14703 before CASA sees the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from almacal.b2b.blocks import DgcBlock
from almacal.b2b.params import HISTORY_MARK, IN_PROGRESS
from almacal.b2b.structure import B2BStructure
from almacal.b2b.transfer import refuse_linearpd_spwmap
from almacal.baselinevis import BaselineVis
from almacal.msinfo import MsInfo
from almacal.solutions import PhaseSolutions


class CasaCalls(Protocol):
    """The casatools / casatasks side of b2b_phasetransfer."""

    def read_ms_info(self, path: str) -> MsInfo: ...

    def casa_version(self) -> str: ...

    def gaincal(self, *, vis: str, caltable: str, **kwargs: Any) -> None: ...

    def applycal(self, *, vis: str, **kwargs: Any) -> None: ...

    def read_caltable(self, path: str) -> PhaseSolutions: ...

    def write_phase_table(self, template: str, out: str, rows: PhaseSolutions) -> None: ...

    def read_baseline_vis(
        self, info: MsInfo, scans: Sequence[int], spws: Sequence[int]
    ) -> BaselineVis: ...

    def has_unflagged(self, vis: str, scans: Sequence[int], ddids: Sequence[int]) -> bool: ...

    def history_messages(self, vis: str) -> list[str]: ...

    def write_history(self, vis: str, messages: list[str], origin: str) -> None: ...


class LogSink(Protocol):
    """casalog's post (almacal.casatask.log.casalog in the task)."""

    def post(self, message: str, priority: str = "INFO") -> None: ...


@dataclass
class CallLog:
    """casatasks calls (name, arguments) and the wall time of those run here.

    version : the CASA (major, minor, patch) whose applycal does the work.
    """

    version: tuple[int, ...]
    calls: list[tuple[str, dict]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, name: str, **kwargs: Any) -> None:
        # Every call that interpolates a caltable passes here: CAS-14703 is checked once.
        if "interp" in kwargs:
            refuse_linearpd_spwmap(self.version, kwargs["interp"], kwargs.get("spwmap", []))
        self.calls.append((name, dict(kwargs)))

    def run(self, name: str, fn: Callable[..., Any], **kwargs: Any) -> None:
        self.add(name, **kwargs)
        t0 = time.perf_counter()
        try:
            fn(**kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def renamed(self, names: Mapping[str, str]) -> list[tuple[str, dict]]:
        """The calls with temporary table names replaced by their final ones (the record)."""

        def swap(v: Any) -> Any:
            if isinstance(v, list):
                return [swap(x) for x in v]
            return names.get(v, v) if isinstance(v, str) else v

        return [(name, {k: swap(v) for k, v in kw.items()}) for name, kw in self.calls]


def _csv(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def gaincal_common(vis: str, refant: str, minsnr: float) -> dict[str, Any]:
    """Arguments every gaincal of the sequence shares: phase-only G solutions."""
    return {"vis": vis, "calmode": "p", "gaintype": "G", "refant": refant, "minsnr": minsnr}


def low_gaincal(
    caltable: str,
    *,
    field: str,
    spws: Sequence[int],
    scans: Sequence[int],
    solint: str,
    combine_spw: bool,
    common: Mapping[str, Any],
) -> dict[str, Any]:
    """Low-frequency phases of one field: the DGC source per scan (solint='inf'), the
    phase calibrator at the user's solint."""
    return {
        "caltable": caltable,
        "field": field,
        "spw": _csv(spws),
        "scan": _csv(scans),
        "solint": solint,
        "combine": "spw" if combine_spw else "",
        **common,
    }


def offset_gaincal(
    st: B2BStructure,
    block: DgcBlock,
    *,
    first: bool,
    caltable: str,
    scaled_dgc_low: str,
    common: Mapping[str, Any],
) -> dict[str, Any]:
    """The band offset of one DGC block: its high-frequency scans with the scaled
    low-frequency DGC phases pre-applied, one solution (appended after the first)."""
    return {
        "caltable": caltable,
        "field": st.dgc_field,
        "spw": _csv(st.high_spws),
        "scan": _csv(block.high_scans),
        "solint": "inf",
        "combine": "scan",
        "gaintable": [scaled_dgc_low],
        "interp": ["linear"],
        "append": not first,
        **common,
    }


def target_applycal(vis: str, st: B2BStructure, tables: Mapping[str, str]) -> dict[str, Any]:
    """The scaled phase-calibrator table and the band offsets, applied to the targets.

    Both tables hold rows of the high-frequency spws: no spwmap, no linearPD.
    """
    return {
        "vis": vis,
        "field": ",".join(st.targets),
        "spw": _csv(st.high_spws),
        "gaintable": [tables["phasecal_scaled"], tables["dgc_offset"]],
        "interp": ["linear", "linear"],
        "calwt": [False, False],
    }


def _applied(st: B2BStructure, tables: Mapping[str, str]) -> str:
    return "%s + %s to %s spw %s" % (
        tables["phasecal_scaled"],
        tables["dgc_offset"],
        ",".join(st.targets),
        _csv(st.high_spws),
    )


def in_progress_line(st: B2BStructure, tables: Mapping[str, str], run: str) -> str:
    """The HISTORY line written before the applycal; run: who and when."""
    return (
        f"{IN_PROGRESS} ({run}): {_applied(st, tables)}; unless '{HISTORY_MARK}' follows, "
        "this run was interrupted and CORRECTED_DATA of the targets may be partly written"
    )


def history_lines(
    st: B2BStructure, tables: Mapping[str, str], call: Mapping[str, Any]
) -> list[str]:
    """The HISTORY of a completed application: what went where, then the call's arguments."""
    return [
        f"{HISTORY_MARK}: {_applied(st, tables)}",
        *[f"{k:<11} = {v!r}" for k, v in call.items()],
    ]
