"""Scaled phase tables and the DGC offset (seed 003 sections 2.1 and 2.2.2).

Solutions are plain arrays (PhaseSolutions); almacal.io.b2b_calls reads and
writes them as CASA caltables. The low-frequency solutions of the DGC source
and of the phase calibrator are unwrapped jointly per antenna, spw and
polarization (see almacal.b2b.phases), interpolated where needed and scaled
by nu_high / nu_low into rows of the high-frequency spws. Written that way,
applycal needs neither linearPD nor a spwmap (CASA < 6.7.3 can slip cycles
with that combination, CAS-14703).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from almacal.b2b.phases import interp_phase, unwrap_joint, wrap
from almacal.b2b.structure import B2BStructure
from almacal.solutions import PhaseSolutions

TIME_MATCH_S = 1.0

# CASA versions before this can slip phase cycles with linearPD and a non-trivial spwmap.
LINEARPD_SPWMAP_FIXED = (6, 7, 3)


def parse_casa_version(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a CASA version string: '6.7.0.31', '6.7.0-31', '6.7.3rc1'.

    Raises ValueError when the string does not start with three dotted numbers: an
    unparsable version must not pass the CAS-14703 check by accident.
    """
    m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", str(text))
    if m is None:
        raise ValueError(f"cannot read a CASA version from {text!r}")
    return int(m[1]), int(m[2]), int(m[3])


def refuse_linearpd_spwmap(
    version: Sequence[int], interp: str | Sequence[str], spwmap: Sequence[Any]
) -> None:
    """CAS-14703: refuse linearPD with a non-identity spwmap on CASA < 6.7.3."""
    if tuple(version) >= LINEARPD_SPWMAP_FIXED:
        return
    if isinstance(interp, str):
        interp = [interp]
    if spwmap and all(isinstance(v, int) for v in spwmap):
        spwmap = [spwmap]  # CASA's flat form: one map for the first table
    for k, mode in enumerate(interp):
        m = list(spwmap[k]) if k < len(spwmap) else []
        if "PD" in mode and m and m != list(range(len(m))):
            raise RuntimeError(
                "CASA %s: applycal interp=%r with spwmap=%r can slip phase cycles "
                "(CAS-14703, fixed in 6.7.3); b2b_phasetransfer writes tables already "
                "scaled to the high-frequency spws instead" % (".".join(map(str, version)), mode, m)
            )


def joint_unwrap(tables: Sequence[PhaseSolutions]) -> list[np.ndarray]:
    """Unwrapped phases for each table, unwrapped jointly in time per (antenna, spw, pol).

    Flagged solutions come back NaN and do not take part.
    """
    time = np.concatenate([t.time for t in tables])
    ant = np.concatenate([t.antenna for t in tables])
    spw = np.concatenate([t.spw for t in tables])
    phase = np.concatenate([t.phase for t in tables])
    flag = np.concatenate([t.flag for t in tables])
    out = np.full(phase.shape, np.nan)
    for a, s in {(int(x), int(y)) for x, y in zip(ant, spw, strict=True)}:
        rows = np.flatnonzero((ant == a) & (spw == s))
        for p in range(phase.shape[1]):
            ok = rows[~flag[rows, p]]
            if ok.size:
                out[ok, p] = unwrap_joint(time[ok], phase[ok, p])
    bounds = np.cumsum([0] + [t.time.size for t in tables])
    return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _scaled_low_phase(
    sol: PhaseSolutions,
    unwrapped: np.ndarray,
    *,
    spw: int,
    antenna: int,
    ratio: float,
    times: np.ndarray,
) -> np.ndarray:
    """(n_t, n_pol) ratio x the unwrapped phase of one antenna in one low spw, interpolated
    linearly to times (end values held); NaN for a polarization without a solution."""
    rows = np.flatnonzero((sol.antenna == antenna) & (sol.spw == spw))
    out = np.full((times.size, sol.n_pol), np.nan)
    for p in range(sol.n_pol):
        ok = rows[np.isfinite(unwrapped[rows, p])]
        if ok.size:
            out[:, p] = ratio * interp_phase(times, sol.time[ok], unwrapped[ok, p])
    return out


def scaled_solutions(
    sol: PhaseSolutions,
    unwrapped: np.ndarray,
    *,
    source_spw: Mapping[int, int],
    ratio: Mapping[int, float],
    times: np.ndarray,
    antennas: Sequence[int],
) -> PhaseSolutions:
    """Rows for every high spw h: ratio[h] x the unwrapped low phase of spw source_spw[h],
    interpolated linearly to `times` (end values held), per antenna and polarization.

    Antennas with no unflagged low solution get flagged rows.
    """
    times = np.unique(times)
    # Each spw's solutions carry their own mean time (microseconds apart): one row time
    # per cluster keeps the table small without changing the interpolated values.
    times = times[np.concatenate([[True], np.diff(times) > 1e-3])]
    n_t, n_pol = times.size, sol.n_pol
    field = int(np.bincount(sol.field).argmax())
    refant = (
        int(np.bincount(sol.refant[sol.refant >= 0]).argmax()) if np.any(sol.refant >= 0) else -1
    )
    parts = []
    for h in sorted(ratio):
        for a in antennas:
            phase = _scaled_low_phase(
                sol, unwrapped, spw=source_spw[h], antenna=a, ratio=ratio[h], times=times
            )
            flag = np.isnan(phase)
            parts.append((h, a, np.where(flag, 0.0, phase), flag))
    n = n_t * len(parts)
    return PhaseSolutions(
        time=np.tile(times, len(parts)),
        field=np.full(n, field),
        spw=np.repeat([h for h, *_ in parts], n_t),
        antenna=np.repeat([a for _, a, *_ in parts], n_t),
        refant=np.full(n, refant),
        scan=np.full(n, -1),
        phase=wrap(np.concatenate([p for *_, p, _ in parts])),
        flag=np.concatenate([f for *_, f in parts]),
        snr=np.full((n, n_pol), 1.0e3),
    )


@dataclass(frozen=True)
class DgcOffsets:
    """Band offsets per DGC block. offset : (n_block, n_ant, n_spw, n_pol) rad, NaN if unsolved."""

    times: np.ndarray  # (n_block,) solution times (MJD s)
    spws: tuple[int, ...]
    offset: np.ndarray

    @classmethod
    def from_solutions(
        cls, sol: PhaseSolutions, *, n_antenna: int, spws: Sequence[int]
    ) -> DgcOffsets:
        # Each spw's solution carries its own mean time (they differ by microseconds):
        # solutions within TIME_MATCH_S of each other belong to one block.
        t = np.unique(sol.time)
        group = np.concatenate([[0], np.cumsum(np.diff(t) > TIME_MATCH_S)])
        times = np.array([t[group == g].mean() for g in range(group[-1] + 1)])
        off = np.full((times.size, n_antenna, len(spws), sol.n_pol), np.nan)
        bi = group[np.searchsorted(t, sol.time)]
        si = np.searchsorted(np.asarray(spws), sol.spw)
        ph = np.where(sol.flag, np.nan, sol.phase)
        off[bi, sol.antenna, si] = ph
        return cls(times, tuple(spws), off)

    def unwrapped(self) -> np.ndarray:
        """Offsets unwrapped across blocks (a drift of less than pi between blocks)."""
        filled = np.where(np.isfinite(self.offset), self.offset, 0.0)
        u = np.unwrap(filled, axis=0)
        return np.where(np.isfinite(self.offset), u, np.nan)

    def at(self, t: np.ndarray) -> np.ndarray:
        """(n_t, n_ant, n_spw, n_pol) offsets interpolated linearly between blocks, held outside."""
        u = self.unwrapped()
        if self.times.size == 1:
            return np.broadcast_to(u[0], (np.size(t), *u.shape[1:]))
        flat = u.reshape(u.shape[0], -1)
        out = np.empty((np.size(t), flat.shape[1]))
        for k in range(flat.shape[1]):
            ok = np.isfinite(flat[:, k])
            out[:, k] = np.interp(t, self.times[ok], flat[ok, k]) if ok.any() else np.nan
        return out.reshape(np.size(t), *u.shape[1:])


def spw_sources(
    structure: B2BStructure, combine_spw: bool, dgc_low: PhaseSolutions
) -> tuple[dict[int, int], dict[int, float]]:
    """high spw -> the low spw whose solutions it takes, and high spw -> nu_high / nu_low.

    Solutions of combined spws sit in one spw (the one gaincal labels most rows with)
    and belong to the mean low frequency.
    """
    st = structure
    if combine_spw:
        nu_low = float(np.mean([st.spw_freq_hz[s] for s in st.low_spws]))
        key = int(np.bincount(dgc_low.spw).argmax())
        return {h: key for h in st.high_spws}, {h: st.spw_freq_hz[h] / nu_low for h in st.high_spws}
    return dict(st.spwmap), {h: st.ratio(h) for h in st.high_spws}


@dataclass(frozen=True)
class TransferSolutions:
    """What the gaincal sequence solved, ready to scale and to check.

    dgc_low, phasecal : low-frequency solutions; dgc_low_unwrapped : (n_row, n_pol) the
    DGC ones unwrapped jointly with the phase calibrator's; offsets : band offsets per
    block; source_spw, ratio : per high spw, its low spw and nu_high / nu_low.
    """

    dgc_low: PhaseSolutions
    dgc_low_unwrapped: np.ndarray
    phasecal: PhaseSolutions
    offsets: DgcOffsets
    source_spw: dict[int, int]
    ratio: dict[int, float]

    def transferred_phase(self, times: np.ndarray, n_antenna: int) -> np.ndarray:
        """(n_t, n_ant, n_spw) phase (rad) the transfer gives the high spws (offsets.spws
        order) at times: scaled DGC-low phase + interpolated band offset, averaged over
        polarizations (NaN where an antenna has no solution)."""
        off = self.offsets.at(times)  # (n_t, n_ant, n_spw, n_pol)
        out = np.empty(off.shape[:3])
        for j, h in enumerate(self.offsets.spws):
            scaled = np.stack(
                [
                    _scaled_low_phase(
                        self.dgc_low,
                        self.dgc_low_unwrapped,
                        spw=self.source_spw[h],
                        antenna=a,
                        ratio=self.ratio[h],
                        times=times,
                    )
                    for a in range(n_antenna)
                ],
                axis=1,
            )
            out[:, :, j] = np.angle(np.nanmean(np.exp(1j * (scaled + off[:, :, j, :])), axis=2))
        return out
