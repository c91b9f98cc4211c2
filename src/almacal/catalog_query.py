"""What the calibrator catalog client (almacal.io.catalog_service) and gridflux share:
the service configuration, one answer with its provenance, the failure type and the
UTC stamp written with every answer. Plain data, no I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FLUX_URLS = ("https://almascience.org/sc/flux", "https://asa.alma.cl/sc/flux")
LIGHTCURVE_URLS = ("https://almascience.eso.org/sc/search", "https://asa.alma.cl/sc/search")


class ServiceError(ConnectionError):
    """No host answered and the cache has no answer to the query."""


@dataclass(frozen=True)
class ServiceConfig:
    flux_urls: tuple[str, ...] = FLUX_URLS
    lightcurve_urls: tuple[str, ...] = LIGHTCURVE_URLS
    timeout_s: float = 30.0
    cache_dir: str = ""  # '' = no cache


@dataclass(frozen=True)
class Answer:
    """One answer (VOTable or JSON text) and where it came from."""

    text: str
    url: str  # the full query URL (GET) or the URL posted to (POST)
    queried_at: str  # UTC 'YYYY-MM-DD hh:mm:ss UTC', as the pipeline writes it
    origin: str  # 'service' or 'cache'
    form: str = ""  # the url-encoded form of a POST, '' for a GET

    @property
    def request(self) -> str:
        """The query as it can be repeated: 'POST <url> <form>' or the GET URL."""
        return f"POST {self.url} {self.form}" if self.form else self.url


def utc_stamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%d %H:%M:%S UTC")
