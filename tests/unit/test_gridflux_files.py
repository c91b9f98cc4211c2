"""flux.csv (both layouts), the offline catalog file, and the output files."""

import csv
import datetime as dt
import json
import os
import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from almacal.gridflux.catalog import read_catalog_file
from almacal.gridflux.check import CheckOptions, EbTarget, check_eb
from almacal.gridflux.fluxcsv import (
    COLUMNS,
    OLD_COLUMNS,
    read_flux_csv,
    updated_row,
    write_flux_csv,
)
from almacal.gridflux.results import (
    GridfluxResult,
    output_paths,
    updated_flux_rows,
    write_outputs,
)
from almacal.gridflux.sources import FileSource
from almacal.relcal.rescale_plan import resolve_factors
from tests.unit.ascii_locale import ascii_locale  # noqa: F401 (fixture)

NEW = (
    "ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment\n"
    'uid___A002_X1.ms,0,17,2.08,0.0,0.0,0.0,-0.59,0.0,0.0,"# field=J1751+0939 '
    'intents=AMPLITUDE,BANDPASS origin=DB age=12.0 queried_at=2019-04-18 10:11:12 UTC"\n'
    'uid___A002_X1.ms,0,19,2.07,0.0,0.0,0.0,-0.59,0.0,0.0,"# field=J1751+0939 '
    'intents=AMPLITUDE,BANDPASS origin=DB age=12.0 queried_at=2019-04-18 10:11:12 UTC"\n'
    'uid___A002_X1.ms,2,17,0.55,0.0,0.0,0.0,-0.7,0.0,0.0,"# field=J1830+0619 '
    'intents=PHASE origin=DB age=40.0 queried_at=2019-04-18 10:11:12 UTC"\n'
)
# older layout (no uvmin/uvmax), comment written without quotes: commas spill over
OLD = (
    "ms,field,spw,I,Q,U,V,spix,comment\n"
    "uid___A002_X1.ms,0,17,2.08,0.1,0.0,0.0,-0.59,# field=J1751+0939 intents=AMPLITUDE,"
    "BANDPASS origin=DB age=12.0 queried_at=2019-04-18 10:11:12 UTC\n"
)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_reads_both_layouts(tmp_path):
    new = read_flux_csv(_write(tmp_path, "new.csv", NEW))
    assert new.with_uv and len(new.rows) == 3
    r = new.rows[0]
    assert (r.ms, r.field, r.spw, r.flux, r.spix, r.uvmin, r.line) == (
        "uid___A002_X1.ms",
        "0",
        17,
        2.08,
        -0.59,
        0.0,
        2,
    )
    assert r.field_name == "J1751+0939" and r.intents == ("AMPLITUDE", "BANDPASS")
    assert r.age_days == 12.0 and r.note("queried_at") == "2019-04-18 10:11:12 UTC"
    old = read_flux_csv(_write(tmp_path, "old.csv", OLD))
    assert not old.with_uv and old.rows[0].uvmin is None
    assert old.rows[0].intents == ("AMPLITUDE", "BANDPASS") and old.rows[0].stokes[1] == 0.1


def test_older_comment_names_the_field(tmp_path):
    text = (
        "ms,field,spw,I,Q,U,V,spix,comment\n"
        "x.ms,3,17,2.0,0,0,0,-0.6,'J1924-2914' intent=AMPLITUDE\n"
    )
    row = read_flux_csv(_write(tmp_path, "older.csv", text)).rows[0]
    assert row.field_name == "J1924-2914" and row.intents == ("AMPLITUDE",)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("ms,field,spw,I\nx.ms,0,1,2\n", r"line 1: header 'ms,field,spw,I' is neither"),
        (NEW.replace("2.07", "abc"), r"line 3: I is 'abc', not a number"),
        (NEW.replace(",19,", ",x,"), r"line 3: spw is 'x'"),
        (NEW + "uid___A002_X1.ms,0,21,2.0\n", r"line 5: 4 values, expected 11"),
        ("", "is empty"),
        (NEW.splitlines()[0] + "\n", "no flux rows"),
    ],
)
def test_malformed_flux_csv_names_file_and_line(tmp_path, text, match):
    path = _write(tmp_path, "flux.csv", text)
    with pytest.raises(ValueError, match=match) as err:
        read_flux_csv(path)
    assert "flux.csv" in str(err.value)


# every number column of a row, with distinct values so that no column can be read from
# another's cell: I Q U V spix uvmin uvmax
DISTINCT = (
    "ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment\n"
    'x.ms,4,23,2.5,0.125,-0.0625,0.03125,-0.71,12.5,480.0,"# field=N/A intents=N/A age=3.5"\n'
)


def test_every_column_is_read_from_its_own_cell(tmp_path):
    row = read_flux_csv(_write(tmp_path, "distinct.csv", DISTINCT)).rows[0]
    assert row.stokes == (2.5, 0.125, -0.0625, 0.03125) and row.spix == -0.71
    assert (row.uvmin, row.uvmax) == (12.5, 480.0)
    # the pipeline writes N/A for an unknown field or intent: no value, not the text 'N/A'
    assert row.note("field") is None and row.field_name is None and row.intents == ()
    assert row.note("age") == "3.5"


@pytest.mark.parametrize("column", ["I", "Q", "U", "V", "spix", "uvmin", "uvmax"])
@pytest.mark.parametrize("bad", ["abc", "nan"])
def test_a_bad_number_is_named_by_its_column(tmp_path, column, bad):
    header, row = DISTINCT.splitlines()
    cells = row.split(",")
    cells[header.split(",").index(column)] = bad
    path = _write(tmp_path, "flux.csv", header + "\n" + ",".join(cells) + "\n")
    why = "not a number" if bad == "abc" else "expected a finite number"
    with pytest.raises(ValueError, match=rf"line 2: {column} is '{bad}'[,;] {why}"):
        read_flux_csv(path)


def test_rows_are_written_back_in_the_layout_they_were_read(tmp_path):
    for name, text in (("new.csv", DISTINCT), ("old.csv", OLD)):
        table = read_flux_csv(_write(tmp_path, name, text))
        out = str(tmp_path / f"out-{name}")
        write_flux_csv(out, table, table.rows)
        with open(out, newline="", encoding="utf-8") as fh:
            lines = list(csv.reader(fh))
        assert tuple(lines[0]) == (COLUMNS if table.with_uv else OLD_COLUMNS)
        assert lines[1] == table.rows[0].cells(table.with_uv)
        assert read_flux_csv(out).rows == tuple(replace(r, line=2) for r in table.rows[:1])
    row = read_flux_csv(str(tmp_path / "new.csv")).rows[0]
    assert row.cells(True)[8:10] == ["12.5", "480.0"] and len(row.cells(False)) == 9
    # an older row has no uv range: the current layout writes 0.0 (the pipeline's 'none')
    assert replace(row, uvmin=None, uvmax=None).cells(True)[8:10] == ["0.0", "0.0"]


CATALOG = (
    "source,date,frequency,flux,error,ingested\n"
    "J1751+0939,2019-03-04T02:00:00,91.5,2.60,0.05,2019-03-06\n"
    "J1751+0939,2019-03-04T02:00:00,103.5,2.45,0.05,2019-03-06\n"
    "J1751+0939,2019-03-05T01:00:00,343.5,1.45,0.07,2019-03-09\n"
)


def test_catalog_file_and_its_errors(tmp_path):
    meas = read_catalog_file(_write(tmp_path, "cat.csv", CATALOG))
    assert [m.band for m in meas] == [3, 3, 7]
    assert meas[0].freq_hz == pytest.approx(91.5e9) and meas[2].ingested.day == 9
    bad = CATALOG.replace("2.45", "-2")
    with pytest.raises(ValueError, match=r"bad.csv' line 3 \(data row 2\): need .* flux > 0"):
        read_catalog_file(_write(tmp_path, "bad.csv", bad))
    with pytest.raises(ValueError, match=r"line 2 \(data row 1\): date: '2019-13-45:00:00' is not"):
        read_catalog_file(_write(tmp_path, "d.csv", CATALOG.replace("2019-03-04T02", "2019-13-45")))
    with pytest.raises(ValueError, match="lacks column.s. error"):
        read_catalog_file(_write(tmp_path, "c.csv", CATALOG.replace(",error,", ",err,")))
    src = FileSource.open(_write(tmp_path, "ok.csv", CATALOG))
    with pytest.raises(ValueError, match="'J0000-0000' is not in catalog file .* J1751"):
        src.catalog("J0000-0000", dt.datetime(2019, 3, 6, tzinfo=dt.timezone.utc), CheckOptions())
    # asof before any ingestion: the source exists but nothing was in the catalog yet
    early = CheckOptions(asof=dt.datetime(2019, 3, 5, tzinfo=dt.timezone.utc))
    with pytest.raises(ValueError, match="none ingested by asof"):
        src.catalog("J1751+0939", dt.datetime(2019, 3, 6, tzinfo=dt.timezone.utc), early)


def test_outputs_feed_relcal_apply_and_the_pipeline(tmp_path):
    table = read_flux_csv(_write(tmp_path, "flux.csv", NEW))
    src = FileSource.open(_write(tmp_path, "cat.csv", CATALOG))
    obs = dt.datetime(2019, 3, 6, 3, 0, tzinfo=dt.timezone.utc)
    target = EbTarget(
        "uid___A002_X1.ms",
        str(tmp_path / "uid___A002_X1.ms"),
        "J1751+0939",
        obs,
        (17, 19),
        (336.495e9, 338.5e9),
        table.rows[:2],
    )
    opts = CheckOptions(n_mc=2000)
    cat = src.for_target(target, opts)
    check = check_eb(target, cat, opts)
    result = GridfluxResult(checks=(check,), run_at="2026-11-21 14:00:00 UTC")
    paths = output_paths(str(tmp_path / "out"))
    write_outputs(result, paths, table, {"uid___A002_X1.ms": cat.measurements})
    assert all(os.path.getsize(p) > 0 for p in paths.values()) and len(paths) == 4

    # the factor file is relcal_apply's contract: vis_factors {abs path: catalog / pipeline}
    with open(paths["json"]) as fh:
        rec = json.load(fh)
    factor = check.comparison.factor
    assert rec["vis_factors"] == {target.vis: factor}
    assert resolve_factors((target.vis,), [], paths["json"]) == (factor,)
    ex = check.extrapolation
    np.testing.assert_allclose(factor, np.mean(ex.flux / np.array([2.08, 2.07])))
    assert abs(factor - 1) > 0.05  # the catalog moved: a broken comparison cannot pass

    # updated flux.csv: the amplitude calibrator rows carry the catalog values, the rest is kept
    new = read_flux_csv(paths["fluxcsv"])
    assert new.with_uv and len(new.rows) == 3
    np.testing.assert_allclose([r.flux for r in new.rows[:2]], ex.flux, rtol=1e-12)
    assert new.rows[0].spix == pytest.approx(ex.spix)
    assert new.rows[0].note("origin") == "almacal.gridflux_check"
    assert new.rows[0].note("queried_at") == "2026-11-21 14:00:00 UTC"
    assert new.rows[2] == table.rows[2]
    # read back as the pipeline's import_flux does: DictReader, integer field and spw ids,
    # the whole comment in one column, queried_at as '%Y-%m-%d %H:%M:%S %Z'
    with open(paths["fluxcsv"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["comment"] for r in rows[:2]] == [r.comment for r in new.rows[:2]]
    assert all("others" not in r for r in rows) and int(rows[0]["field"]) == 0
    assert [int(r["spw"]) for r in rows] == [r.spw for r in table.rows]
    stamp = re.search(r"queried_at=(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \w{3})", rows[0]["comment"])
    assert dt.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S %Z").year == 2026
    assert "field=J1751+0939 intents=AMPLITUDE,BANDPASS " in rows[0]["comment"]
    assert rec["eb"][0]["used_measurements"][0]["role"] == "flux"
    assert rec["eb"][0]["catalog"]["origin"] == "file"


def test_asof_reproduces_what_the_pipeline_saw(tmp_path):
    # the measurements 1 d before the observation reached the catalog 10 d after it
    late = (
        "J1751+0939,2019-02-26T02:00:00,91.5,2.10,0.05,2019-02-28\n"
        "J1751+0939,2019-02-26T03:00:00,343.5,1.00,0.05,2019-02-28\n"
        "J1751+0939,2019-03-05T02:00:00,91.5,2.60,0.05,2019-03-16\n"
        "J1751+0939,2019-03-05T03:00:00,343.5,1.30,0.05,2019-03-16\n"
    )
    src = FileSource.open(_write(tmp_path, "cat.csv", CATALOG.splitlines()[0] + "\n" + late))
    obs = dt.datetime(2019, 3, 6, 3, 0, tzinfo=dt.timezone.utc)
    target = EbTarget("x.ms", "", "J1751+0939", obs, (0,), (91.5e9,))
    then = CheckOptions(n_mc=200, asof=dt.datetime(2019, 3, 8, tzinfo=dt.timezone.utc))
    now = CheckOptions(n_mc=200)
    old = check_eb(target, src.for_target(target, then), then).extrapolation
    new = check_eb(target, src.for_target(target, now), now).extrapolation
    assert old.flux[0] == pytest.approx(2.10) and old.band3_age_days == pytest.approx(
        8.04, abs=0.01
    )
    assert new.flux[0] == pytest.approx(2.60) and new.band3_age_days == pytest.approx(
        1.04, abs=0.01
    )


def test_record_and_ecsv_carry_every_number_of_each_check(tmp_path):
    from astropy.table import Table

    table = read_flux_csv(_write(tmp_path, "flux.csv", NEW))
    src = FileSource.open(_write(tmp_path, "cat.csv", CATALOG))
    obs = dt.datetime(2019, 3, 6, 3, 0, tzinfo=dt.timezone.utc)
    args = ("J1751+0939", obs, (17, 19), (336.495e9, 338.5e9))
    with_pipe = EbTarget("uid___A002_X1.ms", "/d/uid___A002_X1.ms", *args, table.rows[:2])
    no_pipe = EbTarget("uid___A002_X2.ms", "", *args)  # not in flux.csv
    opts = CheckOptions(n_mc=2000)
    checks = tuple(check_eb(t, src.for_target(t, opts), opts) for t in (with_pipe, no_pipe))
    result = GridfluxResult(checks=checks, run_at="2026-11-21 14:00:00 UTC", params={"x": 1})
    rec = result.to_record()
    assert rec["task"] == "gridflux_check" and rec["run_at"] == "2026-11-21 14:00:00 UTC"
    assert rec["params"] == {"x": 1} and rec["delays"] == [] and rec["phase_check"] == []
    assert rec["phase_check_skipped"] == []
    # only the EB with pipeline values has a factor; keyed by its path
    assert rec["vis_factors"] == {"/d/uid___A002_X1.ms": checks[0].comparison.factor}
    for eb, c in zip(rec["eb"], checks, strict=True):
        ex = c.extrapolation
        assert eb["ms"] == c.target.ms and eb["vis"] == c.target.vis
        assert eb["field"] == "J1751+0939" and eb["obs_date"] == "2019-03-06T03:00:00+00:00"
        assert eb["spw"] == [17, 19] and eb["freq_hz"] == [336.495e9, 338.5e9]
        assert eb["catalog_flux_jy"] == ex.flux.tolist()
        assert eb["catalog_flux_mc_jy"] == ex.flux_mc.tolist()
        assert eb["catalog_flux_sigma_jy"] == ex.flux_sigma.tolist()
        assert (eb["catalog_spix"], eb["catalog_spix_mc"]) == (ex.spix, ex.spix_mc)
        assert eb["catalog_spix_sigma"] == ex.spix_sigma and eb["default_index"] is False
        assert eb["band3_age_days"] == ex.band3_age_days == pytest.approx(2.0417, abs=1e-3)
        assert eb["pair_age_days"] == ex.pair_age_days and eb["window_days"] == 3.0
        assert eb["used_measurements"] == ex.selection.used()
        assert eb["catalog"] == c.catalog.provenance() and eb["catalog"]["origin"] == "file"
        assert eb["service_answers"] == list(c.catalog.service_answers)
        assert eb["warnings"] == list(c.warnings)
    comp, ex = checks[0].comparison, checks[0].extrapolation
    eb = rec["eb"][0]
    assert eb["pipeline_flux_jy"] == [2.08, 2.07] and eb["pipeline_spix"] == [-0.59, -0.59]
    assert eb["flux_change_pct"] == comp.change_pct.tolist()
    assert eb["flux_change_sigma_pct"] == comp.change_sigma_pct.tolist()
    np.testing.assert_allclose(eb["spix_change"], ex.spix + 0.59, rtol=1e-12)
    assert eb["factor_spw"] == comp.factor_spw.tolist() and eb["factor"] == comp.factor
    assert eb["factor_sigma"] == comp.factor_sigma and eb["qa_score"] == comp.qa_score
    assert eb["qa_reason"] == comp.qa_reason
    assert "factor" not in rec["eb"][1] and "pipeline_flux_jy" not in rec["eb"][1]
    assert result.summary() == (
        "uid___A002_X1.ms: factor %.4f +- %.4f (QA %.2f); uid___A002_X2.ms: no pipeline value"
        % (comp.factor, comp.factor_sigma, comp.qa_score)
    )

    t = result.to_table()
    path = tmp_path / "gf.ecsv"
    t.write(path, format="ascii.ecsv")
    t = Table.read(path, format="ascii.ecsv")
    assert len(t) == 4  # 2 EBs x 2 spws
    assert list(t["ms"]) == ["uid___A002_X1.ms"] * 2 + ["uid___A002_X2.ms"] * 2
    assert list(t["spw"]) == [17, 19, 17, 19] and set(t["field"]) == {"J1751+0939"}
    assert set(t["obs_date"]) == {"2019-03-06T03:00:00+00:00"}
    np.testing.assert_allclose(t["freq"], [336.495, 338.5] * 2, rtol=1e-15)
    for col, value in (
        ("pipeline_flux", [2.08, 2.07]),
        ("pipeline_spix", [-0.59, -0.59]),
        ("catalog_flux", ex.flux),
        ("catalog_flux_mc", ex.flux_mc),
        ("catalog_flux_sigma", ex.flux_sigma),
        ("catalog_spix", [ex.spix] * 2),
        ("catalog_spix_sigma", [ex.spix_sigma] * 2),
        ("flux_change_pct", comp.change_pct),
        ("flux_change_sigma_pct", comp.change_sigma_pct),
        ("factor_spw", comp.factor_spw),
        ("factor", [comp.factor] * 2),
        ("qa_score", [comp.qa_score] * 2),
        ("band3_age_days", [ex.band3_age_days] * 2),
        ("pair_age_days", [ex.pair_age_days] * 2),
    ):
        np.testing.assert_array_equal(t[col][:2], value, err_msg=col)
    for col in ("pipeline_flux", "pipeline_spix", "flux_change_pct", "factor", "qa_score"):
        assert np.all(np.isnan(t[col][2:])), col  # no pipeline value: NaN, not 0
    np.testing.assert_array_equal(t["catalog_flux"][2:], checks[1].extrapolation.flux)
    assert set(t["catalog_origin"]) == {"file"}
    assert list(t["catalog_version"]) == [checks[0].catalog.version] * 4
    assert list(t["queried_at"]) == [checks[0].catalog.queried_at] * 4
    units = {"freq": "GHz", "pipeline_flux": "Jy", "catalog_flux": "Jy", "catalog_flux_mc": "Jy"}
    units |= {"catalog_flux_sigma": "Jy", "band3_age_days": "d", "pair_age_days": "d"}
    assert {c: str(t[c].unit) for c in units} == units
    assert t.meta["run_at"] == "2026-11-21 14:00:00 UTC" and "§1 rule" in t.meta["description"]
    assert len(GridfluxResult(checks=()).to_table()) == 0


def test_ecsv_catalog_with_units_band_and_missing_ingestion(tmp_path):
    from astropy import units as u
    from astropy.table import Table

    t = Table()
    t["source"] = ["J1751+0939", "J1751+0939"]
    t["date"] = ["2019-03-04T02:00:00", "2019-03-05T01:00:00"]
    t["frequency"] = [91.5e6, 343.5e6] * u.kHz  # converted to GHz
    t["flux"] = [2600.0, 1450.0] * u.mJy
    t["error"] = [50.0, 70.0] * u.mJy
    t["band"] = [3, 6]  # a given band is kept even where the frequency says otherwise
    t["ingested"] = ["2019-03-06", ""]
    path = tmp_path / "cat.ECSV"
    t.write(path, format="ascii.ecsv")
    meas = read_catalog_file(str(path))
    assert [m.freq_hz for m in meas] == pytest.approx([91.5e9, 343.5e9])
    assert [m.flux_jy for m in meas] == pytest.approx([2.6, 1.45])
    assert [m.error_jy for m in meas] == pytest.approx([0.05, 0.07])
    assert [m.band for m in meas] == [3, 6]
    assert meas[0].ingested == dt.datetime(2019, 3, 6, tzinfo=dt.timezone.utc)
    assert meas[1].ingested is None  # an empty cell is 'not known', not a date
    assert meas[0].to_record() == {
        "source": "J1751+0939",
        "date": "2019-03-04T02:00:00+00:00",
        "freq_hz": pytest.approx(91.5e9),
        "flux_jy": pytest.approx(2.6),
        "error_jy": pytest.approx(0.05),
        "band": 3,
        "ingested": "2019-03-06T00:00:00+00:00",
    }
    assert meas[1].to_record()["ingested"] is None
    # the CSV reader takes bare columns in GHz and Jy, the band from the frequency
    csv_meas = read_catalog_file(_write(tmp_path, "cat.csv", CATALOG))
    assert [m.band for m in csv_meas] == [3, 3, 7] and csv_meas[0].flux_jy == 2.60


def test_binary_fluxcsv_names_fluxcsv_and_the_file(tmp_path):
    # an MS table file or a PNG given by mistake: not a bare UnicodeDecodeError
    garbage = tmp_path / "flux.csv"
    garbage.write_bytes(bytes(np.random.default_rng(7).integers(0, 256, 4000, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"fluxcsv '.*flux.csv' is not a UTF-8 text file") as err:
        read_flux_csv(str(garbage))
    assert not isinstance(err.value, UnicodeDecodeError)
    assert "ms,field,spw,I,Q,U,V,spix,uvmin,uvmax,comment" in str(err.value)
    # valid UTF-8 but no CSV: 200 kB of NUL bytes without a line end
    zeros = tmp_path / "zeros.csv"
    zeros.write_bytes(b"\0" * 200_000)
    with pytest.raises(ValueError, match=r"fluxcsv '.*zeros.csv' line 1: not a CSV line"):
        read_flux_csv(str(zeros))


def test_non_numeric_catalog_value_names_file_line_and_value(tmp_path):
    text = CATALOG.replace("103.5,2.45,", "103.5,2.4S,")  # a typo on data row 2 (line 3)
    path = _write(tmp_path, "typo.csv", text)
    with pytest.raises(ValueError, match=r"typo.csv' line 3 \(data row 2\): flux is '2.4S'"):
        read_catalog_file(path)
    with pytest.raises(ValueError) as err:
        read_catalog_file(path)
    # the valid numbers of the column are not listed as non-numeric
    assert "2.6" not in str(err.value) and "1.45" not in str(err.value)
    # every bad line is named, not only the first
    two = text.replace("343.5,1.45,", "343.5,n/a,")
    with pytest.raises(ValueError, match=r"line 3 \(data row 2\): flux is '2.4S', not a number "):
        read_catalog_file(_write(tmp_path, "two.csv", two))
    with pytest.raises(ValueError, match=r"\(1 more: line 4\)"):
        read_catalog_file(_write(tmp_path, "two.csv", two))
    # three bad rows: the two after the first listed by line, comma-separated
    three = two.replace("91.5,2.60,", "91.5,x,")
    with pytest.raises(
        ValueError, match=r"line 2 \(data row 1\): flux is 'x', not a number \(2 more: line 3, 4\)$"
    ):
        read_catalog_file(_write(tmp_path, "three.csv", three))


def test_empty_catalog_error_is_not_an_exact_value(tmp_path):
    # astropy reads an empty cell of a numeric column as masked with 0 behind it: an
    # error of 0 would silently make the entry 'exact' and dominate the index fit
    text = CATALOG.replace("91.5,2.60,0.05,", "91.5,2.60,,")
    with pytest.raises(ValueError, match=r"empty.csv' line 2 \(data row 1\): error is empty"):
        read_catalog_file(_write(tmp_path, "empty.csv", text))
    # ECSV lines count from the file's first line, its '#' header included
    from astropy.table import Table

    t = Table.read(_write(tmp_path, "ok.csv", CATALOG), format="ascii.csv")
    t["flux"] = t["flux"].astype(str)
    t["flux"][1] = "bad"
    ecsv = tmp_path / "cat.ecsv"
    t.write(ecsv, format="ascii.ecsv")
    line = 1 + ecsv.read_text().splitlines().index(
        next(ln for ln in ecsv.read_text().splitlines() if "bad" in ln)
    )
    with pytest.raises(ValueError, match=rf"cat.ecsv' line {line} \(data row 2\): flux is 'bad'"):
        read_catalog_file(str(ecsv))


@pytest.mark.usefixtures("ascii_locale")
def test_flux_csv_is_read_and_written_as_utf8_whatever_the_locale(tmp_path):
    text = DISTINCT.replace("field=N/A", "field=Großer_Quasar")
    path = tmp_path / "utf8.csv"
    path.write_bytes(text.encode("utf-8"))
    table = read_flux_csv(str(path))
    assert table.rows[0].field_name == "Großer_Quasar"
    out = tmp_path / "out.csv"
    write_flux_csv(str(out), table, table.rows)
    assert (
        out.read_bytes()
        .decode("utf-8")
        .splitlines()[1]
        .endswith("field=Großer_Quasar intents=N/A age=3.5")
    )


def _one_check(tmp_path, run_at):
    table = read_flux_csv(_write(tmp_path, "flux.csv", NEW))
    src = FileSource.open(_write(tmp_path, "cat.csv", CATALOG))
    obs = dt.datetime(2019, 3, 6, 3, 0, tzinfo=dt.timezone.utc)
    ms = "uid___A002_X1.ms"
    target = EbTarget(
        ms, str(tmp_path / ms), "J1751+0939", obs, (17,), (336.495e9,), table.rows[:1]
    )
    opts = CheckOptions(n_mc=200)
    cat = src.for_target(target, opts)
    return GridfluxResult(checks=(check_eb(target, cat, opts),), run_at=run_at), table, cat


def test_outputs_replace_files_already_at_their_paths(tmp_path):
    # the task refuses existing outputs before any work (overwrite=False); what is left at
    # the staged names (a run killed under the same pid) must not stop the writers
    result, table, cat = _one_check(tmp_path, "2026-11-21 14:00:00 UTC")
    paths = output_paths(str(tmp_path / "out"))
    for p in paths.values():
        Path(p).write_text("left by a killed run\n")
    write_outputs(result, paths, table, {"uid___A002_X1.ms": cat.measurements})
    assert read_flux_csv(paths["fluxcsv"]).rows[0].note("queried_at") == "2026-11-21 14:00:00 UTC"
    assert "left by" not in Path(paths["ecsv"]).read_text()
    assert json.loads(Path(paths["json"]).read_text())["eb"][0]["field"] == "J1751+0939"


def test_updated_flux_csv_without_a_run_time_is_stamped_now_in_utc(tmp_path, monkeypatch):
    # ALMA's local time is 3 or 4 h behind UTC: a local stamp would be hours off
    monkeypatch.setenv("TZ", "America/Santiago")
    time.tzset()
    try:
        result, table, _ = _one_check(tmp_path, None)
        before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        (row, *_) = updated_flux_rows(result, table)
        after = dt.datetime.now(dt.timezone.utc)
    finally:
        monkeypatch.undo()
        time.tzset()
    stamp = dt.datetime.strptime(row.note("queried_at"), "%Y-%m-%d %H:%M:%S UTC")
    assert before <= stamp.replace(tzinfo=dt.timezone.utc) <= after


def test_updated_row_keeps_q_u_v_fractions_and_writes_na_for_no_intents(tmp_path):
    row = read_flux_csv(_write(tmp_path, "distinct.csv", DISTINCT)).rows[0]
    new = updated_row(row, field="J0510+1800", flux=5.0, spix=-0.4, age_days=1.234, stamp="S")
    assert new.stokes == (5.0, 0.25, -0.125, 0.0625) and new.spix == -0.4  # I doubled
    # no intents in the row: the pipeline's N/A, which reads back as none
    assert new.comment == (
        "# field=J0510+1800 intents=N/A origin=almacal.gridflux_check age=1.23 queried_at=S"
    )
    assert new.intents == () and new.field_name == "J0510+1800" and new.age_days == 1.23


def test_a_quoted_line_break_in_a_comment_is_kept_as_written(tmp_path):
    # csv needs the file opened with newline='': a CRLF inside quotes is data, not a line end
    text = DISTINCT.replace('"# field=N/A', '"# field=N/A\r\nsecond line')
    path = tmp_path / "crlf.csv"
    path.write_bytes(text.encode("utf-8"))
    row = read_flux_csv(str(path)).rows[0]
    assert "field=N/A\r\nsecond line" in row.comment


@pytest.mark.usefixtures("ascii_locale")
@pytest.mark.parametrize("name", ["cat.csv", "cat.ecsv"])
def test_catalog_file_is_read_as_utf8_whatever_the_locale(tmp_path, name):
    rows = CATALOG.replace("J1751+0939,2019-03-05", "J1751+0939 (Großer),2019-03-05")
    path = tmp_path / name
    if name.endswith(".ecsv"):
        with open(path, "w", encoding="utf-8") as fh:
            Table.read(rows, format="ascii.csv").write(fh, format="ascii.ecsv")
    else:
        path.write_bytes(rows.encode("utf-8"))
    assert "ß" in path.read_bytes().decode("utf-8")  # guard: the file is not ASCII
    sources = [m.source for m in read_catalog_file(str(path))]
    assert sources == ["J1751+0939", "J1751+0939", "J1751+0939 (Großer)"]
