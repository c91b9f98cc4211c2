"""fitposition: weighted Stokes I sums on a coarse 2-D (u, v) grid in wavelengths.

A source offset from the phase centre by (l, m) has the visibility
V(u, v) = A(q) exp(+2 pi i (u l + v m)) (CASA's sign, CASA_NOTES), so its phase
varies over the uv plane and a uv-distance binning cannot see it. Each
visibility is folded onto the half plane v >= 0 with V(-u, -v) = conj V(u, v)
and added to the cell holding it: sum(w), sum(w Re V), sum(w Im V), sum(w |V|^2),
the count and sum(w u), sum(w v). A fit evaluates the model at each cell's
weighted centroid, so only the spread of (u, v) about the centroid is lost.

Cell size: the phase of a source at offset r changes by 2 pi cell r across a
cell. Keeping that <= CELL_PHASE_RAD (0.05 rad) at the largest offset fitted
bounds the amplitude lost by averaging a cell about its centroid by
(CELL_PHASE_RAD / 2)^2 = 6e-4 (two visibilities at opposite edges; 1e-4 for a
uniformly filled cell), the same in every epoch of one source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from almacal.constants import ARCSEC_RAD as ARCSEC

# Columns of a grid sums array (..., n_cell, N_GRID_SUMS).
G_W, G_W_RE, G_W_IM, G_W_ABS2, G_N, G_W_U, G_W_V = range(7)
N_GRID_SUMS = 7

CELL_PHASE_RAD = 0.05
MAX_OFFSET_ARCSEC = 4.0
"""Offsets fitted up to this (a few arcsec: catalogue vs. true position of a YSO)."""
MIN_OFFSET_ARCSEC = 1.0
"""Below this the grid cannot hold the offsets a fit is for: refuse."""
MAX_GRID_CELLS = 2**21
"""Cells over all calibrators (~120 MB of sums): memory stays flat."""


@dataclass(frozen=True)
class UvGrid:
    """A half-plane grid: u index in [-n_u, n_u], v index in [0, n_v], cell in wavelengths."""

    cell_lambda: float
    n_u: int
    n_v: int
    max_offset_arcsec: float
    q_max_lambda: float

    @property
    def n_cells(self) -> int:
        return (2 * self.n_u + 1) * (self.n_v + 1)

    def describe(self) -> str:
        return "%d x %d cells of %.0f lambda up to %.1f klambda, offsets <= %.2f arcsec" % (
            2 * self.n_u + 1,
            self.n_v + 1,
            self.cell_lambda,
            self.q_max_lambda / 1e3,
            self.max_offset_arcsec,
        )


def uv_grid(q_max_lambda: float, n_group: int) -> UvGrid:
    """The grid for data out to q_max_lambda (longest baseline x highest frequency).

    The cell follows from MAX_OFFSET_ARCSEC and CELL_PHASE_RAD; when that grid
    would exceed MAX_GRID_CELLS for n_group calibrators, the cell grows and the
    largest offset fitted shrinks with it; below MIN_OFFSET_ARCSEC ValueError.
    """
    if not (np.isfinite(q_max_lambda) and q_max_lambda > 0):
        raise ValueError(f"fitposition: no usable baselines (longest {q_max_lambda!r} lambda)")
    cell = CELL_PHASE_RAD / (2.0 * math.pi * MAX_OFFSET_ARCSEC * ARCSEC)
    n_u = int(math.ceil(q_max_lambda / cell))
    cells = n_group * (2 * n_u + 1) * (n_u + 1)
    if cells > MAX_GRID_CELLS:
        # (2 n + 1)(n + 1) ~ 2 n^2 cells per calibrator
        n_u = int(math.sqrt(MAX_GRID_CELLS / (2.0 * n_group))) - 1
        cell = q_max_lambda / n_u
    max_offset = CELL_PHASE_RAD / (2.0 * math.pi * cell) / ARCSEC
    if max_offset < MIN_OFFSET_ARCSEC:
        raise ValueError(
            "fitposition=True: baselines up to %.0f klambda need more than %d uv cells to fit "
            "offsets of %.1f arcsec (a phase change <= %.2f rad per cell); restrict uvrange "
            "(e.g. uvrange='<%.0fklambda') or fit fewer calibrators"
            % (
                q_max_lambda / 1e3,
                MAX_GRID_CELLS,
                MIN_OFFSET_ARCSEC,
                CELL_PHASE_RAD,
                q_max_lambda / 1e3 * max_offset / MIN_OFFSET_ARCSEC,
            )
        )
    return UvGrid(
        cell_lambda=cell,
        n_u=n_u,
        n_v=n_u,
        max_offset_arcsec=min(max_offset, MAX_OFFSET_ARCSEC),
        q_max_lambda=float(q_max_lambda),
    )


def grid_sums(
    v_i: np.ndarray,
    valid: np.ndarray,
    w_i: np.ndarray,
    u_lambda: np.ndarray,
    v_lambda: np.ndarray,
    group: np.ndarray,
    n_group: int,
    grid: UvGrid,
) -> np.ndarray:
    """Weighted sums per (group, cell): (n_group, grid.n_cells, N_GRID_SUMS).

    v_i, valid, u_lambda, v_lambda : (row, chan); w_i : (row,) or (row, chan);
    group : (row,). Points beyond the grid (it must be built for the data's
    longest baseline) are left out.
    """
    # sign folds (u, v, V) onto v >= 0; few full-size temporaries, no boolean
    # compress: points not used get weight 0 and a valid key
    sign = np.where((v_lambda < 0) | ((v_lambda == 0) & (u_lambda < 0)), -1.0, 1.0)
    u = u_lambda * sign
    v = v_lambda * sign
    fu = np.rint(u * (1.0 / grid.cell_lambda))
    fv = np.rint(v * (1.0 / grid.cell_lambda))
    w = np.where(valid, w_i if w_i.ndim == 2 else w_i[:, None], 0.0)
    w[(np.abs(fu) > grid.n_u) | (fv > grid.n_v)] = 0.0
    np.clip(fu, -grid.n_u, grid.n_u, out=fu)
    np.minimum(fv, grid.n_v, out=fv)
    fu += grid.n_u
    fu *= grid.n_v + 1
    fu += fv
    fu += (group * grid.n_cells)[:, None]
    key = fu.astype(np.int64).ravel()
    del fu, fv
    size = n_group * grid.n_cells
    out = np.empty((size, N_GRID_SUMS))
    wv = w * v_i
    wv.imag *= sign
    for col, weights in (
        (G_W, w),
        (G_W_RE, wv.real),
        (G_W_IM, wv.imag),
        (G_W_ABS2, w * (v_i.real**2 + v_i.imag**2)),
        (G_N, (w > 0).astype(float)),
        (G_W_U, w * u),
        (G_W_V, w * v),
    ):
        out[:, col] = np.bincount(key, weights=weights.ravel(), minlength=size)
    return out.reshape(n_group, grid.n_cells, N_GRID_SUMS)


def occupied_cells(sums: np.ndarray) -> list[np.ndarray]:
    """(n_group, n_cell, N_GRID_SUMS) -> per group the (k, N_GRID_SUMS) rows of the
    cells with data: what a fit needs, a few hundred to a few 10^4 rows."""
    return [s[s[:, G_W] > 0] for s in sums]


@dataclass(frozen=True)
class GridCells:
    """The occupied cells of one group: cell (k,) indices, ascending, and their sums
    (k, N_GRID_SUMS). What one MS returns instead of its dense grid."""

    cell: np.ndarray
    sums: np.ndarray

    @classmethod
    def from_dense(cls, sums: np.ndarray) -> tuple[GridCells, ...]:
        """(n_group, n_cell, N_GRID_SUMS) -> one GridCells per group."""
        return tuple(cls(np.flatnonzero(s[:, G_W] > 0), s[s[:, G_W] > 0]) for s in sums)

    def __add__(self, other: GridCells) -> GridCells:
        cell = np.union1d(self.cell, other.cell)
        out = np.zeros((cell.size, N_GRID_SUMS))
        for c in (self, other):
            out[np.searchsorted(cell, c.cell)] += c.sums
        return GridCells(cell, out)

    def within(self, grid: UvGrid, lo_lambda: float, hi_lambda: float) -> GridCells:
        """Only the cells wholly inside the annulus lo <= sqrt(u^2 + v^2) <= hi."""
        iu = np.abs(self.cell // (grid.n_v + 1) - grid.n_u)
        iv = self.cell % (grid.n_v + 1)
        half = 0.5 * grid.cell_lambda
        near = np.hypot(
            np.maximum(iu * grid.cell_lambda - half, 0.0),
            np.maximum(iv * grid.cell_lambda - half, 0.0),
        )
        far = np.hypot(iu * grid.cell_lambda + half, iv * grid.cell_lambda + half)
        keep = (near >= lo_lambda) & (far <= hi_lambda)
        return GridCells(self.cell[keep], self.sums[keep])
