"""A grid calibrator's flux at the observing frequencies, the way ALMA computes it.

Seed 000 §1: the flux in each spw is extrapolated from the nearest-in-time Band 3
measurement with a power-law spectral index fitted to the nearest-in-time pair of
Band 3 and Band 7 measurements taken within 3 days of each other. Two estimators
of that rule are offered (``indexfit``):

- ``'au'``, analysisUtils getALMAFlux's (almacal.gridflux.aufit): the index is a
  weighted least-squares line in log10 S against log10 nu through every point of the
  pair, the flux the mean of the closest-day Band 3 fluxes at their mean frequency;
  sessions are UTC days, as the catalogue ages getALMAFlux works with are;
- ``'twopoint'``: same-band entries of one session (within SESSION_DAYS) are combined
  into their geometric-mean flux at the geometric-mean frequency, which is exact for
  any power law, and alpha = ln(F7 / F3') / ln(nu7 / nu3'), F(nu) = F3 (nu / nu3)^alpha.

They agree when the Band 3 sidebands and Band 7 lie on one power law and differ
when they do not (common: 2.91 Jy at 103.5 GHz and 2.79 Jy at 91.5 GHz).

The uncertainty is a Monte Carlo over the measurement errors that draws the flux
session as well as the pair ('twopoint': each session once, its sidebands fully
correlated; 'au': each measurement once, independent, as the fit's weights assume),
summarised by the median and the scaled median absolute deviation 1.4826 MAD like
getALMAFlux. getALMAFlux's own Monte Carlo of the pair fit alone is reported beside
it (AuEstimate). Without a pair the index defaults to -0.7 +- 0.2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from almacal.gridflux.aufit import (
    AuEstimate,
    fit_measurements,
    pair_fit_monte_carlo,
    session_mean,
)
from almacal.gridflux.catalog import Measurement, days_between

SESSION_DAYS = 0.1
"""Same-band entries closer than this (2.4 h) are one observing session ('twopoint')."""

STALE_DAYS = 14.0
"""Measurements older than this get a warning (grid cadence 10-14 d, seed 000 §1)."""

MAD_TO_SIGMA = 1.4826
DEFAULT_INDEX = (-0.7, 0.2)

INDEX_FITS = ("au", "twopoint")
"""The estimators of the rule: getALMAFlux's (the default of the task) and the two-point one."""


def utc_day(when: dt.datetime) -> dt.date:
    return when.astimezone(dt.timezone.utc).date()


@dataclass(frozen=True)
class Session:
    """Same-band measurements of one session."""

    band: int
    members: tuple[Measurement, ...]

    @property
    def date(self) -> dt.datetime:
        t0 = self.members[0].date
        return t0 + (sum((m.date - t0 for m in self.members), dt.timedelta()) / len(self.members))

    @property
    def day(self) -> dt.date:
        """UTC day of the first member (aU's same-day rule, window=0)."""
        return utc_day(self.members[0].date)

    @property
    def freq_hz(self) -> float:
        """Geometric-mean frequency: with flux_jy, exact for a power law ('twopoint')."""
        return float(math.exp(np.mean([math.log(m.freq_hz) for m in self.members])))

    @property
    def flux_jy(self) -> float:
        return float(math.exp(np.mean([math.log(m.flux_jy) for m in self.members])))

    @property
    def rel_error(self) -> float:
        """Mean relative error: sidebands share one flux calibration, so errors are correlated."""
        return float(np.mean([m.error_jy / m.flux_jy for m in self.members]))

    def age_days(self, when: dt.datetime) -> float:
        return abs(days_between(self.date, when))


def sessions(
    measurements: Sequence[Measurement], band: int, *, by_day: bool = False
) -> tuple[Session, ...]:
    """Sessions of one band in date order: entries within SESSION_DAYS, or (by_day) on one
    UTC day."""
    ms = sorted((m for m in measurements if m.band == band), key=lambda m: m.date)
    groups: list[list[Measurement]] = []
    for m in ms:
        if groups and (
            utc_day(groups[-1][0].date) == utc_day(m.date)
            if by_day
            else days_between(groups[-1][0].date, m.date) < SESSION_DAYS
        ):
            groups[-1].append(m)
        else:
            groups.append([m])
    return tuple(Session(band, tuple(g)) for g in groups)


def pair_points(pair: tuple[Session, Session] | None) -> tuple[Measurement, ...]:
    """Every measurement of a Band 3/Band 7 pair (what getALMAFlux fits)."""
    return () if pair is None else pair[0].members + pair[1].members


@dataclass(frozen=True)
class Selection:
    """The measurements the observatory rule uses for one observing date."""

    obs_date: dt.datetime
    band3: Session
    pair: tuple[Session, Session] | None  # (Band 3, Band 7) within the window
    window_days: float
    indexfit: str  # the estimator the sessions were formed for (INDEX_FITS)

    def used(self) -> list[dict]:
        """Every measurement used, its role and age in days (ECSV/JSON)."""
        rows = [("flux", self.band3)]
        if self.pair:
            rows += [("index_b3", self.pair[0]), ("index_b7", self.pair[1])]
        return [
            {"role": role} | m.to_record() | {"age_days": m.age_days(self.obs_date)}
            for role, s in rows
            for m in s.members
        ]


def _paired(s3: Session, s7: Session, window_days: float) -> bool:
    """Within window_days of each other; window 0 is aU's old rule: the same UTC day."""
    if window_days == 0:
        return s3.day == s7.day
    return abs(days_between(s3.date, s7.date)) <= window_days


def select(
    measurements: Sequence[Measurement],
    obs_date: dt.datetime,
    *,
    window_days: float = 3.0,
    max_age_days: float = 60.0,
    source: str = "",
    indexfit: str = "au",
) -> Selection:
    """Nearest Band 3 session and the nearest Band 3/Band 7 pair within window_days.

    Sessions are UTC days for indexfit 'au', entries within SESSION_DAYS otherwise.
    The pair nearest in time is the one whose mid-point is closest to obs_date;
    ties go to the pair taken closer together. ValueError when no Band 3
    measurement lies within max_age_days (the date is outside the catalog).
    """
    by_day = indexfit == "au"
    b3 = sessions(measurements, 3, by_day=by_day)
    name = source or (measurements[0].source if measurements else "?")
    if not b3:
        raise ValueError(f"the catalog has no Band 3 measurement of {name}")
    nearest = min(b3, key=lambda s: (s.age_days(obs_date), -s.date.timestamp()))
    if nearest.age_days(obs_date) > max_age_days:
        raise ValueError(
            f"observing date {obs_date.date()} is outside the catalog of {name}: the nearest "
            f"Band 3 measurement ({nearest.date.date()}) is {nearest.age_days(obs_date):.1f} d "
            f"away (> maxage {max_age_days:g} d); catalog covers "
            f"{b3[0].date.date()} to {b3[-1].date.date()}"
        )
    pairs = [
        (s3, s7)
        for s3 in b3
        for s7 in sessions(measurements, 7, by_day=by_day)
        if _paired(s3, s7, window_days)
    ]

    def key(p: tuple[Session, Session]) -> tuple[float, float]:
        mid = p[0].date + (p[1].date - p[0].date) / 2
        return (abs(days_between(mid, obs_date)), abs(days_between(p[0].date, p[1].date)))

    pair = min(pairs, key=key) if pairs else None
    return Selection(obs_date, nearest, pair, window_days, indexfit)


@dataclass(frozen=True)
class Extrapolation:
    """Flux and index at the requested frequencies; arrays are (n_freq,)."""

    freq_hz: np.ndarray
    flux: np.ndarray  # the observatory rule, nominal values
    flux_mc: np.ndarray  # Monte Carlo median
    flux_sigma: np.ndarray  # 1.4826 MAD of the Monte Carlo
    spix: float
    spix_mc: float
    spix_sigma: float
    default_index: bool
    selection: Selection
    warnings: tuple[str, ...] = field(default=())
    au: AuEstimate | None = None  # what getALMAFlux prints for the same catalogue

    @property
    def indexfit(self) -> str:
        return self.selection.indexfit

    @property
    def band3_age_days(self) -> float:
        return self.selection.band3.age_days(self.selection.obs_date)

    @property
    def pair_age_days(self) -> float | None:
        p = self.selection.pair
        return None if p is None else max(s.age_days(self.selection.obs_date) for s in p)


def power_law(flux_ref: float, freq_ref_hz: float, spix: float, freq_hz) -> np.ndarray:
    """F(nu) = F_ref (nu / nu_ref)^alpha."""
    return flux_ref * (np.asarray(freq_hz, dtype=float) / freq_ref_hz) ** spix


def two_point_index(f1, nu1: float, f2, nu2: float):
    """alpha = ln(f2 / f1) / ln(nu2 / nu1); f1, f2 are fluxes or arrays of draws."""
    return np.log(np.asarray(f2) / np.asarray(f1)) / math.log(nu2 / nu1)


@dataclass(frozen=True)
class _Draws:
    """One estimator's nominal values and Monte Carlo draws, each (n_mc,)."""

    ref_flux: float  # Jy at ref_freq
    ref_freq: float  # Hz
    spix: float
    flux: np.ndarray  # reference flux per draw
    index: np.ndarray  # spectral index per draw
    ok: np.ndarray  # draws with positive fluxes and a finite index


def _twopoint_draws(
    selection: Selection, default_index: tuple[float, float], n_mc: int, rng: np.random.Generator
) -> _Draws:
    """Each session drawn once with its members' mean relative error (correlated)."""
    s3 = selection.band3
    draws: dict[int, np.ndarray] = {}

    def draw(s: Session) -> np.ndarray:
        if id(s) not in draws:
            draws[id(s)] = s.flux_jy * (1.0 + s.rel_error * rng.standard_normal(n_mc))
        return draws[id(s)]

    # order of draws: flux session first, then the pair (reproducible with a seed)
    f3 = draw(s3)
    if selection.pair is not None:
        p3, p7 = selection.pair
        spix = float(two_point_index(p3.flux_jy, p3.freq_hz, p7.flux_jy, p7.freq_hz))
        with np.errstate(invalid="ignore", divide="ignore"):  # non-positive draws -> NaN
            a = two_point_index(draw(p3), p3.freq_hz, draw(p7), p7.freq_hz)
    else:
        spix = default_index[0]
        a = default_index[0] + default_index[1] * rng.standard_normal(n_mc)
    return _Draws(s3.flux_jy, s3.freq_hz, spix, f3, a, np.isfinite(a) & (f3 > 0))


def _au_draws(
    selection: Selection, default_index: tuple[float, float], n_mc: int, rng: np.random.Generator
) -> _Draws:
    """Every measurement used drawn once with its own error (what the fit's weights
    assume), shared where one is both in the flux session and in the pair; the index
    refitted per draw with the nominal weights."""
    flux_members = selection.band3.members
    points = pair_points(selection.pair)
    used = tuple(dict.fromkeys(flux_members + points))
    nominal = np.array([m.flux_jy for m in used])
    rel = np.array([m.error_jy / m.flux_jy for m in used])
    draws = nominal * (1.0 + rel * rng.standard_normal((n_mc, len(used))))
    positive = np.all(draws > 0, axis=1)
    ref_flux, ref_freq = session_mean(flux_members)
    f3 = draws[:, [used.index(m) for m in flux_members]].mean(axis=1)
    if points:
        fit = fit_measurements(points)
        spix = fit.slope
        logs = np.log10(np.where(draws > 0, draws, np.nan))  # non-positive draws -> NaN
        a = logs[:, [used.index(m) for m in points]] @ fit.coeffs[1]
    else:
        spix = default_index[0]
        a = default_index[0] + default_index[1] * rng.standard_normal(n_mc)
    return _Draws(ref_flux, ref_freq, spix, f3, a, positive & np.isfinite(a))


def extrapolate(
    selection: Selection,
    freq_hz: Sequence[float],
    *,
    default_index: tuple[float, float] = DEFAULT_INDEX,
    n_mc: int = 10000,
    rng: np.random.Generator,
) -> Extrapolation:
    """Flux at freq_hz (Hz) from a Selection, with the estimator it was made for."""
    nu = np.asarray(freq_hz, dtype=float)
    draws_of = _au_draws if selection.indexfit == "au" else _twopoint_draws
    d = draws_of(selection, default_index, n_mc, rng)
    ok = d.ok
    fl = d.flux[ok, None] * (nu[None, :] / d.ref_freq) ** d.index[ok, None]
    flux_mc = np.median(fl, axis=0)
    spix_mc = float(np.median(d.index[ok]))
    result = Extrapolation(
        freq_hz=nu,
        flux=power_law(d.ref_flux, d.ref_freq, d.spix, nu),
        flux_mc=flux_mc,
        flux_sigma=MAD_TO_SIGMA * np.median(np.abs(fl - flux_mc), axis=0),
        spix=d.spix,
        spix_mc=spix_mc,
        spix_sigma=float(MAD_TO_SIGMA * np.median(np.abs(d.index[ok] - spix_mc))),
        default_index=selection.pair is None,
        selection=selection,
    )
    return _with_warnings(result, default_index, n_rejected=int(n_mc - ok.sum()), n_mc=n_mc)


def au_estimate(
    selection: Selection,
    freq_hz: Sequence[float],
    *,
    default_index: tuple[float, float] = DEFAULT_INDEX,
    n_mc: int = 10000,
    rng: np.random.Generator,
) -> AuEstimate:
    """getALMAFlux's numbers at freq_hz (Hz) from a Selection made with indexfit='au'."""
    nu = np.asarray(freq_hz, dtype=float)
    ref_flux, ref_freq = session_mean(selection.band3.members)
    if selection.pair is None:
        spix, spix_sigma = default_index
        return AuEstimate(
            spix, spix_sigma, ref_flux, ref_freq, power_law(ref_flux, ref_freq, spix, nu)
        )
    fit = fit_measurements(pair_points(selection.pair))
    return AuEstimate(
        spix=fit.slope,
        spix_sigma=fit.slope_sigma,
        ref_flux_jy=ref_flux,
        ref_freq_hz=ref_freq,
        flux=power_law(ref_flux, ref_freq, fit.slope, nu),
        mc=pair_fit_monte_carlo(fit, nu, n_mc=n_mc, rng=rng),
    )


def _pairing(window_days: float) -> str:
    return "on the same UTC day" if window_days == 0 else f"within {window_days:g} d"


def _with_warnings(
    r: Extrapolation, default_index: tuple[float, float], *, n_rejected: int, n_mc: int
) -> Extrapolation:
    sel = r.selection
    out = []
    if r.band3_age_days > STALE_DAYS:
        out.append(
            f"nearest Band 3 measurement ({sel.band3.date.date()}) is {r.band3_age_days:.1f} d "
            f"from the observation (> {STALE_DAYS:g} d)"
        )
    if sel.pair is None:
        out.append(
            f"no Band 3/Band 7 pair {_pairing(sel.window_days)}: default spectral index "
            f"{default_index[0]:+.2f} +- {default_index[1]:.2f}"
        )
    elif r.pair_age_days is not None and r.pair_age_days > STALE_DAYS:
        out.append(
            f"the Band 3/Band 7 pair used for the index is up to {r.pair_age_days:.1f} d "
            f"from the observation (> {STALE_DAYS:g} d)"
        )
    if r.spix > 0:
        out.append(f"spectral index {r.spix:+.3f} is positive (grid quasars are expected < 0)")
    if n_rejected > 0.01 * n_mc:
        out.append(
            f"{n_rejected} of {n_mc} Monte Carlo draws gave a non-positive flux "
            "(measurement errors > ~30 %)"
        )
    return dataclasses.replace(r, warnings=tuple(out))
