"""A fake ALMA calibrator catalog on 127.0.0.1 answering in the service's formats.

GET /sc/flux answers a VOTable row with the FIELDs of the pipeline's own test
fixture (StatusCode ... Version). POST /sc/search answers the catalogue's JSON
search (status, data: one row per measurement in the cone and date range) in the
format seen in a public client of the live service. mode 'ok' answers, 'error'
returns HTTP 500, 'slow' sleeps before answering, 'garbage' returns HTML,
'refused' answers a search with status 'error' and errorFields.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from almacal.gridflux.catalog import Measurement

VERSION = "2020APR"

_FLUX_VOTABLE = """<?xml version="1.0"?>
<VOTABLE>
  <RESOURCE>
    <TABLE>
      <FIELD datatype="int" width="1" name="StatusCode"></FIELD>
      <FIELD datatype="char" name="SourceName" arraysize="*"/>
      <FIELD unit="Hz" datatype="double" width="10" name="Frequency"/>
      <FIELD datatype="char" name="Date" arraysize="*"/>
      <FIELD unit="Jansky" datatype="double" width="10" name="FluxDensity"/>
      <FIELD unit="Jansky" datatype="double" width="10" name="FluxDensityError"/>
      <FIELD unit="Unitless" datatype="double" width="10" name="SpectralIndex"/>
      <FIELD unit="Unitless" datatype="double" width="10" name="SpectralIndexError"/>
      <FIELD unit="Unitless" datatype="double" width="10" name="Curvature"/>
      <FIELD unit="Unitless" datatype="double" width="10" name="CurvatureError"/>
      <FIELD datatype="int" width="10" name="DataConditions"></FIELD>
      <FIELD datatype="float" width="10" name="Nearest Measurement Date"></FIELD>
      <FIELD datatype="char" name="Verbose" arraysize="*"/>
      <FIELD datatype="char" name="Version" arraysize="*"></FIELD>
      <DATA><TABLEDATA>
        <TR><TD>0</TD><TD>{name}</TD><TD>{freq}</TD><TD>{date}</TD><TD>{flux}</TD>
<TD>{err}</TD><TD>{spix}</TD><TD>0.02</TD><TD>0.0</TD><TD>0.0</TD><TD>111</TD><TD>{age}</TD>
<TD>fake</TD><TD>{version}</TD></TR>
      </TABLEDATA></DATA>
    </TABLE>
  </RESOURCE>
</VOTABLE>
"""


@dataclass
class FakeCatalog:
    measurements: Sequence[Measurement]
    positions: Mapping[str, tuple[float, float]]  # source -> (RA, Dec) J2000 degrees
    names: Mapping[str, Sequence[str]] = field(default_factory=dict)  # default: the source name
    # (measurement, row fields it is served with), e.g. {"valid": False}: to be ignored
    bad_rows: Sequence[tuple[Measurement, dict]] = ()
    flux_answer: dict = field(
        default_factory=lambda: {"flux": 2.44, "err": 0.07, "spix": -0.482, "age": 1.5}
    )
    mode: str = "ok"
    delay_s: float = 0.0
    requests: list = field(default_factory=list)  # (path, query or form fields)

    def search(self, form: dict) -> str:
        ra, dec, radius = (float(form[k]) for k in ("ra", "dec", "radius"))
        first = dt.date.fromisoformat(form["dateObservedFrom"])
        last = dt.date.fromisoformat(form["dateObservedTo"])
        ids = {name: k + 1 for k, name in enumerate(sorted(self.positions))}
        served = [(m, {}) for m in self.measurements] + list(self.bad_rows)
        rows = []
        for k, (m, override) in enumerate(served):
            sep = separation_deg((ra, dec), self.positions[m.source])
            if sep > radius or not first <= m.date.date() <= last:
                continue
            row = {
                "id": 1000 + k,
                "sourceId": ids[m.source],
                "names": [{"name": n} for n in self.names.get(m.source, (m.source,))],
                "separationInDegrees": sep,
                "sourceRaDeg": self.positions[m.source][0],
                "sourceDecDeg": self.positions[m.source][1],
                "bandName": f"ALMA-Band {m.band}",
                "dateObserved": m.date.strftime("%Y-%m-%d %H:%M:%S"),
                "flux": m.flux_jy,
                "fluxUncertainty": m.error_jy,
                "frequency": m.freq_hz,
                "valid": True,
            }
            rows.append(row | override)
        return json.dumps({"status": "ok", "data": rows})

    def flux(self, q: dict) -> str:
        return _FLUX_VOTABLE.format(
            name=q["NAME"], freq=q["FREQUENCY"], date=q["DATE"], version=VERSION, **self.flux_answer
        )


def separation_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angle between two (RA, Dec) directions, degrees (haversine)."""
    ra1, dec1, ra2, dec2 = (math.radians(v) for v in (*a, *b))
    h = (
        math.sin((dec2 - dec1) / 2) ** 2
        + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


def _handler(cat: FakeCatalog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urllib.parse.urlparse(self.path)
            self._answer(url.path, dict(urllib.parse.parse_qsl(url.query)), "GET")

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            size = int(self.headers.get("Content-Length", 0))
            form = self.rfile.read(size).decode()
            q = dict(urllib.parse.parse_qsl(form, keep_blank_values=True))
            self._answer(urllib.parse.urlparse(self.path).path, q, "POST")

        def _answer(self, path: str, q: dict, method: str) -> None:
            cat.requests.append((path, q))
            if cat.mode == "slow":
                time.sleep(cat.delay_s)
            if cat.mode == "error":
                self.send_error(500, "internal error")
                return
            kind = "text/xml"
            if cat.mode == "garbage":
                body, kind = "<html><body>maintenance</body></html>", "text/html"
            elif method == "GET" and path.endswith("/sc/flux"):
                body = cat.flux(q)
            elif method == "POST" and path.endswith("/sc/search"):
                kind = "application/json"
                body = cat.search(q)
                if cat.mode == "refused":
                    body = json.dumps({"status": "error", "errorFields": {"ra": "invalid"}})
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def serve(cat: FakeCatalog) -> Iterator[str]:
    """Base URL http://127.0.0.1:<port> of a running fake catalog."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cat))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused at once)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
