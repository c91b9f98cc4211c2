"""relcal_fit's per-MS unit on synthetic chunks: accumulate, the fine bins and their cuts."""

import pickle

import numpy as np
import pytest

from almacal.relcal.accumulate import BinPlan, PassSpec, accumulate
from almacal.relcal.cuts import CommonUvRange, LineChannels, cut_sums
from almacal.relcal.fluxfit import SUM_N, fit_point
from almacal.relcal.plan import Target, ms_plan
from almacal.relcal.pointflux import field_point_flux
from almacal.relcal.uvbins import FINE_PER_DECADE, ChannelBins
from almacal.relcal.uvmodel import uv_edges_lambda
from almacal.uvrange import UvRange
from tests.unit.relcal_synth import FIELDS, FLUX_JY, N_CHAN, FakeReader, fake_ms

N_CAL = 3


def _target(ms, channels=None):
    index = np.array([0, 1, 2, -1])
    ch = channels or {s: np.ones(N_CHAN, bool) for s in range(2)}
    return Target(ms.info, index, ch, "DATA")


def _sums(reader, target, spec=None):
    plan = ms_plan(target, N_CAL, spec or PassSpec())
    return accumulate(reader.chunks(plan.selection), plan)


@pytest.fixture
def one_ms():
    rng = np.random.default_rng(101)
    ms = fake_ms(rng, "/fake/ep1.ms", day=0, scale=0.9, envelope=0.3, line_jy=2.0)
    return ms, FakeReader([ms])


def test_point_sums_recover_the_injected_flux(one_ms):
    ms, reader = one_ms
    rng = np.random.default_rng(7)
    plain = fake_ms(rng, "/fake/plain.ms", day=0, scale=0.9)
    s = _sums(FakeReader([plain]), _target(plain))
    fit = fit_point(s.point.sum(axis=1))
    # sigma(I) = 0.3 / sqrt(2) per visibility; ~730 rows x 16 channels per calibrator
    cross = plain.ant[0] != plain.ant[1]
    n = np.array([np.count_nonzero(cross & (plain.field_id == j)) * 16 for j in range(N_CAL)])
    sigma = 0.3 / np.sqrt(2) / np.sqrt(n)
    np.testing.assert_allclose(fit.sigma_weights, sigma, rtol=1e-12)
    assert np.all(np.abs(fit.flux - 0.9 * FLUX_JY) < 5 * sigma)
    np.testing.assert_array_equal(fit.n_vis, n)  # autocorrelations and TARGET left out
    assert np.all(np.abs(fit.chi2_red - 1) < 5 * np.sqrt(2 / n))
    np.testing.assert_array_equal(s.rows_unflagged, 2 * (n // 16))  # rows of both spws
    # first and last TIME of each calibrator's rows
    for j in range(N_CAL):
        t = plain.time[cross & (plain.field_id == j)]
        assert tuple(s.time_range[j]) == (t.min(), t.max())
    assert s.uv_limits is None and s.binned is None and s.model_bins is None


def test_chunk_size_and_extra_sums_leave_the_point_sums_alone(one_ms):
    ms, reader = one_ms
    t = _target(ms)
    base = _sums(reader, t)
    other = _sums(FakeReader([ms], chunk_rows=97), t)
    np.testing.assert_allclose(other.point, base.point, rtol=1e-12)
    spec = PassSpec(
        model_edges=uv_edges_lambda(), bins=BinPlan(FINE_PER_DECADE, True), uv_limits=True
    )
    everything = _sums(reader, t, spec)
    # the fine bins hold every visibility: uncut, they give the point sums
    point, _ = cut_sums(everything.binned, N_CAL, None, None, None)
    np.testing.assert_allclose(point, base.point, rtol=1e-12)
    np.testing.assert_array_equal(everything.rows_unflagged, base.rows_unflagged)
    np.testing.assert_array_equal(everything.time_range, base.time_range)
    # the model bins of the same pass equal those of a pass that only bins
    alone = _sums(reader, t, PassSpec(model_edges=uv_edges_lambda())).model_bins
    np.testing.assert_array_equal(everything.model_bins, alone)
    q = np.hypot(ms.uvw[0], ms.uvw[1])[np.isin(ms.field_id, [0, 1, 2]) & (ms.ant[0] != ms.ant[1])]
    lo, hi = everything.uv_limits
    assert lo == pytest.approx(q.min() * 339e9 / 299_792_458.0, rel=1e-3)
    assert hi == pytest.approx(q.max() * 351e9 / 299_792_458.0, rel=1e-3)


def _edge(i):
    return 10.0 ** (i / FINE_PER_DECADE)


def test_fine_bin_cut_and_line_channels_equal_a_direct_cut(one_ms):
    """Sums cut at fine-bin edges and without line channels afterwards = the sums of a
    pass that flagged the same data while reading."""
    ms, reader = one_ms
    t = _target(ms)
    binned = _sums(reader, t, PassSpec(bins=BinPlan(FINE_PER_DECADE, True))).binned
    # just below / above bin edges: the cut then keeps exactly the data of [lo, hi]
    lo, hi = _edge(4200) * (1 - 1e-9), _edge(4550) * (1 + 1e-9)
    common = CommonUvRange(lo, hi, np.array([[lo, hi]]))
    masks = np.zeros((N_CAL, N_CHAN), bool)
    masks[0, [2, 3, 4]] = True  # A's line channels
    masks[2, 7] = True
    lines = LineChannels((masks, np.zeros_like(masks)), FIELDS[:3], (0, 1))
    n_bin = uv_edges_lambda().size - 1
    point, model = cut_sums(binned, N_CAL, common, lines, n_bin)
    direct = _sums(
        reader,
        lines.without_lines(t),
        PassSpec(uvrange=UvRange(lo, hi, True), model_edges=uv_edges_lambda()),
    )
    assert 0 < point[..., SUM_N].sum() < 0.8 * _sums(reader, t).point[..., SUM_N].sum()  # guard
    np.testing.assert_allclose(point, direct.point, rtol=1e-10)
    np.testing.assert_allclose(model, direct.model_bins, rtol=1e-10, atol=1e-9)


def _same(a, b):
    """a and b equal on the union of their bins (either may hold empty edge bins)."""
    zero = ChannelBins(b.per_decade, b.first, np.zeros_like(b.sums))
    both = a + zero, b + ChannelBins(a.per_decade, a.first, np.zeros_like(a.sums))
    assert both[0].per_decade == both[1].per_decade == b.per_decade
    np.testing.assert_allclose(both[0].sums, both[1].sums, rtol=1e-12)


def test_bins_merge_and_add_across_resolutions(one_ms):
    ms, reader = one_ms
    t = _target(ms)
    fine = _sums(reader, t, PassSpec(bins=BinPlan(1000, False))).binned[0]
    coarse = _sums(reader, t, PassSpec(bins=BinPlan(200, False))).binned[0]
    _same(fine.coarsened(200), coarse)
    # an epoch of two MSs read at different resolutions
    _same(fine + coarse, ChannelBins(200, coarse.first, 2 * coarse.sums))
    with pytest.raises(ValueError, match="uv axis"):
        ChannelBins(0, 0, np.zeros((1, 1, 1, 6))).within(1.0, 2.0)


def test_memory_bound_merges_bins_without_losing_data(one_ms):
    ms, reader = one_ms
    t = _target(ms)
    full = _sums(reader, t, PassSpec(bins=BinPlan(FINE_PER_DECADE, True)))
    small = _sums(reader, t, PassSpec(bins=BinPlan(FINE_PER_DECADE, True), max_bin_bytes=100_000))
    assert all(b.per_decade < FINE_PER_DECADE for b in small.binned)
    assert sum(b.sums.nbytes for b in small.binned) <= 100_000
    for a, b in zip(full.binned, small.binned, strict=True):
        _same(a.coarsened(b.per_decade), b)


def test_sums_pickle_and_stay_small(one_ms):
    ms, reader = one_ms
    t = _target(ms)
    spec = PassSpec(bins=BinPlan(FINE_PER_DECADE, True), uv_limits=True)
    plan = ms_plan(t, N_CAL, spec)
    assert pickle.loads(pickle.dumps(plan)).selection == plan.selection
    s = accumulate(reader.chunks(plan.selection), plan)
    assert len(pickle.dumps(s)) < 2e6  # visibilities are 3000 rows x 16 chan x 2 x 16 B


def test_field_point_flux_per_spw():
    rng = np.random.default_rng(9)
    ms = fake_ms(rng, "/fake/gf.ms", day=0, scale=1.0)
    reader = FakeReader([ms])
    flux, weight = field_point_flux(reader, ms.info, "B", [1, 0])
    cross = (ms.ant[0] != ms.ant[1]) & (ms.field_id == 1)
    n = np.count_nonzero(cross) * N_CHAN
    np.testing.assert_allclose(weight, n * 2 / 0.3**2)  # Stokes I weight 2 / sigma^2
    assert np.all(np.abs(flux - FLUX_JY[1]) < 5 * 0.3 / np.sqrt(2 * n))
    assert reader.passes["/fake/gf.ms"] == 1


@pytest.mark.parametrize("zero_longest", [False, True])
def test_uv_limits_of_the_weighted_data_whatever_the_weight_scale(zero_longest):
    # sigma 2 Jy: Stokes I weights 0.5 (< 1, as in many archive MSs); with zero_longest
    # the longest calibrator baseline has weight 0 and leaves the limits
    rng = np.random.default_rng(31)
    ms = fake_ms(rng, "/fake/w.ms", day=0, scale=1.0, sigma=2.0)
    cal = (ms.ant[0] != ms.ant[1]) & (ms.field_id < N_CAL)
    d = np.hypot(ms.uvw[0], ms.uvw[1])
    if zero_longest:
        longest = np.flatnonzero(cal)[np.argmax(d[cal])]
        weight = ms.weight.copy()
        weight[:, longest] = 0.0
        ms = type(ms)(**{**ms.__dict__, "weight": weight})
        cal[longest] = False
    s = _sums(FakeReader([ms]), _target(ms), PassSpec(uv_limits=True))
    freq = np.concatenate([ms.info.chan_freq_hz[k] for k in range(2)])
    k = freq / 299_792_458.0
    # the same products as the pass (|uv| x nu / c): exact to rounding
    want = (d[cal].min() * k.min(), d[cal].max() * k.max())
    assert s.uv_limits == pytest.approx(want, rel=1e-12)


def test_read_range_spans_every_calibrators_channels(one_ms):
    # per-calibrator channel masks (line channels removed for one calibrator only):
    # the read covers the first to the last channel any calibrator uses, no more
    from almacal.relcal.plan import read_slices

    ms, _ = one_ms
    per_cal = np.zeros((N_CAL, N_CHAN), bool)
    per_cal[0, 2:5] = True
    per_cal[1, 3:7] = True
    flat = np.zeros(N_CHAN, bool)
    flat[1:4] = True
    (_, two_d), (_, one_d) = read_slices(_target(ms, {0: per_cal, 1: flat}))
    assert (two_d.spw, two_d.chan_first, two_d.chan_last) == (0, 2, 6)
    assert (one_d.spw, one_d.chan_first, one_d.chan_last) == (1, 1, 3)


def test_bins_grow_to_hold_each_chunks_baselines():
    # 10 bins per decade at k = 1000 lambda/m: a 10 m chunk fills bin 40, a later 17.8 m
    # chunk bin 42 (the range grows by two bins at its top); every weight stays in its bin
    from almacal.relcal.binner import ChannelBinner
    from almacal.relcal.uvmodel import B_N, B_W

    binner = ChannelBinner(1, 1, 0, 10, False)
    for d, w in ((10.0, 2.0), (10**1.25, 3.0)):
        ones = np.ones((4, 1))
        binner.add(
            ones + 0j, ones > 0, np.full(4, w), np.zeros(4, int), np.full(4, d), np.array([1e3])
        )
    b = binner.bins
    assert b.first == 40
    np.testing.assert_array_equal(b.sums[0, 0, :, B_W], [8.0, 0.0, 12.0, 0.0])
    np.testing.assert_array_equal(b.sums[0, 0, :, B_N], [4, 0, 4, 0])


def test_weight_spectrum_weights_each_channel(one_ms):
    # WEIGHT_SPECTRUM (row, chan, corr): the row weight in every channel but channel 0,
    # which has weight 0; the same as WEIGHT with channel 0 left out of the selection,
    # but its visibilities count as valid and not weighted
    import dataclasses

    from almacal.relcal.accumulate import COUNT_VALID, COUNT_WEIGHTED

    ms, reader = one_ms
    plan = ms_plan(_target(ms), N_CAL, PassSpec())

    def spectrum(c):
        w = np.repeat(c.weight[:, None, :], c.data.shape[1], axis=1)
        w[:, 0, :] = 0.0
        return dataclasses.replace(c, weight=w)

    s = accumulate((spectrum(c) for c in reader.chunks(plan.selection)), plan)
    no_first = {k: np.arange(N_CHAN) > 0 for k in range(2)}
    ref = _sums(reader, _target(ms, no_first))
    np.testing.assert_allclose(s.point, ref.point, rtol=1e-12)  # the same sums, reordered
    np.testing.assert_array_equal(s.counts[:, COUNT_WEIGHTED], ref.counts[:, COUNT_WEIGHTED])
    cross = ms.ant[0] != ms.ant[1]
    rows = np.array([np.count_nonzero(cross & (ms.field_id == j)) for j in range(N_CAL)])
    # channel 0 of both spws: valid, not weighted
    np.testing.assert_array_equal(s.counts[:, COUNT_VALID] - s.counts[:, COUNT_WEIGHTED], 2 * rows)


def test_lines_are_found_in_the_spws_read_and_none_in_a_spw_without_channels(one_ms):
    # spw 0 (with A's line in channels 2-4) has no selected channel: it is not read and
    # has no line channels; spw 1's spectrum is line-free
    from almacal.relcal.cuts import find_lines

    ms, reader = one_ms
    t = _target(ms, {0: np.zeros(N_CHAN, bool), 1: np.ones(N_CHAN, bool)})
    binned = _sums(reader, t, PassSpec(bins=BinPlan(FINE_PER_DECADE, True))).binned
    assert binned[0] is None and binned[1] is not None
    lines = find_lines([binned], t, FIELDS[:3], None)
    assert [m.shape for m in lines.masks] == [(N_CAL, N_CHAN)] * 2
    assert not np.any(lines.masks) and lines.channels() == {}
    # guard: with spw 0 read, A's line is found there
    full = _target(ms)
    binned = _sums(reader, full, PassSpec(bins=BinPlan(FINE_PER_DECADE, True))).binned
    assert find_lines([binned], full, FIELDS[:3], None).channels() == {"A": {"0": [2, 3, 4]}}
