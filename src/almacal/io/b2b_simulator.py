"""casatools side of almacal.datasets.simulate_b2b: an empty two-band MS with intents.

Reuses the chunked column rewrite of :mod:`almacal.io.simulator`; only the
observe step differs (each scan observes one band's spws with its own intent).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from almacal.io.simulator import (
    check_step,
    finish_columns,
    measures_tools,
    post,
    read_layout,
    remove_ms,
    set_alma_config,
    set_fields_and_times,
    set_spw_windows,
    simulator_tool,
    transit_utc_seconds,
)
from almacal.io.tables import opened_table

if TYPE_CHECKING:
    from almacal.simulate.b2b import B2BScan, SkyField
    from almacal.simulate.serpens import AntennaConfig

__all__ = [
    "finish_columns",
    "observe_b2b",
    "post",
    "read_layout",
    "remove_ms",
    "set_basebands",
    "transit_utc_seconds",
]


def observe_b2b(
    path: str,
    *,
    antennas: AntennaConfig,
    antenna_names: Sequence[str],
    fields: Sequence[SkyField],
    spw_names: Mapping[str, Sequence[str]],
    chan_freq_hz: Mapping[str, np.ndarray],
    channel_width_hz: float,
    date: str,
    integration_s: float,
    scans: Sequence[B2BScan],
    project: str,
) -> None:
    """Create the MS: pads, low then high spws (XX YY), fields, one observe per (scan, spw).

    spw_names / chan_freq_hz are keyed by band ('low', 'high'); chan_freq_hz[band]
    is (n_spw, n_chan). Each scan's intent goes to STATE OBS_MODE.
    """
    with measures_tools() as (me, qa), simulator_tool() as sm:
        check_step(sm.open(path), "open", path)
        set_alma_config(sm, me, antennas, antenna_names, "local", path)
        for band in ("low", "high"):
            set_spw_windows(
                sm, qa, spw_names[band], chan_freq_hz[band], channel_width_hz, "XX YY", path
            )
        set_fields_and_times(sm, me, qa, fields, integration_s, date, path)
        for scan in scans:
            for name in spw_names[scan.band]:
                check_step(
                    sm.observe(
                        sourcename=scan.field,
                        spwname=name,
                        starttime=qa.quantity(scan.start_ha_s, "s"),
                        stoptime=qa.quantity(scan.stop_ha_s, "s"),
                        state_obs_mode=scan.intent,
                        observer="almacal.simulate",
                        project=project,
                    ),
                    "observe",
                    path,
                )


def set_basebands(path: str, bbc_no: Sequence[int]) -> None:
    """Write SPECTRAL_WINDOW BBC_NO (the simulator leaves it unset), one per spw row."""
    with opened_table(os.path.join(path, "SPECTRAL_WINDOW"), writable=True) as tb:
        if "BBC_NO" not in tb.colnames():
            desc = {"valueType": "int", "dataManagerType": "StandardStMan", "option": 0}
            tb.addcols({"BBC_NO": desc | {"comment": "Baseband converter number", "maxlen": 0}})
        tb.putcol("BBC_NO", np.asarray(bbc_no, dtype=np.int32))
