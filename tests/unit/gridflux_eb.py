"""A hand-made ALMA EB (MsInfo) for the gridflux unit tests: no MS needed."""

from __future__ import annotations

import datetime as dt

import numpy as np

from almacal.constants import MJD_EPOCH
from almacal.msinfo import FieldInfo, MsInfo, ScanInfo, SpwInfo

OBS = dt.datetime(2019, 3, 6, 3, 0, tzinfo=dt.timezone.utc)
NAMES = ("J1751+0939", "J1830+0619", "SMM1")
RADEC = ((267.886, 9.650), (277.6, 6.3), (None, None))
SCIENCE = (17, 19, 21)
SCIENCE_HZ = (336.5e9, 338.5e9, 348.5e9)


def _spw(i, hz, name="ALMA_RB_07#BB_1#SW-01#FULL_RES"):
    return SpwInfo(i, hz + np.array([-1e6, 1e6]), name)


def eb_info(
    flux=("J1751+0939",),
    phase=("J1830+0619",),
    telescopes=("ALMA",),
    path="/data/uid___A002_X1.ms",
    flux_intent="CALIBRATE_FLUX#ON_SOURCE",
):
    """Science spws 17, 19, 21 observed with WVR spw 0 and the channel-average spw 18 in
    every field's scan; the Tsys spw 15 only in a CALIBRATE_ATMOSPHERE scan; intents by
    field name (the others are targets)."""
    intents = {n: (flux_intent,) for n in flux}
    for n in phase:
        intents[n] = (*intents.get(n, ()), "CALIBRATE_PHASE#ON_SOURCE")
    scans = [ScanInfo(1, NAMES[0], (0, 15), ("CALIBRATE_ATMOSPHERE#ON_SOURCE",), 0, 1, 0)]
    scans += [
        ScanInfo(
            k + 2, n, (0, 18, *SCIENCE), intents.get(n, ("OBSERVE_TARGET#ON_SOURCE",)), 0, 1, k
        )
        for k, n in enumerate(NAMES)
    ]
    spws = [_spw(i, (90.0 + i) * 1e9) for i in range(22)]
    spws[0] = _spw(0, 183.3e9, "WVR#NOMINAL")
    spws[18] = _spw(18, 336.5e9, "ALMA_RB_07#BB_1#SW-01#CH_AVG")
    for i, hz in zip(SCIENCE, SCIENCE_HZ, strict=True):
        spws[i] = _spw(i, hz)
    field_intents: dict[str, set[str]] = {n: set() for n in NAMES}
    intent_spws: dict[str, set[int]] = {}
    for sc in scans:
        field_intents[sc.field].update(sc.intents)
        for i in sc.intents:
            intent_spws.setdefault(i, set()).update(sc.spws)
    return MsInfo(
        path=path,
        fields=tuple(
            FieldInfo(k, n, *RADEC[k], "J2000", tuple(sorted(field_intents[n])))
            for k, n in enumerate(NAMES)
        ),
        spws=tuple(spws),
        ddid_spw=np.arange(22),
        ddid_pol=np.zeros(22, int),
        corr_types=(np.array([9, 12]),),
        columns=frozenset({"DATA"}),
        has_weight_spectrum=False,
        start_mjd_s=(OBS - MJD_EPOCH).total_seconds(),
        telescopes=telescopes,
        scans=tuple(scans),
        intent_spws={k: tuple(sorted(v)) for k, v in intent_spws.items()},
    )
