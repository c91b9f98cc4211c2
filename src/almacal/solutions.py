"""Phase-only gain solutions as plain arrays: what a caltable holds, without casatools.

almacal.io reads and writes them as CASA caltables; the cores scale, unwrap and
interpolate them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhaseSolutions:
    """Rows of a phase-only gain table. phase (rad), flag, snr : (n_row, n_pol)."""

    time: np.ndarray  # (n_row,) MJD s
    field: np.ndarray
    spw: np.ndarray
    antenna: np.ndarray
    refant: np.ndarray
    scan: np.ndarray
    phase: np.ndarray
    flag: np.ndarray
    snr: np.ndarray

    @property
    def n_pol(self) -> int:
        return int(self.phase.shape[1])
