"""The calibrated point-source flux of one field per spw, from relcal_fit's per-MS unit
(what gridflux_check's phase-calibrator check compares with the catalog)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from almacal.msinfo import MsInfo
from almacal.relcal.accumulate import PassSpec, accumulate
from almacal.relcal.fluxfit import SUM_W, fit_point
from almacal.relcal.plan import Target, VisReader, ms_plan


def field_point_flux(
    reader: VisReader, info: MsInfo, field: str, spws: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Point-source fit at the phase centre of field (every FIELD_ID of that name) in
    each spw, all channels, in CORRECTED_DATA when the MS has it, else DATA.

    Returns (flux Jy, sum of Stokes I weights), each (n_spw,) in spws order; flux NaN
    (and weight 0) for a spw without usable data. One chunked pass over the MS.
    """
    index = np.full(len(info.field_names), -1)
    index[info.field_ids(field)] = 0
    channels = {int(s): np.ones(info.chan_freq_hz[s].size, bool) for s in spws}
    target = Target(info, index, channels, info.datacolumn("auto"))
    plan = ms_plan(target, 1, PassSpec())
    sums = accumulate(reader.chunks(plan.selection), plan).point[0]
    return fit_point(sums).flux, sums[:, SUM_W]
