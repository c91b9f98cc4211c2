"""A fake of almacal.b2b.calls.CasaCalls: a small B2B observation with known phases.

Five antennas, low spws 0-1 (~90 GHz) and high spws 2-3 (~285 GHz, non-integer
ratios), two DGC blocks around a phase-calibrator / target cycle. Each antenna's
low-frequency phase is linear in time (several turns over the run, < pi between
consecutive solutions relative to any antenna); the high-frequency phase is
ratio x the low one plus a band offset per antenna and spw. The fake gaincal
solves like CASA's on noise-free data: phases relative to refant, one per scan
(solint='inf') or per integration, and the band offset of a block through the
pre-applied table it is given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from almacal.baselinevis import BaselineVis
from almacal.msinfo import FieldInfo, MsInfo, ScanInfo, SpwInfo
from almacal.solutions import PhaseSolutions

LOW, HIGH = (0, 1), (2, 3)
FREQ_HZ = {0: 90.1e9, 1: 101.3e9, 2: 284.3e9, 3: 296.9e9}
SPWMAP = {2: 0, 3: 1}  # by baseband
BBC = {0: 1, 1: 2, 2: 1, 3: 2}
N_ANT = 5
T0 = 5_013_111_516.0  # MJD s: an evening at ALMA
INT_S = 2.0  # integration
REF, SRC = "CALIBRATE_DIFFGAIN#REFERENCE", "CALIBRATE_DIFFGAIN#ON_SOURCE"
PHASE, TARGET = "CALIBRATE_PHASE#ON_SOURCE", "OBSERVE_TARGET#ON_SOURCE"

# (field, band, intent) per scan 1..17, one scan every 10 s, 3 integrations each: the
# 76 s between the DGC blocks is above the automatic block gap (60 s).
LAYOUT = (
    *[("DGC", "low", REF), ("DGC", "high", SRC)] * 2,
    ("DGC", "low", REF),
    *[("PC", "low", PHASE), ("TGT", "high", TARGET)] * 3,
    ("PC", "low", PHASE),
    *[("DGC", "low", REF), ("DGC", "high", SRC)] * 2,
    ("DGC", "low", REF),
)
FIELDS = ("DGC", "PC", "TGT")


def _wrap(x: np.ndarray) -> np.ndarray:
    return np.mod(x + np.pi, 2 * np.pi) - np.pi


class Truth:
    """phase_low(a, s, t) = alpha_a + beta_a (t - T0) + gamma_as; phase_high(a, h, t) =
    ratio_h phase_low(a, map[h], t) + theta_ah (rad)."""

    def __init__(self, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.alpha = rng.uniform(-np.pi, np.pi, N_ANT)
        # <= 0.05 rad/s: < 2 rad between consecutive solutions (<= 20 s apart) relative
        # to any antenna, up to ~16 rad over the 164 s run.
        self.beta = rng.uniform(-0.05, 0.05, N_ANT)
        self.gamma = rng.uniform(-0.3, 0.3, (N_ANT, 4))
        self.theta = rng.uniform(-np.pi, np.pi, (N_ANT, 4))

    def low(self, a: int, spw: int, t: np.ndarray) -> np.ndarray:
        return self.alpha[a] + self.beta[a] * (t - T0) + self.gamma[a, spw]

    def high(self, a: int, spw: int, t: np.ndarray) -> np.ndarray:
        ratio = FREQ_HZ[spw] / FREQ_HZ[SPWMAP[spw]]
        return ratio * self.low(a, SPWMAP[spw], t) + self.theta[a, spw]

    def phase(self, a: int, spw: int, t: np.ndarray) -> np.ndarray:
        return self.low(a, spw, t) if spw in LOW else self.high(a, spw, t)


def ms_info(path: str, *, frame: str = "J2000") -> MsInfo:
    scans, times = [], {}
    for k, (field, band, intent) in enumerate(LAYOUT):
        t = T0 + 10.0 * k + INT_S * np.arange(3)
        times[k + 1] = t
        scans.append(
            ScanInfo(
                k + 1,
                field,
                LOW if band == "low" else HIGH,
                (intent,),
                float(t[0]),
                float(t[-1]),
                FIELDS.index(field),
            )
        )
    radec = {"DGC": (343.49, 16.15), "PC": (337.42, -8.55), "TGT": (337.1, -7.9)}
    fields = tuple(
        FieldInfo(i, f, *(radec[f] if frame == "J2000" else (None, None)), frame=frame)
        for i, f in enumerate(FIELDS)
    )
    x = np.array([0.0, 150.0, 400.0, 2100.0, 4200.0])  # m: baselines above and below 1.5 km
    centre = np.array([2225061.0, -5440057.0, -2481681.0])
    return MsInfo(
        path=path,
        fields=fields,
        spws=tuple(SpwInfo(s, np.array([FREQ_HZ[s]]), f"spw{s}", BBC[s]) for s in FREQ_HZ),
        ddid_spw=np.arange(4),
        ddid_pol=np.zeros(4, dtype=int),
        corr_types=(np.array([9, 12]),),
        columns=frozenset({"DATA", "FLAG", "FLAG_ROW"}),
        has_weight_spectrum=False,
        start_mjd_s=T0,
        antenna_names=tuple(f"DA4{a}" for a in range(N_ANT)),
        antenna_itrf_m=centre + np.column_stack([x, np.zeros(N_ANT), np.zeros(N_ANT)]),
        scans=tuple(scans),
        scan_times=times,
        data_time_range=(T0, T0 + 10.0 * (len(LAYOUT) - 1) + 2 * INT_S),
    )


class FakeCasa:
    """CasaCalls over Truth; records every call in `made` (name, arguments)."""

    def __init__(self, info: MsInfo, *, noise_var: float = 1e-4, seed: int = 1) -> None:
        self.info = info
        self.truth = Truth(seed)
        self.noise_var = noise_var
        self.tables: dict[str, PhaseSolutions] = {}
        self.made: list[tuple[str, dict]] = []
        self.history: list[str] = []
        self.flagged_scans: set[int] = set()
        self.on_applycal = lambda: None

    # -- metadata and checks
    def read_ms_info(self, path: str) -> MsInfo:
        self.made.append(("read_ms_info", {"path": path}))
        return self.info

    def casa_version(self) -> str:
        return "6.7.0.31"

    def has_unflagged(self, vis: str, scans: Sequence[int], ddids: Sequence[int]) -> bool:
        return any(s not in self.flagged_scans for s in scans)

    def history_messages(self, vis: str) -> list[str]:
        return list(self.history)

    def write_history(self, vis: str, messages: list[str], origin: str) -> None:
        self.made.append(("write_history", {"vis": vis, "origin": origin}))
        self.history.extend(messages)

    # -- caltables
    def read_caltable(self, path: str) -> PhaseSolutions:
        if path not in self.tables:
            raise RuntimeError(f"caltable {path} has no solutions")
        return self.tables[path]

    def write_phase_table(self, template: str, out: str, rows: PhaseSolutions) -> None:
        assert template in self.tables  # CASA copies the template's subtables
        self._store(out, rows, append=False)

    def _store(self, path: str, rows: PhaseSolutions, *, append: bool) -> None:
        if append and path in self.tables:
            old = self.tables[path]
            rows = PhaseSolutions(
                **{k: np.concatenate([getattr(old, k), getattr(rows, k)]) for k in _FIELDS}
            )
        self.tables[path] = rows
        os.makedirs(path, exist_ok=True)  # a table is a directory: staged renames it

    # -- tasks
    def gaincal(self, *, vis: str, caltable: str, **kw: Any) -> None:
        self.made.append(("gaincal", {"vis": vis, "caltable": caltable, **kw}))
        refant = self.info.antenna_names.index(kw["refant"])
        scans = [int(s) for s in kw["scan"].split(",")]
        spws = [int(s) for s in kw["spw"].split(",")]
        if kw.get("gaintable"):
            rows = self._offsets(scans, spws, refant, self.tables[kw["gaintable"][0]])
        else:
            rows = self._low_solutions(scans, spws, refant, per_scan=kw["solint"] == "inf")
        self._store(caltable, rows, append=kw.get("append", False))

    def applycal(self, *, vis: str, **kw: Any) -> None:
        self.on_applycal()
        self.made.append(("applycal", {"vis": vis, **kw}))

    def _low_solutions(
        self, scans: list[int], spws: list[int], refant: int, *, per_scan: bool
    ) -> PhaseSolutions:
        out = []
        for s in scans:
            t_scan = self.info.scan_times[s]
            for t in [t_scan.mean()] if per_scan else t_scan:
                for spw in spws:
                    ref = self.truth.phase(refant, spw, t)
                    for a in range(N_ANT):
                        out.append((t, spw, a, s, _wrap(self.truth.phase(a, spw, t) - ref)))
        return _solutions(out, refant)

    def _offsets(
        self, scans: list[int], spws: list[int], refant: int, pre: PhaseSolutions
    ) -> PhaseSolutions:
        """One solution per spw over the block: the high phase less the pre-applied one,
        vector-averaged in time, relative to refant."""
        t = np.concatenate([self.info.scan_times[s] for s in scans])
        out = []
        for spw in spws:
            ref = self._corrected(refant, spw, t, pre)
            for a in range(N_ANT):
                z = np.mean(np.exp(1j * (self._corrected(a, spw, t, pre) - ref)))
                out.append((t.mean(), spw, a, scans[0], float(np.angle(z))))
        return _solutions(out, refant)

    def _corrected(self, a: int, spw: int, t: np.ndarray, pre: PhaseSolutions) -> np.ndarray:
        """The true phase less the pre-applied table's row at each time t."""
        m = (pre.antenna == a) & (pre.spw == spw)
        i = np.searchsorted(pre.time[m], t)
        assert np.allclose(pre.time[m][i], t, atol=1e-3), "no row at the data times"
        return self.truth.phase(a, spw, t) - pre.phase[m, 0][i]

    # -- visibilities
    def read_baseline_vis(
        self, info: MsInfo, scans: Sequence[int], spws: Sequence[int]
    ) -> BaselineVis:
        self.made.append(("read_baseline_vis", {"scans": tuple(scans), "spws": tuple(spws)}))
        cols: dict[str, list] = {k: [] for k in _VIS_FIELDS}
        a1, a2 = np.triu_indices(N_ANT, 1)
        for s in scans:
            sc = info.scans[s - 1]
            for spw in (w for w in spws if w in sc.spws):
                for t in info.scan_times[s]:
                    ph = np.array([self.truth.phase(a, spw, t) for a in range(N_ANT)])
                    n = a1.size
                    for k, v in (
                        ("time", np.full(n, t)),
                        ("antenna1", a1),
                        ("antenna2", a2),
                        ("spw", np.full(n, spw)),
                        ("scan", np.full(n, s)),
                        ("vis", np.exp(1j * (ph[a1] - ph[a2]))),
                        ("noise_var", np.full(n, self.noise_var)),
                        ("n_sample", np.full(n, 64)),
                    ):
                        cols[k].append(v)
        return BaselineVis(**{k: np.concatenate(v) for k, v in cols.items()})


_FIELDS = ("time", "field", "spw", "antenna", "refant", "scan", "phase", "flag", "snr")
_VIS_FIELDS = ("time", "antenna1", "antenna2", "spw", "scan", "vis", "noise_var", "n_sample")


def _solutions(rows: list[tuple], refant: int) -> PhaseSolutions:
    t, spw, ant, scan, phase = (np.array(c) for c in zip(*rows, strict=True))
    n = t.size
    return PhaseSolutions(
        time=t,
        field=np.zeros(n, dtype=int),
        spw=spw.astype(int),
        antenna=ant.astype(int),
        refant=np.full(n, refant),
        scan=scan.astype(int),
        phase=phase[:, None],
        flag=np.zeros((n, 1), dtype=bool),
        snr=np.full((n, 1), 100.0),
    )


TASK_ARGS = dict(
    vis="",
    mode="transfer",
    refant="",
    dgcfield="",
    phasecal="",
    target=[],
    lowspw=[],
    spwmap=[],
    solint="int",
    combine="auto",
    minsnr=3.0,
    blockgap=0.0,
    doapply=True,
    caltable="",
    outfile="",
    makeplots=False,
    force=False,
    overwrite=False,
    band=7,
    maxbaseline=16.0,
    sepinband=3.8,
    sepb2b=1.7,
    coherence=0.7,
    phaserms=30.0,
)
"""b2b_phasetransfer's arguments as the task passes them (XML defaults, no plots)."""
