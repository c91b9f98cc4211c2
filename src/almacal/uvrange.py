"""CASA-style uvrange strings ('a~b', '<b', '>a', with units) as channel masks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from almacal.constants import C_M_S

_UNITS = {
    "m": (1.0, False),
    "km": (1e3, False),
    "lambda": (1.0, True),
    "klambda": (1e3, True),
    "mlambda": (1e6, True),
}
_NUM = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_FORMS = [
    (re.compile(rf"^{_NUM}\s*~\s*{_NUM}\s*([a-z]*)$"), "range"),
    (re.compile(rf"^<\s*{_NUM}\s*([a-z]*)$"), "below"),
    (re.compile(rf"^>\s*{_NUM}\s*([a-z]*)$"), "above"),
]


@dataclass(frozen=True)
class UvRange:
    """Projected baseline limits, in metres or in wavelengths."""

    lo: float
    hi: float
    in_wavelengths: bool

    def mask(self, uvdist_m: np.ndarray, freq_hz: np.ndarray) -> np.ndarray:
        """Which (row, chan) points are inside; uvdist_m (row,), freq_hz (chan,)."""
        if self.in_wavelengths:
            uv = uvdist_m[:, None] * (freq_hz[None, :] / C_M_S)
        else:
            uv = np.broadcast_to(uvdist_m[:, None], (uvdist_m.size, freq_hz.size))
        return (uv >= self.lo) & (uv <= self.hi)


def parse_uvrange(text: str) -> UvRange | None:
    """Parse '0~50klambda', '<300m', '>20klambda' ('' means no limit; default unit m)."""
    s = text.strip().lower()
    if not s:
        return None
    for pattern, form in _FORMS:
        m = pattern.match(s)
        if m is None:
            continue
        unit = m.groups()[-1] or "m"
        if unit not in _UNITS:
            break
        scale, in_wl = _UNITS[unit]
        values = [float(g) * scale for g in m.groups()[:-1]]
        if form == "range":
            lo, hi = values
        elif form == "below":
            lo, hi = 0.0, values[0]
        else:
            lo, hi = values[0], np.inf
        if lo > hi:
            break
        return UvRange(lo, hi, in_wl)
    raise ValueError(
        f"uvrange {text!r} is not understood: use 'a~b', '<b' or '>a' with a unit "
        f"of {', '.join(sorted(_UNITS))} (e.g. '>20klambda', '0~300m')"
    )
