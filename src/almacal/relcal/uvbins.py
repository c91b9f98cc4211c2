"""Sums per (calibrator, channel, uv-distance bin) of one spw: cuts made after the pass.

uvrange='common' knows its range only when every epoch has been read, and
fitspw='auto' its line channels only when every epoch's spectrum is summed; one
pass per MS therefore keeps the sums finely binned and cuts afterwards.

Bins are log-spaced in wavelengths, per_decade of them per decade: bin i holds
10^(i / per_decade) <= q < 10^((i + 1) / per_decade). At 1000 per decade (bins
0.23 % wide) they nest the model bins of almacal.relcal.uvmodel (40 per decade)
exactly, 25 to one, and a cut at their edges moves each end of a uv range by less
than 0.23 %. Only the bins the data occupy are kept (the array grows with them);
per_decade 0 means one bin for all uv distances.

Columns: those of uvmodel's bins, (..., N_BIN_SUMS): sum(w), sum(w Re V),
sum(w Im V), sum(w |V|^2), the count, sum(w q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from almacal.relcal.uvmodel import B_N, B_W, B_W_ABS2, B_W_IM, B_W_Q, B_W_RE, N_BIN_SUMS

FINE_PER_DECADE = 1000
MODEL_PER_DECADE = 40
MERGE = 5
"""Bins merged into one when the sums grow too large: 1000 -> 200 -> 40 per decade."""

MODEL_FIRST_BIN = 80
"""uvmodel.uv_edges_lambda starts at 100 lambda = 10^(80 / 40)."""

Layout = Literal["C", "F"]

_MIN_UVDIST_M = 1e-3  # a zero-length projected baseline would have log10(q) = -inf


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
        """Only the bins wholly inside lo <= q <= hi (the others zeroed)."""
        if self.per_decade == 0:
            raise ValueError("sums without a uv axis cannot be cut in uv distance")
        i = self.first + np.arange(self.sums.shape[2])
        inside = (i >= math.ceil(self.per_decade * math.log10(lo_lambda))) & (
            i + 1 <= math.floor(self.per_decade * math.log10(hi_lambda))
        )
        return ChannelBins(self.per_decade, self.first, self.sums * inside[None, None, :, None])

    def spectrum(self) -> np.ndarray:
        """(n_cal, n_chan, N_BIN_SUMS): summed over uv distance."""
        return self.sums.sum(axis=2)

    def over_channels(self, keep: np.ndarray) -> np.ndarray:
        """(n_cal, n_bin, N_BIN_SUMS) summed over the channels keep (n_cal, n_chan) allows."""
        return np.einsum("jcbk,jc->jbk", self.sums, keep.astype(float))

    def model_bins(self, keep: np.ndarray, n_bin: int) -> np.ndarray:
        """(n_cal, n_bin, N_BIN_SUMS) in uvmodel's 40-per-decade bins (from 100 lambda)."""
        s = self.coarsened(MODEL_PER_DECADE)
        per = s.over_channels(keep)
        out = np.zeros((per.shape[0], n_bin, N_BIN_SUMS))
        b = s.first - MODEL_FIRST_BIN + np.arange(per.shape[1])
        ok = (b >= 0) & (b < n_bin)
        out[:, b[ok]] = per[:, ok]
        return out


class ChannelBinner:
    """Adds the chunks of one spw into ChannelBins; per_channel keeps the channel axis
    (n_chan channels of the spw, chunks hold channels chan_first...)."""

    def __init__(
        self, n_cal: int, n_chan: int, chan_first: int, per_decade: int, per_channel: bool
    ):
        self.n_chan = n_chan if per_channel else 1
        self.chan_first = chan_first
        self.per_channel = per_channel
        self.bins = ChannelBins(per_decade, 0, np.zeros((n_cal, self.n_chan, 0, N_BIN_SUMS)))

    @property
    def nbytes(self) -> int:
        return int(self.bins.sums.nbytes)

    def coarsen(self) -> None:
        self.bins = self.bins.coarsened(self.bins.per_decade // MERGE)

    def add(
        self,
        v_i: np.ndarray,
        valid: np.ndarray,
        w_i: np.ndarray,
        group: np.ndarray,
        uvdist_m: np.ndarray,
        k_per_m: np.ndarray,
    ) -> None:
        """v_i, valid : (row, chan); w_i : (row,) or (row, chan); group, uvdist_m : (row,);
        k_per_m : (chan,) wavelengths per metre (nu / c)."""
        w = np.where(valid, w_i if w_i.ndim == 2 else w_i[:, None], 0.0)
        used = w > 0
        if not used.any():
            return
        # every (row, chan) array is flattened in v_i's memory order: no copies
        order: Layout = "F" if v_i.flags.f_contiguous and not v_i.flags.c_contiguous else "C"
        key, k0, span = self._keys(group, uvdist_m, k_per_m, order)
        key = key.ravel(order=order)
        # only the span of keys this chunk touches (one calibrator's scans, a few bins)
        flat_sums = self.bins.sums.reshape(-1, N_BIN_SUMS)[k0 : k0 + span]

        def put(col: int, weights: np.ndarray | None) -> None:
            flat = None if weights is None else weights.ravel(order=order)
            flat_sums[:, col] += np.bincount(key, weights=flat, minlength=span)

        put(B_W, w)
        # one (row, chan) buffer for every product: a fresh chunk-sized temporary per
        # column costs its page faults again (~1/3 of a multiply)
        buf = np.multiply(w, v_i.real)
        put(B_W_RE, buf)
        put(B_W_IM, np.multiply(w, v_i.imag, out=buf))
        np.abs(v_i, out=buf)  # |v|^2 by hypot and a square: 2x faster than re^2 + im^2
        buf *= buf
        put(B_W_ABS2, np.multiply(buf, w, out=buf))
        # unused points have weight 0 (no boolean compress: ~2x faster)
        put(B_N, None if used.all() else used.astype(float))
        if self.bins.per_decade and self.per_channel:
            # sum(w q) = (nu / c) sum(w d) in each channel: the factor goes on the sums
            np.multiply(w, uvdist_m[:, None], out=buf)
            flat_sums[:, B_W_Q] += np.bincount(
                key, weights=buf.ravel(order=order), minlength=span
            ) * self._k_of_keys(k_per_m, k0, span)
        elif self.bins.per_decade:
            np.multiply(w, uvdist_m[:, None], out=buf)
            put(B_W_Q, np.multiply(buf, k_per_m[None, :], out=buf))

    def _k_of_keys(self, k_per_m: np.ndarray, k0: int, span: int) -> np.ndarray:
        """nu / c of the channel of each flattened index k0 ... k0 + span - 1."""
        k = np.zeros(self.n_chan)
        k[self.chan_first : self.chan_first + k_per_m.size] = k_per_m
        return k[(k0 + np.arange(span)) // self.bins.sums.shape[2] % self.n_chan]

    def _keys(
        self, group: np.ndarray, uvdist_m: np.ndarray, k_per_m: np.ndarray, order: Layout
    ) -> tuple[np.ndarray, int, int]:
        """(row, chan) index of each point's (calibrator, channel, bin) in the flattened
        sums, less k0, and k0 and the span of the indices; grows the bins to hold them.
        A point's bin floor(pd log10(d k)) is computed as a_row + b_chan + carry from
        the integer and fractional parts of pd log10 d and pd log10 k: one broadcast
        add and compare instead of a log per point."""
        pd, n_chan = self.bins.per_decade, k_per_m.size
        chan = np.zeros(n_chan, np.int64)
        if self.per_channel:
            chan = self.chan_first + np.arange(n_chan)
        if pd == 0:
            self._grow(0, 0)
            row, col = group * self.n_chan, chan
            carry = None
        else:
            log_d = pd * np.log10(np.maximum(uvdist_m, _MIN_UVDIST_M))
            log_k = pd * np.log10(k_per_m)
            a, b = np.floor(log_d), np.floor(log_k)
            self._grow(int(a.min() + b.min()), int(a.max() + b.max()) + 1)
            n_bin, first = self.bins.sums.shape[2], self.bins.first
            row = group * self.n_chan * n_bin + a.astype(np.int64) - first
            col = chan * n_bin + b.astype(np.int64)
            carry = ((log_d - a)[:, None], (1.0 - (log_k - b))[None, :])
        k0 = int(row.min() + col.min())
        span = int(row.max() + col.max()) + (carry is not None) - k0 + 1
        key = np.add((row - k0)[:, None], col[None, :], order=order)
        if carry is not None:
            key += carry[0] >= carry[1]
        return key, k0, span

    def _grow(self, lo: int, hi: int) -> None:
        """Bins first..last cover absolute bins lo..hi."""
        b = self.bins
        n = b.sums.shape[2]
        first = min(b.first, lo) if n else lo
        last = max(b.first + n - 1, hi) if n else hi
        if first != b.first or last - first + 1 != n:
            grown = np.zeros((*b.sums.shape[:2], last - first + 1, N_BIN_SUMS))
            grown[:, :, b.first - first : b.first - first + n] = b.sums
            self.bins = ChannelBins(b.per_decade, first, grown)
