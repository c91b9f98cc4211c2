"""Which calibrators to trust: stability statistic, MCF outlier rejection and
the best-agreeing family (seed 000 Sect. 3.3; the JCMT Transient Survey picks
the family of calibrators whose normalised light curves agree best).

A calibrator whose flux changed in one epoch pulls that epoch's MCF away from
the others and, through its mean flux (Eq. 1), all its other MCFs by 1/N of
the change. A rejected (epoch, calibrator) pair therefore leaves Eq. 3 and its
flux in Eq. 1 is replaced by what the other calibrators predict
(fill_dropped), unlike a user's `exclude`, which keeps the measured flux in the
calibrator's mean as the paper did.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from almacal.relcal.factors import mean_correction_factors

USER_EXCLUSION = "exclude (user)"
"""The reason of a pair the user's exclude list left out: logged as INFO (every other
reason is a WARN), and a value of the record's exclusions."""

FAMILY_P_MIN = 1e-3
"""A family 'agrees' when its MCF scatter has a chi^2 probability above this."""


@dataclass(frozen=True)
class CalibratorChoice:
    """used : (n_epoch, n_cal) pairs averaged into the rFCF; dropped : pairs also
    left out of Eq. 1; exclusions : one entry per excluded pair with its reason;
    stability_chi2 : (n_cal,) reduced chi^2 of each calibrator's MCFs about the
    rFCFs (its normalised light curve rFCF/MCF about 1); lightcurve : (n_epoch, n_cal)."""

    used: np.ndarray
    dropped: np.ndarray
    exclusions: tuple[dict, ...]
    stability_chi2: np.ndarray
    lightcurve: np.ndarray
    family: tuple[str, ...]

    def to_record(self) -> dict:
        return {
            "dropped": self.dropped.tolist(),
            "exclusions": [dict(e) for e in self.exclusions],
            "stability_chi2": self.stability_chi2.tolist(),
            "lightcurve": self.lightcurve.tolist(),
            "family": list(self.family),
        }


def fill_dropped(flux: np.ndarray, dropped: np.ndarray) -> np.ndarray:
    """flux (n_epoch, n_cal[, n_spw]) with each dropped pair replaced by the flux its
    calibrator would have had in that epoch: its mean flux T_j / the epoch's rFCF R_i
    from the other calibrators, iterated to self-consistency.

    Leaving the pair out of Eq. 1 instead would average the calibrator over other
    epochs than its peers and offset all its MCFs by mean(epoch scales) ratios.
    """
    drop = np.broadcast_to(dropped.reshape(dropped.shape + (1,) * (flux.ndim - 2)), flux.shape)
    if not drop.any():
        return flux
    kept = np.where(drop, np.nan, flux)
    out = kept.copy()
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # a calibrator dropped in every epoch (or an epoch with no kept pair) has no
        # prediction: its mean is an empty slice, NaN, and it stays out of Eq. 1-3
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.where(drop, np.nanmean(kept, axis=0, keepdims=True), out)
        for _ in range(50):
            mean = np.nanmean(out, axis=0, keepdims=True)
            r = np.nanmean(mean / kept, axis=1, keepdims=True)
            new = np.where(drop, mean / r, out)
            if np.allclose(new, out, rtol=1e-12, equal_nan=True):
                break
            out = new
    return new


def fill_sigma(
    filled: np.ndarray, sigma: np.ndarray, flux: np.ndarray, dropped: np.ndarray
) -> np.ndarray:
    """sigma with each dropped pair's non-finite sigma (a pair without data) replaced by
    its filled flux x its calibrator's median relative sigma over the kept pairs: what
    a measurement would have had, so that Eq. 1-2 count the pair like the others."""
    drop = np.broadcast_to(dropped.reshape(dropped.shape + (1,) * (flux.ndim - 2)), flux.shape)
    missing = drop & ~np.isfinite(sigma)
    if not missing.any():
        return sigma
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a calibrator with no kept pair: NaN
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.nanmedian(np.where(drop, np.nan, np.abs(sigma / flux)), axis=0, keepdims=True)
    return np.where(missing, np.abs(filled) * rel, sigma)


def _mcf(flux, sigma, dropped):
    filled = fill_dropped(flux, dropped)
    return mean_correction_factors(filled, fill_sigma(filled, sigma, flux, dropped))


def _robust_residuals(flux, used):
    """log flux minus robust epoch and calibrator terms (Tukey's median polish), NaN where
    a pair is not used or its flux is not positive.

    log F_ij = a_i + b_j + r_ij: the epoch scale a_i and the calibrator's mean flux b_j
    are medians over calibrators and over epochs of the scale-free fluxes, so one
    outlier moves neither its calibrator's b_j nor (with three or more peers) its
    epoch's a_i. A median of the raw fluxes over epochs would move whenever the
    outlier changes the epochs' ranking (epoch scales of +-10 % against a 5 % jump),
    shifting every MCF of that calibrator.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        resid = np.where(used & (flux > 0), np.log(flux), np.nan)
    for _ in range(50):
        rows = np.nanmedian(resid, axis=1, keepdims=True)
        resid = resid - np.nan_to_num(rows)
        cols = np.nanmedian(resid, axis=0, keepdims=True)
        resid = resid - np.nan_to_num(cols)
        if np.nanmax(np.abs(np.concatenate([rows.ravel(), cols.ravel()])), initial=0.0) < 1e-12:
            break
    return resid


def _deviations(flux, sigma, used):
    """Relative MCF deviations (n_epoch, n_cal) from the median of the other used
    calibrators of the epoch, with robust calibrator means in Eq. 1 (_robust_residuals)
    so that one outlier moves neither its calibrator's other MCFs nor its peers'
    references; NaN where a pair has fewer than two others. Also each pair's own
    relative sigma (x sqrt 2 for the reference)."""
    n_cal = flux.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        resid = _robust_residuals(flux, used)
        ref = np.full(flux.shape, np.nan)
        for j in range(n_cal):
            others = used & (np.arange(n_cal) != j)[None, :]
            enough = others.sum(axis=1) >= 2
            med = np.nanmedian(np.where(others, resid, np.nan), axis=1)
            ref[:, j] = np.where(enough, med, np.nan)
        # MCF = mean flux / flux: a pair high in flux has a low MCF
        dev = np.where(used, np.exp(ref - resid) - 1.0, np.nan)
    return dev, np.sqrt(2.0) * np.abs(sigma / flux)


def _rfcf(mcf, used):
    n = used.sum(axis=1)
    return np.where(n > 0, np.where(used, mcf, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)


def _chi2(mcf, mcf_sigma, used):
    """chi^2 and dof of the used MCFs about their epoch means."""
    r = _rfcf(mcf, used)
    z2 = np.where(used, ((mcf - r[:, None]) / mcf_sigma) ** 2, 0.0)
    dof = np.maximum(used.sum(axis=1) - 1, 0)
    return z2, float(dof.sum())


def choose_calibrators(
    flux: np.ndarray,
    sigma: np.ndarray,
    *,
    excluded: np.ndarray,
    fields: tuple[str, ...],
    rejectsigma: float,
    minfamily: int,
    unusable: np.ndarray | None = None,
) -> CalibratorChoice:
    """flux, sigma : (n_epoch, n_cal) Jy; excluded : the user's pairs (kept in Eq. 1);
    unusable : (n_epoch, n_cal) why a pair cannot be used ('' when it can,
    relcal.usable): those are dropped from the start, each with its reason.

    rejectsigma > 0: repeatedly drop the pair whose MCF lies furthest from the
    median of the other calibrators' MCFs in its epoch (MCFs from median fluxes,
    so one outlier does not shift the others), while that distance exceeds
    rejectsigma x max(robust scatter (1.4826 MAD) of all such distances, its own
    sigma). A pair needs two other calibrators in its epoch to be judged.
    minfamily > 0: among all families of >= minfamily calibrators, keep the
    largest whose MCF scatter is consistent with its sigmas (chi^2 probability
    >= FAMILY_P_MIN), or else the one with the smallest reduced chi^2.
    """
    have = np.isfinite(flux) & np.isfinite(sigma)
    bad = np.zeros(flux.shape, bool) if unusable is None else unusable != ""
    reasons = [
        {"epoch": int(i) + 1, "field": fields[j], "reason": USER_EXCLUSION}
        for i, j in zip(*np.nonzero(excluded & have & ~bad), strict=True)
    ]
    reasons += [
        {"epoch": int(i) + 1, "field": fields[j], "reason": str(unusable[i, j])}  # type: ignore[index]
        for i, j in zip(*np.nonzero(bad), strict=True)
    ]
    used = ~excluded & have & ~bad
    dropped = bad.copy()
    if rejectsigma > 0:
        reasons += _reject_outliers(flux, sigma, used, dropped, fields, rejectsigma)
    mcf, mcf_sigma = _mcf(flux, sigma, dropped)
    family = tuple(fields)
    if minfamily > 0:
        keep = _best_family(mcf, mcf_sigma, used, minfamily)
        family = tuple(fields[j] for j in keep)
        reasons += _leave_out_of_family(used, keep, fields, family)
    z2, _ = _chi2(mcf, mcf_sigma, used)
    n_j = used.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        stability = np.where(n_j > 1, z2.sum(axis=0) / (n_j - 1), np.nan)
        light = _rfcf(mcf, used)[:, None] / mcf
    return CalibratorChoice(
        used=used,
        dropped=dropped,
        exclusions=tuple(reasons),
        stability_chi2=stability,
        lightcurve=light,
        family=family,
    )


def _reject_outliers(flux, sigma, used, dropped, fields, rejectsigma) -> list[dict]:
    """Drop the worst pair (in used and dropped, in place) while it is an outlier."""
    reasons: list[dict] = []
    while True:
        dev, rel_sigma = _deviations(flux, sigma, used)
        if not np.isfinite(dev).any():
            return reasons
        scale = 1.4826 * np.nanmedian(np.abs(dev))
        z = np.abs(dev) / np.maximum(scale, rel_sigma)
        worst = np.unravel_index(np.nanargmax(z), z.shape)
        if not z[worst] > rejectsigma:
            return reasons
        i, j = int(worst[0]), int(worst[1])
        used[i, j], dropped[i, j] = False, True
        reasons.append(
            {
                "epoch": i + 1,
                "field": fields[j],
                "reason": "MCF outlier: %+.2f %% from the other calibrators of its epoch "
                "(%.1f sigma > rejectsigma %g)" % (100 * dev[worst], z[worst], rejectsigma),
            }
        )


def _leave_out_of_family(used, keep, fields, family) -> list[dict]:
    """Calibrators outside the family leave every epoch (used changed in place)."""
    reasons: list[dict] = []
    for j in sorted(set(range(used.shape[1])) - set(keep)):
        for e in np.flatnonzero(used[:, j]):
            reasons.append(
                {
                    "epoch": int(e) + 1,
                    "field": fields[j],
                    "reason": "not in the best-agreeing family (%s)" % ",".join(family),
                }
            )
        used[:, j] = False
    return reasons


def _best_family(mcf, mcf_sigma, used, minfamily) -> tuple[int, ...]:
    from scipy.stats import chi2 as chi2_dist

    n_cal = mcf.shape[1]
    if minfamily > n_cal:
        raise ValueError(f"minfamily={minfamily} exceeds the {n_cal} calibrators in field")
    best_any, best_any_red = tuple(range(n_cal)), np.inf
    for size in range(n_cal, minfamily - 1, -1):
        best, best_red, best_p = None, np.inf, 0.0
        for fam in itertools.combinations(range(n_cal), size):
            u = used & np.isin(np.arange(n_cal), fam)[None, :]
            z2, dof = _chi2(mcf, mcf_sigma, u)
            if dof <= 0:
                continue
            red = z2.sum() / dof
            if red < best_red:
                best, best_red, best_p = fam, red, float(chi2_dist.sf(z2.sum(), dof))
        if best is None:
            continue
        if best_p >= FAMILY_P_MIN:
            return best
        if best_red < best_any_red:
            best_any, best_any_red = best, best_red
    return best_any
