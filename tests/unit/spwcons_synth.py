"""Synthetic relcal_fit per-spw records with known spw errors, fit noise and slopes.

Forward model of seed 000 Sect. 3.4: calibrator j with spectral shape T_jk is
observed in epoch i and spw k as F_ijk = T_jk s_i g_ik (1 + e_ijk): s_i the epoch
flux scale, g_ik = (1 + d_ik) (nu_k / nu_0)^slope_i the spw calibration error
(d_ik ~ N(0, sigma_spw)) times an optional power law, e_ijk ~ N(0, sigma_fit) the
relative point-fit noise. The all-spw flux is the inverse-variance mean over spws
(as relcal_fit's single fit with equal visibility weights per spw), and the MCFs
come from relcal_fit's own Eq. 1-2.
"""

from __future__ import annotations

import numpy as np

from almacal.relcal.factors import mean_correction_factors

BAND7_HZ = np.array([336.5e9, 338.5e9, 348.5e9, 350.5e9])  # seed 000 Table 5
CAL_FLUX_JY = np.array([0.95, 0.75, 0.55, 0.35, 0.6, 0.8])
CAL_INDEX = np.array([2.6, 2.3, 2.5, 2.8, 2.4, 2.7])


def synthetic_record(
    rng: np.random.Generator,
    *,
    n_epoch: int = 7,
    n_cal: int = 4,
    freq_hz: np.ndarray = BAND7_HZ,
    sigma_spw: float = 0.008,
    sigma_fit: float = 0.005,
    slope: np.ndarray | None = None,
    cal_noise: np.ndarray | None = None,
) -> dict:
    """A relcal_fit record (perspw=True keys) drawn from the forward model above.

    cal_noise : (n_cal,) multiplies sigma_fit per calibrator (default all 1).
    """
    freq = np.asarray(freq_hz, dtype=float)
    n_spw = freq.size
    x = freq / np.exp(np.log(freq).mean())
    shape = CAL_FLUX_JY[:n_cal, None] * x[None, :] ** CAL_INDEX[:n_cal, None]  # (n_cal, n_spw)
    scale = rng.uniform(0.9, 1.1, size=(n_epoch, 1, 1))
    alpha = np.zeros(n_epoch) if slope is None else np.asarray(slope, dtype=float)
    gain = (1.0 + rng.normal(0.0, sigma_spw, size=(n_epoch, 1, n_spw))) * x ** alpha[:, None, None]
    true = scale * shape[None] * gain
    noise = np.ones(n_cal) if cal_noise is None else np.asarray(cal_noise, dtype=float)
    sigma = sigma_fit * noise[None, :, None] * scale * shape[None] * np.ones((1, 1, n_spw))
    flux = true + sigma * rng.standard_normal(true.shape)
    w = sigma**-2
    flux_all = (flux * w).sum(axis=2) / w.sum(axis=2)
    sigma_all = w.sum(axis=2) ** -0.5
    mcf_spw, mcf_sigma_spw = mean_correction_factors(flux, sigma)
    mcf, mcf_sigma = mean_correction_factors(flux_all, sigma_all)
    return {
        "task": "relcal_fit",
        "epoch": list(range(1, n_epoch + 1)),
        "date": [f"2019-0{1 + i % 9}-01" for i in range(n_epoch)],
        "field": [f"CAL{j + 1}" for j in range(n_cal)],
        "spw": list(range(n_spw)),
        "spw_freq_hz": freq.tolist(),
        "flux": flux_all.tolist(),
        "flux_sigma": sigma_all.tolist(),
        "mcf": mcf.tolist(),
        "mcf_sigma": mcf_sigma.tolist(),
        "flux_spw": flux.tolist(),
        "flux_sigma_spw": sigma.tolist(),
        "mcf_spw": mcf_spw.tolist(),
        "mcf_sigma_spw": mcf_sigma_spw.tolist(),
    }
