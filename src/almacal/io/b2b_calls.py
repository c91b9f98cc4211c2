"""casatools / casatasks side of b2b_phasetransfer: metadata, gaincal, applycal,
caltable reading and writing, and the DGC visibilities the diagnostics need.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.b2b.structure import ScanInfo, SpwInfo
from almacal.b2b.transfer import PhaseSolutions, parse_casa_version

# ~64 MB of complex128 per chunk when reading DGC visibilities.
CHUNK_BYTES = 64 * 2**20


def _casatasks():
    import casatasks

    return casatasks


@contextmanager
def _tool(kind: str) -> Iterator[Any]:
    import casatools

    tool = getattr(casatools, kind)()
    try:
        yield tool
    finally:
        tool.done() if kind == "msmetadata" else tool.close()


@dataclass(frozen=True)
class MsMeta:
    """What the structure finder and the diagnostics need from an MS."""

    path: str
    scans: tuple[ScanInfo, ...]
    spws: tuple[SpwInfo, ...]
    antenna_names: tuple[str, ...]
    antenna_itrf_m: np.ndarray  # (n_ant, 3)
    field_names: tuple[str, ...]
    field_radec_deg: np.ndarray  # (n_field, 2)
    scan_times: dict[int, np.ndarray]  # scan -> unique integration times (MJD s)

    def field_id(self, name: str) -> int:
        return self.field_names.index(name)


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unique (a, b) rows of two non-negative integer columns, as an (n, 2) array.

    One int64 key per row: np.unique on 1-D keys is ~20x faster than axis=0.
    """
    key = np.unique(np.asarray(a, dtype=np.int64) << 32 | np.asarray(b, dtype=np.int64))
    return np.column_stack([key >> 32, key & 0xFFFFFFFF])


def read_meta(vis: str) -> MsMeta:
    """Scans (field, spws, intents, times), spws (centre, baseband), antennas, fields.

    The main table's index columns are read in row chunks and reduced to unique
    (scan, x) pairs: faster than msmetadata on a large MS, and memory stays flat.
    """
    sub = {}
    with _tool("table") as tb:
        tb.open(os.path.join(vis, "SPECTRAL_WINDOW"))
        freq = [float(np.mean(tb.getcell("CHAN_FREQ", r))) for r in range(tb.nrows())]
        bbc = tb.getcol("BBC_NO") if "BBC_NO" in tb.colnames() else np.zeros(len(freq), int)
        tb.close()
        for name, cols in (
            ("DATA_DESCRIPTION", ("SPECTRAL_WINDOW_ID",)),
            ("FIELD", ("NAME", "PHASE_DIR")),
            ("ANTENNA", ("NAME", "POSITION")),
            ("STATE", ("OBS_MODE",)),
        ):
            tb.open(os.path.join(vis, name))
            n = tb.nrows()
            sub.update({f"{name}.{c}": tb.getcol(c) if n else np.array([]) for c in cols})
            tb.close()
        tb.open(vis)
        n_row = tb.nrows()
        step = 2_000_000
        spw_of = np.asarray(sub["DATA_DESCRIPTION.SPECTRAL_WINDOW_ID"])
        parts: dict[str, list[np.ndarray]] = {"field": [], "spw": [], "state": [], "time": []}
        for start in range(0, n_row, step):
            n = min(step, n_row - start)
            scan = tb.getcol("SCAN_NUMBER", start, n)
            parts["field"].append(_pairs(scan, tb.getcol("FIELD_ID", start, n)))
            parts["spw"].append(_pairs(scan, spw_of[tb.getcol("DATA_DESC_ID", start, n)]))
            # STATE_ID is -1 when an MS has no STATE rows: shifted by one for the key.
            parts["state"].append(_pairs(scan, tb.getcol("STATE_ID", start, n) + 1))
            t_unique, t_index = np.unique(tb.getcol("TIME", start, n), return_inverse=True)
            st = _pairs(scan, t_index)
            parts["time"].append(np.column_stack([st[:, 0], t_unique[st[:, 1]]]))
    pairs = {k: np.unique(np.concatenate(v), axis=0) for k, v in parts.items()}
    field_names = tuple(str(x) for x in sub["FIELD.NAME"])
    obs_mode = [str(x) for x in sub["STATE.OBS_MODE"]]
    scans, times = [], {}
    for s in np.unique(pairs["field"][:, 0]):
        t = pairs["time"][pairs["time"][:, 0] == s, 1]
        times[int(s)] = t
        states = pairs["state"][pairs["state"][:, 0] == s, 1] - 1
        intents = sorted(
            {i for st in states if 0 <= st < len(obs_mode) for i in obs_mode[st].split(",")}
        )
        scans.append(
            ScanInfo(
                scan=int(s),
                field=field_names[int(pairs["field"][pairs["field"][:, 0] == s, 1][0])],
                spws=tuple(int(w) for w in pairs["spw"][pairs["spw"][:, 0] == s, 1]),
                intents=tuple(intents),
                start=float(t.min()),
                stop=float(t.max()),
            )
        )
    spws = tuple(SpwInfo(w, freq[w], int(bbc[w])) for w in range(len(freq)))
    radec = np.degrees(np.asarray(sub["FIELD.PHASE_DIR"])[:, 0, :].T)
    return MsMeta(
        vis,
        tuple(scans),
        spws,
        tuple(str(x) for x in sub["ANTENNA.NAME"]),
        np.asarray(sub["ANTENNA.POSITION"], dtype=float).T,
        field_names,
        radec,
        times,
    )


def has_unflagged(vis: str, scans: Sequence[int], ddids: Sequence[int]) -> bool:
    """Whether any row of the scans and data descriptions has an unflagged sample.

    TaQL with LIMIT 1 stops at the first such row: no full read of FLAG.
    """
    query = (
        "SELECT FROM $1 WHERE SCAN_NUMBER IN [%s] AND DATA_DESC_ID IN [%s] "
        "AND NOT FLAG_ROW AND NOT ALL(FLAG) LIMIT 1"
        % (",".join(str(s) for s in scans), ",".join(str(d) for d in ddids))
    )
    with _tool("table") as tb:
        tb.open(vis)
        sub = tb.taql(query.replace("$1", "'%s'" % vis))
        try:
            return int(sub.nrows()) > 0
        finally:
            sub.close()


def ddids_for_spws(vis: str, spws: Sequence[int]) -> list[int]:
    with _tool("table") as tb:
        tb.open(os.path.join(vis, "DATA_DESCRIPTION"))
        spw_of = np.asarray(tb.getcol("SPECTRAL_WINDOW_ID"))
    return [int(d) for d in np.flatnonzero(np.isin(spw_of, list(spws)))]


def gaincal(vis: str, caltable: str, **kwargs: Any) -> None:
    """casatasks.gaincal; raises RuntimeError when no solution table appears."""
    _casatasks().gaincal(vis=vis, caltable=caltable, **kwargs)
    if not os.path.isdir(caltable):
        raise RuntimeError(
            f"gaincal wrote no table {caltable} (selection {kwargs.get('scan', '')!r}, "
            f"spw {kwargs.get('spw', '')!r}); see the CASA log"
        )


def applycal(vis: str, **kwargs: Any) -> None:
    """casatasks.applycal writing CORRECTED_DATA only: flags kept, no flag backup."""
    _casatasks().applycal(vis=vis, applymode="calonly", flagbackup=False, **kwargs)


def read_caltable(path: str) -> PhaseSolutions:
    with _tool("table") as tb:
        tb.open(path)
        if tb.nrows() == 0:
            raise RuntimeError(f"caltable {path} has no solutions; see the CASA log")
        c = {
            n: tb.getcol(n)
            for n in (
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
        }
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
    import casatools

    with _tool("table") as tb:
        tb.open(template)
        # norows=True would empty the subtables too (SPECTRAL_WINDOW...): applying
        # such a table crashes the calibrater, so copy everything and drop the rows.
        tb.copy(out, deep=True, valuecopy=True)
    copy = casatools.table()
    copy.open(out, nomodify=False)
    copy.removerows(list(range(copy.nrows())))
    try:
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
    finally:
        copy.close()


@dataclass(frozen=True)
class BaselineVis:
    """Channel- and correlation-averaged visibilities per row (NaN where all flagged)."""

    time: np.ndarray
    antenna1: np.ndarray
    antenna2: np.ndarray
    spw: np.ndarray
    scan: np.ndarray
    vis: np.ndarray  # complex
    noise_var: np.ndarray  # per-sample variance estimated from the scatter over channels
    n_sample: np.ndarray

    def subset(self, keep: np.ndarray) -> BaselineVis:
        """The rows where keep (bool, per row) is True."""
        return BaselineVis(**{k: getattr(self, k)[keep] for k in self.__dataclass_fields__})


def read_baseline_vis(vis: str, scans: Sequence[int], spws: Sequence[int]) -> BaselineVis:
    """DATA of the given scans and spws, averaged over channels and parallel hands.

    Read in row chunks (one query); memory stays flat.
    """
    ddids = ddids_for_spws(vis, spws)
    with _tool("table") as tb:
        tb.open(os.path.join(vis, "DATA_DESCRIPTION"))
        spw_of = np.asarray(tb.getcol("SPECTRAL_WINDOW_ID"))
    query = "SCAN_NUMBER IN [%s] AND DATA_DESC_ID IN [%s] AND ANTENNA1 != ANTENNA2" % (
        ",".join(str(s) for s in scans),
        ",".join(str(d) for d in ddids),
    )
    parts: dict[str, list[np.ndarray]] = {k: [] for k in BaselineVis.__dataclass_fields__}
    with _tool("table") as tb:
        tb.open(vis)
        sub = tb.query(query)
        try:
            n_row = int(sub.nrows())
            if n_row == 0:
                raise ValueError(f"{vis}: no rows in scans {list(scans)} and spws {list(spws)}")
            cell = np.asarray(sub.getcell("DATA", 0)).size
            step = max(1, CHUNK_BYTES // (16 * cell))
            for start in range(0, n_row, step):
                n = min(step, n_row - start)
                data = sub.getcol("DATA", start, n)
                flag = sub.getcol("FLAG", start, n) | sub.getcol("FLAG_ROW", start, n)[None, None]
                ok = ~flag & np.isfinite(data)
                data[~ok] = 0  # a fresh array from getcol: zeroed, masked terms drop out
                count = ok.sum(axis=(0, 1))
                mean = data.sum(axis=(0, 1)) / np.maximum(count, 1)
                dev = (data - mean[None, None]) * ok
                resid = (dev.real**2 + dev.imag**2).sum(axis=(0, 1))
                parts["vis"].append(np.where(count > 0, mean, np.nan + 0j))
                parts["noise_var"].append(resid / np.maximum(count - 1, 1) / 2.0)
                parts["n_sample"].append(count)
                parts["time"].append(sub.getcol("TIME", start, n))
                parts["antenna1"].append(sub.getcol("ANTENNA1", start, n))
                parts["antenna2"].append(sub.getcol("ANTENNA2", start, n))
                parts["spw"].append(spw_of[sub.getcol("DATA_DESC_ID", start, n)])
                parts["scan"].append(sub.getcol("SCAN_NUMBER", start, n))
        finally:
            sub.close()
    return BaselineVis(**{k: np.concatenate(v) for k, v in parts.items()})


def casa_version() -> tuple[int, int, int]:
    """casatasks' (major, minor, patch): the version whose applycal does the work."""
    return parse_casa_version(_casatasks().version_string())
