"""What gridflux_check takes from an EB's MsInfo: that it is ALMA data, its amplitude
and phase calibrators (by intent), its science spws and their centre frequencies (pure).
"""

from __future__ import annotations

import os

from almacal.msinfo import MsInfo

# The pipeline's AMPLITUDE intent: CALIBRATE_FLUX, and CALIBRATE_AMPLI in early-cycle
# data (with '#', '.' or '_' before ON_SOURCE).
FLUX_INTENTS = ("CALIBRATE_FLUX", "CALIBRATE_AMPLI")
PHASE_INTENTS = ("CALIBRATE_PHASE",)

# Spws that carry no science data in ALMA MSs: water vapour radiometers,
# square-law detectors and the channel-averaged copies of the science windows.
NON_SCIENCE_SPW = ("WVR", "SQLD", "CH_AVG")


def ms_name(info: MsInfo) -> str:
    """The MS base name, as flux.csv names it."""
    return os.path.basename(os.path.normpath(info.path))


def check_alma(info: MsInfo) -> None:
    """ValueError naming vis unless every OBSERVATION row is ALMA (or ACA)."""
    telescopes = set(info.telescopes)
    if not telescopes or any(not t.upper().startswith(("ALMA", "ACA")) for t in telescopes):
        raise ValueError(
            f"vis {info.path!r} was observed with "
            f"{', '.join(sorted(telescopes)) or 'no telescope'}; "
            "gridflux_check needs ALMA data (the ALMA calibrator catalog)"
        )


def fields_with_intent(info: MsInfo, prefixes: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the fields observed with an intent starting with one of prefixes, by id."""
    return tuple(info.fields[i].name for i in info.fields_with_intent(prefixes))


def science_spws(info: MsInfo) -> tuple[int, ...]:
    """Spws of the flux calibrator's own scans (every spw with data when no scan has a
    flux intent), without WVR, square-law and channel-average windows.

    The flux calibrator's Tsys spws are observed in separate CALIBRATE_ATMOSPHERE
    scans and have no flux.csv row.
    """
    spws = set(info.spws_with_intent(FLUX_INTENTS))
    if not spws:
        spws = {s for sc in info.scans for s in sc.spws}
    return tuple(
        s for s in sorted(spws) if not any(k in info.spws[s].name.upper() for k in NON_SCIENCE_SPW)
    )


def centre_frequencies(info: MsInfo, spws: tuple[int, ...]) -> tuple[float, ...]:
    """Mean channel frequency (Hz) of each spw."""
    return tuple(info.spws[s].centre_hz for s in spws)
