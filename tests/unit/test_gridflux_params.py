"""gridflux_check inputs: one clear error naming the parameter, before anything is read."""

import datetime as dt

import pytest

from almacal.gridflux.params import SERVICE, GridfluxParams


@pytest.fixture
def kw(tmp_path):
    ms = tmp_path / "ep01.ms"
    ms.mkdir()
    (ms / "table.dat").write_bytes(b"")  # what check_vis looks for; nothing is read here
    return dict(
        vis=[str(ms)],
        fluxcsv="",
        field="",
        catalog="service",
        serviceurl=["https://almascience.org/sc/flux", "https://asa.alma.cl/sc/flux"],
        lightcurveurl=["https://almascience.eso.org/sc/search"],
        cachedir=str(tmp_path / "cache"),
        timeout=30.0,
        window=3.0,
        maxage=60.0,
        defaultindex=[-0.7, 0.2],
        nmc=10000,
        seed=1,
        asof="",
        delays=False,
        phasecheck=False,
        outfile=str(tmp_path / "gf"),
        overwrite=False,
        indexfit="au",
    )


def test_defaults_build(kw):
    p = GridfluxParams.build(**kw)
    assert p.catalog == SERVICE and p.service.timeout_s == 30.0
    assert p.options.window_days == 3.0 and p.options.default_index == (-0.7, 0.2)
    assert p.service.cache_dir == kw["cachedir"]
    end_of_day = GridfluxParams.build(**(kw | {"asof": "2019-04-18"})).options.asof
    assert end_of_day == dt.datetime(2019, 4, 18, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"fluxcsv": "nope.csv"}, FileNotFoundError, "fluxcsv 'nope.csv' does not exist"),
        ({"catalog": "nope.ecsv"}, FileNotFoundError, "catalog 'nope.ecsv' is neither"),
        ({"serviceurl": ["ftp://x/sc/flux"]}, ValueError, "serviceurl must list http"),
        ({"lightcurveurl": []}, ValueError, "lightcurveurl must list http"),
        ({"timeout": 0.0}, ValueError, "timeout=0.0 must be"),
        ({"window": float("nan")}, ValueError, "window=nan must be"),
        ({"maxage": -1.0}, ValueError, "maxage=-1.0 must be"),
        ({"defaultindex": [-0.7]}, ValueError, "defaultindex must be"),
        ({"defaultindex": [-0.7, -0.2]}, ValueError, "defaultindex sigma"),
        ({"nmc": 10}, ValueError, "nmc=10"),
        ({"seed": -1}, ValueError, "seed=-1"),
        ({"asof": "last week"}, ValueError, "asof: 'last week' is not a date"),
        ({"delays": True}, ValueError, "delays=True with catalog='service': .* no ingestion"),
        ({"vis": ["missing.ms"]}, FileNotFoundError, "vis: measurement set 'missing.ms'"),
    ],
)
def test_bad_value_names_the_parameter(kw, change, error, match):
    with pytest.raises(error, match=match):
        GridfluxParams.build(**(kw | change))


def test_catalog_file_extension_and_cachedir(kw, tmp_path):
    txt = tmp_path / "cat.txt"
    txt.write_text("source,date\n")
    with pytest.raises(ValueError, match=r"catalog .*cat.txt.*expected an .ecsv or .csv"):
        GridfluxParams.build(**(kw | {"catalog": str(txt)}))
    with pytest.raises(ValueError, match="cachedir .* is inside the MS"):
        GridfluxParams.build(**(kw | {"cachedir": kw["vis"][0] + "/cache"}))
    with pytest.raises(ValueError, match="cachedir .* exists and is not a directory"):
        GridfluxParams.build(**(kw | {"cachedir": str(txt)}))
    # a file catalog needs no URLs
    csv = tmp_path / "cat.csv"
    csv.write_text("source,date,frequency,flux,error\n")
    assert GridfluxParams.build(**(kw | {"catalog": str(csv), "lightcurveurl": []})).catalog
    # a file can give ingestion dates: delays allowed
    assert GridfluxParams.build(**(kw | {"catalog": str(csv), "delays": True})).delays


def test_existing_output_needs_overwrite(kw, tmp_path):
    (tmp_path / "gf.json").write_text("{}")
    with pytest.raises(FileExistsError, match="gf.json"):
        GridfluxParams.build(**kw)
    assert GridfluxParams.build(**(kw | {"overwrite": True})).outfile == kw["outfile"]


def test_every_value_passes_through(kw, tmp_path):
    from almacal.catalog_query import ServiceConfig
    from almacal.gridflux.check import CheckOptions

    csv = tmp_path / "flux.csv"
    csv.write_text("")
    cat = tmp_path / "cat.ECSV"  # the extension check ignores case
    cat.write_text("")
    p = GridfluxParams.build(
        **kw
        | {
            "fluxcsv": str(csv),
            "field": " J1751+0939 ",
            "catalog": str(cat),
            "serviceurl": ["http://a/flux"],
            "lightcurveurl": [],
            "cachedir": "",
            "timeout": 5,
            "window": 2,
            "maxage": 30,
            "defaultindex": [-0.5, 0],
            "nmc": 100,
            "seed": 0,
            "asof": "2019-04-18T12:00:00",
            "delays": 1,
            "phasecheck": 1,
            "overwrite": 0,
            "indexfit": "twopoint",
        }
    )
    assert p == GridfluxParams(
        vis=tuple(kw["vis"]),
        fluxcsv=str(csv),
        field="J1751+0939",
        catalog=str(cat),
        service=ServiceConfig(
            flux_urls=("http://a/flux",), lightcurve_urls=(), timeout_s=5.0, cache_dir=""
        ),
        options=CheckOptions(
            window_days=2.0,
            max_age_days=30.0,
            default_index=(-0.5, 0.0),
            n_mc=100,
            seed=0,
            asof=dt.datetime(2019, 4, 18, 12, 0, tzinfo=dt.timezone.utc),
            indexfit="twopoint",
        ),
        delays=True,
        phasecheck=True,
        outfile=kw["outfile"],
        overwrite=False,
    )
    assert type(p.options.n_mc) is int and type(p.service.timeout_s) is float
    assert GridfluxParams.build(**kw).fluxcsv == "" and GridfluxParams.build(**kw).field == ""
    # without a flux.csv its updated copy is not an output: an old one does not block
    (tmp_path / "gf.flux.csv").write_text("")
    assert GridfluxParams.build(**kw).outfile == kw["outfile"]
    with pytest.raises(FileExistsError, match="gf.flux.csv"):
        GridfluxParams.build(**(kw | {"fluxcsv": str(csv)}))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"timeout": 0.0}, "timeout=0.0 must be a finite number > 0"),
        ({"window": float("inf")}, "window=inf must be"),
        ({"window": -1.0}, "window=-1.0 must be a finite number of days >= 0 .0: Band 3"),
        ({"indexfit": "linear"}, "indexfit='linear': expected one of au, twopoint"),
        ({"maxage": -1.0}, "maxage=-1.0 must be"),
        ({"defaultindex": [-0.7, -0.01]}, "defaultindex sigma must be >= 0, got -0.01"),
        ({"defaultindex": [-0.7]}, "defaultindex must be \\[index, sigma\\]"),
        ({"defaultindex": [float("nan"), 0.2]}, "defaultindex must be"),
        ({"nmc": 99}, "nmc=99: use at least 100"),
        ({"seed": -1}, "seed=-1 must be >= 0"),
        ({"serviceurl": ["ftp://x"]}, "serviceurl must list http\\(s\\) URLs"),
        ({"serviceurl": []}, "serviceurl must list"),
        ({"lightcurveurl": ["www.x"]}, "lightcurveurl must list"),
        ({"delays": True}, "delays=True with catalog='service'"),
    ],
)
def test_limits_refused_with_the_value(kw, change, match):
    with pytest.raises(ValueError, match=match):
        GridfluxParams.build(**(kw | change))


def test_limits_accepted(kw):
    for change in ({"timeout": 1e-3}, {"window": 0.5}, {"maxage": 1.0}, {"nmc": 100}):
        GridfluxParams.build(**(kw | change))
    # window 0: analysisUtils' old same-day rule (Band 3 and Band 7 on one UTC day)
    assert GridfluxParams.build(**(kw | {"window": 0.0})).options.window_days == 0.0
    assert GridfluxParams.build(**kw).options.indexfit == "au"
    assert GridfluxParams.build(**(kw | {"seed": 0})).options.seed == 0
    assert (
        GridfluxParams.build(**(kw | {"defaultindex": [-0.7, 0.0]})).options.default_index[1] == 0
    )
    # a date with a time is taken as given, not moved to the end of the day
    t = GridfluxParams.build(**(kw | {"asof": "2019-04-18T00:00"})).options.asof
    assert t == dt.datetime(2019, 4, 18, tzinfo=dt.timezone.utc)
    assert GridfluxParams.build(**(kw | {"asof": " "})).options.asof is None
    with pytest.raises(FileNotFoundError, match="fluxcsv 'nofile.csv' does not exist"):
        GridfluxParams.build(**(kw | {"fluxcsv": "nofile.csv"}))
    with pytest.raises(FileNotFoundError, match="neither 'service' nor an existing catalog"):
        GridfluxParams.build(**(kw | {"catalog": "nofile.csv"}))
    assert GridfluxParams.build(**(kw | {"catalog": " "})).catalog == SERVICE
