"""Catalog ingestion delay: how late measurements reach the catalog (seed 000 App. D, Table 6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.gridflux.catalog import Measurement, days_between


@dataclass(frozen=True)
class DelayStats:
    """Lag between observation and catalog entry of one calibrator's measurements, days."""

    source: str
    n: int
    median_days: float
    p90_days: float
    max_days: float

    def to_record(self) -> dict:
        return {
            "source": self.source,
            "n": self.n,
            "median_lag_days": self.median_days,
            "p90_lag_days": self.p90_days,
            "max_lag_days": self.max_days,
        }


def ingestion_delays(measurements: Sequence[Measurement], source: str) -> DelayStats:
    """Median, 90th percentile (linear interpolation) and maximum lag of source's entries.

    ValueError when no measurement of source carries an ingestion date.
    """
    lags = np.array(
        [
            days_between(m.date, m.ingested)
            for m in measurements
            if m.source == source and m.ingested is not None
        ]
    )
    if lags.size == 0:
        raise ValueError(
            f"no catalog entry of {source} has an ingestion date: the delay statistics "
            "need the 'ingested' column of the catalog file"
        )
    return DelayStats(
        source=source,
        n=int(lags.size),
        median_days=float(np.median(lags)),
        p90_days=float(np.percentile(lags, 90)),
        max_days=float(lags.max()),
    )
