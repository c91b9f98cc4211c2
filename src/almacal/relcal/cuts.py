"""The cuts relcal_fit decides from all epochs: the common uv range (uvrange='common')
and the line channels (fitspw='auto'), and the fit sums that remain after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.relcal.accumulate import MsSums
from almacal.relcal.fluxfit import N_SUMS
from almacal.relcal.linefree import line_masks
from almacal.relcal.plan import Target
from almacal.relcal.uvbins import ChannelBins
from almacal.relcal.uvmodel import B_N, B_W, B_W_ABS2, B_W_IM, B_W_RE, N_BIN_SUMS
from almacal.uvrange import UvRange

# fluxfit's sums (SUM_W, SUM_W_RE, SUM_W_ABS2, SUM_N) from the columns of a bin
_POINT_COLUMNS = [B_W, B_W_RE, B_W_ABS2, B_N]


@dataclass(frozen=True)
class CommonUvRange:
    """The uv-distance range (wavelengths) every epoch's usable data cover.

    epoch_lambda : (n_epoch, 2) shortest and longest uv distance of each epoch.
    """

    lo_lambda: float
    hi_lambda: float
    epoch_lambda: np.ndarray

    @classmethod
    def from_epochs(cls, epochs: Sequence[MsSums]) -> CommonUvRange:
        limits = np.array([e.uv_limits for e in epochs], dtype=float).reshape(-1, 2)
        return cls(float(limits[:, 0].max()), float(limits[:, 1].min()), limits)

    @property
    def uvrange(self) -> UvRange:
        return UvRange(self.lo_lambda, self.hi_lambda, True)

    def to_record(self) -> dict:
        return {
            "uvrange_klambda": [self.lo_lambda / 1e3, self.hi_lambda / 1e3],
            "uvrange_klambda_epoch": (self.epoch_lambda / 1e3).tolist(),
        }


@dataclass(frozen=True)
class LineChannels:
    """Line channels per spw position, (n_cal, n_chan) each, excluded in every epoch."""

    masks: tuple[np.ndarray, ...]
    fields: tuple[str, ...]
    spws: tuple[int, ...]

    def channels(self) -> dict[str, dict[str, list[int]]]:
        """{field: {spw: line channels}} for the pairs that have any."""
        out: dict[str, dict[str, list[int]]] = {}
        for j, name in enumerate(self.fields):
            for k, spw in enumerate(self.spws):
                chans = np.flatnonzero(self.masks[k][j]).tolist()
                if chans:
                    out.setdefault(name, {})[str(spw)] = chans
        return out

    def to_record(self) -> dict:
        return {"line_channels": self.channels()}

    def without_lines(self, target: Target) -> Target:
        """target with each calibrator's line channels left out of its masks."""
        ch = {
            s: np.asarray(target.channels[s])[None, :] & ~self.masks[k]
            for k, s in enumerate(target.channels)
        }
        return Target(target.info, target.field_index, ch, target.column)


def _spectra(
    binned: Sequence[ChannelBins | None], target: Target, n_cal: int, common: CommonUvRange | None
) -> list[np.ndarray]:
    """Per spw position: (n_cal, 3, n_chan) sum(w), sum(w Re V), sum(w Im V)."""
    out = []
    for b, spw in zip(binned, target.channels, strict=True):
        n_chan = target.info.chan_freq_hz[spw].size
        if b is None:
            out.append(np.zeros((n_cal, 3, n_chan)))
            continue
        s = (b if common is None else b.within(common.lo_lambda, common.hi_lambda)).spectrum()
        out.append(np.moveaxis(s[..., [B_W, B_W_RE, B_W_IM]], 2, 1))
    return out


def find_lines(
    binned: Sequence[Sequence[ChannelBins | None]],
    target: Target,
    fields: tuple[str, ...],
    common: CommonUvRange | None,
) -> LineChannels:
    """Line channels from every epoch's per-channel sums, binned[epoch][spw position]
    (cut to the common range when there is one).

    target : the first MS (its frequencies and the user's channel selection).
    """
    n_cal = len(fields)
    spectra = [_spectra(b, target, n_cal, common) for b in binned]
    freqs = [target.info.chan_freq_hz[s] for s in target.channels]
    usable = [target.channels[s] for s in target.channels]
    masks = line_masks(spectra, freqs, usable)
    return LineChannels(tuple(masks), fields, tuple(int(s) for s in target.channels))


def cut_sums(
    binned: Sequence[ChannelBins | None],
    n_cal: int,
    common: CommonUvRange | None,
    lines: LineChannels | None,
    n_model_bin: int | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The point sums (n_cal, n_spw, N_SUMS) and, when n_model_bin, the model bins
    (n_cal, n_spw, n_model_bin, N_BIN_SUMS) of an epoch's binned sums (per spw
    position), cut at the common range's bin edges and without the line channels."""
    n_spw = len(binned)
    point = np.zeros((n_cal, n_spw, N_SUMS))
    model = None if n_model_bin is None else np.zeros((n_cal, n_spw, n_model_bin, N_BIN_SUMS))
    for k, b in enumerate(binned):
        if b is None:
            continue
        keep = _kept(b, n_cal, k, lines)
        cut: ChannelBins = b if common is None else b.within(common.lo_lambda, common.hi_lambda)
        point[:, k] = cut.over_channels(keep).sum(axis=1)[:, _POINT_COLUMNS]
        if model is not None and n_model_bin is not None:
            model[:, k] = cut.model_bins(keep, n_model_bin)
    return point, model


def _kept(b: ChannelBins, n_cal: int, k: int, lines: LineChannels | None) -> np.ndarray:
    if lines is None:
        return np.ones((n_cal, b.sums.shape[1]), bool)
    return ~lines.masks[k]
