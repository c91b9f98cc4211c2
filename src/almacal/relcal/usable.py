"""Which (epoch, calibrator) fluxes may enter the rFCF, and why a pair may not.

A pair is unusable when its epoch has no data of it (not observed, all flagged,
non-finite, outside the selection, zero weights), when its fit failed (did not
converge, stopped at its evaluation limit, sits at a bound), or when its flux is
not a measurement: <= 0, or its SNR below minfluxsnr (at SNR 10 a single MCF is
already 10 % uncertain; seed 000 reaches ~3 % between epochs with four calibrators
at SNR > 100). Unusable pairs leave the rFCF and, like rejectsigma's outliers, their
flux in the calibrator's Eq. 1 mean is replaced by what the other calibrators
predict (choice.fill_dropped). Each gets its reason ('' = usable), listed in the
record's exclusions and logged as a WARN; an epoch left without a usable calibrator
is an error naming the epoch, its MSs and the fluxes seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.relcal.accumulate import COUNT_ROWS, COUNT_VALID, COUNT_WEIGHTED, MsSums
from almacal.relcal.fluxfit import SUM_W


def no_reasons(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, "", dtype=object)


def first_reason(*reasons: np.ndarray) -> np.ndarray:
    """Elementwise the first non-empty reason of several (n_epoch, n_cal) arrays."""
    out = no_reasons(reasons[0].shape)
    for r in reasons:
        out = np.where(out == "", r, out)
    return out


def format_flux(flux: float, sigma: float) -> str:
    """'0.67 +- 0.57 mJy' below 0.1 Jy, '0.9512 +- 0.0006 Jy' above."""
    if abs(flux) < 0.1 or not np.isfinite(flux):
        return "%.3g +- %.2g mJy" % (1e3 * flux, 1e3 * sigma)
    return "%.4f +- %.2g Jy" % (flux, sigma)


def weak_reasons(flux: np.ndarray, sigma: np.ndarray, minfluxsnr: float) -> np.ndarray:
    """(n_epoch, n_cal) reasons of fluxes that are not a measurement: <= 0, an unknown
    (NaN) uncertainty, or SNR = flux / sigma below minfluxsnr; NaN fluxes are left to
    the data and fit reasons."""
    out = no_reasons(flux.shape)
    for idx in zip(*np.nonzero(np.isfinite(flux)), strict=True):
        f, s = float(flux[idx]), float(sigma[idx])
        text = format_flux(f, s)
        if f <= 0:
            out[idx] = f"flux <= 0 ({text}): not a detection"
        elif not np.isfinite(s):
            out[idx] = f"flux {text}: its uncertainty is unknown (too few visibilities)"
        elif s > 0 and f / s < minfluxsnr:  # sigma 0: noise-free data, infinite SNR
            out[idx] = f"weak: flux {text}, SNR {f / s:.1f} < minfluxsnr {minfluxsnr:g}"
    return out


@dataclass(frozen=True)
class Selection:
    """What the user selected, for the reasons' texts: spw and uvrange as given, the
    cuts made after the pass (uvrange='common', fitspw='auto'), selfcal's minsnr
    (None without selfcal) and the (n_epoch, n_cal) pairs that had data before it (so
    that their flags came from self-calibration; None: all)."""

    spw: str
    uvrange: str
    cuts: str = ""
    selfcal_minsnr: float | None = None
    selfcal_had_data: np.ndarray | None = None

    def flagged_by_selfcal(self, e: int, j: int) -> bool:
        if self.selfcal_minsnr is None:
            return False
        return self.selfcal_had_data is None or bool(self.selfcal_had_data[e, j])


def data_reasons(
    sums: Sequence[MsSums],
    point: np.ndarray,
    vis: Sequence[Sequence[str]],
    missing: Sequence[dict[int, str]],
    sel: Selection,
) -> np.ndarray:
    """(n_epoch, n_cal) why a pair has no data: sums and vis per epoch, point its fit
    sums after the cuts (n_epoch, n_cal, n_spw, N_SUMS), missing per epoch the field
    matching's reasons ({calibrator: text}) of its MSs."""
    n_epoch, n_cal = point.shape[:2]
    out = no_reasons((n_epoch, n_cal))
    where = f"spw={sel.spw!r}, uvrange={sel.uvrange!r}"
    for e in range(n_epoch):
        ms = ", ".join(vis[e])
        counts, rows_unflagged = sums[e].counts, sums[e].rows_unflagged
        for j in range(n_cal):
            if counts[j, COUNT_ROWS] == 0:
                why = missing[e].get(
                    j, f"its field has no rows (without FLAG_ROW) in spw={sel.spw!r}"
                )
                out[e, j] = f"no data in {ms} ({why})"
            elif rows_unflagged[j] == 0:
                out[e, j] = (
                    f"all data flagged in {ms}"
                    if not sel.flagged_by_selfcal(e, j)
                    else f"all data flagged in {ms} after self-calibration (no gaincal solution "
                    f"with SNR >= minsnr {sel.selfcal_minsnr:g})"
                )
            elif counts[j, COUNT_VALID] == 0:
                out[e, j] = f"no unflagged, finite data within {where} in {ms}"
            elif counts[j, COUNT_WEIGHTED] == 0:
                out[e, j] = (
                    f"every unflagged visibility in {ms} has a zero or negative weight "
                    "(WEIGHT, or WEIGHT_SPECTRUM when present)"
                )
            elif not point[e, j, :, SUM_W].sum() > 0:
                out[e, j] = f"no data left after {sel.cuts or 'the selection'} in {ms}"
    return out


def exclusion_entries(reasons: np.ndarray, fields: Sequence[str]) -> list[dict]:
    """{epoch, field, reason} per pair with a reason, in (epoch, calibrator) order."""
    return [
        {"epoch": int(i) + 1, "field": fields[j], "reason": str(reasons[i, j])}
        for i, j in zip(*np.nonzero(reasons != ""), strict=True)
    ]


def refuse_epochs_without_calibrator(
    used: np.ndarray,
    flux: np.ndarray,
    sigma: np.ndarray,
    exclusions: Sequence[dict],
    epochs: Sequence,
    fields: Sequence[str],
) -> None:
    """ValueError naming every epoch with no used pair: its MSs, each calibrator's flux
    and why it is out."""
    empty = np.flatnonzero(~used.any(axis=1))
    if empty.size == 0:
        return
    why = {(x["epoch"], x["field"]): x["reason"] for x in exclusions}
    ep = epochs[int(empty[0])]
    e = int(empty[0])
    seen = "; ".join(
        f"{name} {format_flux(flux[e, j], sigma[e, j])}: {why.get((ep.number, name), '?')}"
        if np.isfinite(flux[e, j])
        else f"{name}: {why.get((ep.number, name), 'no flux')}"
        for j, name in enumerate(fields)
    )
    others = [epochs[int(i)] for i in empty[1:]]
    also = (
        " (also epoch%s %s: %s)"
        % ("s" if len(others) > 1 else "", ", ".join(str(o.number) for o in others),
           ", ".join(v for o in others for v in o.vis))
        if others
        else ""
    )  # fmt: skip
    raise ValueError(
        f"epoch {ep.number} ({', '.join(ep.vis)}) has no usable calibrator{also}: {seen}. "
        "Such an epoch has no rFCF: lower minfluxsnr if its fluxes are real, add "
        "calibrators, or leave the epoch out of vis"
    )
