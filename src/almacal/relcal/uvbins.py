"""Sums per (calibrator, channel, uv-distance bin) of one spw: cuts made after the pass.

uvrange='common' knows its range only when every epoch has been read, and
fitspw='auto' its line channels only when every epoch's spectrum is summed; one
pass per MS therefore keeps the sums finely binned and cuts afterwards.

Bins are log-spaced in wavelengths, per_decade of them per decade: bin i holds
10^(i / per_decade) <= q < 10^((i + 1) / per_decade). At 1000 per decade (bins
0.23 % wide) they nest the model bins of almacal.relcal.uvmodel (40 per decade)
exactly, 25 to one, and a cut at their edges moves each end of a uv range by less
than 0.23 %. Only the bins the data occupy are kept (the array grows with them);
per_decade 0 means one bin for all uv distances. almacal.relcal.binner adds the
chunks of a pass into them.

Columns: those of uvmodel's bins, (..., N_BIN_SUMS): sum(w), sum(w Re V),
sum(w Im V), sum(w |V|^2), the count, sum(w q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from almacal.relcal.uvmodel import N_BIN_SUMS

FINE_PER_DECADE = 1000
MODEL_PER_DECADE = 40
MERGE = 5
"""Bins merged into one when the sums grow too large: 1000 -> 200 -> 40 per decade."""

MODEL_FIRST_BIN = 80
"""uvmodel.uv_edges_lambda starts at 100 lambda = 10^(80 / 40)."""


@dataclass(frozen=True)
class ChannelBins:
    """sums : (n_cal, n_chan, n_bin, N_BIN_SUMS); n_chan is 1 when channels were summed
    in the pass; bins[..., b, :] is the absolute bin first + b."""

    per_decade: int
    first: int
    sums: np.ndarray

    def coarsened(self, per_decade: int) -> ChannelBins:
        """The same sums in bins factor = self.per_decade / per_decade times as wide."""
        if per_decade == self.per_decade:
            return self
        factor = self.per_decade // per_decade
        first = self.first // factor
        head = self.first - first * factor
        n = -(-(head + self.sums.shape[2]) // factor)
        pad = ((0, 0), (0, 0), (head, n * factor - head - self.sums.shape[2]), (0, 0))
        s = np.pad(self.sums, pad).reshape(*self.sums.shape[:2], n, factor, N_BIN_SUMS)
        return ChannelBins(per_decade, first, s.sum(axis=3))

    def __add__(self, other: ChannelBins) -> ChannelBins:
        pd = min(self.per_decade, other.per_decade)
        a, b = self.coarsened(pd), other.coarsened(pd)
        first = min(a.first, b.first)
        n = max(a.first + a.sums.shape[2], b.first + b.sums.shape[2]) - first
        out = np.zeros((*a.sums.shape[:2], n, N_BIN_SUMS))
        for x in (a, b):
            out[:, :, x.first - first : x.first - first + x.sums.shape[2]] += x.sums
        return ChannelBins(pd, first, out)

    def within(self, lo_lambda: float, hi_lambda: float) -> ChannelBins:
        """Only the bins wholly inside lo <= q <= hi (a view: the others left out)."""
        if self.per_decade == 0:
            raise ValueError("sums without a uv axis cannot be cut in uv distance")
        n = self.sums.shape[2]
        lo = math.ceil(self.per_decade * math.log10(lo_lambda)) - self.first
        hi = math.floor(self.per_decade * math.log10(hi_lambda)) - self.first  # bin i ends at i + 1
        a = min(max(lo, 0), n)
        b = min(max(hi, a), n)
        return ChannelBins(self.per_decade, self.first + a, self.sums[:, :, a:b])

    def spectrum(self) -> np.ndarray:
        """(n_cal, n_chan, N_BIN_SUMS): summed over uv distance."""
        return self.sums.sum(axis=2)

    def over_channels(self, keep: np.ndarray) -> np.ndarray:
        """(n_cal, n_bin, N_BIN_SUMS) summed over the channels keep (n_cal, n_chan) allows."""
        return np.einsum("jcbk,jc->jbk", self.sums, keep.astype(float))

    def model_bins(self, keep: np.ndarray, n_bin: int) -> np.ndarray:
        """(n_cal, n_bin, N_BIN_SUMS) in uvmodel's 40-per-decade bins (from 100 lambda)."""
        # channels summed first: the merge of bins then moves n_chan times less
        fine = ChannelBins(self.per_decade, self.first, self.over_channels(keep)[:, None])
        s = fine.coarsened(MODEL_PER_DECADE)
        per = s.sums[:, 0]
        out = np.zeros((per.shape[0], n_bin, N_BIN_SUMS))
        b = s.first - MODEL_FIRST_BIN + np.arange(per.shape[1])
        ok = (b >= 0) & (b < n_bin)
        out[:, b[ok]] = per[:, ok]
        return out
