"""Phase arithmetic for B2B transfer: wrapping, ambiguity resolution, scaling, circular stats.

Low-frequency phases are unwrapped in time on one series that joins the DGC
and phase-calibrator solutions of each antenna (the instrumental phase is
common to both sources and, at the low frequency, consecutive solutions
differ by far less than pi). Only then are they scaled by nu_high / nu_low
(seed 003 section 2.2.2): the branch chosen for the first solution cancels
between the DGC offset and the transferred phases, so a non-integer ratio
gives no error. This is what CASA's linearPD does within one table.
"""

from __future__ import annotations

import numpy as np


def wrap(phase: np.ndarray) -> np.ndarray:
    """Phase in [-pi, pi)."""
    return np.mod(np.asarray(phase, dtype=float) + np.pi, 2.0 * np.pi) - np.pi


def unwrap_joint(times: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Unwrap phases (rad) in time order; returned in the input order.

    times : (n,) ; phase : (n,) wrapped. The earliest value keeps its branch.
    """
    order = np.argsort(times, kind="stable")
    out = np.empty_like(np.asarray(phase, dtype=float))
    out[order] = np.unwrap(np.asarray(phase, dtype=float)[order])
    return out


def interp_phase(t_out: np.ndarray, t_sol: np.ndarray, unwrapped: np.ndarray) -> np.ndarray:
    """Linear interpolation of unwrapped phases; the end values hold beyond the ends."""
    order = np.argsort(t_sol)
    return np.interp(t_out, np.asarray(t_sol)[order], np.asarray(unwrapped)[order])


def circular_rms(phase: np.ndarray, axis: int | None = None) -> np.ndarray:
    """RMS of phases about zero, each wrapped to [-pi, pi) (rad)."""
    return np.sqrt(np.nanmean(wrap(phase) ** 2, axis=axis))
