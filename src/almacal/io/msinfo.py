"""MsInfo from one reader per subtable and one chunked pass over the main-table index.

These are the only functions that open FIELD, SPECTRAL_WINDOW, DATA_DESCRIPTION,
POLARIZATION, OBSERVATION, ANTENNA and STATE of an MS. A damaged MS (a missing
subtable, a truncated storage file) is refused here, before any work, with
"vis '<path>' is not a readable measurement set: <reason>".
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from almacal.io.tables import UnreadableTableError, opened_table, unreadable
from almacal.msinfo import FieldInfo, MsInfo, ScanInfo, SpwInfo

# Rows of index columns per read: 5 int/double columns, ~50 MB.
_INDEX_ROWS = 2_000_000

# ICRS and J2000 (FK5) differ by tens of milliarcseconds, nothing for a catalogue cone
# search of arcseconds or an elevation; other frames (e.g. AZEL) are not converted.
_J2000_LIKE = ("J2000", "ICRS")


def read_ms_info(path: str) -> MsInfo:
    """Everything almacal needs to know about an MS before reading visibilities.

    ValueError naming vis when it is not a readable measurement set.
    """
    check_readable(path)
    try:
        fields = read_field(path)
        spws = read_spectral_window(path)
        ddid_spw, ddid_pol = read_data_description(path)
        corr = read_polarization(path)
        telescopes, time_range = read_observation(path)
        antenna_names, antenna_pos = read_antenna(path)
        obs_mode = read_state(path)
        index = read_main_index(path, ddid_spw)
    except RuntimeError as exc:
        raise unreadable(path, exc) from None
    names = tuple(f[0] for f in fields)
    scans = index.scans(names, obs_mode)
    intents = _intents_of(index.field_state_pairs, obs_mode)
    start = float(time_range[0].min()) if time_range.size and time_range[0].min() > 0 else 0.0
    return MsInfo(
        path=path,
        fields=tuple(
            FieldInfo(i, name, ra, dec, frame, tuple(sorted(intents.get(i, ()))))
            for i, (name, ra, dec, frame) in enumerate(fields)
        ),
        spws=spws,
        ddid_spw=ddid_spw,
        ddid_pol=ddid_pol,
        corr_types=corr,
        columns=index.columns,
        has_weight_spectrum=index.has_weight_spectrum,
        start_mjd_s=start if start > 0 else index.first_row_time,
        telescopes=telescopes,
        antenna_names=antenna_names,
        antenna_itrf_m=antenna_pos,
        scans=scans,
        intent_spws=_by_intent(_intents_of(index.spw_state_pairs, obs_mode)),
        scan_times=index.scan_times,
        data_time_range=index.time_range,
    )


def check_readable(path: str) -> None:
    """UnreadableTableError unless the main table opens, every subtable its keywords name
    exists, and the first and last cell of every column can be read.

    A truncated storage file fails only when a cell in its lost part is read: the last
    row's cells lie at the end of each storage manager's file (checked on truncated
    SSM, ISM and TiledShapeStMan files), so the probe costs a few cells, not a pass.
    """
    with opened_table(path) as tb:
        for name, value in tb.getkeywords().items():
            if isinstance(value, str) and value.startswith("Table: "):
                sub = value[len("Table: ") :].strip()
                if not os.path.isfile(os.path.join(sub, "table.dat")):
                    raise UnreadableTableError(
                        f"vis {path!r} is not a readable measurement set: its {name} subtable "
                        f"is missing (no {os.path.join(sub, 'table.dat')})"
                    )
        n = int(tb.nrows())
        managers = {c: dm for dm in tb.getdminfo().values() for c in dm.get("COLUMNS", ())}
        for column in tb.colnames():
            try:
                for row in sorted({0, n - 1}) if n else ():
                    if tb.iscelldefined(column, row):
                        tb.getcell(column, row)
            except RuntimeError as exc:
                raise _bad_column(path, column, managers.get(column, {}), exc) from None


def _bad_column(path: str, column: str, manager: dict, exc: Exception) -> UnreadableTableError:
    """Which column, which storage manager and file, and casacore's words."""
    where = ""
    if manager:
        where = " (%s, files table.f%s*)" % (manager.get("TYPE", "?"), manager.get("SEQNR", "?"))
    return UnreadableTableError(
        f"vis {path!r} is not a readable measurement set: its {column} column{where} cannot "
        f"be read, its storage file is damaged or truncated (casacore: {str(exc).strip()})"
    )


def read_field(path: str) -> list[tuple[str, float | None, float | None, str]]:
    """(name, RA deg, Dec deg, frame) per FIELD row; RA/Dec None outside J2000/ICRS."""
    with opened_table(os.path.join(path, "FIELD")) as tb:
        n = tb.nrows()
        names = [str(x) for x in tb.getcol("NAME")] if n else []
        if not n:
            return []
        phase = np.asarray(tb.getcol("PHASE_DIR"))[:, 0, :]  # (2, n_field) rad
        frames = _direction_frames(tb, "PHASE_DIR", n)
    out: list[tuple[str, float | None, float | None, str]] = []
    for i, name in enumerate(names):
        if frames[i].upper() in _J2000_LIKE:
            ra = float(np.degrees(phase[0, i])) % 360.0
            out.append((name, ra, float(np.degrees(phase[1, i])), frames[i]))
        else:
            out.append((name, None, None, frames[i]))
    return out


def _direction_frames(tb, column: str, n_rows: int) -> list[str]:
    """Reference frame per row of a direction column: fixed (MEASINFO Ref) or a
    variable-reference column (ALMA's PhaseDir_Ref with TabRefTypes/TabRefCodes)."""
    info = tb.getcolkeyword(column, "MEASINFO") or {}
    if "VarRefCol" in info and info["VarRefCol"] in tb.colnames():
        codes = np.asarray(tb.getcol(info["VarRefCol"]))
        lookup = dict(
            zip(
                (int(c) for c in info.get("TabRefCodes", [])),
                (str(t) for t in info.get("TabRefTypes", [])),
                strict=False,
            )
        )
        return [lookup.get(int(c), "") for c in codes]
    return [str(info.get("Ref", ""))] * n_rows


def read_spectral_window(path: str) -> tuple[SpwInfo, ...]:
    with opened_table(os.path.join(path, "SPECTRAL_WINDOW")) as tb:
        n = tb.nrows()
        cols = tb.colnames()
        names = [str(x) for x in tb.getcol("NAME")] if n else []
        bbc = np.asarray(tb.getcol("BBC_NO")) if n and "BBC_NO" in cols else np.zeros(n, int)
        freqs = [np.asarray(tb.getcell("CHAN_FREQ", r), dtype=float) for r in range(n)]
    return tuple(SpwInfo(r, freqs[r], names[r], int(bbc[r])) for r in range(n))


def read_data_description(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(SPECTRAL_WINDOW_ID, POLARIZATION_ID) per DATA_DESCRIPTION row."""
    with opened_table(os.path.join(path, "DATA_DESCRIPTION")) as tb:
        if tb.nrows() == 0:
            return np.zeros(0, int), np.zeros(0, int)
        return (
            np.asarray(tb.getcol("SPECTRAL_WINDOW_ID"), dtype=int),
            np.asarray(tb.getcol("POLARIZATION_ID"), dtype=int),
        )


def read_polarization(path: str) -> tuple[np.ndarray, ...]:
    with opened_table(os.path.join(path, "POLARIZATION")) as tb:
        return tuple(np.asarray(tb.getcell("CORR_TYPE", r)) for r in range(tb.nrows()))


def read_observation(path: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(TELESCOPE_NAME per row, TIME_RANGE (2, n_obs) MJD s)."""
    with opened_table(os.path.join(path, "OBSERVATION")) as tb:
        if tb.nrows() == 0:
            return (), np.zeros((2, 0))
        names = tuple(str(t).strip() for t in tb.getcol("TELESCOPE_NAME"))
        return names, np.asarray(tb.getcol("TIME_RANGE"), dtype=float)


def read_antenna(path: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(NAME, POSITION (n_ant, 3) ITRF m)."""
    with opened_table(os.path.join(path, "ANTENNA")) as tb:
        if tb.nrows() == 0:
            return (), np.zeros((0, 3))
        names = tuple(str(x) for x in tb.getcol("NAME"))
        return names, np.asarray(tb.getcol("POSITION"), dtype=float).T


def read_state(path: str) -> tuple[str, ...]:
    """OBS_MODE per STATE row (comma-separated intents); () when the MS has none."""
    state = os.path.join(path, "STATE")
    if not os.path.isdir(state):
        return ()
    with opened_table(state) as tb:
        return tuple(str(x) for x in tb.getcol("OBS_MODE")) if tb.nrows() else ()


def _intents_of(pairs: np.ndarray, obs_mode: tuple[str, ...]) -> dict[int, set[str]]:
    """{x: intents} from unique (x, STATE_ID + 1) pairs."""
    out: dict[int, set[str]] = {}
    for x, st in pairs:
        if 0 <= st - 1 < len(obs_mode):
            out.setdefault(int(x), set()).update(obs_mode[st - 1].split(","))
    return out


def _by_intent(intents: dict[int, set[str]]) -> dict[str, tuple[int, ...]]:
    """{x: intents} -> {intent: sorted xs}."""
    out: dict[str, set[int]] = {}
    for x, names in intents.items():
        for name in names:
            out.setdefault(name, set()).add(x)
    return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unique (a, b) rows of two non-negative integer columns, as an (n, 2) array.

    One int64 key per row: np.unique on 1-D keys is ~20x faster than axis=0; runs of
    equal keys (an MS is in time order: one integration's baselines are adjacent) are
    dropped first, so the sort sees a few keys per integration, not every row.
    """
    key = np.asarray(a, dtype=np.int64) << 32 | np.asarray(b, dtype=np.int64)
    if key.size > 1:
        key = key[np.r_[True, key[1:] != key[:-1]]]
    key = np.unique(key)
    return np.column_stack([key >> 32, key & 0xFFFFFFFF])


@dataclass(frozen=True)
class MainIndex:
    """What the main table's index columns say: unique (scan, x) pairs and times."""

    columns: frozenset[str]
    has_weight_spectrum: bool
    first_row_time: float
    time_range: tuple[float, float]
    field_pairs: np.ndarray  # (n, 2) scan, FIELD_ID
    spw_pairs: np.ndarray  # (n, 2) scan, spw
    state_pairs: np.ndarray  # (n, 2) scan, STATE_ID + 1
    field_state_pairs: np.ndarray  # (n, 2) FIELD_ID, STATE_ID + 1
    spw_state_pairs: np.ndarray  # (n, 2) spw, STATE_ID + 1
    scan_times: dict[int, np.ndarray]

    def scans(self, field_names: tuple[str, ...], obs_mode: tuple[str, ...]) -> tuple:
        out = []
        for s, t in self.scan_times.items():
            states = self.state_pairs[self.state_pairs[:, 0] == s, 1] - 1
            intents = sorted(
                {i for st in states if 0 <= st < len(obs_mode) for i in obs_mode[st].split(",")}
            )
            fid = int(self.field_pairs[self.field_pairs[:, 0] == s, 1][0])
            out.append(
                ScanInfo(
                    scan=s,
                    field=field_names[fid] if fid < len(field_names) else str(fid),
                    spws=tuple(int(w) for w in self.spw_pairs[self.spw_pairs[:, 0] == s, 1]),
                    intents=tuple(intents),
                    start=float(t.min()),
                    stop=float(t.max()),
                    field_id=fid,
                )
            )
        return tuple(out)


def read_main_index(path: str, ddid_spw: np.ndarray) -> MainIndex:
    """One chunked pass over SCAN_NUMBER, FIELD_ID, DATA_DESC_ID, STATE_ID and TIME,
    reduced to unique (scan, x) pairs: faster than msmetadata on a large MS, and
    memory stays flat."""
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("field", "spw", "state", "time", "field_state", "spw_state")
    }
    with opened_table(path) as tb:
        columns = frozenset(tb.colnames())
        n_row = tb.nrows()
        has_ws = (
            "WEIGHT_SPECTRUM" in columns
            and n_row > 0
            and bool(tb.iscelldefined("WEIGHT_SPECTRUM", 0))
        )
        first = float(tb.getcell("TIME", 0)) if n_row else 0.0
        for start in range(0, n_row, _INDEX_ROWS):
            n = min(_INDEX_ROWS, n_row - start)
            scan = tb.getcol("SCAN_NUMBER", start, n)
            field = tb.getcol("FIELD_ID", start, n)
            spw = ddid_spw[tb.getcol("DATA_DESC_ID", start, n)]
            # STATE_ID is -1 when an MS has no STATE rows: shifted by one for the key.
            state = tb.getcol("STATE_ID", start, n) + 1
            parts["field"].append(_pairs(scan, field))
            parts["spw"].append(_pairs(scan, spw))
            parts["state"].append(_pairs(scan, state))
            # per row, not per scan: a mosaic scan observes several fields
            parts["field_state"].append(_pairs(field, state))
            parts["spw_state"].append(_pairs(spw, state))
            t_unique, t_index = np.unique(tb.getcol("TIME", start, n), return_inverse=True)
            st = _pairs(scan, t_index)
            parts["time"].append(np.column_stack([st[:, 0], t_unique[st[:, 1]]]))
    empty = np.zeros((0, 2))
    pairs = {k: np.unique(np.concatenate(v), axis=0) if v else empty for k, v in parts.items()}
    times = pairs["time"]
    scan_times = {int(s): times[times[:, 0] == s, 1] for s in np.unique(times[:, 0])}
    t_range = (float(times[:, 1].min()), float(times[:, 1].max())) if times.size else (0.0, 0.0)
    return MainIndex(
        columns=columns,
        has_weight_spectrum=has_ws,
        first_row_time=first,
        time_range=t_range,
        field_pairs=pairs["field"].astype(np.int64),
        spw_pairs=pairs["spw"].astype(np.int64),
        state_pairs=pairs["state"].astype(np.int64),
        field_state_pairs=pairs["field_state"].astype(np.int64),
        spw_state_pairs=pairs["spw_state"].astype(np.int64),
        scan_times=scan_times,
    )
