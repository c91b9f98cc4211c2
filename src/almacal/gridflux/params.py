"""gridflux_check inputs, checked before anything is read or queried."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from almacal.casatask.checks import check_outfile, check_vis
from almacal.catalog_query import ServiceConfig
from almacal.gridflux.catalog import parse_date
from almacal.gridflux.check import CheckOptions
from almacal.gridflux.extrapolate import INDEX_FITS
from almacal.gridflux.results import output_paths

SERVICE = "service"


@dataclass(frozen=True)
class GridfluxParams:
    vis: tuple[str, ...]
    fluxcsv: str  # absolute path or ''
    field: str
    catalog: str  # 'service' or an absolute file path
    service: ServiceConfig
    options: CheckOptions
    delays: bool
    phasecheck: bool
    outfile: str  # absolute stem or ''
    overwrite: bool
    call: dict[str, Any] = dataclasses.field(default_factory=dict)  # the task's arguments, as given

    @classmethod
    def from_task_args(cls, args: Mapping[str, Any]) -> GridfluxParams:
        """build() from the task's arguments, which the result records."""
        return dataclasses.replace(cls.build(**args), call=dict(args))

    def products(self) -> dict[str, str]:
        """What the run writes: nothing without outfile."""
        return output_paths(self.outfile, bool(self.fluxcsv)) if self.outfile else {}

    @classmethod
    def build(
        cls,
        *,
        vis: list[str],
        fluxcsv: str,
        field: str,
        catalog: str,
        serviceurl: list[str],
        lightcurveurl: list[str],
        cachedir: str,
        timeout: float,
        window: float,
        maxage: float,
        defaultindex: list[float],
        nmc: int,
        seed: int,
        asof: str,
        delays: bool,
        phasecheck: bool,
        outfile: str,
        overwrite: bool,
        indexfit: str,
    ) -> GridfluxParams:
        paths = check_vis(vis)
        csv_path = _fluxcsv(fluxcsv)
        cat = _catalog(catalog)
        _urls(serviceurl, lightcurveurl, cat)
        if delays and cat == SERVICE:
            raise ValueError(
                "delays=True with catalog='service': the catalogue search answer gives no "
                "ingestion dates (none is known in it), so lags cannot be computed from the "
                "service; give catalog=<file> with an 'ingested' column"
            )
        _positive("timeout", timeout)
        options = _options(window, maxage, defaultindex, nmc, seed, asof, indexfit)
        cache = os.path.abspath(os.path.expanduser(cachedir)) if cachedir.strip() else ""
        _check_cachedir(cachedir, cache, paths)
        return cls(
            vis=paths,
            fluxcsv=csv_path,
            field=field.strip(),
            catalog=cat,
            service=ServiceConfig(
                flux_urls=tuple(serviceurl),
                lightcurve_urls=tuple(lightcurveurl),
                timeout_s=float(timeout),
                cache_dir=cache,
            ),
            options=options,
            delays=bool(delays),
            phasecheck=bool(phasecheck),
            outfile=_check_outfile(outfile, overwrite, bool(csv_path)),
            overwrite=bool(overwrite),
        )


def _fluxcsv(fluxcsv: str) -> str:
    if not fluxcsv.strip():
        return ""
    path = os.path.abspath(os.path.expanduser(fluxcsv))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"fluxcsv {fluxcsv!r} does not exist")
    return path


def _catalog(catalog: str) -> str:
    """'service' or the absolute path of an existing .ecsv/.csv catalog file."""
    cat = catalog.strip() or SERVICE
    if cat == SERVICE:
        return cat
    cat = os.path.abspath(os.path.expanduser(cat))
    if not os.path.isfile(cat):
        raise FileNotFoundError(
            f"catalog {catalog!r} is neither 'service' nor an existing catalog file"
        )
    if not cat.lower().endswith((".ecsv", ".csv")):
        raise ValueError(f"catalog {catalog!r}: expected an .ecsv or .csv file")
    return cat


def _urls(serviceurl: list[str], lightcurveurl: list[str], catalog: str) -> None:
    for name, urls in (("serviceurl", serviceurl), ("lightcurveurl", lightcurveurl)):
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad or (catalog == SERVICE and not urls):
            raise ValueError(f"{name} must list http(s) URLs (primary first), got {urls!r}")


def _options(
    window: float,
    maxage: float,
    defaultindex: list[float],
    nmc: int,
    seed: int,
    asof: str,
    indexfit: str,
) -> CheckOptions:
    if not (math.isfinite(window) and window >= 0):
        raise ValueError(
            f"window={window!r} must be a finite number of days >= 0 (0: Band 3 and Band 7 "
            "on the same UTC day, analysisUtils' old rule)"
        )
    if indexfit not in INDEX_FITS:
        raise ValueError(f"indexfit={indexfit!r}: expected one of {', '.join(INDEX_FITS)}")
    _positive("maxage", maxage)
    if len(defaultindex) != 2 or not all(math.isfinite(v) for v in defaultindex):
        raise ValueError(f"defaultindex must be [index, sigma], got {defaultindex!r}")
    if defaultindex[1] < 0:
        raise ValueError(f"defaultindex sigma must be >= 0, got {defaultindex[1]!r}")
    if nmc < 100:
        raise ValueError(f"nmc={nmc!r}: use at least 100 Monte Carlo draws")
    if seed < 0:
        raise ValueError(f"seed={seed!r} must be >= 0")
    return CheckOptions(
        window_days=float(window),
        max_age_days=float(maxage),
        default_index=(float(defaultindex[0]), float(defaultindex[1])),
        n_mc=int(nmc),
        seed=int(seed),
        asof=_asof(asof),
        indexfit=indexfit,
    )


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")


def _check_cachedir(cachedir: str, cache: str, vis: tuple[str, ...]) -> None:
    """The cache is ours: not an existing file, never inside an input MS."""
    if not cache:
        return
    if os.path.exists(cache) and not os.path.isdir(cache):
        raise ValueError(f"cachedir {cachedir!r} exists and is not a directory")
    inside = [
        v for v in vis if os.path.commonpath([cache, os.path.abspath(v)]) == os.path.abspath(v)
    ]
    if inside:
        raise ValueError(
            f"cachedir {cachedir!r} is inside the MS {inside[0]!r}; the MSs are only read"
        )


def _asof(asof: str) -> dt.datetime | None:
    if not asof.strip():
        return None
    d = parse_date(asof, "asof")
    # a bare date means the end of that day
    if len(asof.strip()) <= 10:
        d = d + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    return d


def _check_outfile(outfile: str, overwrite: bool, with_csv: bool) -> str:
    return check_outfile(outfile, overwrite, lambda stem: output_paths(stem, with_csv))
