"""The one model of a measurement set's metadata (plain data, no casatools).

Built once per MS by :func:`almacal.io.msinfo.read_ms_info` from one reader per
subtable (FIELD, SPECTRAL_WINDOW, DATA_DESCRIPTION, POLARIZATION, OBSERVATION,
ANTENNA, STATE) and one chunked pass over the main table's index columns (scans,
their fields, spws, intents and times). Every task takes what it needs from it;
nothing else opens those subtables.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from almacal.constants import MJD_EPOCH

# Stokes codes of parallel hands in POLARIZATION/CORR_TYPE (casacore Stokes enum).
PARALLEL_HANDS = {5: "RR", 8: "LL", 9: "XX", 12: "YY", 1: "I"}

# Receiver bands (GHz), from the ALMA technical handbook band table. Band 2 starts
# where Band 3 starts to keep the mapping single-valued (Band 3 wins on overlap).
ALMA_BANDS_GHZ = {
    1: (35.0, 50.0),
    2: (67.0, 84.0),
    3: (84.0, 116.0),
    4: (125.0, 163.0),
    5: (163.0, 211.0),
    6: (211.0, 275.0),
    7: (275.0, 373.0),
    8: (385.0, 500.0),
    9: (602.0, 720.0),
    10: (787.0, 950.0),
}

# ALMA spw names carry the receiver band: ALMA_RB_07#BB_1#SW-01#FULL_RES.
_BAND_IN_NAME = re.compile(r"ALMA_RB_(\d+)")


def alma_band(freq_hz: float) -> int:
    """ALMA band of a frequency; 0 when it falls in no band."""
    ghz = freq_hz / 1e9
    for band, (lo, hi) in ALMA_BANDS_GHZ.items():
        if lo <= ghz <= hi:
            return band
    return 0


@dataclass(frozen=True)
class FieldInfo:
    """One FIELD row. ra_deg/dec_deg: the phase centre in J2000 (or ICRS), None in
    another frame; intents: those of the scans observing it."""

    id: int
    name: str
    ra_deg: float | None = None
    dec_deg: float | None = None
    frame: str = ""
    intents: tuple[str, ...] = ()

    @property
    def radec_deg(self) -> tuple[float, float] | None:
        if self.ra_deg is None or self.dec_deg is None:
            return None
        return self.ra_deg, self.dec_deg


@dataclass(frozen=True)
class SpwInfo:
    """One SPECTRAL_WINDOW row; bbc_no <= 0 when the MS has no BBC_NO."""

    id: int
    chan_freq_hz: np.ndarray
    name: str = ""
    bbc_no: int = 0

    @property
    def centre_hz(self) -> float:
        return float(np.mean(self.chan_freq_hz))

    @property
    def n_chan(self) -> int:
        return int(self.chan_freq_hz.size)

    @property
    def band(self) -> int:
        """ALMA receiver band from the spw name (ALMA_RB_nn), else from its frequency; 0
        when neither tells."""
        m = _BAND_IN_NAME.search(self.name)
        return int(m.group(1)) if m else alma_band(self.centre_hz)


@dataclass(frozen=True)
class ScanInfo:
    """One scan: its field, spws, intents and time range (MJD s)."""

    scan: int
    field: str
    spws: tuple[int, ...]
    intents: tuple[str, ...]
    start: float
    stop: float
    field_id: int = -1

    def has_intent(self, names: Sequence[str]) -> bool:
        return any(
            i == n or i.startswith(n + "#") or i.split("#")[0] == n
            for i in self.intents
            for n in names
        )


@dataclass(frozen=True)
class MsInfo:
    """Metadata of one MS, read once from its subtables and its main-table index."""

    path: str
    fields: tuple[FieldInfo, ...]  # FIELD row order: index = FIELD_ID
    spws: tuple[SpwInfo, ...]  # SPECTRAL_WINDOW row order
    ddid_spw: np.ndarray  # (n_ddid,) SPECTRAL_WINDOW_ID of each DATA_DESCRIPTION row
    ddid_pol: np.ndarray  # (n_ddid,) POLARIZATION_ID
    corr_types: tuple[np.ndarray, ...]  # per POLARIZATION row
    columns: frozenset[str]
    has_weight_spectrum: bool
    start_mjd_s: float  # first observation time, MJD seconds (UTC)
    telescopes: tuple[str, ...] = ()  # OBSERVATION TELESCOPE_NAME, one per row
    antenna_names: tuple[str, ...] = ()
    antenna_itrf_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    scans: tuple[ScanInfo, ...] = ()
    intent_spws: dict[str, tuple[int, ...]] = field(default_factory=dict)  # spws per intent
    scan_times: dict[int, np.ndarray] = field(default_factory=dict)  # unique TIMEs per scan
    data_time_range: tuple[float, float] = (0.0, 0.0)  # first and last TIME of the rows

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def chan_freq_hz(self) -> tuple[np.ndarray, ...]:
        return tuple(s.chan_freq_hz for s in self.spws)

    @property
    def date(self) -> str:
        """UTC date of the start of the observation, YYYY-MM-DD."""
        return (MJD_EPOCH + dt.timedelta(seconds=self.start_mjd_s)).date().isoformat()

    @property
    def start_utc(self) -> dt.datetime:
        return MJD_EPOCH + dt.timedelta(seconds=self.start_mjd_s)

    def field_ids(self, name_or_id: str) -> np.ndarray:
        """FIELD_IDs for a field name (all rows of that name) or a numeric id."""
        names = np.array(self.field_names)
        ids = np.flatnonzero(names == name_or_id)
        if ids.size == 0 and name_or_id.isdigit() and int(name_or_id) < names.size:
            ids = np.array([int(name_or_id)])
        if ids.size == 0:
            raise ValueError(
                f"field {name_or_id!r} not found in {self.path}; fields are: "
                f"{', '.join(self.field_names)}"
            )
        return ids

    def field_id(self, name: str) -> int:
        """The first FIELD_ID of a name."""
        return int(self.field_ids(name)[0])

    def ddids_of(self, spws: Sequence[int]) -> list[int]:
        """DATA_DESCRIPTION rows of the given spws."""
        return [int(d) for d in np.flatnonzero(np.isin(self.ddid_spw, list(spws)))]

    def fields_with_intent(self, prefixes: Sequence[str]) -> tuple[int, ...]:
        """FIELD_IDs observed in scans with an intent starting with one of prefixes."""
        ids = {f.id for f in self.fields if any(i.startswith(tuple(prefixes)) for i in f.intents)}
        return tuple(sorted(ids))

    def spws_with_intent(self, prefixes: Sequence[str]) -> tuple[int, ...]:
        """Spws of the rows with an intent starting with one of prefixes."""
        out = {
            s
            for intent, spws in self.intent_spws.items()
            if intent.startswith(tuple(prefixes))
            for s in spws
        }
        return tuple(sorted(out))

    def spws_of_field(self, field_id: int) -> tuple[int, ...]:
        return tuple(sorted({s for sc in self.scans if sc.field_id == field_id for s in sc.spws}))

    def parallel_hands(self, pol_id: int) -> np.ndarray:
        """Indices of the parallel-hand correlations of a polarization setup."""
        ct = self.corr_types[pol_id]
        idx = np.flatnonzero(np.isin(ct, list(PARALLEL_HANDS)))
        if idx.size == 0 or idx.size > 2:
            raise ValueError(
                f"vis {self.path}: polarization setup {pol_id} has correlations "
                f"{ct.tolist()}, expected one or two parallel hands (XX/YY or RR/LL)"
            )
        return idx

    def datacolumn(self, choice: str) -> str:
        """Column name for datacolumn = auto | corrected | data."""
        if choice == "auto":
            return "CORRECTED_DATA" if "CORRECTED_DATA" in self.columns else "DATA"
        name = {"corrected": "CORRECTED_DATA", "data": "DATA"}[choice]
        if name not in self.columns:
            raise ValueError(
                f"datacolumn={choice!r} but {self.path} has no {name} column "
                f"(columns: {', '.join(sorted(c for c in self.columns if 'DATA' in c))})"
            )
        return name
