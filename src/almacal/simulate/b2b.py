"""A band-to-band (B2B) observation like seed 003's, with injected truth.

A 12 m long-baseline array observes Band 7 target spws and Band 3 calibrator
spws (seed 003 Table 2): a DGC block at the start and end (the DGC source
alternates low / high frequency scans), and between them fast-switching
phase referencing of a point-source target with a low-frequency phase
calibrator 0.68 deg away (~24 s cycles). Intents are set as ALMA does
(CALIBRATE_DIFFGAIN#REFERENCE / #ON_SOURCE, CALIBRATE_PHASE, OBSERVE_TARGET).

Corruptions: a frozen-flow, non-dispersive phase screen (path length in um,
phase = 2 pi nu L / c, von Karman spectrum so the structure function is
Kolmogorov-like below the outer scale), seen through each antenna's pierce
point and airmass; per-antenna, per-spw instrumental phases in each band with
a slow linear drift of the high band; thermal noise from the radiometer
equation (WEIGHT = 1/sigma^2). The truth (instrumental phases, the paths the
branch of the phase ambiguity depends on, the residual the ideal transfer
leaves on the target) is written to b2b_truth.json beside the MS.

numpy only: almacal.datasets.simulate_b2b builds the MS (casatools through
almacal.io.b2b_simulator).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from almacal.b2b.geometry import alt_az
from almacal.constants import C_M_S
from almacal.simulate.model import radiometer_sigma_jy, sefd_jy
from almacal.simulate.serpens import AntennaConfig

if TYPE_CHECKING:
    from almacal.io.simulator import MsLayout

B2B_TRUTH_FILE = "b2b_truth.json"
LONG_BASELINE_CONFIG = "alma/simmos/alma.cycle10.10.cfg"
"""12 m pads of the most extended Cycle 10 configuration (baselines to ~16 km)."""

# Seed 003 Table 2, Band 7 with its Band 3 B2B pair; spw k of each band share baseband k+1.
HIGH_SPW_GHZ = (278.013, 279.971, 290.013, 291.971)
LOW_SPW_GHZ = (81.083, 90.048, 100.830, 102.041)
SPW_WIDTH_HZ = 1.875e9
INTENT = {
    "dgc_low": "CALIBRATE_DIFFGAIN#REFERENCE",
    "dgc_high": "CALIBRATE_DIFFGAIN#ON_SOURCE",
    "phasecal": "CALIBRATE_PHASE#ON_SOURCE",
    "target": "OBSERVE_TARGET#ON_SOURCE",
}
TSYS_K = {"low": 60.0, "high": 150.0}
FLUX_REF_HZ = 285e9
SCREEN_HEIGHT_M = 1000.0
WIND_SPEED_M_S = 10.0
OUTER_SCALE_M = 4000.0


@dataclass(frozen=True)
class SkyField:
    """A point source at the phase centre; flux_jy at FLUX_REF_HZ."""

    name: str
    ra_deg: float
    dec_deg: float
    role: str
    flux_jy: float
    spectral_index: float


# J2228-0753 with the 0.68 deg phase calibrator J2229-0832 and the DGC source
# J2253+1608 (seed 003 Tables 1 and 3); fluxes are plausible, not the seed's.
FIELDS = (
    SkyField("J2253+1608", 343.490620, 16.148211, "dgc", 5.9, -0.70),
    SkyField("J2229-0832", 337.416986, -8.548447, "phasecal", 0.45, -0.70),
    SkyField("J2228-0753", 337.219000, -7.896389, "target", 0.20, -0.50),
)


@dataclass(frozen=True)
class B2BSize:
    n_antenna: int
    n_chan: int
    integration_s: float
    n_int_dgc: int  # integrations per DGC scan (either band)
    n_int_phasecal: int
    n_int_target: int
    n_dgc_pairs: int  # high-frequency DGC scans per block
    n_cycles: int  # phase-referencing cycles


SIZES = {
    # ~100k rows, built in a few seconds: 14 antennas to 15 km, 4 channels.
    "test": B2BSize(14, 4, 2.3, 4, 2, 4, 4, 16),
    # Benchmark size: 1.15 s dumps (seed 003 section 2), 45 min of referencing.
    "full": B2BSize(32, 16, 1.15, 8, 4, 8, 6, 110),
}


@dataclass(frozen=True)
class B2BScan:
    field: str
    band: str  # 'low' or 'high'
    kind: str  # key of INTENT
    start_ha_s: float
    stop_ha_s: float

    @property
    def intent(self) -> str:
        return INTENT[self.kind]


@dataclass(frozen=True)
class SimulatedB2B:
    path: str
    truth_path: str
    truth: dict


def b2b_schedule(size: B2BSize, *, blocks: int = 2, dgc_gap_s: float = 3.0) -> list[B2BScan]:
    """DGC block (L H L ... H L), referencing cycles (P T P ... T P), DGC block.

    Referencing: 4.6 s calibrator + 5.1 s slew + 9.2 s target + 5.1 s = ~24 s cycle.
    Times are hour-angle seconds from the observation centre.
    """
    dt = size.integration_s
    dgc_scan = size.n_int_dgc * dt
    slew = 5.1
    dgc_name, pc_name, tgt_name = (f.name for f in FIELDS)
    scans: list[B2BScan] = []
    t = 0.0

    def add(field: str, band: str, kind: str, length: float, gap: float) -> None:
        nonlocal t
        scans.append(B2BScan(field, band, kind, t, t + length))
        t += length + gap

    def dgc_block() -> None:
        for _ in range(size.n_dgc_pairs):
            add(dgc_name, "low", "dgc_low", dgc_scan, dgc_gap_s)
            add(dgc_name, "high", "dgc_high", dgc_scan, dgc_gap_s)
        add(dgc_name, "low", "dgc_low", dgc_scan, 60.0)

    dgc_block()
    for _ in range(size.n_cycles):
        add(pc_name, "low", "phasecal", size.n_int_phasecal * dt, slew)
        add(tgt_name, "high", "target", size.n_int_target * dt, slew)
    add(pc_name, "low", "phasecal", size.n_int_phasecal * dt, 60.0)
    if blocks == 2:
        dgc_block()
    centre = 0.5 * (scans[0].start_ha_s + scans[-1].stop_ha_s)
    return [
        B2BScan(s.field, s.band, s.kind, s.start_ha_s - centre, s.stop_ha_s - centre) for s in scans
    ]


def pick_antennas(cfg: AntennaConfig, n: int) -> AntennaConfig:
    """n pads spread in distance from the array centre (short to the longest baselines)."""
    xyz = np.column_stack([cfg.x, cfg.y, cfg.z])
    r = np.hypot(xyz[:, 0] - np.median(xyz[:, 0]), xyz[:, 1] - np.median(xyz[:, 1]))
    order = np.argsort(r)
    take = np.sort(order[np.unique(np.linspace(0, r.size - 1, n).round().astype(int))])
    return AntennaConfig(
        x=tuple(cfg.x[i] for i in take),
        y=tuple(cfg.y[i] for i in take),
        z=tuple(cfg.z[i] for i in take),
        diameter_m=tuple(cfg.diameter_m[i] for i in take),
        pad=tuple(cfg.pad[i] for i in take),
        coordsys=cfg.coordsys,
    )


def phase_screen(
    rng: np.random.Generator, n: int, spacing_m: float, *, ref_lag_m: float, ref_rms_um: float
) -> np.ndarray:
    """1-D frozen screen of zenith path (um): von Karman spectrum k^-8/3 above 1/L0.

    Scaled so that sqrt(D(ref_lag_m)), the path RMS between two points ref_lag_m
    apart, is ref_rms_um. D(r) grows as r^(5/3) at small lags, ~r^1.2 at a few hundred
    metres (the sigma ~ b^0.6 seen at ALMA below 1 km) and flattens beyond the outer scale.
    """
    k = 2.0 * np.pi * np.fft.rfftfreq(n, spacing_m)
    power = (k**2 + (2.0 * np.pi / OUTER_SCALE_M) ** 2) ** (-4.0 / 3.0)
    power[0] = 0.0
    spectrum = np.sqrt(power) * (rng.normal(size=k.size) + 1j * rng.normal(size=k.size))
    screen = np.fft.irfft(spectrum, n)
    lag = max(1, int(round(ref_lag_m / spacing_m)))
    d = np.mean((screen[lag:] - screen[:-lag]) ** 2)
    return screen * (ref_rms_um / math.sqrt(d))


class _Sky:
    """Paths, instrumental phases and fluxes on the MS time grid (all numpy)."""

    def __init__(
        self,
        *,
        rng: np.random.Generator,
        enu: np.ndarray,
        times: np.ndarray,
        time_field: np.ndarray,
        path_rms_um: float,
        drift_deg_per_hour: float,
    ) -> None:
        n_ant = enu.shape[0]
        self.times = times
        wind_dir = rng.uniform(0.0, 2.0 * np.pi)
        self.wind = np.array([math.sin(wind_dir), math.cos(wind_dir)])
        spacing = 5.0
        # Screen long enough for the array, the pierce-point spread and the flow.
        span = (
            np.ptp(enu[:, :2] @ self.wind)
            + 2 * SCREEN_HEIGHT_M * 4
            + WIND_SPEED_M_S * (times[-1] - times[0])
            + 2000.0
        )
        n = int(2 ** math.ceil(math.log2(span / spacing)))
        self.screen = phase_screen(
            rng, n, spacing, ref_lag_m=WIND_SPEED_M_S * 24.0, ref_rms_um=path_rms_um
        )
        self.spacing = spacing
        self.origin = float(np.min(enu[:, :2] @ self.wind)) - 4 * SCREEN_HEIGHT_M - 500.0
        self.enu = enu
        # (n_time, n_ant) path of the field observed at each time.
        self.path_um = np.zeros((times.size, n_ant))
        for fi, f in enumerate(FIELDS):
            sel = time_field == fi
            if np.any(sel):
                self.path_um[sel] = self.path(times[sel], f)
        n_low, n_high = len(LOW_SPW_GHZ), len(HIGH_SPW_GHZ)
        base_low = np.asarray(rng.uniform(-np.pi, np.pi, n_ant))
        base_high = np.asarray(rng.uniform(-np.pi, np.pi, n_ant))
        self.theta_low = base_low[:, None] + np.radians(rng.normal(0.0, 5.0, (n_ant, n_low)))
        self.theta_high = base_high[:, None] + np.radians(rng.normal(0.0, 5.0, (n_ant, n_high)))
        self.drift_rad_s = np.radians(rng.normal(0.0, drift_deg_per_hour, n_ant)) / 3600.0
        self.t_ref = float(times[0])

    def path(self, t: np.ndarray, f: SkyField) -> np.ndarray:
        """(n_t, n_ant) path length (um) towards f: screen at pierce points x airmass."""
        el, az = alt_az(t, f.ra_deg, f.dec_deg)
        pierce = SCREEN_HEIGHT_M / np.tan(el)[:, None] * np.stack([np.sin(az), np.cos(az)], -1)
        along = (self.enu[None, :, :2] + pierce[:, None, :]) @ self.wind
        s = along + WIND_SPEED_M_S * (self.times[-1] - t)[:, None] - self.origin
        x = np.interp(s / self.spacing, np.arange(self.screen.size), self.screen)
        return x / np.sin(el)[:, None]

    def instrumental(self, t: np.ndarray, band: str) -> np.ndarray:
        """(n_t, n_ant, n_spw) instrumental phase (rad); only the high band drifts."""
        if band == "low":
            return np.broadcast_to(self.theta_low, (t.size, *self.theta_low.shape))
        drift = self.drift_rad_s[None, :] * (t - self.t_ref)[:, None]
        return self.theta_high[None, :, :] + drift[:, :, None]


def _chunk_writer(
    sky: _Sky,
    *,
    rng: np.random.Generator,
    ddid_spw: np.ndarray,
    spw_band: np.ndarray,
    spw_index: np.ndarray,
    chan_freq_hz: np.ndarray,
    field_flux: np.ndarray,
    sigma_jy: np.ndarray,
    scan_of_time: np.ndarray,
):
    """rewrite callback for finish_columns: DATA, WEIGHT, SIGMA, FLAG, SCAN_NUMBER.

    chan_freq_hz : (n_spw, n_chan) in MS spw order; field_flux : (n_field, n_spw, n_chan);
    sigma_jy : (n_spw,) per real/imaginary part; scan_of_time : (n_time,).
    """
    inst = {b: sky.instrumental(sky.times, b) for b in ("low", "high")}

    def rewrite(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        ti = np.searchsorted(sky.times, cols["TIME"])
        a1, a2 = cols["ANTENNA1"], cols["ANTENNA2"]
        spw = ddid_spw[cols["DATA_DESC_ID"]]
        d_path = (sky.path_um[ti, a1] - sky.path_um[ti, a2]) * 1e-6
        d_inst = np.zeros(ti.size)
        for band_code, band in enumerate(("low", "high")):
            m = spw_band[spw] == band_code
            k = spw_index[spw[m]]
            d_inst[m] = inst[band][ti[m], a1[m], k] - inst[band][ti[m], a2[m], k]
        nu = chan_freq_hz[spw]  # (n_row, n_chan)
        phase = 2.0 * np.pi * nu / C_M_S * d_path[:, None] + d_inst[:, None]
        model = field_flux[cols["FIELD_ID"], spw] * np.exp(1j * phase)
        sigma = sigma_jy[spw]
        n_row, n_chan = nu.shape
        noise = rng.normal(size=(2, 2, n_chan, n_row)) * sigma[None, None, None, :]
        data = model.T[None, :, :] + noise[0] + 1j * noise[1]
        w = np.broadcast_to(1.0 / sigma**2, (2, n_row)).astype(np.float32)
        return {
            "DATA": data.astype(np.complex64),
            "WEIGHT": w,
            "SIGMA": np.broadcast_to(sigma, (2, n_row)).astype(np.float32),
            "FLAG": np.zeros((2, n_chan, n_row), dtype=bool),
            "SCAN_NUMBER": scan_of_time[ti].astype(np.int32),
        }

    return rewrite


def _scan_of_times(times_mjd_s: np.ndarray, scans: list[B2BScan], t0: float) -> np.ndarray:
    """Scan index (0-based) of each MS time: the scan whose [start, stop) holds it."""
    starts = np.array([s.start_ha_s for s in scans])
    rel = times_mjd_s - times_mjd_s[0] + (scans[0].start_ha_s + 0.5 * t0)
    return np.clip(np.searchsorted(starts, rel + 1e-3, side="right") - 1, 0, len(scans) - 1)


def check_options(size: str, blocks: int, path_rms_um: float, noise_scale: float) -> B2BSize:
    """The size preset; ValueError naming the first invalid argument."""
    if size not in SIZES:
        raise ValueError(f"size={size!r} is invalid: expected one of {sorted(SIZES)}")
    if blocks not in (1, 2):
        raise ValueError(f"blocks={blocks!r} is invalid: expected 1 or 2")
    for name, value in (("path_rms_um", path_rms_um), ("noise_scale", noise_scale)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{name}={value!r} is invalid: expected a finite number >= 0")
    return SIZES[size]


def antenna_names(n: int) -> tuple[str, ...]:
    return tuple(f"DA{41 + i:02d}" for i in range(n))


@dataclass(frozen=True)
class B2BSpectral:
    """The spws of both bands: names and channel frequencies keyed by 'low' / 'high'."""

    width_hz: float  # channel width
    freqs: dict[str, np.ndarray]  # (n_spw, n_chan) Hz per band
    names: dict[str, list[str]]

    @classmethod
    def of(cls, preset: B2BSize) -> B2BSpectral:
        width = SPW_WIDTH_HZ / preset.n_chan
        offsets = (np.arange(preset.n_chan) - (preset.n_chan - 1) / 2.0) * width
        return cls(
            width_hz=width,
            freqs={
                "low": np.array(LOW_SPW_GHZ)[:, None] * 1e9 + offsets,
                "high": np.array(HIGH_SPW_GHZ)[:, None] * 1e9 + offsets,
            },
            names={
                "low": [f"ALMA_RB_03#BB_{k + 1}#SW-01#FULL_RES" for k in range(len(LOW_SPW_GHZ))],
                "high": [f"ALMA_RB_07#BB_{k + 1}#SW-01#FULL_RES" for k in range(len(HIGH_SPW_GHZ))],
            },
        )

    def in_ms_order(self, ms_spw_names: Sequence[str]) -> tuple[np.ndarray, ...]:
        """(band code 0 low / 1 high, index within the band, (n_chan,) frequencies) of
        each MS spw."""
        all_names = self.names["low"] + self.names["high"]
        order = [all_names.index(n) for n in ms_spw_names]  # MS spw -> canonical index
        n_low = len(LOW_SPW_GHZ)
        spw_band = np.array([0 if k < n_low else 1 for k in order])
        spw_index = np.array([k if k < n_low else k - n_low for k in order])
        chan = np.concatenate([self.freqs["low"], self.freqs["high"]])[order]
        return spw_band, spw_index, chan


@dataclass(frozen=True)
class B2BFill:
    """One B2B MS's column rewrite and what its truth needs."""

    writer: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
    sky: _Sky
    scan_idx: np.ndarray  # (n_time,) 0-based scan of each MS time
    sigma: np.ndarray  # (n_spw,) Jy per real/imaginary part, MS spw order
    spw_band: np.ndarray  # (n_spw,) 0 low, 1 high


def b2b_fill(
    layout: MsLayout,
    scans: list[B2BScan],
    preset: B2BSize,
    antennas: AntennaConfig,
    spectral: B2BSpectral,
    *,
    rng: np.random.Generator,
    path_rms_um: float,
    drift_deg_per_hour: float,
    noise_scale: float,
) -> B2BFill:
    """The sky (rng draws the screen and phases first) and the noise writer (then the noise)."""
    spw_band, spw_index, chan = spectral.in_ms_order(layout.spw_names)
    times = layout.times
    scan_idx = _scan_of_times(times, scans, preset.integration_s)
    field_pos = {f.name: i for i, f in enumerate(FIELDS)}
    time_field = np.array([field_pos[scans[i].field] for i in scan_idx])
    sky = _Sky(
        rng=rng,
        enu=np.column_stack([antennas.x, antennas.y, antennas.z]),
        times=times,
        time_field=time_field,
        path_rms_um=path_rms_um,
        drift_deg_per_hour=drift_deg_per_hour,
    )
    ms_field = [field_pos[n] for n in layout.field_names]
    flux = np.stack(
        [FIELDS[i].flux_jy * (chan / FLUX_REF_HZ) ** FIELDS[i].spectral_index for i in ms_field]
    )
    sefd = np.array([sefd_jy(TSYS_K[b], 0.7, 12.0) for b in ("low", "high")])
    sigma = noise_scale * np.array(
        [
            radiometer_sigma_jy(spectral.width_hz, preset.integration_s, sefd=sefd[b])
            for b in spw_band
        ]
    )
    writer = _chunk_writer(
        sky,
        rng=rng,
        ddid_spw=layout.ddid_spw,
        spw_band=spw_band,
        spw_index=spw_index,
        chan_freq_hz=chan,
        field_flux=flux,
        sigma_jy=sigma,
        scan_of_time=scan_idx + 1,
    )
    return B2BFill(writer, sky, scan_idx, sigma, spw_band)


def b2b_truth(
    fill: B2BFill,
    scans: list[B2BScan],
    antennas: AntennaConfig,
    layout: MsLayout,
    **run: Any,
) -> dict:
    """b2b_truth.json: what an ideal B2B transfer leaves, from the injected paths and
    phases, then run (vis, size, seed, ...)."""
    sky, sigma, spw_band = fill.sky, fill.sigma, fill.spw_band
    names = antenna_names(len(antennas.pad))
    kinds = np.array([scans[i].kind for i in fill.scan_idx])
    nu_high = np.mean(HIGH_SPW_GHZ) * 1e9
    to_rad_high = 2.0 * np.pi * nu_high / C_M_S * 1e-6
    rms, vector, uncorrected = _target_truth(sky, kinds, len(names), to_rad_high)
    blocks, pair_std = _dgc_truth(sky, scans, fill.scan_idx, len(names))
    truth = {
        "antennas": list(names),
        "pads": list(antennas.pad),
        "antenna_enu_m": np.column_stack([antennas.x, antennas.y, antennas.z]).tolist(),
        "fields": {f.role: f.name for f in FIELDS},
        "field_flux_jy_at_285ghz": {f.name: f.flux_jy for f in FIELDS},
        "target_spectral_index": FIELDS[2].spectral_index,
        "flux_ref_hz": FLUX_REF_HZ,
        "low_spw_ghz": list(LOW_SPW_GHZ),
        "high_spw_ghz": list(HIGH_SPW_GHZ),
        "ms_spw_names": list(layout.spw_names),
        "sigma_jy": {"low": float(sigma[spw_band == 0][0]), "high": float(sigma[spw_band == 1][0])},
        "theta_low_rad": sky.theta_low.tolist(),
        "theta_high_rad": sky.theta_high.tolist(),
        "drift_high_rad_per_s": sky.drift_rad_s.tolist(),
        "theta_ref_time_mjd_s": sky.t_ref,
        "dgc_blocks": blocks,
        "dgc_expected_phase_rms_deg": math.degrees(float(np.mean(pair_std)) * to_rad_high),
        "target_residual_phase_rms_deg": math.degrees(rms),
        "target_expected_coherence": math.exp(-(rms**2) / 2.0),
        "target_vector_coherence": vector,
        "target_uncorrected_path_rms_um": uncorrected,
    }
    truth.update(run)
    return truth


def _target_truth(
    sky: _Sky, kinds: np.ndarray, n_ant: int, to_rad_high: float | np.floating
) -> tuple[float, float, float]:
    """Target phase residual after an ideal transfer of the per-integration
    phase-calibrator paths interpolated in time: (rms rad, vector coherence,
    uncorrected path rms um)."""
    t = sky.times
    pc, tg = kinds == "phasecal", kinds == "target"
    interp = np.stack([np.interp(t[tg], t[pc], sky.path_um[pc, a]) for a in range(n_ant)], axis=1)
    resid = (sky.path_um[tg] - interp) * to_rad_high  # (n_t, n_ant) rad
    i, j = np.triu_indices(n_ant, 1)
    dphi = resid[:, i] - resid[:, j]
    rms = float(np.sqrt(np.mean(dphi**2)))
    vector = float(np.mean(np.abs(np.mean(np.exp(1j * dphi), axis=0))))
    return rms, vector, float(np.std(sky.path_um[tg][:, i] - sky.path_um[tg][:, j]))


def _dgc_truth(
    sky: _Sky, scans: list[B2BScan], scan_idx: np.ndarray, n_ant: int
) -> tuple[list[dict], list[np.ndarray]]:
    """Per DGC block, the residual paths of the high integrations once the low scans
    (averaged per scan) are interpolated to them; and the std of each pair of
    consecutive low scans over baselines > 1.5 km (seed 003 section 2.3 expected RMS)."""
    t = sky.times
    i, j = np.triu_indices(n_ant, 1)
    length = np.linalg.norm(sky.enu[i] - sky.enu[j], axis=1)
    i_long, j_long = i[length > 1500.0], j[length > 1500.0]
    blocks = []
    pair_std: list[np.ndarray] = []
    scan_block = _dgc_blocks(scans)
    for b in sorted(set(scan_block.values())):
        lo = [k for k, v in scan_block.items() if v == b and scans[k].kind == "dgc_low"]
        hi = [k for k, v in scan_block.items() if v == b and scans[k].kind == "dgc_high"]
        lo_t = np.array([t[scan_idx == k].mean() for k in lo])
        lo_p = np.stack([sky.path_um[scan_idx == k].mean(axis=0) for k in lo])
        hsel = np.isin(scan_idx, hi)
        hi_interp = np.stack([np.interp(t[hsel], lo_t, lo_p[:, a]) for a in range(n_ant)], axis=1)
        r = sky.path_um[hsel] - hi_interp
        # the high scan between two consecutive low scans is left out of their std
        for k0, k1 in zip(lo[:-1], lo[1:], strict=True):
            pair = sky.path_um[(scan_idx == k0) | (scan_idx == k1)]
            pair_std.append(np.std(pair[:, i_long] - pair[:, j_long], axis=0, ddof=1))
        blocks.append(
            {
                "mid_time_mjd_s": float(t[hsel].mean()),
                "first_low_path_um": lo_p[0].tolist(),
                "residual_path_mean_um": r.mean(axis=0).tolist(),
                # (n_int, n_ant): what the band-offset solve averages over.
                "residual_path_um": np.round(r, 4).tolist(),
                "residual_path_rms_um": r.std(axis=0).tolist(),
                "n_high_integrations": int(hsel.sum()),
            }
        )
    return blocks, pair_std


def _dgc_blocks(scans: list[B2BScan]) -> dict[int, int]:
    """Scan index -> DGC block number (consecutive DGC scans form a block)."""
    out: dict[int, int] = {}
    block = -1
    previous_dgc = False
    for k, s in enumerate(scans):
        is_dgc = s.kind.startswith("dgc")
        if is_dgc and not previous_dgc:
            block += 1
        if is_dgc:
            out[k] = block
        previous_dgc = is_dgc
    return out
