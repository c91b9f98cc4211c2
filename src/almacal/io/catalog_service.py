"""HTTP client of the ALMA calibrator source catalogue, with fallback hosts and a cache.

Each query goes to the hosts in order (GET for the flux service, a form POST for
the catalogue search), each with a timeout; an answer the caller's check refuses
counts as a failure. Every usable answer is stored in the cache directory with the
time it was obtained; when every host fails, the cached answer to the same query
is used (origin 'cache'), else ServiceError. What the queries and answers mean is
almacal.gridflux.service's business, not this module's.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from almacal.catalog_query import Answer, ServiceConfig, ServiceError, utc_stamp

Check = Callable[[str], object]


@dataclass(frozen=True)
class HttpCatalogClient:
    """The catalogue over HTTP for one task run.

    dead : hosts (scheme://netloc, after a timeout or connection error) and URLs
    (after an HTTP error or an unusable answer) that failed earlier in this run;
    they are skipped and new failures are added, so a host that is down costs
    one timeout per run, not one per spw (the pipeline likewise switches to the
    backup once for the whole run).
    """

    config: ServiceConfig
    dead: set[str] = field(default_factory=set)

    def flux(self, params: dict, check: Check) -> Answer:
        """GET the flux service (config.flux_urls) with params."""
        return self._fetch("flux", self.config.flux_urls, params, post=False, check=check)

    def search(self, params: dict, check: Check) -> Answer:
        """POST params as a form to the catalogue search (config.lightcurve_urls)."""
        return self._fetch(
            "lightcurve", self.config.lightcurve_urls, params, post=True, check=check
        )

    def _fetch(
        self, kind: str, urls: Sequence[str], params: dict, *, post: bool, check: Check
    ) -> Answer:
        query = urllib.parse.urlencode(params)
        errors: list[str] = []
        for base in urls:
            answer = self._ask(base, query, post, check, errors)
            if answer is not None:
                if self.config.cache_dir:
                    _store(self.config.cache_dir, kind, params, answer)
                return answer
        return self._cached(kind, params, query, errors)

    def _ask(
        self, base: str, query: str, post: bool, check: Check, errors: list[str]
    ) -> Answer | None:
        """One host's usable answer, or None with the reason appended to errors."""
        host = _host(base)
        if base in self.dead or host in self.dead:
            errors.append(f"{base}: skipped (failed earlier in this run)")
            return None
        request = urllib.request.Request(
            base if post else f"{base}?{query}",
            data=query.encode("ascii") if post else None,
            headers={"Content-Type": "application/x-www-form-urlencoded"} if post else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as resp:
                text = resp.read().decode("utf-8", errors="replace")
            check(text)
        except urllib.error.HTTPError as exc:  # the host answers: only this URL is bad
            self.dead.add(base)
            errors.append(f"{base}: HTTP {exc.code} {exc.reason}")
            return None
        except (urllib.error.URLError, OSError) as exc:  # down, unknown or timed out
            self.dead.add(host)
            errors.append(f"{base}: {getattr(exc, 'reason', exc)}")
            return None
        except ValueError as exc:
            self.dead.add(base)
            errors.append(f"{base}: {exc}")
            return None
        return Answer(text, request.full_url, utc_stamp(), "service", query if post else "")

    def _cached(self, kind: str, params: dict, query: str, errors: list[str]) -> Answer:
        """The cached answer to the query, else ServiceError saying what failed."""
        cache = self.config.cache_dir
        where = f"no cached answer in {cache!r}" if cache else "no cachedir set"
        if cache:
            path = _cache_path(cache, kind, params)
            if os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8") as fh:
                        rec = json.load(fh)
                    return Answer(rec["body"], rec["url"], rec["queried_at"], "cache", rec["form"])
                except (OSError, ValueError, KeyError, TypeError) as exc:  # truncated or edited
                    where = f"the cached answer {path!r} is unreadable ({exc!r}; delete it)"
        param = "serviceurl" if kind == "flux" else "lightcurveurl"
        raise ServiceError(
            f"catalog service {kind} query {query!r} failed on every host "
            f"({'; '.join(errors) or 'no URL given'}) and {where}: check the network or the "
            f"{param} parameter, or give an offline catalog file (catalog=<path>)"
        )


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _cache_path(cache_dir: str, kind: str, params: dict) -> str:
    key = hashlib.sha256(json.dumps([kind, params], sort_keys=True).encode()).hexdigest()[:20]
    return os.path.join(cache_dir, f"{kind}-{key}.json")


def _store(cache_dir: str, kind: str, params: dict, answer: Answer) -> None:
    os.makedirs(cache_dir, exist_ok=True)
    path = _cache_path(cache_dir, kind, params)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "kind": kind,
                "params": params,
                "url": answer.url,
                "queried_at": answer.queried_at,
                "form": answer.form,
                "body": answer.text,
            },
            fh,
            indent=1,
        )
    os.replace(tmp, path)
