"""simulate_epochs' archive-like traits (issue 11) read back with casatools, and the data
of every existing option unchanged by them."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from almacal.datasets import simulate_epochs
from almacal.io.msinfo import read_ms_info
from almacal.relcal.dates import utc_date
from almacal.simulate.archive import MOSAIC_SPACING_ARCSEC
from almacal.simulate.serpens import SPW_CENTRE_HZ
from tests.casa.msutil import read_columns

REPO = Path(__file__).resolve().parents[2]

ARCHIVE = {
    "n_epoch": 3,
    "scan_s": 121.2,
    "seed": 12,
    "epoch_band": [7, 7, 9],
    "missing_fields": [[], ["SMM3"], []],
    "field_rename": [{}, {}, {"SMM9": "SMM9_0"}],
    "split_observation": True,
    "mosaic": {"SMM1": 11},
}


@pytest.fixture(scope="module")
def archive(simulated_set_factory):
    return simulated_set_factory(**ARCHIVE)


def test_split_copies_keep_the_first_days_observation_table(archive):
    first = read_columns(archive.paths[0], "TIME_RANGE", table="OBSERVATION")["TIME_RANGE"]
    for path, entry in zip(archive.paths, archive.truth["epochs"], strict=True):
        info = read_ms_info(path)
        np.testing.assert_array_equal(
            read_columns(path, "TIME_RANGE", table="OBSERVATION")["TIME_RANGE"], first
        )
        assert info.date == archive.truth["epochs"][0]["date"]  # what OBSERVATION says
        assert utc_date(info.data_time_range[0]) == entry["date"]  # the rows' own day
    assert len({e["date"] for e in archive.truth["epochs"]}) == 3  # guard: three days
    assert archive.truth["split_observation"] is True


def test_fields_renamed_missing_and_a_mosaic_named_alike(archive):
    names = [read_ms_info(p).field_names for p in archive.paths]
    assert names[2][4] == "SMM9_0" and "SMM9" not in names[2] and names[0][4] == "SMM9"
    info = read_ms_info(archive.paths[1])
    sm3 = info.field_ids("SMM3")
    assert sm3.size == 1 and not any(sc.field_id == sm3[0] for sc in info.scans)  # no rows
    assert archive.truth["epochs"][1]["missing_fields"] == ["SMM3"]
    # SMM1: 11 FIELD rows of that name on a 12" hexagonal grid, each with rows
    ids = info.field_ids("SMM1")
    assert ids.size == 11 and ids[0] == 0 and list(ids[1:]) == list(range(8, 18))
    pos = np.array([info.fields[i].radec_deg for i in ids])
    east = (pos[:, 0] - pos[0, 0]) * 3600 * math.cos(math.radians(pos[0, 1]))
    north = (pos[:, 1] - pos[0, 1]) * 3600
    nearest = np.sort(np.hypot(east[1:, None] - east[None, 1:], north[1:, None] - north[None, 1:]))
    np.testing.assert_allclose(nearest[:, 1], MOSAIC_SPACING_ARCSEC, rtol=1e-6)
    field_id = read_columns(archive.paths[1], "FIELD_ID")["FIELD_ID"]
    assert set(ids) <= set(np.unique(field_id))  # every pointing has rows


def test_one_epoch_in_band_9(archive):
    for path, band in zip(archive.paths, (7, 7, 9), strict=True):
        spws = read_ms_info(path).spws
        assert {s.band for s in spws} == {band}
    centres = [s.centre_hz for s in read_ms_info(archive.paths[2]).spws]
    np.testing.assert_allclose(centres, np.array(SPW_CENTRE_HZ) + 669e9 - 343.5e9, rtol=1e-9)
    assert archive.truth["epochs"][2]["band"] == 9


def test_traits_are_checked_before_anything_is_written(tmp_path):
    for kw, match in (
        ({"epoch_band": [7, 8]}, "epoch_band contains 8"),
        ({"missing_fields": [["SMM3"], ["NOSUCH"]]}, "unknown field"),
        ({"field_rename": [{}, {"SMM9": ""}]}, "field_rename"),
        ({"mosaic": {"SMM1": 1}}, "2 to 100 pointings"),
        ({"split_observation": "yes"}, "split_observation"),
    ):
        with pytest.raises(ValueError, match=match):
            simulate_epochs(tmp_path / "x", n_epoch=2, **kw)
    assert not (tmp_path / "x").exists()


DIGEST_BEFORE_ISSUE_11 = "bf6607103528b6a893d261d58615c091b17abda349d3cb3de8afb7782ed6b9f8"
"""sha256 of the main-table columns below of this call, built by the code before the
archive traits (main at c0429c9)."""


BUILD_AND_HASH = """
import hashlib, sys
import numpy as np
from almacal.datasets import simulate_epochs
from tests.casa.msutil import read_columns
built = simulate_epochs(
    sys.argv[1],
    n_epoch=2,
    scan_s=121.2,
    seed=4,
    cal_flux_scale=[[1, 1, 1, 0.5], [1, 1, 1, 1]],
    spw_scale_sigma=0.01,
)
h = hashlib.sha256()
for path in built.paths:
    cols = ("DATA", "WEIGHT", "SIGMA", "UVW", "TIME", "FIELD_ID", "DATA_DESC_ID", "FLAG")
    got = read_columns(path, *cols, "SCAN_NUMBER")
    for c in (*cols, "SCAN_NUMBER"):
        h.update(np.ascontiguousarray(got[c]).tobytes())
print(h.hexdigest())
"""


def test_existing_options_give_the_same_data_as_before(tmp_path):
    # in a fresh process: CASA's simulator gives other data after other builds in the
    # same process (CASA_NOTES), and the digest was taken as the first build of one
    out = subprocess.run(
        [sys.executable, "-c", BUILD_AND_HASH, str(tmp_path / "d")],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert out.stdout.strip().splitlines()[-1] == DIGEST_BEFORE_ISSUE_11
