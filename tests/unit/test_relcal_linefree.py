"""fitspw='auto' line finding on spectra with injected lines (no casatools)."""

import numpy as np

from almacal.relcal.linefree import LINE_SIGMA, line_channels, line_masks

FREQ = 336.5e9 + (np.arange(64) - 31.5) * 29.3e6


def _spectrum(rng, line=None, sigma=0.003, true_sigma=None, phase=0.0):
    """(3, 64) sums for a 1 Jy continuum with a 1 % slope; noise true_sigma per channel."""
    amp = 1.0 + 0.01 * (FREQ - FREQ.mean()) / np.ptp(FREQ)
    if line is not None:
        amp = amp + line
    amp = amp + (true_sigma or sigma) * rng.standard_normal(64)
    sw = np.full(64, 1 / sigma**2)
    return np.stack([sw, sw * amp * np.cos(phase), sw * amp * np.sin(phase)])


def test_exactly_the_line_channels_plus_one_channel_of_padding():
    rng = np.random.default_rng(121)
    line = np.zeros(64)
    line[[20, 21, 22]] = [0.05, 0.2, 0.05]  # 17, 67, 17 sigma
    line[63] = 0.1  # at the edge: padding stays inside the spectrum
    found = line_channels(_spectrum(rng, line), FREQ, np.ones(64, bool))
    assert np.flatnonzero(found).tolist() == [19, 20, 21, 22, 23, 62, 63]
    # the amplitude is |V|: the same line at a 60 deg phase is found the same way
    rotated = line_channels(_spectrum(rng, line, phase=1.0), FREQ, np.ones(64, bool))
    assert np.flatnonzero(rotated).tolist() == [19, 20, 21, 22, 23, 62, 63]


def test_threshold_is_five_thermal_sigma():
    rng = np.random.default_rng(122)
    line = np.zeros(64)
    line[10] = (LINE_SIGMA + 2) * 0.003  # 7 sigma: found
    line[40] = (LINE_SIGMA - 2) * 0.003  # 3 sigma: kept as continuum
    found = line_channels(_spectrum(rng, line, true_sigma=1e-5), FREQ, np.ones(64, bool))
    assert np.flatnonzero(found).tolist() == [9, 10, 11]


def test_underestimated_noise_raises_the_threshold_not_false_lines():
    rng = np.random.default_rng(123)
    # weights claim 3 mJy, the noise is 10 mJy: 3.3 thermal sigma per channel; the robust
    # scale (~3.3) takes over and no channel of pure noise is clipped
    found = line_channels(_spectrum(rng, true_sigma=0.01), FREQ, np.ones(64, bool))
    assert not found.any()
    line = np.zeros(64)
    line[30] = 0.2  # 20 sigma of the true noise: still found
    found = line_channels(_spectrum(rng, line, true_sigma=0.01), FREQ, np.ones(64, bool))
    assert np.flatnonzero(found).tolist() == [29, 30, 31]


def test_usable_and_weightless_channels():
    rng = np.random.default_rng(124)
    line = np.zeros(64)
    line[5] = 0.3
    spec = _spectrum(rng, line)
    usable = np.ones(64, bool)
    usable[:5] = False  # the user left channels 0-4 out: padding does not add them back
    found = line_channels(spec, FREQ, usable)
    assert np.flatnonzero(found).tolist() == [5, 6]
    spec[0, 40:] = 0.0  # no weight: not judged, not fitted
    spec[1, 40:] = 50.0
    assert np.flatnonzero(line_channels(spec, FREQ, np.ones(64, bool))).tolist() == [4, 5, 6]
    few = np.zeros(64, bool)
    few[:3] = True  # fewer than 4 usable channels: nothing can be judged
    assert not line_channels(spec, FREQ, few).any()
    few[3] = True
    assert line_channels(spec, FREQ, few).shape == (64,)


def test_line_masks_combine_epochs_per_calibrator():
    rng = np.random.default_rng(125)
    l1, l2 = np.zeros(64), np.zeros(64)
    l1[10] = 0.3
    l2[50] = 0.3
    plain = _spectrum(rng)
    ep1 = [np.stack([_spectrum(rng, l1), plain])]  # spw 0: (n_cal=2, 3, 64)
    ep2 = [np.stack([_spectrum(rng, l2), _spectrum(rng)])]
    masks = line_masks([ep1, ep2], [FREQ], [np.ones(64, bool)])
    assert len(masks) == 1 and masks[0].shape == (2, 64)
    assert np.flatnonzero(masks[0][0]).tolist() == [9, 10, 11, 49, 50, 51]
    assert not masks[0][1].any()


def test_a_continuum_of_three_channels_is_still_refitted():
    # six noise-free channels of a 1 Jy continuum with lines in channels 2 and 3: the
    # first fits, pulled by the lines, flag channel 0 too; the refit on the three channels
    # left (the fewest a slope and its scatter allow) finds only the lines, +-1 channel
    freq = 345e9 + 0.25e9 * np.arange(6)
    amp = np.array([1.0, 1.0, 2.18, 1.77, 1.0, 1.0])
    sw = np.full(6, 1e4)
    found = line_channels(np.array([sw, sw * amp, np.zeros(6)]), freq, np.ones(6, bool))
    assert np.flatnonzero(found).tolist() == [1, 2, 3, 4]
