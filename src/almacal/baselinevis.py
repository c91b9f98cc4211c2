"""Channel- and correlation-averaged visibilities per MS row, as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class BaselineVis:
    """One value per row (one baseline, one integration, one spw); NaN where all flagged."""

    time: np.ndarray  # (n_row,) MJD s
    antenna1: np.ndarray
    antenna2: np.ndarray
    spw: np.ndarray
    scan: np.ndarray
    vis: np.ndarray  # complex mean over the unflagged channels and correlations
    noise_var: np.ndarray  # per-sample variance per component, from the scatter over channels
    n_sample: np.ndarray  # unflagged samples averaged

    def subset(self, keep: np.ndarray) -> BaselineVis:
        """The rows where keep (bool, per row) is True."""
        return BaselineVis(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})
