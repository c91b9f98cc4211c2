"""Where relcal_fit reads each MS and what one pass over it must gather.

A :class:`Target` is an MS to fit (the user's, or its self-calibrated scratch
copy) with its calibrator fields and channel masks; :func:`ms_plan` makes it and
a :class:`~almacal.relcal.accumulate.PassSpec` (what a pass sums, the same for
every MS of a run) into the picklable MsPlan of one MS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from almacal.msinfo import MsInfo
from almacal.relcal.accumulate import MsPlan, PassSpec
from almacal.vischunk import DdSlice, ReadSelection, SpwSlice, VisChunk


class VisReader(Protocol):
    """Reads the chunks of a selection (almacal.io.ms.vis_chunks)."""

    def chunks(self, selection: ReadSelection) -> Iterator[VisChunk]: ...


@dataclass(frozen=True)
class Target:
    """One MS as relcal_fit reads it.

    field_index : (n_field,) calibrator index of each FIELD_ID, -1 elsewhere;
    channels : {spw: channel mask}, in output order; a mask is (n_chan,) for every
    calibrator or (n_cal, n_chan) per calibrator (line channels, fitspw='auto').
    """

    info: MsInfo
    field_index: np.ndarray
    channels: dict[int, np.ndarray]
    column: str

    @property
    def n_cal(self) -> int:
        return int(self.field_index.max()) + 1


def _read_range(mask: np.ndarray) -> np.ndarray:
    """The channels any calibrator uses."""
    return np.flatnonzero(mask.any(axis=0) if mask.ndim == 2 else mask)


def read_slices(target: Target) -> list[tuple[int, SpwSlice]]:
    """(position, slice) of each spw with channels to read: the range from its first to
    its last usable channel, the parallel hands of each of its data descriptions."""
    info = target.info
    out = []
    for k, spw in enumerate(target.channels):
        chans = _read_range(target.channels[spw])
        if chans.size == 0:
            continue
        dds = []
        for dd in np.flatnonzero(info.ddid_spw == spw):
            par = info.parallel_hands(int(info.ddid_pol[dd]))
            step = int(par[1] - par[0]) if par.size == 2 else 1
            dds.append(DdSlice(int(dd), int(par[0]), int(par[-1]), step))
        out.append((k, SpwSlice(int(spw), int(chans[0]), int(chans[-1]), tuple(dds))))
    return out


def ms_plan(target: Target, n_cal: int, spec: PassSpec) -> MsPlan:
    """The plan of one pass over target (n_cal calibrators in the run)."""
    info = target.info
    slices = read_slices(target)
    masks = [target.channels[s.spw] for _, s in slices]
    selection = ReadSelection(
        path=info.path,
        column=target.column,
        field_ids=tuple(int(i) for i in np.flatnonzero(target.field_index >= 0)),
        spws=tuple(s for _, s in slices),
        weight_spectrum=info.has_weight_spectrum,
        uvw=False,
    )
    plan = MsPlan(
        selection=selection,
        n_cal=n_cal,
        n_spw=len(target.channels),
        field_index=target.field_index,
        spw_pos=tuple(k for k, _ in slices),
        chan_ok=tuple(
            m[..., s.chan_first : s.chan_last + 1] for m, (_, s) in zip(masks, slices, strict=True)
        ),
        freq_hz=tuple(info.chan_freq_hz[s.spw][s.chan_first : s.chan_last + 1] for _, s in slices),
        spw_n_chan=tuple(int(info.chan_freq_hz[s.spw].size) for _, s in slices),
        spec=spec,
    )
    return replace(plan, selection=replace(selection, uvw=spec.needs_uv))
