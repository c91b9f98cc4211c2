"""Synthetic measurement sets in memory and a reader over them, for relcal's core.

Each FakeMs holds the main-table columns relcal_fit reads as casatools shapes them
((corr, chan, row) cells; C-ordered here where casatools' are Fortran-ordered, so
the unit tests see the other memory order than the CASA tests), for calibrator
fields of known flux: per epoch a flux
scale g, per calibrator a flux S (optionally a Gaussian envelope and a line in one
channel), XX/YY with complex noise sigma per part and exact weights 1/sigma^2.
FakeReader implements relcal.run.MsReader over them and counts the visibility
passes per MS.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from almacal.constants import ARCSEC_RAD, C_M_S
from almacal.msinfo import FieldInfo, MsInfo, SpwInfo
from almacal.vischunk import ReadSelection, VisChunk

FIELDS = ("A", "B", "C", "TARGET")  # the first three are calibrators
FLUX_JY = np.array([1.2, 0.8, 0.5])
SPW_GHZ = (340.0, 350.0)
N_CHAN = 8
DAY_S = 86400.0


@dataclass
class FakeMs:
    info: MsInfo
    field_id: np.ndarray  # (row,) per data description (one per spw)
    time: np.ndarray
    uvw: np.ndarray  # (3, row)
    ant: np.ndarray  # (2, row)
    data: list[np.ndarray]  # per spw (corr, chan, row)
    flag: list[np.ndarray]
    weight: np.ndarray  # (corr, row)

    @property
    def n_row(self) -> int:
        return self.field_id.size


def channel_freqs(spw: int) -> np.ndarray:
    return (SPW_GHZ[spw] + 0.25 * (np.arange(N_CHAN) - N_CHAN / 2)) * 1e9


def fake_ms(
    rng: np.random.Generator,
    path: str,
    *,
    day: float,
    scale: float,
    sigma: float = 0.3,
    n_row: int = 3000,
    baseline_m: tuple[float, float] = (9.0, 45.0),
    envelope: float = 0.0,
    fwhm_arcsec: float = 8.0,
    line_jy: float = 0.0,
    offset_arcsec: tuple[float, float] = (0.0, 0.0),
) -> FakeMs:
    """One epoch: rows spread over the four fields, two spws of N_CHAN channels.

    The calibrators' visibility is scale x (S (1 - envelope) + S envelope x Gaussian),
    plus line_jy in channel 3 of spw 0 of calibrator A; 1 row in 50 is an
    autocorrelation and must be left out.
    """
    field_id = rng.integers(0, len(FIELDS), n_row)
    b = rng.uniform(*baseline_m, n_row)
    ang = rng.uniform(0, 2 * np.pi, n_row)
    uvw = np.stack([b * np.cos(ang), b * np.sin(ang), rng.normal(0, 5, n_row)])
    ant = np.stack([rng.integers(0, 8, n_row), rng.integers(8, 16, n_row)])
    ant[1, ::50] = ant[0, ::50]
    data, flags = [], []
    for spw in range(len(SPW_GHZ)):
        k = channel_freqs(spw) / C_M_S
        u, v = uvw[0][None, :] * k[:, None], uvw[1][None, :] * k[:, None]  # (chan, row)
        q = np.hypot(u, v)
        flux = np.append(FLUX_JY, 0.0)[field_id][None, :]
        gauss = np.exp(-((np.pi * fwhm_arcsec * ARCSEC_RAD * q) ** 2) / (4 * math.log(2)))
        vis = scale * flux * ((1 - envelope) + envelope * gauss)
        phase = 2 * np.pi * (u * offset_arcsec[0] + v * offset_arcsec[1]) * ARCSEC_RAD
        vis = vis * np.exp(1j * phase)
        if spw == 0:
            vis[3] += scale * line_jy * (field_id == 0)
        noise = sigma * (
            rng.standard_normal((2, *q.shape)) + 1j * rng.standard_normal((2, *q.shape))
        )
        data.append(vis[None] + noise)
        flags.append(np.zeros((2, N_CHAN, n_row), bool))
    info = MsInfo(
        path=path,
        fields=tuple(FieldInfo(i, n) for i, n in enumerate(FIELDS)),
        spws=tuple(SpwInfo(s, channel_freqs(s)) for s in range(len(SPW_GHZ))),
        ddid_spw=np.arange(len(SPW_GHZ)),
        ddid_pol=np.zeros(len(SPW_GHZ), int),
        corr_types=(np.array([9, 12]),),
        columns=frozenset({"DATA"}),
        has_weight_spectrum=False,
        start_mjd_s=(58400.0 + day) * DAY_S,
        antenna_names=tuple(f"CM{i:02d}" for i in range(16)),
        antenna_itrf_m=np.column_stack([np.arange(16.0) - 7.2, np.zeros(16), np.zeros(16)]),
    )
    weight = np.full((2, n_row), sigma**-2)
    return FakeMs(info, field_id, (58400.0 + day) * DAY_S + np.sort(rng.uniform(0, 3600, n_row)),
                  uvw, ant, data, flags, weight)  # fmt: skip


def true_flux(scale: np.ndarray) -> np.ndarray:
    """(n_epoch, n_cal) point fluxes of the calibrators without envelope or line."""
    return np.asarray(scale)[:, None] * FLUX_JY[None, :]


class FakeReader:
    """relcal.run.MsReader over FakeMs objects; chunk_rows rows per chunk."""

    def __init__(self, sets: list[FakeMs], chunk_rows: int = 700):
        self.sets = {s.info.path: s for s in sets}
        self.chunk_rows = chunk_rows
        self.passes: Counter[str] = Counter()

    def read_info(self, path: str) -> MsInfo:
        return self.sets[path].info

    def select_channels(self, info: MsInfo, spw: str) -> dict[int, np.ndarray]:
        ids = [int(s) for s in spw.split(",")] if spw.strip() else range(len(info.spws))
        return {s: np.ones(N_CHAN, bool) for s in ids}

    def _rows(self, ms: FakeMs, sel: ReadSelection) -> np.ndarray:
        return np.flatnonzero(np.isin(ms.field_id, sel.field_ids) & (ms.ant[0] != ms.ant[1]))

    def chunks(self, selection: ReadSelection) -> Iterator[VisChunk]:
        ms = self.sets[selection.path]
        self.passes[selection.path] += 1
        rows = self._rows(ms, selection)
        for k, s in enumerate(selection.spws):
            for dd in s.dds:
                corr = dd.corr_index
                chans = slice(s.chan_first, s.chan_last + 1)
                for start in range(0, rows.size, self.chunk_rows):
                    r = rows[start : start + self.chunk_rows]
                    yield VisChunk(
                        spw_index=k,
                        data=ms.data[dd.ddid][np.ix_(corr, np.arange(N_CHAN)[chans], r)].T,
                        flag=ms.flag[dd.ddid][np.ix_(corr, np.arange(N_CHAN)[chans], r)].T,
                        weight=ms.weight[np.ix_(corr, r)].T,
                        field_id=ms.field_id[r],
                        time=ms.time[r],
                        uv_m=ms.uvw[:2, r] if selection.uvw else None,
                    )

    def longest_baselines_m(self, selection: ReadSelection) -> tuple[float, ...]:
        ms = self.sets[selection.path]
        rows = self._rows(ms, selection)
        d = float(np.hypot(ms.uvw[0, rows], ms.uvw[1, rows]).max()) if rows.size else 0.0
        return tuple(d for _ in selection.spws)
