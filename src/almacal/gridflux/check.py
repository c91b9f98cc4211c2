"""One check per EB: select the catalog measurements, extrapolate, compare (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from almacal.gridflux.catalog import Measurement
from almacal.gridflux.compare import Comparison
from almacal.gridflux.extrapolate import (
    Extrapolation,
    Selection,
    au_estimate,
    extrapolate,
    select,
)
from almacal.gridflux.fluxcsv import FluxRow

SERVICE_TOLERANCE = 0.01
"""Relative difference between the service's /sc/flux answer and the rule that is reported."""


@dataclass(frozen=True)
class EbTarget:
    """What is known about one EB's amplitude calibrator before the catalog is asked."""

    ms: str  # MS base name, as in flux.csv
    vis: str  # absolute MS path, '' when only flux.csv rows are known
    field: str  # amplitude calibrator name (the catalog name)
    obs_date: dt.datetime  # UTC start of the observation
    spws: tuple[int, ...]
    freq_hz: tuple[float, ...]  # (n_spw,) centre frequencies
    pipe_rows: tuple[FluxRow, ...] = ()  # flux.csv rows of this field, in spws order
    radec_deg: tuple[float, float] | None = None  # J2000 position in the MS (catalogue search)

    def __post_init__(self) -> None:
        if self.pipe_rows and [r.spw for r in self.pipe_rows] != list(self.spws):
            raise ValueError(f"{self.ms}: flux.csv rows do not match spws {list(self.spws)}")


@dataclass(frozen=True)
class Catalog:
    """Measurements of one source and where they came from (recorded in every result)."""

    measurements: tuple[Measurement, ...]  # of the source, ingested by asof
    origin: str  # 'file', 'service' or 'cache'
    location: str  # file path or URL
    version: str = ""
    queried_at: str = ""  # UTC, when the answer was obtained
    service_answers: tuple[dict, ...] = ()  # /sc/flux per spw, when the service was asked
    # every entry of the source whatever asof: ingestion delays must not be cut at asof
    every_entry: tuple[Measurement, ...] = ()
    notes: tuple[str, ...] = ()  # what the user must know about these measurements (warnings)

    def provenance(self) -> dict:
        return {
            "origin": self.origin,
            "location": self.location,
            "version": self.version,
            "queried_at": self.queried_at,
        }


@dataclass(frozen=True)
class EbCheck:
    target: EbTarget
    catalog: Catalog
    extrapolation: Extrapolation
    comparison: Comparison | None  # None without pipeline values

    @property
    def warnings(self) -> tuple[str, ...]:
        extra = self.comparison.warnings if self.comparison else ()
        return self.catalog.notes + self.extrapolation.warnings + extra + self._service_disagrees()

    def _service_disagrees(self) -> tuple[str, ...]:
        """The service's own /sc/flux answer vs the rule from its measurements."""
        out = []
        for k, ans in enumerate(self.catalog.service_answers):
            if "error" in ans:
                out.append(
                    f"spw {self.target.spws[k]}: no /sc/flux answer to cross-check the rule "
                    f"({ans['error']})"
                )
                continue
            flux = ans.get("fluxdensity")
            if isinstance(flux, int | float) and flux > 0:
                ratio = flux / float(self.extrapolation.flux[k])
                if abs(ratio - 1.0) > SERVICE_TOLERANCE:
                    out.append(
                        f"spw {self.target.spws[k]}: the service's own flux {flux:.4f} Jy "
                        f"(status {ans.get('statuscode')}) differs by {100 * (ratio - 1):+.1f} % "
                        "from the rule applied to its measurements"
                    )
        return tuple(out)


@dataclass(frozen=True)
class CheckOptions:
    window_days: float = 3.0
    max_age_days: float = 60.0
    default_index: tuple[float, float] = (-0.7, 0.2)
    n_mc: int = 10000
    seed: int = 1
    asof: dt.datetime | None = None
    indexfit: str = "au"  # 'au' (getALMAFlux's estimator) or 'twopoint'


def _selection(catalog: Catalog, target: EbTarget, options: CheckOptions, indexfit: str):
    return select(
        catalog.measurements,
        target.obs_date,
        window_days=options.window_days,
        max_age_days=options.max_age_days,
        source=target.field,
        indexfit=indexfit,
    )


def _au_selection(
    sel: Selection, catalog: Catalog, target: EbTarget, options: CheckOptions
) -> Selection | None:
    """The selection getALMAFlux makes (UTC-day sessions); None if only it is out of
    maxage (its day sessions can be a little older than the two-point ones)."""
    if sel.indexfit == "au":
        return sel
    try:
        return _selection(catalog, target, options, "au")
    except ValueError:
        return None


def check_eb(target: EbTarget, catalog: Catalog, options: CheckOptions) -> EbCheck:
    """Flux of target's calibrator at its spws from catalog, compared with flux.csv."""
    sel = _selection(catalog, target, options, options.indexfit)
    rng = np.random.default_rng(options.seed)
    ex = extrapolate(
        sel, target.freq_hz, default_index=options.default_index, n_mc=options.n_mc, rng=rng
    )
    # getALMAFlux's numbers whatever the estimator, from a child stream of the seed: the
    # same for both estimators, and ours (the two-point rule's earlier numbers) untouched
    au_sel = _au_selection(sel, catalog, target, options)
    if au_sel is not None:
        au_rng = np.random.default_rng(np.random.SeedSequence(options.seed).spawn(1)[0])
        au = au_estimate(
            au_sel,
            target.freq_hz,
            default_index=options.default_index,
            n_mc=options.n_mc,
            rng=au_rng,
        )
        ex = dataclasses.replace(ex, au=au)
    comp = None
    if target.pipe_rows:
        comp = Comparison.compute(
            pipe_flux=np.array([r.flux for r in target.pipe_rows]),
            pipe_spix=np.array([r.spix for r in target.pipe_rows]),
            cat_flux=ex.flux,
            cat_sigma=ex.flux_sigma,
            cat_spix=ex.spix,
        )
    return EbCheck(target, catalog, ex, comp)


def run_checks(
    targets: Sequence[EbTarget],
    get_catalog: Callable[[EbTarget], Catalog],
    options: CheckOptions,
    progress: Callable[[EbCheck], None] | None = None,
) -> tuple[EbCheck, ...]:
    """check_eb for every target; get_catalog fetches (file, service or cache)."""
    out = []
    for t in targets:
        c = check_eb(t, get_catalog(t), options)
        if progress is not None:
            progress(c)
        out.append(c)
    return tuple(out)
