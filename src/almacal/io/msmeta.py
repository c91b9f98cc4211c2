"""Read-only MS metadata for gridflux_check: telescope, calibrator fields by intent and
their positions, observing date and the centre frequency of each science spw
(casatools msmetadata).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from almacal.io.ms import opened_table, read_info

_MJD_EPOCH = dt.datetime(1858, 11, 17, tzinfo=dt.timezone.utc)

# Spws that carry no science data in ALMA MSs: water vapour radiometers,
# square-law detectors and the channel-averaged copies of the science windows.
_NON_SCIENCE = ("WVR", "SQLD", "CH_AVG")

# The pipeline's AMPLITUDE intent: CALIBRATE_FLUX, and CALIBRATE_AMPLI in early-cycle
# data (with '#', '.' or '_' before ON_SOURCE).
_INTENT_PREFIXES = {
    "CALIBRATE_FLUX": ("CALIBRATE_FLUX", "CALIBRATE_AMPLI"),
    "CALIBRATE_PHASE": ("CALIBRATE_PHASE",),
}


@dataclass(frozen=True)
class CalibratorMeta:
    """What gridflux_check needs from one EB."""

    path: str
    telescope: str
    obs_date: dt.datetime  # UTC start
    field_names: tuple[str, ...]  # FIELD row order
    intent_fields: dict[str, tuple[str, ...]]  # CALIBRATE_FLUX / CALIBRATE_PHASE -> names
    spws: tuple[int, ...]  # science spws of the flux calibrator's scans (all without one)
    spw_freq_hz: tuple[float, ...]  # centre frequency of each of spws
    # (RA, Dec) in degrees per FIELD row, None unless the FIELD table frame is J2000 or ICRS
    field_radec_deg: tuple[tuple[float, float] | None, ...]


@contextmanager
def _msmd(path: str) -> Iterator:
    import casatools

    md = casatools.msmetadata()
    md.open(path)
    try:
        yield md
    finally:
        md.done()


def read_calibrator_meta(path: str) -> CalibratorMeta:
    """Metadata of an ALMA MS; ValueError naming vis for a non-ALMA or unreadable MS."""
    try:
        with opened_table(os.path.join(path, "OBSERVATION")) as tb:
            telescopes = {str(t).strip() for t in tb.getcol("TELESCOPE_NAME")}
        with opened_table(os.path.join(path, "SPECTRAL_WINDOW")) as tb:
            spw_names = [str(n) for n in tb.getcol("NAME")]
    except RuntimeError as exc:
        raise ValueError(f"vis {path!r} is not a readable measurement set: {exc}") from exc
    if not telescopes or any(not t.upper().startswith(("ALMA", "ACA")) for t in telescopes):
        raise ValueError(
            f"vis {path!r} was observed with {', '.join(sorted(telescopes)) or 'no telescope'}; "
            "gridflux_check needs ALMA data (the ALMA calibrator catalog)"
        )
    with _msmd(path) as md:
        names = tuple(str(n) for n in md.fieldnames())
        intents = {str(i) for i in md.intents()}
        by_intent = {}
        for key, prefixes in _INTENT_PREFIXES.items():
            ids: set[int] = set()
            for intent in (i for i in intents if i.startswith(prefixes)):
                ids.update(int(f) for f in md.fieldsforintent(intent))
            by_intent[key] = tuple(names[i] for i in sorted(ids))
        # spws of the flux calibrator's own scans: its Tsys spws are observed in separate
        # CALIBRATE_ATMOSPHERE scans and have no flux.csv row
        flux_intents = [i for i in intents if i.startswith(_INTENT_PREFIXES["CALIBRATE_FLUX"])]
        spw_ids: set[int] = set()
        for i in flux_intents:
            spw_ids.update(int(s) for s in md.spwsforintent(i))
        for f in range(len(names)) if not flux_intents else ():
            spw_ids.update(int(s) for s in md.spwsforfield(f))
        spws = tuple(
            s for s in sorted(spw_ids) if not any(k in spw_names[s].upper() for k in _NON_SCIENCE)
        )
        freqs = tuple(float(np.mean(md.chanfreqs(s))) for s in spws)
        radec = tuple(_j2000_deg(md.phasecenter(f)) for f in range(len(names)))
    return CalibratorMeta(
        path=path,
        telescope=sorted(telescopes)[0],
        obs_date=_MJD_EPOCH + dt.timedelta(seconds=read_info(path).start_mjd_s),
        field_names=names,
        intent_fields=by_intent,
        spws=spws,
        spw_freq_hz=freqs,
        field_radec_deg=radec,
    )


# ICRS and J2000 (FK5) differ by tens of milliarcseconds, nothing for a catalogue cone
# search of arcseconds; other frames (e.g. AZEL) would need a conversion at a time.
_J2000_LIKE = ("J2000", "ICRS")


def _j2000_deg(direction: dict) -> tuple[float, float] | None:
    """(RA in [0, 360), Dec) degrees of a direction measure, None in another frame."""
    if str(direction.get("refer", "")).upper() not in _J2000_LIKE:
        return None
    import casatools

    qa = casatools.quanta()
    ra = float(qa.convert(direction["m0"], "deg")["value"]) % 360.0
    return ra, float(qa.convert(direction["m1"], "deg")["value"])


def calibrated_point_flux(path: str, field: str, spws: tuple[int, ...]) -> tuple:
    """Point-source fit of field per spw in the calibrated column (CORRECTED_DATA, else DATA).

    Returns (flux, sum of weights), each (n_spw,) in spws order; NaN flux without data.
    """
    from almacal.io.ms import read_point_sums, select_channels
    from almacal.relcal.fluxfit import SUM_W, fit_point

    info = read_info(path)
    index = np.full(len(info.field_names), -1)
    index[info.field_ids(field)] = 0
    every = select_channels(info, "")
    channels = {s: every[s] for s in spws}
    sums = read_point_sums(info, index, 1, channels, info.datacolumn("auto"), None)[0]
    return fit_point(sums).flux, sums[:, SUM_W]
