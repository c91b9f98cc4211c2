"""What almacal needs to know about an MS before reading its visibilities (plain data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# Stokes codes of parallel hands in POLARIZATION/CORR_TYPE (casacore Stokes enum).
PARALLEL_HANDS = {5: "RR", 8: "LL", 9: "XX", 12: "YY", 1: "I"}
_MJD_EPOCH = dt.datetime(1858, 11, 17, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class MsInfo:
    """Metadata of one MS, read once from its subtables."""

    path: str
    field_names: tuple[str, ...]  # FIELD row order, so index = FIELD_ID
    chan_freq_hz: tuple[np.ndarray, ...]  # per SPECTRAL_WINDOW row
    ddid_spw: np.ndarray  # (n_ddid,) SPECTRAL_WINDOW_ID of each DATA_DESCRIPTION row
    ddid_pol: np.ndarray  # (n_ddid,) POLARIZATION_ID
    corr_types: tuple[np.ndarray, ...]  # per POLARIZATION row
    columns: frozenset[str]
    has_weight_spectrum: bool
    start_mjd_s: float  # first observation time, MJD seconds (UTC)

    @property
    def date(self) -> str:
        """UTC date of the start of the observation, YYYY-MM-DD."""
        return (_MJD_EPOCH + dt.timedelta(seconds=self.start_mjd_s)).date().isoformat()

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
