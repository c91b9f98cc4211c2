"""casatools / casatasks side of b2b_phasetransfer: gaincal, applycal, caltables,
the DGC visibilities, the flag check and the MS HISTORY (almacal.b2b.calls.CasaCalls).

No decisions here: what to solve, scale and apply is decided by almacal.b2b.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from almacal.baselinevis import BaselineVis
from almacal.io.caltables import history_messages, write_history
from almacal.io.msinfo import read_ms_info
from almacal.io.tables import casatasks, opened_table, row_blocks, taql_result
from almacal.msinfo import MsInfo
from almacal.solutions import PhaseSolutions

__all__ = [
    "applycal",
    "casa_version",
    "gaincal",
    "has_unflagged",
    "history_messages",
    "read_baseline_vis",
    "read_caltable",
    "read_ms_info",
    "write_history",
    "write_phase_table",
]

_CALTABLE_COLUMNS = (
    "TIME",
    "FIELD_ID",
    "SPECTRAL_WINDOW_ID",
    "ANTENNA1",
    "ANTENNA2",
    "SCAN_NUMBER",
    "CPARAM",
    "FLAG",
    "SNR",
)


def casa_version() -> str:
    """casatasks' version string: the version whose applycal does the work."""
    return str(casatasks().version_string())


def _in_list(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def has_unflagged(vis: str, scans: Sequence[int], ddids: Sequence[int]) -> bool:
    """Whether any row of the scans and data descriptions has an unflagged sample.

    TaQL with LIMIT 1 stops at the first such row: no full read of FLAG.
    """
    query = (
        "SELECT FROM $MS WHERE SCAN_NUMBER IN [%s] AND DATA_DESC_ID IN [%s] "
        "AND NOT FLAG_ROW AND NOT ALL(FLAG) LIMIT 1" % (_in_list(scans), _in_list(ddids))
    )
    with taql_result(vis, query) as sub:
        return int(sub.nrows()) > 0


def gaincal(vis: str, caltable: str, **kwargs: Any) -> None:
    """casatasks.gaincal; raises RuntimeError when no solution table appears."""
    casatasks().gaincal(vis=vis, caltable=caltable, **kwargs)
    if not os.path.isdir(caltable):
        raise RuntimeError(
            f"gaincal wrote no table {caltable} (selection {kwargs.get('scan', '')!r}, "
            f"spw {kwargs.get('spw', '')!r}); see the CASA log"
        )


def applycal(vis: str, **kwargs: Any) -> None:
    """casatasks.applycal writing CORRECTED_DATA only: flags kept, no flag backup."""
    casatasks().applycal(vis=vis, applymode="calonly", flagbackup=False, **kwargs)


def read_caltable(path: str) -> PhaseSolutions:
    with opened_table(path, param="caltable") as tb:
        if tb.nrows() == 0:
            raise RuntimeError(f"caltable {path} has no solutions; see the CASA log")
        c = {n: tb.getcol(n) for n in _CALTABLE_COLUMNS}
    return PhaseSolutions(
        time=c["TIME"],
        field=c["FIELD_ID"],
        spw=c["SPECTRAL_WINDOW_ID"],
        antenna=c["ANTENNA1"],
        refant=c["ANTENNA2"],
        scan=c["SCAN_NUMBER"],
        phase=np.angle(c["CPARAM"][:, 0, :]).T,
        flag=c["FLAG"][:, 0, :].T,
        snr=np.asarray(c["SNR"][:, 0, :]).T,
    )


def write_phase_table(template: str, out: str, rows: PhaseSolutions) -> None:
    """A copy of template (keywords, subtables) holding rows: unit-amplitude phases."""
    with opened_table(template, param="caltable") as tb:
        # norows=True would empty the subtables too (SPECTRAL_WINDOW...): applying
        # such a table crashes the calibrater, so copy everything and drop the rows.
        tb.copy(out, deep=True, valuecopy=True)
    with opened_table(out, writable=True, param="caltable") as copy:
        copy.removerows(list(range(copy.nrows())))
        n = rows.time.size
        copy.addrows(n)
        copy.putcol("TIME", rows.time)
        copy.putcol("INTERVAL", np.zeros(n))
        copy.putcol("FIELD_ID", rows.field.astype(np.int32))
        copy.putcol("SPECTRAL_WINDOW_ID", rows.spw.astype(np.int32))
        copy.putcol("ANTENNA1", rows.antenna.astype(np.int32))
        copy.putcol("ANTENNA2", rows.refant.astype(np.int32))
        copy.putcol("SCAN_NUMBER", rows.scan.astype(np.int32))
        copy.putcol("OBSERVATION_ID", np.zeros(n, dtype=np.int32))
        cparam = np.exp(1j * rows.phase.T)[:, None, :].astype(np.complex128)
        copy.putcol("CPARAM", cparam)
        copy.putcol("PARAMERR", np.zeros(cparam.shape))
        copy.putcol("FLAG", rows.flag.T[:, None, :])
        copy.putcol("SNR", rows.snr.T[:, None, :].astype(float))


def _averaged(sub: Any, start: int, n: int) -> dict[str, np.ndarray]:
    """One row block of DATA averaged over unflagged channels and correlations, with
    the per-sample noise variance from the scatter about that mean."""
    data = sub.getcol("DATA", start, n)
    flag = sub.getcol("FLAG", start, n) | sub.getcol("FLAG_ROW", start, n)[None, None]
    ok = ~flag & np.isfinite(data)
    data[~ok] = 0  # a fresh array from getcol: zeroed, masked terms drop out
    count = ok.sum(axis=(0, 1))
    mean = data.sum(axis=(0, 1)) / np.maximum(count, 1)
    dev = (data - mean[None, None]) * ok
    resid = (dev.real**2 + dev.imag**2).sum(axis=(0, 1))
    return {
        "vis": np.where(count > 0, mean, np.nan + 0j),
        "noise_var": resid / np.maximum(count - 1, 1) / 2.0,
        "n_sample": count,
    }


def read_baseline_vis(info: MsInfo, scans: Sequence[int], spws: Sequence[int]) -> BaselineVis:
    """DATA of the given scans and spws (cross-correlations), averaged over channels and
    correlations; read in row blocks of one query, so memory stays flat."""
    query = "SCAN_NUMBER IN [%s] AND DATA_DESC_ID IN [%s] AND ANTENNA1 != ANTENNA2" % (
        _in_list(scans),
        _in_list(info.ddids_of(spws)),
    )
    parts: dict[str, list[np.ndarray]] = {k: [] for k in BaselineVis.__dataclass_fields__}
    with opened_table(info.path, query) as sub:
        n_row = int(sub.nrows())
        if n_row == 0:
            raise ValueError(f"{info.path}: no rows in scans {list(scans)} and spws {list(spws)}")
        row_bytes = 16 * np.asarray(sub.getcell("DATA", 0)).size
        for start, n in row_blocks(n_row, row_bytes):
            for k, v in _averaged(sub, start, n).items():
                parts[k].append(v)
            parts["time"].append(sub.getcol("TIME", start, n))
            parts["antenna1"].append(sub.getcol("ANTENNA1", start, n))
            parts["antenna2"].append(sub.getcol("ANTENNA2", start, n))
            parts["spw"].append(info.ddid_spw[sub.getcol("DATA_DESC_ID", start, n)])
            parts["scan"].append(sub.getcol("SCAN_NUMBER", start, n))
    return BaselineVis(**{k: np.concatenate(v) for k, v in parts.items()})
