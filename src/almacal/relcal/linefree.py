"""fitspw='auto': find line channels in each calibrator's vector-averaged spectrum.

Seed 000 (Sect. 3.1) extracted the continuum by sigma-clipping the spectra. Here
the spectrum is the uv-plane vector average of a calibrator's Stokes I over all
its rows (per spw), whose amplitude at the phase centre is the flux spectrum. A
straight line in frequency (the continuum over one spw) is fitted with weights
to the unclipped channels and the channels more than LINE_SIGMA from it are
clipped, until the clipped set no longer changes; the
channels next to a clipped one go too (line wings). A channel that is a line
channel in any epoch is left out in every epoch, so all epochs fit the same
continuum.
"""

from __future__ import annotations

import numpy as np

LINE_SIGMA = 5.0
"""Clip threshold in thermal sigmas, or in the robust residual scale when that is
larger (no false lines in ~10^4 channels)."""

LINE_PAD_CHAN = 1
MAX_ITER = 20


def line_channels(spectrum: np.ndarray, freq_hz: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Line channels of one spectrum, (n_chan,) bool.

    spectrum : (3, n_chan) sum(w), sum(w Re V), sum(w Im V) per channel;
    usable : (n_chan,) the channels the user selected.
    """
    sw = spectrum[0]
    ok = usable & (sw > 0)
    line = np.zeros(sw.size, bool)
    if ok.sum() < 4:
        return line
    amp = np.hypot(spectrum[1], spectrum[2]) / np.where(ok, sw, 1.0)
    x = (freq_hz - freq_hz[ok].mean()) / max(np.ptp(freq_hz), 1.0)
    for _ in range(MAX_ITER):
        fit = ok & ~line
        if fit.sum() < 3:
            break
        coef = np.polyfit(x[fit], amp[fit], 1, w=np.sqrt(sw[fit]))
        z = (amp - np.polyval(coef, x)) * np.sqrt(sw)
        # z is in thermal sigmas: the robust scale may raise the threshold (bad
        # weights, residual structure) but never lower it below LINE_SIGMA sigma
        scale = max(1.4826 * float(np.median(np.abs(z[fit] - np.median(z[fit])))), 1.0)
        # re-judge every channel against the new continuum: a channel clipped while
        # the line still pulled the first fit comes back
        new = ok & (np.abs(z) > LINE_SIGMA * scale)
        if np.array_equal(new, line):
            break
        line = new
    if line.any() and LINE_PAD_CHAN:
        k = np.flatnonzero(line)
        pad = np.clip(
            (k[:, None] + np.arange(-LINE_PAD_CHAN, LINE_PAD_CHAN + 1)).ravel(), 0, sw.size - 1
        )
        line[pad] = True
    return line & usable


def line_masks(
    spectra: list[list[np.ndarray]], freq_hz: list[np.ndarray], usable: list[np.ndarray]
) -> list[np.ndarray]:
    """Per spw: (n_cal, n_chan) line channels, any epoch.

    spectra[e][k] : (n_cal, 3, n_chan) of epoch e and spw position k;
    freq_hz[k], usable[k] : (n_chan,).
    """
    out = []
    for k, (freq, use) in enumerate(zip(freq_hz, usable, strict=True)):
        n_cal = spectra[0][k].shape[0]
        m = np.zeros((n_cal, freq.size), bool)
        for ep in spectra:
            for j in range(n_cal):
                m[j] |= line_channels(ep[k][j], freq, use)
        out.append(m)
    return out
