"""Physical and time constants, defined once for every package."""

from __future__ import annotations

import datetime as dt
import math

C_M_S = 299_792_458.0
"""Speed of light in vacuum (m/s)."""

ARCSEC_RAD = math.pi / (180.0 * 3600.0)
"""One arcsecond in radians."""

MJD_EPOCH = dt.datetime(1858, 11, 17, tzinfo=dt.timezone.utc)
"""MJD 0 (UTC): MS TIME columns count seconds from here."""

DAY_S = 86_400.0
"""Seconds per day."""
