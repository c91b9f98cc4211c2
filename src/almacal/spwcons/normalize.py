"""Normalized MCFs: the per-spw MCF over the all-spw MCF (seed 000 Sect. 3.4, Fig. 3)."""

from __future__ import annotations

import numpy as np


def normalized_mcfs(
    mcf_spw: np.ndarray, mcf_sigma_spw: np.ndarray, mcf: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """MCF_ijk / MCF_ij and its error, Eq. 2 with the normalization treated as a constant.

    mcf_spw, mcf_sigma_spw : (n_epoch, n_cal, n_spw); mcf : (n_epoch, n_cal).
    Returns two (n_epoch, n_cal, n_spw) arrays. As in the paper the error ignores
    that MCF_ij is measured from the same visibilities (it is their spw average),
    which makes it an overestimate by about sqrt(n_spw / (n_spw - 1)).
    """
    norm = mcf_spw / mcf[..., None]
    return norm, mcf_sigma_spw / np.abs(mcf[..., None])
