"""gridflux_check's MS selection and its steps with fake readers: no MS, no network."""

import datetime as dt
import urllib.parse

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.catalog_query import Answer
from almacal.gridflux.catalog import make_measurement
from almacal.gridflux.check import Catalog, CheckOptions, EbTarget, check_eb
from almacal.gridflux.ebselect import FLUX_INTENTS, check_alma, fields_with_intent, science_spws
from almacal.gridflux.task import GridfluxCheckTask, check_lines
from tests.unit.gridflux_eb import NAMES, OBS, RADEC, SCIENCE, SCIENCE_HZ, eb_info
from tests.unit.gridflux_fake_service import FakeCatalog


def test_science_spws_are_those_of_the_flux_calibrator_scans():
    info = eb_info()
    # WVR (0) and the channel average (18) share the scans; Tsys (15) is in its own scan
    assert science_spws(info) == SCIENCE
    # no flux intent: every spw with data, still without WVR and channel averages
    assert science_spws(eb_info(flux=())) == (15, *SCIENCE)
    assert fields_with_intent(info, FLUX_INTENTS) == (NAMES[0],)
    early = eb_info(flux=(NAMES[2], NAMES[0]), flux_intent="CALIBRATE_AMPLI.ON_SOURCE")
    assert fields_with_intent(early, FLUX_INTENTS) == (NAMES[0], NAMES[2])  # FIELD order


def test_only_alma_data_is_checked():
    check_alma(eb_info(telescopes=("ALMA", "ACA")))
    for telescopes, shown in ((("VLA",),), "VLA"), (((),), "no telescope"):
        with pytest.raises(ValueError, match=f"observed with {shown}; gridflux_check needs ALMA"):
            check_alma(eb_info(telescopes=telescopes[0]))


def _catalog():
    """Band 3 (two sidebands) and Band 7 a day before OBS for both calibrators, on
    power laws: the rule is exact."""
    out = []
    for name, f0, alpha in ((NAMES[0], 2.0, -0.6), (NAMES[1], 0.5, -0.5)):
        t = OBS - dt.timedelta(days=1)
        for ghz in (91.5, 103.5, 343.5):
            flux = f0 * (ghz / 343.5) ** alpha
            out.append(
                make_measurement(
                    source=name, date=t, freq_hz=ghz * 1e9, flux_jy=flux, error_jy=0.01 * flux
                )
            )
    return out, {NAMES[0]: RADEC[0], NAMES[1]: RADEC[1]}


class FakeClient:
    """The catalogue without HTTP: FakeCatalog's answers, checked like the real client."""

    def __init__(self, catalog):
        self.catalog = catalog

    def _answer(self, text, kind, params, check):
        check(text)
        url = f"fake://{kind}?{urllib.parse.urlencode(params)}"
        return Answer(text, url, "2026-12-01 00:00:00 UTC", "service")

    def flux(self, params, check):
        return self._answer(self.catalog.flux(params), "flux", params, check)

    def search(self, params, check):
        return self._answer(self.catalog.search(params), "search", params, check)


class FakeReaders:
    """The MS model, a fake catalog, and 0.4 Jy in every spw for the point flux."""

    def __init__(self, infos, catalog):
        self.infos = {i.path: i for i in infos}
        self.catalog = catalog
        self.asked: list[tuple] = []
        self.log: list[tuple[str, str]] = []

    def read_info(self, vis):
        return self.infos[vis]

    def catalog_client(self, config):
        return FakeClient(self.catalog)

    def point_flux(self, info, field, spws):
        self.asked.append((info.path, field, spws))
        return np.full(len(spws), 0.4), np.full(len(spws), 1e6)

    def post(self, message, priority="INFO"):
        self.log.append((message, priority))


class _NoLog:
    def origin(self, name):
        pass


def _args(vis, **kw):
    base = dict(
        vis=vis,
        fluxcsv="",
        field="",
        catalog="service",
        serviceurl=["https://example.invalid/sc/flux"],
        lightcurveurl=["https://example.invalid/sc/search"],
        cachedir="",
        timeout=5.0,
        window=3.0,
        maxage=60.0,
        defaultindex=[-0.7, 0.2],
        nmc=500,
        seed=1,
        asof="",
        delays=False,
        phasecheck=True,
        outfile="",
        overwrite=False,
        indexfit="au",
    )
    return base | kw


def _ms_dir(tmp_path):
    path = tmp_path / "uid___A002_X1.ms"
    path.mkdir()
    (path / "table.dat").write_text("")
    return str(path)


def test_steps_with_a_fake_client_and_point_flux(tmp_path, monkeypatch):
    monkeypatch.setattr("almacal.casatask.skeleton.casalog", _NoLog())
    vis = _ms_dir(tmp_path)
    meas, positions = _catalog()
    readers = FakeReaders([eb_info(path=vis)], FakeCatalog(meas, positions))
    rec = run_task(GridfluxCheckTask(readers), _args([vis]))
    (eb,) = rec["eb"]
    assert eb["field"] == NAMES[0] and eb["spw"] == list(SCIENCE)
    law = 2.0 * (np.array(SCIENCE_HZ) / 343.5e9) ** -0.6
    # getALMAFlux's estimator (the default): the index through the three points of one
    # power law is exact; the flux session is the sidebands' mean flux at 97.5 GHz, which
    # lies alpha (alpha - 1) / 2 (6 / 97.5)^2 = 0.182 % above the law there
    b3_mean = np.mean(2.0 * (np.array([91.5, 103.5]) / 343.5) ** -0.6)
    au = b3_mean * (np.array(SCIENCE_HZ) / 97.5e9) ** -0.6
    np.testing.assert_allclose(eb["catalog_flux_jy"], au, rtol=1e-9)
    np.testing.assert_allclose(eb["au_flux_jy"], au, rtol=1e-12)
    np.testing.assert_allclose(au / law - 1, 0.00182, atol=1e-5)  # the two differ
    assert eb["indexfit"] == "au" and eb["catalog_spix"] == pytest.approx(-0.6, abs=1e-12)
    two = run_task(GridfluxCheckTask(readers), _args([vis], indexfit="twopoint"))["eb"][0]
    np.testing.assert_allclose(two["catalog_flux_jy"], law, rtol=1e-9)  # exact for a law
    assert two["indexfit"] == "twopoint" and two["au_flux_jy"] == eb["au_flux_jy"]
    assert two["au_flux_sigma_jy"] == eb["au_flux_sigma_jy"]  # its own stream of the seed
    assert eb["catalog"]["origin"] == "service" and eb["catalog"]["location"].startswith(
        "fake://search?"
    )
    assert len(eb["service_answers"]) == 3
    # App. C through the injected point flux: 0.4 Jy measured for the phase calibrator
    assert readers.asked[0] == (vis, NAMES[1], SCIENCE)
    (pc,) = rec["phase_check"]
    b3_mean = np.mean(0.5 * (np.array([91.5, 103.5]) / 343.5) ** -0.5)
    cat_jy = np.mean(b3_mean * (np.array(SCIENCE_HZ) / 97.5e9) ** -0.5)
    assert pc["measured_jy"] == pytest.approx(0.4) and pc["rfcf"] == pytest.approx(cat_jy / 0.4)
    assert rec["params"]["vis"] == [vis] and rec["params"]["nmc"] == 500
    assert any(m.startswith("gridflux_check: ") for m, _ in readers.log)


def test_a_phase_calibrator_unknown_to_the_catalog_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr("almacal.casatask.skeleton.casalog", _NoLog())
    vis = _ms_dir(tmp_path)
    meas, positions = _catalog()
    only_flux_cal = FakeCatalog([m for m in meas if m.source == NAMES[0]], positions)
    readers = FakeReaders([eb_info(path=vis)], only_flux_cal)
    rec = run_task(GridfluxCheckTask(readers), _args([vis]))
    assert rec["phase_check"] == [] and readers.asked == []
    (skipped,) = rec["phase_check_skipped"]
    assert skipped.startswith(f"uid___A002_X1.ms {NAMES[1]}: the catalog service has no valid")
    assert any(p == "WARN" and "Phase check skipped" in m for m, p in readers.log)
    with pytest.raises(ValueError, match="observed with VLA"):
        bad = FakeReaders([eb_info(path=vis, telescopes=("VLA",))], only_flux_cal)
        run_task(GridfluxCheckTask(bad), _args([vis]))


def test_binary_fluxcsv_stops_the_task_before_any_ms_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr("almacal.casatask.skeleton.casalog", _NoLog())
    vis = _ms_dir(tmp_path)
    garbage = tmp_path / "flux.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)  # an image by mistake
    meas, positions = _catalog()
    readers = FakeReaders([], FakeCatalog(meas, positions))  # read_info: KeyError if asked
    with pytest.raises(ValueError, match=r"fluxcsv '.*flux.csv' is not a UTF-8 text file"):
        run_task(GridfluxCheckTask(readers), _args([vis], fluxcsv=str(garbage)))
    assert readers.asked == [] and readers.log == []


def test_delays_of_the_calibrator_entries_are_recorded_and_logged(tmp_path, monkeypatch):
    monkeypatch.setattr("almacal.casatask.skeleton.casalog", _NoLog())
    vis = _ms_dir(tmp_path)
    catalog = tmp_path / "catalog.csv"
    # lags 1.9167, 1.9167 and 3.9583 d (ingested at midnight); another source's entry is
    # not the calibrator's
    catalog.write_text(
        "source,date,frequency,flux,error,ingested\n"
        "J1751+0939,2019-03-04T02:00:00,91.5,2.60,0.05,2019-03-06\n"
        "J1751+0939,2019-03-04T02:00:00,103.5,2.45,0.05,2019-03-06\n"
        "J1751+0939,2019-03-05T01:00:00,343.5,1.45,0.07,2019-03-09\n"
        "J1830+0619,2019-03-01T00:00:00,91.5,0.60,0.05,2019-04-30\n"
    )
    readers = FakeReaders([eb_info(path=vis)], None)
    args = _args([vis], catalog=str(catalog), delays=True, phasecheck=False)
    rec = run_task(GridfluxCheckTask(readers), args)
    short, long_ = 46 / 24, 95 / 24
    (d,) = rec["delays"]
    assert d["source"] == NAMES[0] and d["n"] == 3
    # 90th percentile of (short, short, long), linear: short + 0.8 (long - short)
    assert d["median_lag_days"] == pytest.approx(short, abs=1e-9)
    assert d["p90_lag_days"] == pytest.approx(short + 0.8 * (long_ - short), abs=1e-9)
    assert d["max_lag_days"] == pytest.approx(long_, abs=1e-9)
    line = f"{NAMES[0]} catalog ingestion lag: median 1.9 d, 90th percentile 3.6 d, max 4.0 d (3)"
    assert (line, "INFO") in readers.log
    without = run_task(GridfluxCheckTask(readers), args | {"delays": False})
    assert without["delays"] == []


def test_check_log_keeps_every_line_before_the_warnings():
    meas, _ = _catalog()
    target = EbTarget("x.ms", "", NAMES[0], OBS, (17, 19), (336.5e9, 338.5e9))
    cat = Catalog(tuple(meas), "file", "cat.csv", notes=("a note on the catalog",))
    lines = check_lines(check_eb(target, cat, CheckOptions(n_mc=200, indexfit="twopoint")))
    assert [p for _, p in lines] == ["INFO", "INFO", "INFO", "WARN"]
    assert lines[0][0].startswith(f"x.ms {NAMES[0]} {OBS.date()}: Band 3 1.0 d from")
    assert [line.split(":")[0] for line, _ in lines[1:3]] == [
        "  spw 17 336.500 GHz",
        "  spw 19 338.500 GHz",
    ]
    assert lines[3] == ("  x.ms: a note on the catalog", "WARN")
