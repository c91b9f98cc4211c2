"""Epoch dates from the data: the first and last TIME of the calibrators' rows.

An MS split from a multi-day MS keeps the parent's OBSERVATION table (CASA split
copies it unchanged), so its TIME_RANGE can name another day than its rows. Before
the pass the MsInfo scans give the selected rows' times; after it, the pass gives
those of the usable data (almacal.relcal.accumulate's time_range).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from almacal.constants import DAY_S, MJD_EPOCH
from almacal.msinfo import MsInfo

OBSERVATION_TOLERANCE_S = DAY_S
"""An OBSERVATION start this far from the data's is reported (issue 11: more than a day)."""


def rows_time_range(
    info: MsInfo, field_index: np.ndarray, spws: Sequence[int]
) -> tuple[float, float]:
    """(first, last) TIME (MJD s) of the scans of the calibrator fields (field_index >= 0)
    in the selected spws; the MS's rows, or its OBSERVATION start, when its scans do not
    say."""
    ids = {int(i) for i in np.flatnonzero(field_index >= 0)}
    chosen = set(spws)
    spans = [
        (sc.start, sc.stop) for sc in info.scans if sc.field_id in ids and chosen & set(sc.spws)
    ]
    if spans:
        return min(a for a, _ in spans), max(b for _, b in spans)
    if info.data_time_range[1] > 0:
        return info.data_time_range
    return info.start_mjd_s, info.start_mjd_s


def utc(mjd_s: float) -> dt.datetime:
    return MJD_EPOCH + dt.timedelta(seconds=float(mjd_s))


def utc_date(mjd_s: float) -> str:
    """YYYY-MM-DD (UTC)."""
    return utc(mjd_s).date().isoformat()


def utc_iso(mjd_s: float) -> str | None:
    """'2019-03-06T14:02:11.500Z' (UTC, milliseconds); None for NaN."""
    if not math.isfinite(mjd_s):
        return None
    return utc(mjd_s).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def observation_disagrees(info: MsInfo, first_row_s: float) -> str | None:
    """A warning when the MS's OBSERVATION start is more than a day from its rows'."""
    if abs(info.start_mjd_s - first_row_s) <= OBSERVATION_TOLERANCE_S:
        return None
    return (
        f"vis {info.path}: its OBSERVATION table starts on {utc_date(info.start_mjd_s)} but "
        f"its calibrator rows on {utc_date(first_row_s)} (an MS split from a multi-day MS "
        "keeps its parent's OBSERVATION table): the epoch is dated from its rows"
    )


def pass_time_range(time_range: np.ndarray) -> tuple[float, float]:
    """(first, last) TIME over the calibrators of an epoch's pass, time_range (n_cal, 2)
    with NaN where a calibrator has no usable data; NaNs when none has."""
    ok = np.isfinite(time_range[:, 0])
    if not ok.any():
        return math.nan, math.nan
    return float(time_range[ok, 0].min()), float(time_range[ok, 1].max())
