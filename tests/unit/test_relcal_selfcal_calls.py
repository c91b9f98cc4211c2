"""relcal_fit's self-calibration hands CASA exactly the arguments it means (no casatools).

A strict fake of the CASA steps checks every argument of every call (the scratch copy,
MODEL_DATA, gaincal, applycal, the solved tables) and a reader that records which
column of which MS each pass reads; the settings (uvrange, refant, gaintype, minsnr,
combine) must reach them unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.relcal.task import RelcalFitTask
from tests.unit.fake_log import casatasks_log
from tests.unit.relcal_synth import FakeReader, fake_ms

CALS = ["A", "B", "C"]
SCALE = (1.0, 0.9, 1.1)


@pytest.fixture(autouse=True)
def log(monkeypatch):
    """casalog without CASA."""
    return casatasks_log(monkeypatch)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Three epochs with a 30 % envelope (FWHM 8"): the flux depends on the uv range."""
    rng = np.random.default_rng(303)
    out = []
    for i, g in enumerate(SCALE):
        d = tmp_path_factory.mktemp("selfcal") / f"ep{i + 1}.ms"
        d.mkdir()
        (d / "table.dat").write_bytes(b"")
        out.append(fake_ms(rng, str(d), day=20 * i, scale=g, envelope=0.3, n_row=2000))
    return out


class ColumnReader(FakeReader):
    """FakeReader that records (path, column) of every pass."""

    def __init__(self, sets):
        super().__init__(sets)
        self.reads: list[tuple[str, str]] = []

    def chunks(self, selection):
        self.reads.append((selection.path, selection.column))
        return super().chunks(selection)


class StrictSelfcal:
    """SelfcalCalls that check their arguments; round k's table 'solves' phases of
    +-(10 (k + 1)) deg, so each round's phase rms says which table was read."""

    def __init__(self, reader, workdir):
        self.reader, self.workdir = reader, workdir
        self.copies, self.models, self.gaincals, self.applycals = [], [], [], []
        self.antenna_queries, self.solved = [], []

    def scratch_directory(self, near):
        return contextlib.nullcontext(self.workdir)

    def scratch_copy(self, vis, field_ids, column, workdir):
        self.copies.append((vis, field_ids, column, workdir))
        ms = self.reader.sets[vis]
        path = f"{workdir}/{vis.rsplit('/', 1)[-1]}.selfcal.ms"
        self.reader.sets[path] = dataclasses.replace(
            ms, info=dataclasses.replace(ms.info, path=path)
        )
        return path

    def antennas_with_data(self, vis):
        self.antenna_queries.append(vis)
        return np.arange(3, 16)

    def write_model(self, info, model_jy):
        self.models.append((info.path, model_jy))

    def gaincal(self, **params):
        self.gaincals.append(params)

    def applycal(self, **params):
        self.applycals.append(params)

    def solved_phases(self, caltable):
        self.solved.append(caltable)
        k = int(caltable.rpartition(".p")[2])
        n = 30
        deg = np.where(np.arange(n) % 2, 10.0, -10.0) * (k + 1)
        g = np.exp(1j * np.deg2rad(deg))[None, None, :]
        return np.repeat(g, 2, axis=0), np.zeros((2, 1, n), bool), np.arange(n) % 3


def _args(sets, **kw):
    args = load_spec("relcal_fit").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": CALS, "outfile": ""}
    return args | {"datacolumn": "data"} | kw


def _selfcal(sets, tmp_path, **kw):
    reader = ColumnReader(sets)
    calls = StrictSelfcal(reader, str(tmp_path))
    rec = run_task(RelcalFitTask(reader, calls), _args(sets, selfcal=True, **kw))
    return rec, reader, calls


def test_every_casa_call_gets_the_settings(sets, tmp_path):
    settings = {"refant": "CM05", "gaintype": "T", "minsnr": 2.5, "combine": "spw"}
    rec, reader, calls = _selfcal(sets, tmp_path, solint=["inf", "30s"], **settings)
    vis = [s.info.path for s in sets]
    scratch = [f"{tmp_path}/{v.rsplit('/', 1)[-1]}.selfcal.ms" for v in vis]
    # the calibrators (field ids 0-2, not the target) of the chosen column, into workdir
    assert calls.copies == [(v, [0, 1, 2], "DATA", str(tmp_path)) for v in vis]
    assert calls.antenna_queries == []  # refant given: no antenna is chosen
    assert rec["selfcal_refant"] == ["CM05"] * 3
    assert len(calls.gaincals) == 6 and len(calls.applycals) == 6
    for m, path in enumerate(scratch):
        for k in range(2):
            g = calls.gaincals[2 * m + k]
            tables = [f"{path}.p{i}" for i in range(k + 1)]
            assert (
                g
                == {
                    "vis": path,
                    "caltable": tables[-1],
                    "field": "0,1,2",  # every calibrator above minfluxsnr: all solved
                    "solint": ["inf", "30s"][k],
                    "combine": "spw",
                    "refant": "CM05",
                    "gaintype": "T",
                    "calmode": "p",
                    "minsnr": 2.5,
                    "gaintable": tables[:-1],
                    "spwmap": [[0, 0]] * k,
                }
            )
            a = calls.applycals[2 * m + k]
            assert a == {
                "vis": path,
                "field": "0,1,2",
                "gaintable": tables,
                "spwmap": [[0, 0]] * (k + 1),
                "calwt": False,
                "flagbackup": False,
            }
            assert a["calwt"] is False and a["flagbackup"] is False
    assert calls.solved == [f"{p}.p{k}" for p in scratch for k in range(2)]
    assert [path for path, _ in calls.models] == [p for p in scratch for _ in range(2)]
    # round k reads table k: its phases are +-10 (k + 1) deg
    np.testing.assert_allclose(np.array(rec["selfcal_phase_rms_deg"])[..., 0], 10.0)
    np.testing.assert_allclose(np.array(rec["selfcal_phase_rms_deg"])[..., 1], 20.0)
    # per scratch MS: DATA once (the first fit), then CORRECTED_DATA after each round,
    # then the final fit of CORRECTED_DATA
    for path in scratch:
        assert [c for p, c in reader.reads if p == path] == [
            "DATA",
            "CORRECTED_DATA",
            "CORRECTED_DATA",
            "CORRECTED_DATA",
        ]
    assert not [p for p, _ in reader.reads if p in vis]  # the user's MSs: never read


def test_refant_is_chosen_from_the_scratch_copy(sets, tmp_path):
    rec, _, calls = _selfcal(sets, tmp_path, solint=["inf"])
    scratch = [f"{tmp_path}/{s.info.path.rsplit('/', 1)[-1]}.selfcal.ms" for s in sets]
    assert calls.antenna_queries == scratch
    assert rec["selfcal_refant"] == ["CM09"] * 3  # nearest the middle of antennas 3-15
    assert {g["refant"] for g in calls.gaincals} == {"CM09"}
    assert [g["spwmap"] for g in calls.gaincals] == [[]] * 3  # combine='': no spw map
    assert calls.applycals[0]["spwmap"] == [[]]


def test_uvrange_selects_the_selfcal_fits_too(sets, tmp_path):
    uvrange = "20~40klambda"  # the envelope is resolved out differently here
    rec, _, _ = _selfcal(sets, tmp_path, solint=["inf"], uvrange=uvrange)
    plain = run_task(RelcalFitTask(FakeReader(sets)), _args(sets, uvrange=uvrange))
    full = run_task(RelcalFitTask(FakeReader(sets)), _args(sets))
    # the fake gaincal changes nothing: before and after are the plain fit in that range
    np.testing.assert_allclose(rec["selfcal_flux_before"], plain["flux"], rtol=1e-12)
    np.testing.assert_allclose(rec["selfcal_flux_after"], plain["flux"], rtol=1e-12)
    np.testing.assert_allclose(rec["flux"], plain["flux"], rtol=1e-12)
    # not vacuous: the range matters by far more than the fit's noise (~1e-3 Jy)
    assert np.max(np.abs(np.array(plain["flux"]) - np.array(full["flux"]))) > 0.02


def test_a_fully_flagged_calibrator_is_excluded_there_naming_its_ms(sets, tmp_path):
    """Issue 11: a calibrator flagged throughout one MS leaves that epoch's rFCF with its
    reason (it used to stop the run) and is not self-calibrated there."""
    second = sets[1]
    flags = [f.copy() for f in second.flag]
    for f in flags:
        f[:, :, second.field_id == 1] = True  # calibrator B in the second MS
    broken = [sets[0], dataclasses.replace(second, flag=flags), sets[2]]
    rec, _, calls = _selfcal(broken, tmp_path, solint=["inf"])
    (ex,) = rec["exclusions"]
    assert (ex["epoch"], ex["field"]) == (2, "B")
    assert re.fullmatch(r"all data flagged in \S*/ep2\.ms", ex["reason"]), ex  # by the user
    assert rec["selfcal_calibrated"][1] == [True, False, True]
    assert [g["field"] for g in calls.gaincals] == ["0,1,2", "0,2", "0,1,2"]


def test_an_ms_without_a_bright_enough_calibrator_is_left_as_it_is(sets, tmp_path):
    """No calibrator reaches minfluxsnr: no gaincal, no applycal; the outcome keeps the
    fluxes before, NaN phase rms for every round, and says none was self-calibrated."""
    from almacal.relcal.plan import Target
    from almacal.relcal.selfcal import SelfcalSettings, selfcal_ms
    from tests.unit.relcal_synth import N_CHAN

    reader = ColumnReader(sets)
    calls = StrictSelfcal(reader, str(tmp_path))
    ms = sets[0]
    user = Target(ms.info, np.array([0, 1, 2, -1]), {0: np.ones(N_CHAN, bool)}, "DATA")
    s = SelfcalSettings(
        fields=tuple(CALS), uvrange=None, solints=("inf", "int"), refant="", gaintype="G",
        minsnr=3.0, combine="", minfluxsnr=1e9,
    )  # fmt: skip
    out = selfcal_ms(user, s, reader, calls, str(tmp_path))
    assert not calls.gaincals and not calls.applycals
    assert out.refant == "CM09" and out.calibrated.tolist() == [False] * 3
    np.testing.assert_array_equal(out.flux_after, out.flux_before)
    assert np.all(out.flux_before > 0.3)  # not vacuous: the calibrators have flux
    assert out.phase_rms_deg.shape == (3, 2) and np.isnan(out.phase_rms_deg).all()
    assert out.target.column == "DATA" and out.target.info.path.endswith(".selfcal.ms")


class NoSolutions(StrictSelfcal):
    """gaincal wrote a table without rows (every solution below minsnr)."""

    def solved_phases(self, caltable):
        self.solved.append(caltable)
        return None


def test_a_table_without_solutions_gives_no_phase_rms_and_the_time_is_kept(sets, tmp_path):
    reader = ColumnReader(sets)
    calls = NoSolutions(reader, str(tmp_path))
    rec = run_task(RelcalFitTask(reader, calls), _args(sets, selfcal=True, solint=["inf"]))
    rms = np.array(rec["selfcal_phase_rms_deg"], dtype=float)
    assert rms.shape == (3, 3, 1) and np.isnan(rms).all()
    assert len(calls.solved) == 3  # not vacuous: each MS's table was read
    assert isinstance(rec["selfcal_seconds"], float) and rec["selfcal_seconds"] >= 0.0
