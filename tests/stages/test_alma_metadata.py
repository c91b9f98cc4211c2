"""The simulated MSs carry what hifa_importdata needs of a real ALMA MS
(almacal.io.simulator.write_alma_metadata, called at the end of each build)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from almacal.datasets import simulate_b2b, simulate_epochs
from tests.casa.msutil import read_columns


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("alma_metadata")
    epochs = simulate_epochs(out / "epochs", n_epoch=2, seed=7)
    b2b = simulate_b2b(out / "b2b")
    return [*epochs.paths, b2b.path]


def _keywords(path, table, column):
    from almacal.io.tables import opened_table

    with opened_table(os.path.join(path, table)) as tb:
        return tb.getcolkeywords(column)


def test_direction_columns_are_variable_reference_as_importasdm_writes_them(built):
    for vis in built:
        for column, ref in (("PHASE_DIR", "PhaseDir_Ref"), ("DELAY_DIR", "DelayDir_Ref")):
            info = _keywords(vis, "FIELD", column)["MEASINFO"]
            assert info["VarRefCol"] == ref, (vis, info)
            types = list(info["TabRefTypes"])
            codes = read_columns(vis, ref, table="FIELD")[ref]
            # the simulator's fields are J2000 (code 0 in casacore's MDirection table)
            assert set(codes.tolist()) == {0} and types[0] == "J2000" and types[21] == "ICRS"


def test_basebands_schedule_and_correlator(built):
    schedules = set()
    for vis in built:
        spw = read_columns(vis, "NAME", "BBC_NO", table="SPECTRAL_WINDOW")
        names, bbc = spw["NAME"], spw["BBC_NO"]
        assert [int(str(n).split("#BB_")[1][0]) for n in names] == bbc.tolist()
        schedule = read_columns(vis, "SCHEDULE", table="OBSERVATION")["SCHEDULE"]
        sb, eb = np.asarray(schedule).ravel()[:2]
        assert sb.startswith("SchedulingBlock uid://A001/") and eb.startswith("ExecBlock uid://")
        schedules.add(eb)
        sub_type = read_columns(vis, "SUB_TYPE", table="PROCESSOR")["SUB_TYPE"]
        assert list(sub_type) in (["ALMA_ACA"], ["ALMA_BASELINE"])
    # each EB of a set has its own ExecBlock uid
    assert len(schedules) == len(built)
