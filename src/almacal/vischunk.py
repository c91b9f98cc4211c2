"""What a visibility reader is asked for and what it returns: plain arrays, no science.

A :class:`ReadSelection` names the rows and cells of one MS (calibrator fields,
cross-correlations, a channel range and the correlations of each spw);
:class:`VisChunk` is one block of those rows as the table holds them. Both are
neutral types shared by :mod:`almacal.io.ms` (which fills them) and the pure
cores (which decide what to select and reduce the chunks); both pickle, so a
selection can be sent to another process and read there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DdSlice:
    """The cells to read of one DATA_DESCRIPTION: correlations first..last by step."""

    ddid: int
    corr_first: int
    corr_last: int
    corr_step: int

    @property
    def n_corr(self) -> int:
        return (self.corr_last - self.corr_first) // self.corr_step + 1

    @property
    def corr_index(self) -> np.ndarray:
        return np.arange(self.corr_first, self.corr_last + 1, self.corr_step)


@dataclass(frozen=True)
class SpwSlice:
    """Channels chan_first..chan_last of one spw, in each of its data descriptions."""

    spw: int
    chan_first: int
    chan_last: int
    dds: tuple[DdSlice, ...]

    @property
    def n_chan(self) -> int:
        return self.chan_last - self.chan_first + 1


@dataclass(frozen=True)
class ReadSelection:
    """Rows FIELD_ID in field_ids, ANTENNA1 != ANTENNA2, not FLAG_ROW, of each spw slice.

    weight_spectrum: read WEIGHT_SPECTRUM (else WEIGHT); uvw: read UVW too.
    """

    path: str
    column: str
    field_ids: tuple[int, ...]
    spws: tuple[SpwSlice, ...]
    weight_spectrum: bool
    uvw: bool


@dataclass(frozen=True)
class VisChunk:
    """A block of rows of one spw slice (selection.spws[spw_index]) of one DATA_DESCRIPTION.

    data, flag : (row, chan, corr) over the slice's channels and correlations;
    weight : (row, corr) WEIGHT, or (row, chan, corr) WEIGHT_SPECTRUM;
    field_id, time (MJD s) : (row,); uv_m : (2, row) u and v in metres, or None
    when the selection did not ask for UVW.
    """

    spw_index: int
    data: np.ndarray
    flag: np.ndarray
    weight: np.ndarray
    field_id: np.ndarray
    time: np.ndarray
    uv_m: np.ndarray | None
