"""gridflux_check implementation. Parameters are defined in xml/gridflux_check.xml."""

from __future__ import annotations

import numpy as np

from almacal.casatask.log import casalog
from almacal.casatask.skeleton import run_task
from almacal.catalog_query import ServiceConfig
from almacal.gridflux.task import GridfluxCheckTask
from almacal.io.catalog_service import HttpCatalogClient
from almacal.io.mpi import task_mapper
from almacal.io.ms import CasaMs
from almacal.io.msinfo import read_ms_info
from almacal.msinfo import MsInfo
from almacal.relcal.pointflux import field_point_flux


class CasaGridfluxReaders:
    """gridflux_check's readers: the MS model, the catalog over HTTP, the point flux."""

    read_info = staticmethod(read_ms_info)

    @staticmethod
    def catalog_client(config: ServiceConfig) -> HttpCatalogClient:
        return HttpCatalogClient(config)

    @staticmethod
    def point_flux(
        info: MsInfo, field: str, spws: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Point-source fit of field per spw in CORRECTED_DATA (else DATA), all channels:
        relcal_fit's per-MS unit."""
        return field_point_flux(CasaMs(), info, field, spws)

    @staticmethod
    def post(message: str, priority: str = "INFO") -> None:
        casalog.post(message, priority)


def gridflux_check(
    vis,
    fluxcsv,
    field,
    catalog,
    serviceurl,
    lightcurveurl,
    cachedir,
    timeout,
    window,
    maxage,
    defaultindex,
    nmc,
    seed,
    asof,
    delays,
    phasecheck,
    outfile,
    overwrite,
    indexfit,
    parallel,
):
    """Grid calibrator flux vs the catalog now (seed 000 §3.2, §4.2). Parameters: the XML."""
    return run_task(GridfluxCheckTask(CasaGridfluxReaders(), task_mapper(parallel)), locals())
