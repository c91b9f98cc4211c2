"""The physics: radiometer noise, Stokes I weights, the sky model of one epoch
and the noise-corrupted visibilities of a chunk of rows (numpy only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from almacal.constants import ARCSEC_RAD, C_M_S
from almacal.simulate.serpens import (
    APERTURE_EFFICIENCY,
    BOLTZMANN_J_K,
    DISH_DIAMETER_M,
    JY_W_M2_HZ,
    N_CORR,
    REF_FREQ_HZ,
    TSYS_K,
    FieldModel,
)


def sefd_jy(
    tsys_k: float = TSYS_K,
    aperture_efficiency: float = APERTURE_EFFICIENCY,
    dish_diameter_m: float = DISH_DIAMETER_M,
) -> float:
    """System equivalent flux density 2 k Tsys / (eta_a A) in Jy (~1.5e4 Jy for 7 m, Band 7)."""
    area = math.pi * (dish_diameter_m / 2.0) ** 2
    return 2.0 * BOLTZMANN_J_K * tsys_k / (aperture_efficiency * area) / JY_W_M2_HZ


def radiometer_sigma_jy(channel_width_hz: float, integration_s: float, *, sefd: float) -> float:
    """Noise per real (or imaginary) part of one correlation: SEFD / sqrt(2 dnu tau)."""
    return sefd / math.sqrt(2.0 * channel_width_hz * integration_s)


def stokes_i_weight(w_xx: np.ndarray, w_yy: np.ndarray) -> np.ndarray:
    """Weight of I = (XX + YY) / 2: 1 / var(I) = 4 / (1/w_XX + 1/w_YY)."""
    return 4.0 / (1.0 / np.asarray(w_xx, dtype=float) + 1.0 / np.asarray(w_yy, dtype=float))


def spectral_scaling(freq_hz: np.ndarray, spectral_index: np.ndarray | float) -> np.ndarray:
    """(nu / REF_FREQ_HZ) ** alpha, broadcasting freq against alpha."""
    return (np.asarray(freq_hz, dtype=float) / REF_FREQ_HZ) ** spectral_index


def gaussian_visibility(uv_dist_lambda: np.ndarray, fwhm_rad: np.ndarray | float) -> np.ndarray:
    """Visibility of a unit-flux circular Gaussian at the phase centre.

    The image exp(-4 ln2 r^2 / fwhm^2) transforms to
    exp(-(pi fwhm q)^2 / (4 ln 2)) with q = sqrt(u^2 + v^2) in wavelengths; it
    is real and even, so independent of the exp(+-2 pi i (ul + vm)) sign.
    """
    q = np.asarray(uv_dist_lambda, dtype=float)
    return np.exp(-((math.pi * np.asarray(fwhm_rad, dtype=float) * q) ** 2) / (4.0 * math.log(2.0)))


def true_rfcf(flux_scale: Sequence[float] | np.ndarray) -> np.ndarray:
    """rFCF that undoes an injected flux scale: mean(flux_scale) / flux_scale.

    Multiplying epoch i by it brings every epoch to the mean scale, the
    normalisation of seed 000 Eq. 3 (rFCFs average to one over epochs).
    """
    scale = np.asarray(flux_scale, dtype=float)
    return scale.mean() / scale


@dataclass(frozen=True)
class EpochModel:
    """Noise-free sky x gains of one epoch, indexed by the MS's own ids.

    point_flux_jy, extended_flux_jy, extended_fwhm_rad, spectral_index : (n_field,)
    gain : (n_spw,) flux_scale x spw_scale
    chan_freq_hz : (n_spw, n_chan)
    ant_phase_rad : (n_time, n_ant) phase error of antenna a in integration t
    sigma_jy : (n_spw,) the sigma written as SIGMA (weights are 1/sigma^2)
    noise_jy : (n_spw,) the sigma of the noise actually added (0 when noise-free)
    line_jy : (n_field, n_spw, n_chan) optional compact line emission added to the
        point flux (no spectral-index scaling), or None
    offset_lm_rad : (n_field, 2) optional (l east, m north) offset of each field's
        emission from its phase centre, or None (all at the phase centre)
    """

    point_flux_jy: np.ndarray
    extended_flux_jy: np.ndarray
    extended_fwhm_rad: np.ndarray
    spectral_index: np.ndarray
    gain: np.ndarray
    chan_freq_hz: np.ndarray
    ant_phase_rad: np.ndarray
    sigma_jy: np.ndarray
    noise_jy: np.ndarray
    line_jy: np.ndarray | None = None
    offset_lm_rad: np.ndarray | None = None

    def visibilities(
        self,
        uvw_m: np.ndarray,
        field: np.ndarray,
        spw: np.ndarray,
        time_index: np.ndarray,
        ant1: np.ndarray,
        ant2: np.ndarray,
    ) -> np.ndarray:
        """Model visibility of every correlation (XX = YY = I), shape (row, chan).

        uvw_m : (3, row) m; field, spw, time_index, ant1, ant2 : (row,) ints.
        V = gain_spw S (nu/nu0)^alpha [1 + f G(q)] exp(i (phi_a1 - phi_a2)).
        """
        freq = self.chan_freq_hz[spw]
        uv_dist_lambda = np.hypot(uvw_m[0], uvw_m[1])[:, None] * freq / C_M_S
        envelope = self.extended_flux_jy[field][:, None] * gaussian_visibility(
            uv_dist_lambda, self.extended_fwhm_rad[field][:, None]
        )
        amplitude = (
            self.gain[spw][:, None]
            * spectral_scaling(freq, self.spectral_index[field][:, None])
            * (self.point_flux_jy[field][:, None] + envelope)
        )
        if self.line_jy is not None:
            amplitude = amplitude + self.gain[spw][:, None] * self.line_jy[field, spw]
        if self.offset_lm_rad is not None:
            # CASA's sign (CASA_NOTES): V = S exp(+2 pi i (u l + v m)), u, v in wavelengths
            lm = self.offset_lm_rad[field]
            k = freq / C_M_S
            turns = (uvw_m[0] * lm[:, 0])[:, None] * k + (uvw_m[1] * lm[:, 1])[:, None] * k
            amplitude = amplitude * np.exp(2j * np.pi * turns)
        phase = self.ant_phase_rad[time_index, ant1] - self.ant_phase_rad[time_index, ant2]
        return amplitude * np.exp(1j * phase)[:, None]


@dataclass
class FitAccumulator:
    """Running sums of an ideal weighted point-source fit of Stokes I.

    For a point source at the phase centre the least-squares flux is
    sum(w_I Re V) / sum(w_I); its thermal sigma is 1 / sqrt(sum w_I).
    sum_w, sum_w_re : (n_field, n_spw), summed over rows and channels.
    """

    sum_w: np.ndarray
    sum_w_re: np.ndarray

    @classmethod
    def zeros(cls, n_field: int, n_spw: int) -> FitAccumulator:
        return cls(np.zeros((n_field, n_spw)), np.zeros((n_field, n_spw)))

    def add(self, model: np.ndarray, field: np.ndarray, spw: np.ndarray, w_i: np.ndarray) -> None:
        """model : (row, chan) noise-free I; field, spw : (row,); w_i : (row,) per channel."""
        n_field, n_spw = self.sum_w.shape
        cell = field * n_spw + spw
        size = n_field * n_spw
        n_chan = model.shape[1]
        self.sum_w += np.bincount(cell, weights=w_i * n_chan, minlength=size).reshape(
            n_field, n_spw
        )
        re_sum = model.real.sum(axis=1)
        self.sum_w_re += np.bincount(cell, weights=w_i * re_sum, minlength=size).reshape(
            n_field, n_spw
        )

    def flux(self) -> np.ndarray:
        """(n_field,) all spws together; NaN where a field has no data."""
        return _ratio(self.sum_w_re.sum(axis=1), self.sum_w.sum(axis=1))

    def flux_spw(self) -> np.ndarray:
        """(n_field, n_spw); NaN where a (field, spw) has no data."""
        return _ratio(self.sum_w_re, self.sum_w)

    def sigma(self) -> np.ndarray:
        """(n_field,) thermal sigma of flux() implied by the weights."""
        return _ratio(np.ones(self.sum_w.shape[0]), np.sqrt(self.sum_w.sum(axis=1)))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    return np.divide(num, den, out=out, where=den > 0)


@dataclass(frozen=True)
class ChunkResult:
    """Columns for one chunk of rows in casatools layout.

    data : (corr, chan, row) complex; weight, sigma : (corr, row) float.
    model : (row, chan) noise-free Stokes I; w_i : (row,) Stokes I weight per channel.
    """

    data: np.ndarray
    weight: np.ndarray
    sigma: np.ndarray
    model: np.ndarray
    w_i: np.ndarray


def simulate_chunk(
    model: EpochModel,
    rng: np.random.Generator,
    *,
    uvw_m: np.ndarray,
    field: np.ndarray,
    spw: np.ndarray,
    time_index: np.ndarray,
    ant1: np.ndarray,
    ant2: np.ndarray,
    n_corr: int = N_CORR,
) -> ChunkResult:
    """Model + complex Gaussian noise for a chunk of rows (shapes as in ChunkResult)."""
    vis = model.visibilities(uvw_m, field, spw, time_index, ant1, ant2)
    n_row, n_chan = vis.shape
    # complex64 like the DATA column on disk; float32 draws are ~2x faster.
    data = np.empty((n_corr, n_chan, n_row), dtype=np.complex64)
    data[...] = vis.T[None, :, :]
    noise_row = model.noise_jy[spw].astype(np.float32)
    if np.any(noise_row > 0):
        draws = rng.standard_normal((n_corr, n_chan, n_row, 2), dtype=np.float32)
        data += noise_row * draws.view(np.complex64)[..., 0]
    sigma = np.broadcast_to(model.sigma_jy[spw], (n_corr, n_row)).astype(float)
    weight = 1.0 / sigma**2
    return ChunkResult(data, weight, sigma, vis, stokes_i_weight(weight[0], weight[-1]))


def epoch_model(
    fields: Sequence[FieldModel],
    ms_field_names: Sequence[str],
    *,
    gain: np.ndarray,
    chan_freq_hz: np.ndarray,
    ant_phase_rad: np.ndarray,
    sigma_jy: np.ndarray,
    noise_jy: np.ndarray,
) -> EpochModel:
    """An EpochModel whose field axis follows the MS FIELD table."""
    by_name = {f.name: f for f in fields}
    ordered = [by_name[n] for n in ms_field_names]
    return EpochModel(
        point_flux_jy=np.array([f.flux_jy for f in ordered]),
        extended_flux_jy=np.array([f.extended_flux_jy for f in ordered]),
        extended_fwhm_rad=np.array([f.extended_fwhm_arcsec * ARCSEC_RAD for f in ordered]),
        spectral_index=np.array([f.spectral_index for f in ordered]),
        gain=np.asarray(gain, dtype=float),
        chan_freq_hz=np.asarray(chan_freq_hz, dtype=float),
        ant_phase_rad=np.asarray(ant_phase_rad, dtype=float),
        sigma_jy=np.asarray(sigma_jy, dtype=float),
        noise_jy=np.asarray(noise_jy, dtype=float),
    )


def chunk_writer(
    model: EpochModel,
    rng: np.random.Generator,
    accumulator: FitAccumulator,
    *,
    times: np.ndarray,
    ddid_spw: np.ndarray,
    n_spw_per_scan: int,
    weight_spectrum: bool,
) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """The per-chunk column rewrite handed to the I/O layer.

    Reads UVW FIELD_ID DATA_DESC_ID TIME ANTENNA1 ANTENNA2 SCAN_NUMBER; returns
    DATA WEIGHT SIGMA FLAG SCAN_NUMBER (and WEIGHT_SPECTRUM). The simulator
    numbers each (field visit, spw) as its own scan; one observe call per spw
    in visit order means visit = (scan - 1) // n_spw.
    """

    def rewrite(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        field = np.asarray(cols["FIELD_ID"], dtype=int)
        spw = ddid_spw[np.asarray(cols["DATA_DESC_ID"], dtype=int)]
        out = simulate_chunk(
            model,
            rng,
            uvw_m=np.asarray(cols["UVW"], dtype=float),
            field=field,
            spw=spw,
            time_index=np.searchsorted(times, cols["TIME"]),
            ant1=np.asarray(cols["ANTENNA1"], dtype=int),
            ant2=np.asarray(cols["ANTENNA2"], dtype=int),
        )
        accumulator.add(out.model, field, spw, out.w_i)
        scan = (np.asarray(cols["SCAN_NUMBER"], dtype=int) - 1) // n_spw_per_scan + 1
        new = {
            "DATA": out.data,
            "WEIGHT": out.weight,
            "SIGMA": out.sigma,
            "FLAG": np.zeros(out.data.shape, dtype=bool),
            "SCAN_NUMBER": scan,
        }
        if weight_spectrum:
            new["WEIGHT_SPECTRUM"] = np.broadcast_to(out.weight[:, None, :], out.data.shape).copy()
        return new

    return rewrite
