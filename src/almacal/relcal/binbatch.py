"""Consecutive chunks for one binner, gathered and added in one call (BinBatch)."""

from __future__ import annotations

import numpy as np

from almacal.relcal.binner import ChannelBinner
from almacal.scratch import Scratch

BATCH_POINTS = 2**21
"""(row, chan) points a binner takes per call. A call costs about as much per key in
its span (every channel x bin the rows reach) as per point, and a read chunk of a few
thousand rows reaches about as many keys as it has points; batches of 2^21 points
(~2^4 chunks of almacal.io's size) make the cost per key small."""


class BinBatch:
    """Consecutive chunks for one binner, copied into arrays of a Scratch and added in
    one call; add hands the batch on when it is full or the next chunk is for another
    binner (or another shape), and flush at the end of the pass."""

    def __init__(self, scratch: Scratch, batch_points: int = BATCH_POINTS):
        self.scratch = scratch
        self.batch_points = batch_points
        self._binner: ChannelBinner | None = None
        self._k = np.empty(0)
        self._rows = 0
        self._cap = 0
        self._parts: tuple[np.ndarray, ...] = ()

    def add(
        self,
        binner: ChannelBinner,
        v_i: np.ndarray,
        valid: np.ndarray,
        w_i: np.ndarray,
        group: np.ndarray,
        uvdist_m: np.ndarray,
        k_per_m: np.ndarray,
    ) -> None:
        """The arguments of ChannelBinner.add, for binner."""
        n, n_chan = v_i.shape
        same = (
            binner is self._binner
            and self._parts
            and self._parts[0].shape[1] == n_chan
            and self._parts[2].ndim == w_i.ndim
            and np.array_equal(self._k, k_per_m)
        )
        if not same or self._rows + n > self._cap:
            self.flush()
        cap = max(self.batch_points // max(n_chan, 1), 1)
        if n >= cap:  # a chunk as large as a batch goes as it is
            binner.add(v_i, valid, w_i, group, uvdist_m, k_per_m)
            return
        if self._rows == 0:
            self._start(binner, n_chan, w_i.ndim, k_per_m, cap)
        rows = slice(self._rows, self._rows + n)
        # a pass without a uv axis reads no UVW: its binners have no use for uvdist_m
        d = uvdist_m if uvdist_m.size == n else 0.0
        for part, x in zip(self._parts, (v_i, valid, w_i, group, d), strict=True):
            part[rows] = x
        self._rows += n

    def _start(
        self, binner: ChannelBinner, n_chan: int, w_ndim: int, k: np.ndarray, cap: int
    ) -> None:
        get = self.scratch.get
        w_shape = (cap, n_chan) if w_ndim == 2 else (cap,)
        self._binner, self._k, self._cap = binner, k.copy(), cap
        self._parts = (
            get("batch_v", (cap, n_chan), np.complex128),
            get("batch_valid", (cap, n_chan), np.bool_),
            get("batch_w", w_shape, np.float64),
            get("batch_group", (cap,), np.int64),
            get("batch_uvdist", (cap,), np.float64),
        )

    def flush(self) -> None:
        """Add the rows held to their binner."""
        if self._rows and self._binner is not None:
            v_i, valid, w_i, group, uvdist_m = (p[: self._rows] for p in self._parts)
            self._binner.add(v_i, valid, w_i, group, uvdist_m, self._k)
        self._rows = 0
