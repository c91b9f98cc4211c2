"""Adds the chunks of a pass into ChannelBins (almacal.relcal.uvbins), one spw each.

Every (row, chan) point of a chunk has a key: the flat index of its (calibrator,
channel, uv bin) in the sums. Its bin floor(pd log10(d k)) is a_row + b_chan + carry
from the integer and fractional parts of pd log10 d (per row) and pd log10 k (per
channel): a broadcast add and compare instead of a log per point.

The sums of the data (w Re V, w Im V, w |V|^2) go point by point, each a sparse
matrix (one point per column, in its key's row) times a vector: scipy's loop
multiplies and adds in one pass, in point order, as np.bincount of the products
would (bit-identical) at half the passes. The sums of the weights alone (w, the
count, w d) depend only on the rows and on where each row's carry falls; when the
weight is one per row (WEIGHT) and the flags are whole rows and whole channels
(antennas, times, edge channels), they are summed per row class, a few thousand
per chunk, instead of per point (weight_class_sums).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from almacal.relcal.uvbins import MERGE, ChannelBins
from almacal.relcal.uvmodel import B_N, B_W, B_W_ABS2, B_W_IM, B_W_Q, B_W_RE, N_BIN_SUMS
from almacal.scratch import Layout, Scratch, memory_order

_MIN_UVDIST_M = 1e-3  # a zero-length projected baseline would have log10(q) = -inf


@dataclass(frozen=True)
class KeyParts:
    """key[r, c] = row[r] + col[c] - k0 + (fd[r] >= t[c]) (no carry when fd is None), in
    0 ... span - 1."""

    row: np.ndarray
    col: np.ndarray
    fd: np.ndarray | None
    t: np.ndarray | None
    k0: int
    span: int

    def points(self, scratch: Scratch, order: Layout) -> np.ndarray:
        """(row, chan) keys, int32 where they fit (half the memory traffic of int64)."""
        shape = (self.row.size, self.col.size)
        small = self.span < 2**31 and self.row.size * self.col.size < 2**31
        dtype = np.int32 if small else np.int64
        key = scratch.get("key", shape, dtype, order)
        np.add(
            (self.row - self.k0).astype(dtype)[:, None], self.col.astype(dtype)[None, :], out=key
        )
        if self.fd is not None and self.t is not None:
            carry = scratch.get("carry", shape, np.bool_, order)
            key += np.greater_equal(self.fd[:, None], self.t[None, :], out=carry)
        return key


def weight_class_sums(parts: KeyParts, x_rows: np.ndarray, chan_factor: np.ndarray) -> np.ndarray:
    """(n_x, span): sum over the points (r, c) of each key of x_rows[i, r] chan_factor[i, c].

    Rows with the same row key fall, channel by channel, on the same key or the next
    (carry); which one depends only on how many of the channels' thresholds t their
    fd reaches. So the rows are summed per (row key, thresholds reached) class, and
    each channel takes the classes below and above its threshold by cumulative sums
    over the classes (of values >= 0 in this use: no cancellation)."""
    n_c = parts.col.size
    u_keys, u = np.unique(parts.row, return_inverse=True)
    carries = parts.fd is not None and parts.t is not None
    pos = np.zeros(n_c, np.intp)
    reached: np.ndarray | int = 0
    if parts.fd is not None and parts.t is not None:
        by_t = np.argsort(parts.t, kind="stable")
        pos[by_t] = np.arange(n_c)
        # thresholds <= fd: a row carries in the channels of the first `reached` of them
        reached = np.searchsorted(parts.t[by_t], parts.fd, side="right")
    n_m = n_c + 1 if carries else 1
    cell = u * n_m + reached
    k_lo = ((u_keys - parts.k0)[:, None] + parts.col[None, :]).ravel()
    keys = np.concatenate([k_lo, k_lo + 1]) if carries else k_lo
    out = np.empty((x_rows.shape[0], parts.span))
    for i, (x, f) in enumerate(zip(x_rows, chan_factor, strict=True)):
        table = np.bincount(cell, weights=x, minlength=u_keys.size * n_m).reshape(-1, n_m)
        parts_w = [(np.cumsum(table, axis=1)[:, pos] * f).ravel()]  # no carry: reached <= pos
        if carries:
            above = np.cumsum(table[:, ::-1], axis=1)[:, ::-1][:, pos + 1]  # reached > pos
            parts_w.append((above * f).ravel())
        out[i] = np.bincount(keys, weights=np.concatenate(parts_w), minlength=parts.span)
    return out


def _by_key(
    key: np.ndarray, scratch: Scratch, span: int, data: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """sum(data[p] x[p]) over the points p of each key 0 ... span - 1; key, data : (n,),
    x : (n,) or (n, m)."""
    n = key.size
    indptr = scratch.constant("indptr", n + 1, key.dtype, np.arange)
    return scipy.sparse.csc_array((data, key, indptr), shape=(span, n)) @ x


def _separable(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, channels) with data when valid is their outer product, else None."""
    if valid.all():
        return np.ones(valid.shape[0], bool), np.ones(valid.shape[1], bool)
    rows, chans = np.asarray(valid.any(axis=1)), np.asarray(valid.any(axis=0))
    # valid lies within rows x chans; equal counts mean it is all of it
    if np.count_nonzero(valid) == np.count_nonzero(rows) * np.count_nonzero(chans):
        return rows, chans
    return None


class ChannelBinner:
    """Adds the chunks of one spw into ChannelBins; per_channel keeps the channel axis
    (n_chan channels of the spw, chunks hold channels chan_first...).

    The sums are kept column by column, (N_BIN_SUMS, n_cal, n_chan, n_bin), so that a
    chunk adds each column into one contiguous run; bins gives them in ChannelBins'
    layout."""

    def __init__(
        self,
        n_cal: int,
        n_chan: int,
        chan_first: int,
        per_decade: int,
        per_channel: bool,
        scratch: Scratch | None = None,
    ):
        self.n_chan = n_chan if per_channel else 1
        self.chan_first = chan_first
        self.per_channel = per_channel
        # the binners of one pass share one: their chunks come one at a time
        self.scratch = Scratch() if scratch is None else scratch
        self.per_decade = per_decade
        # _sums holds absolute bins first...; those the data reach are used[0]...used[1]
        self.first = 0
        self.used: tuple[int, int] | None = None
        self._sums = np.zeros((N_BIN_SUMS, n_cal, self.n_chan, 0))
        self._k_flat: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def bins(self) -> ChannelBins:
        """The sums so far, a view of the binner's own: taken when the pass is done."""
        lo, hi = (self.first, self.first - 1) if self.used is None else self.used
        used = self._sums[..., lo - self.first : hi - self.first + 1]
        return ChannelBins(self.per_decade, lo, np.moveaxis(used, 0, -1))

    @property
    def nbytes(self) -> int:
        """Of the bins the data reach (what a pass sends on)."""
        n_used = 0 if self.used is None else self.used[1] - self.used[0] + 1
        return int(self._sums[..., :1].nbytes * n_used)

    def coarsen(self) -> None:
        if self.used is None:  # no data yet: only the resolution changes
            self.per_decade //= MERGE
            return
        coarse = self.bins.coarsened(self.per_decade // MERGE)
        self.per_decade, self.first = coarse.per_decade, coarse.first
        self.used = (coarse.first, coarse.first + coarse.sums.shape[2] - 1)
        self._sums = np.ascontiguousarray(np.moveaxis(coarse.sums, -1, 0))
        self._k_flat = None

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
        # every (row, chan) array is flattened in v_i's memory order: no copies
        order = memory_order(v_i)
        w = self.scratch.get("w", v_i.shape, np.float64, order)
        separable = _separable(valid) if w_i.ndim == 1 else None
        if separable is None:
            w.fill(0.0)
            np.copyto(w, w_i if w_i.ndim == 2 else w_i[:, None], where=valid)
            if not (w > 0).any():
                return
        else:
            rows, chans = separable
            w_rows = w_i * rows
            if not (w_rows > 0).any() or not chans.any():
                return
            np.multiply(w_rows[:, None], chans[None, :], out=w)
        parts = self._key_parts(group, uvdist_m, k_per_m)
        key = parts.points(self.scratch, order).ravel(order=order)
        # only the span of keys this chunk touches (one calibrator's scans, a few bins)
        sums = self._sums.reshape(N_BIN_SUMS, -1)[:, parts.k0 : parts.k0 + parts.span]
        self._add_data(sums, key, parts.span, v_i, w, order)
        if separable is None:
            self._add_weights_by_point(sums, key, parts, w, uvdist_m, k_per_m, order)
        else:
            self._add_weights_by_class(sums, parts, w_i, separable, uvdist_m, k_per_m)

    def _add_data(
        self,
        sums: np.ndarray,
        key: np.ndarray,
        span: int,
        v_i: np.ndarray,
        w: np.ndarray,
        order: Layout,
    ) -> None:
        n, w_flat = v_i.size, w.ravel(order=order)
        re_im = _by_key(
            key, self.scratch, span, w_flat, v_i.ravel(order=order).view(np.float64).reshape(n, 2)
        )
        sums[B_W_RE] += re_im[:, 0]
        sums[B_W_IM] += re_im[:, 1]
        buf = np.abs(v_i, out=self.scratch.get("buf", v_i.shape, np.float64, order))
        buf *= buf  # |v|^2 by hypot and a square: 2x faster than re^2 + im^2
        sums[B_W_ABS2] += _by_key(key, self.scratch, span, w_flat, buf.ravel(order=order))

    def _add_weights_by_point(
        self,
        sums: np.ndarray,
        key: np.ndarray,
        parts: KeyParts,
        w: np.ndarray,
        uvdist_m: np.ndarray,
        k_per_m: np.ndarray,
        order: Layout,
    ) -> None:
        scratch, span = self.scratch, parts.span
        ones = scratch.constant("ones", w.size, np.float64, np.ones)
        w_flat = w.ravel(order=order)
        sums[B_W] += _by_key(key, scratch, span, ones, w_flat)
        # unused points have weight 0 (no boolean compress: ~2x faster)
        buf = scratch.get("buf", w.shape, np.float64, order)
        np.greater(w, 0.0, out=buf)
        sums[B_N] += _by_key(key, scratch, span, buf.ravel(order=order), ones)
        if self.per_decade:
            np.multiply(w, uvdist_m[:, None], out=buf)
            if not self.per_channel:
                np.multiply(buf, k_per_m[None, :], out=buf)
            wd = _by_key(key, scratch, span, ones, buf.ravel(order=order))
            sums[B_W_Q] += wd * self._k_factor(k_per_m, parts)

    def _add_weights_by_class(
        self,
        sums: np.ndarray,
        parts: KeyParts,
        w_i: np.ndarray,
        separable: tuple[np.ndarray, np.ndarray],
        uvdist_m: np.ndarray,
        k_per_m: np.ndarray,
    ) -> None:
        rows, chans = separable
        w_rows = w_i * rows
        x = [w_rows, (w_rows > 0).astype(float)]
        f = [chans.astype(float)] * 2
        if self.per_decade:
            x.append(w_rows * uvdist_m)
            f.append(chans * (1.0 if self.per_channel else k_per_m))
        s = weight_class_sums(parts, np.array(x), np.array(f))
        sums[B_W] += s[0]
        sums[B_N] += s[1]
        if self.per_decade:
            sums[B_W_Q] += s[2] * self._k_factor(k_per_m, parts)

    def _k_factor(self, k_per_m: np.ndarray, parts: KeyParts) -> np.ndarray | float:
        """What turns sum(w d) into sum(w q) on the keys of parts: with per_channel, the
        nu / c of each key's channel (sum(w q) = (nu / c) sum(w d) in a channel); without,
        the pass multiplied each point by its own."""
        if not self.per_channel:
            return 1.0
        return self._k_of_keys(k_per_m)[parts.k0 : parts.k0 + parts.span]

    def _k_of_keys(self, k_per_m: np.ndarray) -> np.ndarray:
        """nu / c of the channel of each flattened (calibrator, channel, bin) index; made
        again only when the bins grow or the frequencies change."""
        n_cal, n_bin = self._sums.shape[1], self._sums.shape[3]
        cached = self._k_flat
        if (
            cached is None
            or cached[1].size != self._sums[0].size
            or not np.array_equal(cached[0], k_per_m)
        ):
            k = np.zeros(self.n_chan)
            k[self.chan_first : self.chan_first + k_per_m.size] = k_per_m
            cached = (k_per_m.copy(), np.repeat(np.tile(k, n_cal), n_bin))
            self._k_flat = cached
        return cached[1]

    def _key_parts(self, group: np.ndarray, uvdist_m: np.ndarray, k_per_m: np.ndarray) -> KeyParts:
        """The keys of a chunk's points; grows the bins to hold them."""
        pd, n_chan = self.per_decade, k_per_m.size
        chan = np.zeros(n_chan, np.int64)
        if self.per_channel:
            chan = self.chan_first + np.arange(n_chan)
        if pd == 0:
            self._grow(0, 0)
            n_bin = self._sums.shape[3]
            row, col = group * self.n_chan * n_bin - self.first, chan * n_bin
            fd = t = None
        else:
            log_d = pd * np.log10(np.maximum(uvdist_m, _MIN_UVDIST_M))
            log_k = pd * np.log10(k_per_m)
            a, b = np.floor(log_d), np.floor(log_k)
            self._grow(int(a.min() + b.min()), int(a.max() + b.max()) + 1)
            n_bin = self._sums.shape[3]
            row = group * self.n_chan * n_bin + a.astype(np.int64) - self.first
            col = chan * n_bin + b.astype(np.int64)
            fd, t = log_d - a, 1.0 - (log_k - b)
        k0 = int(row.min() + col.min())
        span = int(row.max() + col.max()) + (fd is not None) - k0 + 1
        return KeyParts(row, col, fd, t, k0, span)

    def _grow(self, lo: int, hi: int) -> None:
        """Bins cover absolute bins lo..hi. They grow by an eighth more than asked: each
        chunk reaches a little further (baselines turn with the sky), and a copy of the
        sums per chunk would cost as much as the chunk."""
        self.used = (
            (lo, hi) if self.used is None else (min(self.used[0], lo), max(self.used[1], hi))
        )
        n = self._sums.shape[3]
        if n and self.first <= lo and hi < self.first + n:
            return
        margin = (self.used[1] - self.used[0]) // 8 + 1 if self.per_decade else 0
        first = lo - margin if not n or lo < self.first else self.first
        last = hi + margin if not n or hi >= self.first + n else self.first + n - 1
        grown = np.zeros((*self._sums.shape[:3], last - first + 1))
        grown[..., self.first - first : self.first - first + n] = self._sums
        self.first, self._sums = first, grown
