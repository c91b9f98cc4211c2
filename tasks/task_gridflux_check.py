"""gridflux_check implementation. Parameters are defined in xml/gridflux_check.xml."""

from __future__ import annotations

import numpy as np

from almacal.casatask.log import casalog
from almacal.casatask.skeleton import run_task
from almacal.catalog_query import ServiceConfig
from almacal.gridflux.task import GridfluxCheckTask
from almacal.io import ms as ms_io
from almacal.io.catalog_service import HttpCatalogClient
from almacal.io.msinfo import read_ms_info
from almacal.msinfo import MsInfo
from almacal.relcal.fluxfit import SUM_W, fit_point


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
        """Point-source fit of field per spw in CORRECTED_DATA (else DATA), all channels."""
        index = np.full(len(info.field_names), -1)
        index[info.field_ids(field)] = 0
        every = ms_io.select_channels(info, "")
        channels = {s: every[s] for s in spws}
        sums = ms_io.read_point_sums(info, index, 1, channels, info.datacolumn("auto"), None)[0]
        return fit_point(sums).flux, sums[:, SUM_W]

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
):
    """Grid calibrator flux vs the catalog now (seed 000 §3.2, §4.2). Parameters: the XML."""
    return run_task(GridfluxCheckTask(CasaGridfluxReaders()), locals())
