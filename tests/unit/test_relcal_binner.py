"""The binner's sums against a point-by-point reference, on every path it takes.

ChannelBinner sums the data point by point (a sparse matrix-vector product) and the
weights alone either point by point or per row class (WEIGHT with whole-row and
whole-channel flags); BinBatch gathers chunks before they reach it. Every path must
give the sums of the definition: each point's (calibrator, channel, bin) from
floor(pd log10(d nu / c)), float64 rounding apart.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from almacal.relcal import binner as binner_mod
from almacal.relcal.binbatch import BinBatch
from almacal.relcal.binner import ChannelBinner, KeyParts, weight_class_sums
from almacal.relcal.uvbins import ChannelBins
from almacal.relcal.uvmodel import B_N, B_W, B_W_ABS2, B_W_IM, B_W_Q, B_W_RE, N_BIN_SUMS
from almacal.scratch import Scratch

N_CAL, N_CHAN, CHAN_FIRST = 3, 12, 2
K = np.linspace(300.0, 330.0, N_CHAN)  # wavelengths per metre (~95 GHz)


def _chunk(rng, n_row, flags, spectrum):
    v = rng.normal(1.0, 0.5, (n_row, N_CHAN)) + 1j * rng.normal(0.0, 0.5, (n_row, N_CHAN))
    valid = np.ones((n_row, N_CHAN), bool)
    if flags in ("rows", "rows+chans"):
        valid[rng.random(n_row) < 0.2] = False
    if flags == "rows+chans":
        valid[:, [0, 5]] = False
    if flags == "scattered":
        valid &= rng.random((n_row, N_CHAN)) > 0.1
    w = rng.uniform(0.5, 2.0, n_row)
    w[rng.random(n_row) < 0.05] = 0.0  # rows without weight count for nothing
    if spectrum:
        w = w[:, None] * rng.uniform(0.5, 1.5, (n_row, N_CHAN))
    v = np.where(valid, v, 0.0)  # as stokes_i leaves them
    group = rng.integers(0, N_CAL, n_row)
    d = 10 ** rng.uniform(0.5, 2.5, n_row)  # 3 m - 300 m
    return v, valid, w, group, d


def _reference(chunks, per_decade, per_channel):
    """(n_cal, n_chan, bins, N_BIN_SUMS) summed point by point, and the first bin."""
    n_chan = N_CHAN + CHAN_FIRST if per_channel else 1
    out: dict[tuple[int, int, int], np.ndarray] = {}
    for v, valid, w, group, d in chunks:
        w2 = np.where(valid, w if w.ndim == 2 else w[:, None], 0.0)
        for r, c in zip(*np.nonzero(w2 > 0), strict=True):
            q = d[r] * K[c]
            b = math.floor(per_decade * math.log10(q)) if per_decade else 0
            cell = out.setdefault((group[r], CHAN_FIRST + c if per_channel else 0, b), np.zeros(6))
            x, ww = v[r, c], w2[r, c]
            cell += [ww, ww * x.real, ww * x.imag, ww * abs(x) ** 2, 1.0, ww * q]
    bins = [k[2] for k in out]
    first, n = min(bins), max(bins) - min(bins) + 1
    sums = np.zeros((N_CAL, n_chan, n, N_BIN_SUMS))
    for (j, c, b), cell in out.items():
        sums[j, c, b - first, [B_W, B_W_RE, B_W_IM, B_W_ABS2, B_N, B_W_Q]] = cell
    if not per_decade:
        sums[..., B_W_Q] = 0.0  # no uv axis: no sum(w q)
    return sums, first


@pytest.mark.parametrize("flags", ["none", "rows", "rows+chans", "scattered"])
@pytest.mark.parametrize("spectrum", [False, True])
@pytest.mark.parametrize(("per_decade", "per_channel"), [(1000, True), (40, False), (0, True)])
def test_sums_equal_a_point_by_point_reference(flags, spectrum, per_decade, per_channel):
    rng = np.random.default_rng([len(flags), spectrum, per_decade])
    chunks = [_chunk(rng, n, flags, spectrum) for n in (40, 25, 60)]
    b = ChannelBinner(N_CAL, N_CHAN + CHAN_FIRST, CHAN_FIRST, per_decade, per_channel)
    for c in chunks:
        b.add(*c, K)
    ref, first = _reference(chunks, per_decade, per_channel)
    got = b.bins
    assert ref[..., B_N].sum() > 0.5 * sum(c[0].size for c in chunks)  # guard: data counted
    # the binner's bins cover those the data reach (and those its chunks' flagged or
    # weightless rows reach, empty)
    lo = first - got.first
    assert lo >= 0 and got.sums.shape[2] - ref.shape[2] - lo >= 0
    placed = np.zeros_like(got.sums)
    placed[:, :, lo : lo + ref.shape[2]] = ref
    # sums of <= 145 values of order 1-100: float64 rounding, ~1e-14 relative
    np.testing.assert_allclose(got.sums, placed, rtol=1e-12, atol=1e-12)


def test_whole_row_and_channel_flags_take_the_row_class_path(monkeypatch):
    """The row-class path is the one that runs for WEIGHT with separable flags (else
    the reference test above would not test it)."""
    calls = []
    monkeypatch.setattr(
        binner_mod,
        "weight_class_sums",
        lambda *a: calls.append(1) or weight_class_sums(*a),
    )
    rng = np.random.default_rng(3)
    b = ChannelBinner(N_CAL, N_CHAN, 0, 1000, True)
    for flags, spectrum in (("rows+chans", False), ("scattered", False), ("none", True)):
        b.add(*_chunk(rng, 30, flags, spectrum), K)
    assert len(calls) == 1


def test_weight_class_sums_match_a_loop():
    rng = np.random.default_rng(5)
    n_r, n_c = 50, 7
    row = rng.integers(0, 6, n_r) * 10
    col = np.arange(n_c) * 100
    fd, t = rng.random(n_r), rng.random(n_c)
    t[3] = t[1]  # tied thresholds
    fd[0] = t[2]  # a row exactly at a threshold carries (fd >= t)
    x = rng.random((2, n_r))
    f = rng.random((2, n_c))
    parts = KeyParts(row, col, fd, t, k0=0, span=int(row.max() + col.max()) + 2)
    got = weight_class_sums(parts, x, f)
    ref = np.zeros_like(got)
    for r in range(n_r):
        for c in range(n_c):
            ref[:, row[r] + col[c] + (fd[r] >= t[c])] += x[:, r] * f[:, c]
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    assert np.count_nonzero(ref[0]) > 50  # guard: many keys


def test_a_batch_gives_the_sums_of_its_chunks_added_one_by_one():
    """Chunks for two binners interleaved (two spws), some larger than a batch: each
    binner gets exactly its own chunks."""
    rng = np.random.default_rng(8)
    scratch = Scratch()
    direct = [ChannelBinner(N_CAL, N_CHAN, 0, 1000, True) for _ in range(2)]
    batched = [ChannelBinner(N_CAL, N_CHAN, 0, 1000, True, scratch) for _ in range(2)]
    batch = BinBatch(scratch, batch_points=50 * N_CHAN)
    for k, n in enumerate((20, 20, 20, 70, 10, 5, 30)):
        c = _chunk(rng, n, "rows", False)
        direct[k % 3 == 2].add(*c, K)
        batch.add(batched[k % 3 == 2], *c, K)
    batch.flush()
    for a, b in zip(direct, batched, strict=True):
        assert a.bins.sums[..., B_N].sum() > 0  # guard
        np.testing.assert_allclose(b.bins.sums, a.bins.sums, rtol=1e-13, atol=1e-13)
        assert b.bins.first == a.bins.first


def test_a_binner_coarsened_before_its_first_chunk_keeps_the_data_in_place():
    rng = np.random.default_rng(2)
    c = _chunk(rng, 30, "none", False)
    early = ChannelBinner(N_CAL, N_CHAN, 0, 1000, True)
    early.coarsen()
    early.add(*c, K)
    late = ChannelBinner(N_CAL, N_CHAN, 0, 200, True)
    late.add(*c, K)
    assert early.per_decade == 200
    assert early.bins.first == late.bins.first
    np.testing.assert_allclose(early.bins.sums, late.bins.sums, rtol=1e-13)


def test_within_keeps_only_the_bins_inside():
    sums = np.arange(2 * 1 * 10 * N_BIN_SUMS, dtype=float).reshape(2, 1, 10, N_BIN_SUMS)
    b = ChannelBins(10, 20, sums)  # bins 20 ... 29: 10^(i/10) <= q < 10^((i+1)/10)
    cut = b.within(10**2.2, 10 ** (2.7 + 1e-9))  # bins 22 ... 26 lie inside
    assert cut.first == 22
    np.testing.assert_array_equal(cut.sums, sums[:, :, 2:7])
    assert b.within(1e9, 2e9).sums.shape[2] == 0


def test_a_batch_hands_on_its_rows_when_the_weights_or_frequencies_change():
    """One binner's chunks with a weight per row, then at other frequencies, then with a
    weight per channel: the batch adds each run of alike chunks on its own."""
    rng = np.random.default_rng(10)
    chunks = [
        (_chunk(rng, 20, "rows", False), K),
        (_chunk(rng, 20, "rows", False), K * 1.01),
        (_chunk(rng, 20, "scattered", True), K * 1.01),
    ]
    direct = ChannelBinner(N_CAL, N_CHAN, 0, 1000, True)
    scratch = Scratch()
    batched = ChannelBinner(N_CAL, N_CHAN, 0, 1000, True, scratch)
    batch = BinBatch(scratch, batch_points=1000 * N_CHAN)
    for c, k in chunks:
        direct.add(*c, k)
        batch.add(batched, *c, k)
    batch.flush()
    np.testing.assert_allclose(batched.bins.sums, direct.bins.sums, rtol=1e-13, atol=1e-13)


def test_coarsening_a_binner_with_data_gives_the_coarser_bins_of_its_sums():
    rng = np.random.default_rng(4)
    b = ChannelBinner(N_CAL, N_CHAN, 0, 1000, True)
    b.add(*_chunk(rng, 40, "none", False), K)
    expected = b.bins.coarsened(200)
    b.coarsen()
    assert (b.per_decade, b.bins.first) == (200, expected.first)
    np.testing.assert_array_equal(b.bins.sums, expected.sums)
    assert b.nbytes == expected.sums.nbytes
