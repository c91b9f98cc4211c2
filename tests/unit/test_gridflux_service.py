"""The catalog web client against a fake service on 127.0.0.1: same answer as the offline
file, primary -> backup -> cache -> clear error, and timeouts so nothing hangs."""

import datetime as dt
import time

import numpy as np
import pytest
from astropy.io.votable import conf as votable_conf
from astropy.table import Table

from almacal.catalog_query import ServiceConfig, ServiceError
from almacal.gridflux.catalog import make_measurement
from almacal.gridflux.check import Catalog, CheckOptions, EbTarget, check_eb
from almacal.gridflux.delays import ingestion_delays
from almacal.gridflux.service import SEARCH_RADIUS_DEG, SEARCH_VERSION, query_flux, read_votable
from almacal.gridflux.sources import FileSource, ServiceSource
from almacal.io.catalog_service import HttpCatalogClient
from tests.unit.gridflux_fake_service import (
    VERSION,
    FakeCatalog,
    closed_port_url,
    separation_deg,
    serve,
)
from tests.unit.test_gridflux_extrapolate import m
from tests.unit.test_gridflux_task import FakeClient

OBS = dt.datetime(2019, 3, 6, 3, 30, tzinfo=dt.timezone.utc)
SOURCE = "J1751+0939"
SPW_HZ = (336.495e9, 338.5e9, 348.5e9, 350.5e9)
RADEC = (267.8867417, 9.6502028)  # J1751+0939 (17:51:32.818 +09:39:00.73), J2000
# an invented source 2 arcsec away: inside the 5 arcsec cone, its rows must not be used
NEIGHBOUR = "J1751+0939N"
NEIGHBOUR_RADEC = (RADEC[0] + 2.0 / 3600 / np.cos(np.radians(RADEC[1])), RADEC[1])


def _meas():
    out = []
    for day, f3, f7 in ((-12, 3.1, 1.40), (-2, 3.3, 1.55), (5, 3.0, 1.35), (16, 2.9, 1.30)):
        t = OBS + dt.timedelta(days=day, hours=1)
        ing = t + dt.timedelta(days=2 + abs(day) % 5)
        for ghz, jy in ((91.5, f3 * 1.04), (103.5, f3 * 0.97), (343.5, f7)):
            out.append(
                make_measurement(
                    source=SOURCE,
                    date=t if ghz < 200 else t + dt.timedelta(days=1),
                    freq_hz=ghz * 1e9,
                    flux_jy=jy,
                    error_jy=0.05 * jy,
                    ingested=ing,
                )
            )
    return out


def _fake(meas, **kw):
    return FakeCatalog(meas, {SOURCE: RADEC, NEIGHBOUR: NEIGHBOUR_RADEC}, **kw)


def _distractors():
    """Rows the client must ignore: each is nearer the observation than any real one and
    far off the light curve, so using it would move the answer."""
    near = OBS + dt.timedelta(hours=2)
    b3 = dict(source=SOURCE, date=near, freq_hz=91.5e9, flux_jy=9.0, error_jy=0.1)
    neighbour = [
        make_measurement(**(b3 | {"source": NEIGHBOUR, "freq_hz": ghz * 1e9}))
        for ghz in (91.5, 103.5, 343.5)
    ]
    bad = [
        (make_measurement(**b3), {"valid": False}),
        (make_measurement(**b3), {"fluxUncertainty": 0.0}),
        (make_measurement(**b3), {"flux": -1.0}),
    ]
    return neighbour, bad


def _write_ecsv(path, meas):
    t = Table()
    t["source"] = [m.source for m in meas]
    t["date"] = [m.date.strftime("%Y-%m-%dT%H:%M:%S") for m in meas]
    t["frequency"] = [m.freq_hz for m in meas]
    t["frequency"].unit = "Hz"
    t["flux"] = [m.flux_jy for m in meas]
    t["flux"].unit = "Jy"
    t["error"] = [m.error_jy for m in meas]
    t["error"].unit = "Jy"
    t["ingested"] = [m.ingested.date().isoformat() for m in meas]
    t.write(path, format="ascii.ecsv")


def _target(name=SOURCE, radec=RADEC):
    return EbTarget("ep02.ms", "", name, OBS, (0, 1, 2, 3), SPW_HZ, radec_deg=radec)


def _client(*bases, cache_dir="", timeout=2.0):
    """The HTTP client of one run on these hosts (it remembers the hosts that failed)."""
    config = ServiceConfig(
        flux_urls=tuple(f"{b}/sc/flux" for b in bases),
        lightcurve_urls=tuple(f"{b}/sc/search" for b in bases),
        timeout_s=timeout,
        cache_dir=cache_dir,
    )
    return HttpCatalogClient(config)


def test_service_answer_equals_offline_file(tmp_path):
    meas = _meas()
    path = tmp_path / "cat.ecsv"
    _write_ecsv(path, meas)
    opts = CheckOptions(n_mc=4000, seed=3)
    offline = check_eb(_target(), FileSource.open(str(path)).for_target(_target(), opts), opts)
    neighbour, bad = _distractors()
    fake = _fake(meas + neighbour, bad_rows=bad)
    with serve(fake) as base:
        cat = ServiceSource(_client(base)).for_target(_target(), opts)
    web = check_eb(_target(), cat, opts)

    # same measurements -> same answer; the file stores GHz-converted floats (1 ulp)
    np.testing.assert_allclose(web.extrapolation.flux, offline.extrapolation.flux, rtol=1e-12)
    np.testing.assert_allclose(
        web.extrapolation.flux_sigma, offline.extrapolation.flux_sigma, rtol=1e-9
    )
    assert web.extrapolation.spix == pytest.approx(offline.extrapolation.spix, rel=1e-12)
    used_w = [(u["role"], u["date"]) for u in web.extrapolation.selection.used()]
    used_o = [(u["role"], u["date"]) for u in offline.extrapolation.selection.used()]
    assert used_w == used_o and len(used_w) == 5  # B3 2 sidebands + pair (2 + 1)
    assert not web.extrapolation.default_index  # not a vacuous pass: a real pair was used

    # provenance: origin, the repeatable query and its time; the search has no version
    assert cat.origin == "service" and cat.version == SEARCH_VERSION
    assert cat.location.startswith(f"POST {base}/sc/search internalVersion=false&")
    assert cat.queried_at.endswith(" UTC")
    assert all(m.ingested is None for m in cat.every_entry)  # none known in the answer
    assert len(cat.every_entry) == len(meas)  # neighbour and invalid rows dropped
    assert [a["freq_hz"] for a in cat.service_answers] == list(SPW_HZ)
    assert cat.service_answers[0]["fluxdensity"] == 2.44
    assert cat.service_answers[0]["version"] == VERSION
    assert cat.service_answers[0]["age"] == pytest.approx(1.5)
    # the fake's /sc/flux says 2.44 Jy whatever the light curve: reported, not used
    assert any("the service's own flux 2.4400 Jy" in w for w in web.warnings)
    assert not any("service" in w for w in offline.warnings)

    # one search: the MS position, a 5 arcsec cone, the ALMA catalogue, maxage + window days
    searches = [q for p, q in fake.requests if p == "/sc/search"]
    assert searches == [
        {
            "internalVersion": "false",
            "readOnlyVersion": "true",
            "ra": "267.8867417",
            "dec": "9.6502028",
            "radius": "0.0013889",
            "selectedCatalogues": "5",
            "dateObservedFrom": "2019-01-02",
            "dateObservedTo": "2019-05-08",
        }
    ]
    assert SEARCH_RADIUS_DEG * 3600 == pytest.approx(5.0)
    assert separation_deg(RADEC, NEIGHBOUR_RADEC) * 3600 == pytest.approx(2.0, rel=1e-6)

    # the flux queries are the pipeline's
    path_, q = next(r for r in fake.requests if r[0] == "/sc/flux")
    assert q == {
        "NAME": SOURCE,
        "DATE": "06-March-2019",
        "FREQUENCY": repr(336.495e9),
        "WEIGHTED": "true",
        "RESULT": "1",
        "VERBOSE": "1",
        "CATALOGUE": "5",
    }


@pytest.mark.parametrize("mode", ["down", "error", "garbage"])
def test_primary_failure_falls_back_to_backup(mode):
    backup = _fake(_meas())
    primary = _fake(_meas(), mode=mode)
    with serve(backup) as b, serve(primary) as p:
        first = closed_port_url() if mode == "down" else p
        ans = query_flux(SOURCE, OBS, 343.5e9, _client(first, b))
    assert ans["origin"] == "service"
    assert ans["url"].startswith(f"{b}/sc/flux?")
    assert len(backup.requests) == 1


def test_both_down_uses_cache_then_clear_error(tmp_path):
    cache = str(tmp_path / "cache")
    opts = CheckOptions(n_mc=2000)
    with serve(_fake(_meas())) as base:
        live = ServiceSource(_client(base, cache_dir=cache)).for_target(_target(), opts)
    down = _client(closed_port_url(), closed_port_url(), cache_dir=cache)
    cached = ServiceSource(down).for_target(_target(), opts)
    assert cached.origin == "cache"
    assert cached.queried_at == live.queried_at  # when the answer was really obtained
    assert cached.measurements == live.measurements
    assert [a["origin"] for a in cached.service_answers] == ["cache"] * 4

    nocache = _client(closed_port_url(), closed_port_url(), cache_dir=str(tmp_path / "empty"))
    with pytest.raises(ServiceError, match=r"failed on every host .*no cached answer in"):
        ServiceSource(nocache).for_target(_target(), opts)
    for path in (tmp_path / "cache").iterdir():  # a cache cut short by a full disk
        path.write_text(path.read_text()[:50])
    with pytest.raises(ServiceError, match=r"the cached answer .* is unreadable"):
        ServiceSource(down).catalog(SOURCE, OBS, opts, RADEC)
    with pytest.raises(ServiceError, match="no cachedir set"):
        ServiceSource(_client(closed_port_url())).for_target(_target(), opts)


def test_slow_host_times_out_and_backup_answers():
    slow = _fake(_meas(), mode="slow", delay_s=3.0)
    with serve(slow) as s, serve(_fake(_meas())) as b:
        t0 = time.perf_counter()
        ans = query_flux(SOURCE, OBS, 343.5e9, _client(s, b, timeout=0.3))
        elapsed = time.perf_counter() - t0
    assert ans["url"].startswith(b)
    assert elapsed < 2.5  # the 3 s sleep was not waited for


def test_unknown_source_on_the_service_is_a_clear_error():
    with serve(_fake(_meas())) as base:
        src = ServiceSource(_client(base))
        target = EbTarget("x.ms", "", "J0000+0000", OBS, (0,), (343.5e9,), radec_deg=(0.0, 0.0))
        with pytest.raises(ValueError, match="no valid measurement of 'J0000\\+0000' within 5 "):
            src.for_target(target, CheckOptions(n_mc=200))
        with pytest.raises(ValueError, match="needs the position of J1751"):
            src.for_target(_target(radec=None), CheckOptions(n_mc=200))


def test_unnamed_source_in_the_cone_is_used_with_a_warning(tmp_path):
    # the catalogue knows the calibrator under other names: the nearest source is used, and said
    meas = _meas()
    path = tmp_path / "cat.ecsv"
    _write_ecsv(path, meas)
    opts = CheckOptions(n_mc=2000, seed=5)
    offline = check_eb(_target(), FileSource.open(str(path)).for_target(_target(), opts), opts)
    neighbour, _ = _distractors()
    fake = _fake(meas + neighbour, names={SOURCE: ("PKS 1749+096", "OT 081")})
    with serve(fake) as base:
        web = check_eb(_target(), ServiceSource(_client(base)).for_target(_target(), opts), opts)
    np.testing.assert_allclose(web.extrapolation.flux, offline.extrapolation.flux, rtol=1e-12)
    (note,) = [w for w in web.warnings if "no source named" in w]
    assert "source id 1 (OT 081, PKS 1749+096) at 0.00 arcsec" in note


def test_refused_search_falls_back_then_names_the_error():
    with serve(_fake(_meas(), mode="refused")) as p, serve(_fake(_meas())) as b:
        cat = ServiceSource(_client(p, b)).catalog(SOURCE, OBS, CheckOptions(), RADEC)
        assert cat.location.startswith(f"POST {b}/sc/search ")
        with pytest.raises(ServiceError, match="search status 'error', errorFields {'ra': 'inv"):
            ServiceSource(_client(p)).catalog(SOURCE, OBS, CheckOptions(), RADEC)


def test_asof_on_the_service_warns_that_ingestion_dates_are_unknown():
    asof = CheckOptions(n_mc=200, asof=dt.datetime(2019, 3, 8, tzinfo=dt.timezone.utc))
    with serve(_fake(_meas())) as base:
        cat = ServiceSource(_client(base)).catalog(SOURCE, OBS, asof, RADEC)
    # entries count from their observing date: the two later epochs are cut
    assert max(m.date for m in cat.measurements) < asof.asof < max(m.date for m in cat.every_entry)
    assert any("gives no ingestion dates" in n for n in cat.notes)


def test_missing_flux_answer_is_a_warning_not_a_failure(tmp_path):
    # only the light curve was cached (e.g. a run cut short): the rule needs nothing else
    cache = str(tmp_path / "cache")
    opts = CheckOptions(n_mc=2000)
    with serve(_fake(_meas())) as base:
        live = ServiceSource(_client(base, cache_dir=cache)).catalog(SOURCE, OBS, opts, RADEC)
    down = ServiceSource(_client(closed_port_url(), cache_dir=cache))
    cat = down.for_target(_target(), opts)
    assert cat.origin == "cache" and cat.measurements == live.measurements
    assert all("failed on every host" in a["error"] for a in cat.service_answers)
    check = check_eb(_target(), cat, opts)
    assert sum("no /sc/flux answer" in w for w in check.warnings) == len(SPW_HZ)


def test_a_host_that_timed_out_is_not_asked_again_in_the_run():
    slow = _fake(_meas(), mode="slow", delay_s=3.0)
    backup = _fake(_meas())
    with serve(slow) as s, serve(backup) as b:
        src = ServiceSource(_client(s, b, timeout=0.3))
        t0 = time.perf_counter()
        cat = src.for_target(_target(), CheckOptions(n_mc=200))
        elapsed = time.perf_counter() - t0
    # 1 light curve + 4 spws: the slow primary cost one 0.3 s timeout, not five
    assert len(slow.requests) == 1 and len(backup.requests) == 1 + len(SPW_HZ)
    assert all(a["url"].startswith(b) for a in cat.service_answers)
    assert elapsed < 1.5  # five timeouts plus five answers would exceed 1.5 s


def test_delay_statistics_ignore_asof(tmp_path):
    # asof selects what the rule may use; the ingestion lags are those of every entry
    meas = _meas()
    path = tmp_path / "cat.ecsv"
    _write_ecsv(path, meas)
    asof = CheckOptions(asof=dt.datetime(2019, 3, 8, tzinfo=dt.timezone.utc))
    cat = FileSource.open(str(path)).catalog(SOURCE, OBS, asof)
    assert len(cat.measurements) < len(cat.every_entry) == len(meas)
    full = ingestion_delays(cat.every_entry, SOURCE)
    cut = ingestion_delays(cat.measurements, SOURCE)
    # cutting at asof would drop the entries ingested later and bias the lags
    assert full.n == len(meas) and cut.n < full.n
    assert full.median_days != pytest.approx(cut.median_days, abs=0.5)


def test_the_named_source_wins_over_a_nearer_one():
    from almacal.gridflux.service import source_rows

    def row(sid, name, sep_arcsec):
        return {
            "sourceId": sid,
            "names": [{"name": name}],
            "separationInDegrees": sep_arcsec / 3600,
        }

    rows = [row(7, "J1751+0939N", 0.5), row(3, SOURCE, 3.0), row(7, "J1751+0939N", 0.5)]
    assert source_rows(rows, SOURCE, RADEC) == ([rows[1]], ())
    kept, (note,) = source_rows(rows, "J0000+0000", RADEC)
    assert kept == [rows[0], rows[2]] and "source id 7 (J1751+0939N) at 0.50 arcsec" in note
    assert source_rows([], SOURCE, RADEC) == ([], ())


def test_service_flux_is_reported_only_beyond_one_percent_of_the_rule():
    meas = (m(-1, 91.5, 2.2, 0.02), m(-1.5, 103.5, 2.1, 0.02), m(-1.2, 343.5, 1.0, 0.05))
    target = EbTarget("x.ms", "", "J1751+0939", OBS, (17, 19, 21), (336.5e9, 338.5e9, 348.5e9))
    opts = CheckOptions(n_mc=200, indexfit="twopoint")
    rule = check_eb(target, Catalog(meas, "file", "cat.csv"), opts).extrapolation.flux

    def warnings(answers):
        cat = Catalog(meas, "service", "fake://", service_answers=answers)
        return [w for w in check_eb(target, cat, opts).warnings if "/sc/flux" in w or "own" in w]

    def answer(k, ratio):
        return {"fluxdensity": float(rule[k] * ratio), "statuscode": "OK"}

    # 0.5 % from the rule: agrees; 3 % above: reported with its difference
    assert warnings((answer(0, 1.005), answer(1, 0.995), answer(2, 1.005))) == []
    line, missing = warnings((answer(0, 1.005), answer(1, 1.03), {"error": "HTTP 503"}))
    assert line == (
        f"spw 19: the service's own flux {rule[1] * 1.03:.4f} Jy (status OK) differs by "
        "+3.0 % from the rule applied to its measurements"
    )
    assert missing == "spw 21: no /sc/flux answer to cross-check the rule (HTTP 503)"


def test_an_empty_catalog_is_refused_naming_the_calibrator():
    target = EbTarget("x.ms", "", "J1751+0939", OBS, (17,), (336.5e9,))
    empty = Catalog((), "file", "cat.csv")
    with pytest.raises(ValueError, match=r"^the catalog has no Band 3 measurement of J1751\+0939$"):
        check_eb(target, empty, CheckOptions(n_mc=100))


def test_service_votable_is_read_whatever_the_users_astropy_votable_setting():
    q = {"NAME": SOURCE, "FREQUENCY": "336495000000.0", "DATE": "06-Mar-2019"}
    text = FakeCatalog([], {}).flux(q)  # no version, no namespace: as the service answers
    # a user's astropy config may make the VOTable reader strict
    with votable_conf.set_temp("verify", "exception"):
        table = read_votable(text)
    assert table["FluxDensity"][0] == pytest.approx(2.44, abs=1e-12)


def test_asof_note_is_added_to_the_notes_of_the_search():
    fake = _fake(_meas(), names={SOURCE: ("PKS 1749+096",)})  # found as the nearest source
    asof = CheckOptions(n_mc=200, asof=dt.datetime(2019, 3, 8, tzinfo=dt.timezone.utc))
    notes = ServiceSource(FakeClient(fake)).catalog(SOURCE, OBS, asof, RADEC).notes
    assert len(notes) == 2
    assert "no source named" in notes[0] and "gives no ingestion dates" in notes[1]


def test_a_bad_observing_date_of_the_search_names_the_row_and_its_column():
    (bad,) = _meas()[:1]
    fake = _fake([], bad_rows=[(bad, {"dateObserved": "someday"})])
    with pytest.raises(
        ValueError, match=r"measurement id 1000: dateObserved: 'someday' is not a date"
    ):
        ServiceSource(FakeClient(fake)).catalog(SOURCE, OBS, CheckOptions(), RADEC)
