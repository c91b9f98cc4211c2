"""Where catalog measurements come from: an offline file or the web service (a client
passed in: almacal.io.catalog_service in the task, a fake in the unit tests)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass

from almacal.catalog_query import ServiceError, utc_stamp
from almacal.gridflux.catalog import Measurement, for_source, known_sources, read_catalog_file
from almacal.gridflux.check import Catalog, CheckOptions, EbTarget
from almacal.gridflux.service import (
    SEARCH_RADIUS_DEG,
    SEARCH_VERSION,
    CatalogClient,
    query_flux,
    query_lightcurve,
)


@dataclass(frozen=True)
class FileSource:
    """An offline catalog file, read once."""

    path: str
    measurements: tuple[Measurement, ...]
    sha256: str

    @classmethod
    def open(cls, path: str) -> FileSource:
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        return cls(path, read_catalog_file(path), digest)

    def catalog(
        self,
        source: str,
        obs_date: dt.datetime,
        options: CheckOptions,
        radec_deg: tuple[float, float] | None = None,
    ) -> Catalog:
        """The file's measurements of source (by name: radec_deg is not needed)."""
        meas = for_source(self.measurements, source, asof=options.asof)
        if not meas:
            known = known_sources(self.measurements)
            why = " (none ingested by asof)" if source in known else ""
            raise ValueError(
                f"calibrator {source!r} is not in catalog file {self.path!r}{why}; "
                f"it has: {', '.join(known)}"
            )
        return Catalog(
            measurements=meas,
            every_entry=for_source(self.measurements, source),
            origin="file",
            location=self.path,
            version=f"sha256:{self.sha256[:16]}",
            queried_at=utc_stamp(),
        )

    def for_target(self, target: EbTarget, options: CheckOptions) -> Catalog:
        return self.catalog(target.field, target.obs_date, options, target.radec_deg)


@dataclass(frozen=True)
class ServiceSource:
    """The catalog web service: light curve for the rule, /sc/flux answers recorded."""

    client: CatalogClient  # one per run: it remembers the hosts that failed

    def catalog(
        self,
        source: str,
        obs_date: dt.datetime,
        options: CheckOptions,
        radec_deg: tuple[float, float] | None = None,
    ) -> Catalog:
        """The service's measurements in a cone around radec_deg (J2000, from the MS)."""
        if radec_deg is None:
            raise ValueError(
                f"the catalogue search needs the position of {source}, which the MS FIELD "
                "table does not give in J2000 or ICRS: use an offline catalog file (catalog=)"
            )
        span = dt.timedelta(days=options.max_age_days + options.window_days)
        start, end = obs_date - span, obs_date + span
        every, ans, notes = query_lightcurve(source, radec_deg, start, end, self.client)
        meas = for_source(every, source, asof=options.asof)
        if not meas:
            raise ValueError(
                f"the catalog service has no valid measurement of {source!r} within "
                f"{SEARCH_RADIUS_DEG * 3600:g} arcsec of RA {radec_deg[0]:.5f} Dec "
                f"{radec_deg[1]:+.5f} deg between {start.date()} and {end.date()} "
                f"({ans.request})"
            )
        if options.asof is not None:
            notes += (
                "asof: the catalogue search gives no ingestion dates, so entries count from "
                "their observing date and some used here may have reached the catalogue "
                "after asof",
            )
        return Catalog(
            measurements=meas,
            every_entry=for_source(every, source),
            origin=ans.origin,
            location=ans.request,
            version=SEARCH_VERSION,
            queried_at=ans.queried_at,
            notes=notes,
        )

    def for_target(self, target: EbTarget, options: CheckOptions) -> Catalog:
        cat = self.catalog(target.field, target.obs_date, options, target.radec_deg)
        return dataclasses.replace(
            cat, service_answers=tuple(self._flux(target, f) for f in target.freq_hz)
        )

    def _flux(self, target: EbTarget, freq_hz: float) -> dict:
        """/sc/flux at one spw: only a cross-check, so a failure is recorded, not fatal."""
        try:
            return query_flux(target.field, target.obs_date, freq_hz, self.client)
        except (ServiceError, ValueError) as exc:
            return {"freq_hz": float(freq_hz), "error": str(exc)}
