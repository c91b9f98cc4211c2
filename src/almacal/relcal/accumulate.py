"""relcal_fit's per-MS unit: one chunked pass over an MS reduced to small sums.

``accumulate(chunks, plan)`` turns the chunks of one MS (almacal.vischunk, read by
almacal.io.ms) into an :class:`MsSums`: the point-source sums per calibrator and
spw, and whatever the options asked for in the same pass: the exact uv limits of
the usable data, uv-distance bins for the models, per-channel and finely binned
sums for cuts decided after every epoch is read (almacal.relcal.uvbins), the
occupied (u, v) cells for fitposition, and the first and last TIME of each
calibrator's usable rows. Inputs (a plan) and output pickle and are small, so an
MS can be accumulated in another process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from almacal.constants import C_M_S
from almacal.relcal.binbatch import BinBatch
from almacal.relcal.binner import ChannelBinner
from almacal.relcal.fluxfit import N_SUMS, SUM_N, point_sums, row_sums, stokes_i, stokes_i_weight
from almacal.relcal.uvbins import MODEL_PER_DECADE, ChannelBins
from almacal.relcal.uvgrid import N_GRID_SUMS, GridCells, UvGrid, grid_sums
from almacal.relcal.uvmodel import N_BIN_SUMS, bin_sums
from almacal.scratch import Scratch
from almacal.uvrange import UvRange
from almacal.vischunk import ReadSelection, VisChunk

MAX_BIN_BYTES = 96 * 2**20
"""Binned per-channel sums of one MS (uvrange='common' with fitspw='auto'), so that an
MS's sums stay small enough to send between processes; beyond it the bins are
merged (uvbins.MERGE)."""

MAX_RUN_BIN_BYTES = 2**30
"""The same for all MSs of a run together (every epoch's sums are kept until the
cuts are known)."""


def max_bin_bytes(n_ms: int) -> int:
    """The binned sums allowed per MS when a run reads n_ms MSs."""
    return min(MAX_BIN_BYTES, MAX_RUN_BIN_BYTES // max(n_ms, 1))


@dataclass(frozen=True)
class BinPlan:
    """Sums kept for cuts after the pass: per_decade uv bins (0: none), per channel or not."""

    per_decade: int
    per_channel: bool


@dataclass(frozen=True)
class PassSpec:
    """What a pass sums besides the point sums, the same for every MS of a run.

    uvrange : the data used (None: all); model_edges : uv-distance bin edges
    (wavelengths) of the model fits; bins : sums kept for cuts after the pass;
    grid : the (u, v) grid of fitposition; uv_limits : the uv range of the data;
    max_bin_bytes : the bins' memory per MS.
    """

    uvrange: UvRange | None = None
    model_edges: np.ndarray | None = None
    bins: BinPlan | None = None
    grid: UvGrid | None = None
    uv_limits: bool = False
    max_bin_bytes: int = MAX_BIN_BYTES

    @property
    def needs_uv(self) -> bool:
        return (
            self.uvrange is not None
            or self.model_edges is not None
            or self.grid is not None
            or self.uv_limits
            or (self.bins is not None and self.bins.per_decade > 0)
        )


@dataclass(frozen=True)
class MsPlan:
    """What to read from one MS and what to sum.

    field_index : (n_field,) calibrator of each FIELD_ID, -1 for fields not fitted.
    spw_pos, chan_ok, freq_hz : per slice of selection.spws: its position among the
    n_spw fitted spws, the usable channels of the slice ((n_chan,) for every
    calibrator or (n_cal, n_chan) per calibrator) and their frequencies.
    """

    selection: ReadSelection
    n_cal: int
    n_spw: int
    field_index: np.ndarray
    spw_pos: tuple[int, ...]
    chan_ok: tuple[np.ndarray, ...]
    freq_hz: tuple[np.ndarray, ...]
    spw_n_chan: tuple[int, ...]  # channels of each slice's whole spw
    spec: PassSpec = PassSpec()


COUNT_ROWS, COUNT_VALID, COUNT_WEIGHTED = range(3)
N_COUNTS = 3


@dataclass(frozen=True)
class MsSums:
    """The sums of one MS (or of the MSs of an epoch, added).

    point : (n_cal, n_spw, N_SUMS), fluxfit's sums (zero when the pass kept binned
    sums: the point sums then come from them, after the cuts, cuts.cut_sums);
    rows_unflagged : (n_cal,) rows with an unflagged parallel-hand visibility in the
    read channels;
    counts : (n_cal, N_COUNTS) rows read (COUNT_ROWS), Stokes I visibilities that are
    unflagged, finite and selected (COUNT_VALID), and those of them with a positive
    weight (COUNT_WEIGHTED): what tells a user why a calibrator has no flux;
    time_range : (n_cal, 2) first and last TIME (MJD s) of rows with usable data,
    NaN without; uv_limits : shortest and longest uv distance (wavelengths) of the
    usable data; model_bins : (n_cal, n_spw, n_bin, N_BIN_SUMS); binned : per spw
    position, ChannelBins over the spw's channels; cells : per calibrator, its (u, v)
    cells.
    """

    point: np.ndarray
    rows_unflagged: np.ndarray
    time_range: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.zeros((0, N_COUNTS), np.int64))
    uv_limits: tuple[float, float] | None = None
    model_bins: np.ndarray | None = None
    binned: tuple[ChannelBins | None, ...] | None = None
    cells: tuple[GridCells, ...] | None = None

    def __add__(self, other: MsSums) -> MsSums:
        """The sums of two MSs of one epoch."""
        return MsSums(
            point=self.point + other.point,
            rows_unflagged=self.rows_unflagged + other.rows_unflagged,
            counts=self.counts + other.counts,
            time_range=np.stack(
                [
                    np.fmin(self.time_range[:, 0], other.time_range[:, 0]),
                    np.fmax(self.time_range[:, 1], other.time_range[:, 1]),
                ],
                axis=1,
            ),
            uv_limits=_both(self.uv_limits, other.uv_limits, _wider),
            model_bins=_both(self.model_bins, other.model_bins, np.add),
            binned=_both(self.binned, other.binned, _add_binned),
            cells=_both(self.cells, other.cells, _add_cells),
        )


def _both(a, b, add):
    return None if a is None or b is None else add(a, b)


def _wider(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), max(a[1], b[1])


def _add_binned(a, b):
    return tuple(None if x is None or y is None else x + y for x, y in zip(a, b, strict=True))


def _add_cells(a, b):
    return tuple(x + y for x, y in zip(a, b, strict=True))


def sum_epochs(sums: Iterable[MsSums], epoch_of_ms: np.ndarray, n_epoch: int) -> list[MsSums]:
    """Per epoch, the sums of its MSs (in MS order)."""
    out: list[MsSums | None] = [None] * n_epoch
    for m, s in enumerate(sums):
        e = int(epoch_of_ms[m])
        prev = out[e]
        out[e] = s if prev is None else prev + s
    return [s for s in out if s is not None]


@dataclass
class _Stokes:
    """One chunk as Stokes I; arrays (row, chan) or (row,)."""

    slice_index: int
    v_i: np.ndarray
    valid: np.ndarray
    w_i: np.ndarray
    group: np.ndarray
    uvdist_m: np.ndarray
    uv_m: np.ndarray  # (2, row), empty when the plan needs no uv
    time: np.ndarray
    any_unflagged: np.ndarray  # (row,) bool


def _stokes_of(chunk: VisChunk, plan: MsPlan, scratch: Scratch) -> _Stokes:
    """Stokes I of a chunk with the plan's channel selection and uv range as flags."""
    k = chunk.spw_index
    chan_ok, freq = plan.chan_ok[k], plan.freq_hz[k]
    group = plan.field_index[chunk.field_id]
    bad = ~chan_ok[group] if chan_ok.ndim == 2 else ~chan_ok[None, :]
    uvdist, uv = np.empty(0), np.empty((2, 0))
    if chunk.uv_m is not None:
        uv = chunk.uv_m
        uvdist = np.hypot(uv[0], uv[1])
    if plan.spec.uvrange is not None:
        bad = bad | ~plan.spec.uvrange.mask(uvdist, freq)
    flag = chunk.flag | bad[..., None] if bad.any() else chunk.flag
    v_i, valid = stokes_i(chunk.data, flag, scratch)
    return _Stokes(
        slice_index=k,
        v_i=v_i,
        valid=valid,
        w_i=stokes_i_weight(chunk.weight),
        group=group,
        uvdist_m=uvdist,
        uv_m=uv,
        time=chunk.time,
        any_unflagged=np.asarray(~chunk.flag.all(axis=(1, 2))),
    )


def _usable_rows(s: _Stokes) -> np.ndarray:
    """(row,) rows with a valid, positively weighted visibility."""
    if s.w_i.ndim == 1:
        return np.asarray((s.w_i > 0) & s.valid.any(axis=1))
    return np.asarray((s.valid & (s.w_i > 0)).any(axis=1))


class _Accumulator:
    """The running sums of one MS pass."""

    def __init__(self, plan: MsPlan):
        self.plan, spec = plan, plan.spec
        self.spec = spec
        n_cal, n_spw = plan.n_cal, plan.n_spw
        self.point = np.zeros((n_cal, n_spw, N_SUMS))
        self.rows_unflagged = np.zeros(n_cal, np.int64)
        self.counts = np.zeros((n_cal, N_COUNTS), np.int64)
        self.time_range = np.stack([np.full(n_cal, np.inf), np.full(n_cal, -np.inf)], axis=1)
        self.uv_limits = (np.inf, 0.0)
        self.model_bins = None
        if spec.model_edges is not None:
            self.model_bins = np.zeros((n_cal, n_spw, spec.model_edges.size - 1, N_BIN_SUMS))
        self.grid = None
        if spec.grid is not None:
            self.grid = np.zeros((n_cal, spec.grid.n_cells, N_GRID_SUMS))
        self.scratch = Scratch()
        self.batch = BinBatch(self.scratch)
        self.binners: list[ChannelBinner | None] = [None] * n_spw
        if spec.bins is not None:
            pd, per_channel = spec.bins.per_decade, spec.bins.per_channel
            slices = zip(plan.spw_pos, plan.spw_n_chan, plan.selection.spws, strict=True)
            for pos, n_chan, sl in slices:
                self.binners[pos] = ChannelBinner(
                    n_cal, n_chan, sl.chan_first, pd, per_channel, self.scratch
                )

    def add(self, s: _Stokes) -> None:
        plan, spec, n_cal = self.plan, self.spec, self.plan.n_cal
        pos = plan.spw_pos[s.slice_index]
        if spec.bins is None:
            per_row = row_sums(s.v_i, s.valid, s.w_i)
            self.point[:, pos] += point_sums(per_row, s.group, n_cal)
            self._add_rows(s, per_row[:, SUM_N] > 0)
        else:  # the point sums come from the bins after the cuts (cuts.cut_sums)
            self._add_rows(s, _usable_rows(s))
        k = plan.freq_hz[s.slice_index] / C_M_S  # wavelengths per metre, (chan,)
        if spec.uv_limits:
            self._add_limits(s, k)
        if self.model_bins is not None and spec.model_edges is not None:
            q = s.uvdist_m[:, None] * k[None, :]
            self.model_bins[:, pos] += bin_sums(
                s.v_i, s.valid, s.w_i, q, s.group, n_cal, spec.model_edges
            )
            del q
        if self.grid is not None and spec.grid is not None:
            u, v = s.uv_m[0][:, None] * k[None, :], s.uv_m[1][:, None] * k[None, :]
            self.grid += grid_sums(s.v_i, s.valid, s.w_i, u, v, s.group, n_cal, spec.grid)
            del u, v
        binner = self.binners[pos]
        if binner is not None:
            self.batch.add(binner, s.v_i, s.valid, s.w_i, s.group, s.uvdist_m, k)
            self._bound_bins()

    def _add_rows(self, s: _Stokes, usable: np.ndarray) -> None:
        n_cal = self.plan.n_cal
        self.rows_unflagged += np.bincount(s.group[s.any_unflagged], minlength=n_cal)
        n_valid = np.count_nonzero(s.valid, axis=1)
        if s.w_i.ndim == 1:
            n_weighted = n_valid * (s.w_i > 0)
        else:
            n_weighted = np.count_nonzero(s.valid & (s.w_i > 0), axis=1)
        for col, per_row in (
            (COUNT_ROWS, None),
            (COUNT_VALID, n_valid),
            (COUNT_WEIGHTED, n_weighted),
        ):
            self.counts[:, col] += np.bincount(s.group, per_row, minlength=n_cal).astype(np.int64)
        for j in range(n_cal):
            t = s.time[usable & (s.group == j)]
            if t.size:
                self.time_range[j] = (
                    min(self.time_range[j, 0], t.min()),
                    max(self.time_range[j, 1], t.max()),
                )

    def _add_limits(self, s: _Stokes, k: np.ndarray) -> None:
        """Shortest and longest uv distance q = |uv| nu / c of the usable points."""
        ok = s.valid & (s.w_i > 0 if s.w_i.ndim == 2 else (s.w_i > 0)[:, None])
        if ok.all():
            # q = d k with d, k > 0: its extremes are those of d times those of k (the
            # rounded product is monotonic in each factor), without a (row, chan) array
            q = np.array([s.uvdist_m.min() * k.min(), s.uvdist_m.max() * k.max()])
        elif ok.any():
            q = (s.uvdist_m[:, None] * k[None, :])[ok]
        else:
            return
        lo, hi = self.uv_limits
        self.uv_limits = (min(lo, float(q.min())), max(hi, float(q.max())))

    def _bound_bins(self) -> None:
        binners = [b for b in self.binners if b is not None]
        while (
            sum(b.nbytes for b in binners) > self.spec.max_bin_bytes
            and binners[0].per_decade > MODEL_PER_DECADE
        ):
            for b in binners:
                b.coarsen()

    def result(self) -> MsSums:
        self.batch.flush()
        self._bound_bins()
        time_range = np.where(np.isfinite(self.time_range), self.time_range, np.nan)
        return MsSums(
            point=self.point,
            rows_unflagged=self.rows_unflagged,
            time_range=time_range,
            counts=self.counts,
            uv_limits=self.uv_limits if self.spec.uv_limits else None,
            model_bins=self.model_bins,
            binned=None
            if self.spec.bins is None
            else tuple(None if b is None else b.bins for b in self.binners),
            cells=None if self.grid is None else GridCells.from_dense(self.grid),
        )


def accumulate(chunks: Iterable[VisChunk], plan: MsPlan) -> MsSums:
    """One pass over an MS's chunks (almacal.io.ms.vis_chunks(plan.selection)).

    Memory: one chunk and its Stokes I at a time, plus the sums and the pass's
    chunk-sized work arrays (almacal.scratch).
    """
    acc = _Accumulator(plan)
    for chunk in chunks:
        s = _stokes_of(chunk, plan, acc.scratch)
        del chunk  # the raw columns go before the reductions allocate
        acc.add(s)
        del s
    return acc.result()
