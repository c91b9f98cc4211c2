"""relcal_fit end to end on synthetic MSs: the task skeleton with fake readers, one
pass per MS for every option but selfcal, injected truth recovered."""

import contextlib
import dataclasses

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.parallel import SERIAL
from almacal.relcal.accumulate import MAX_BIN_BYTES, max_bin_bytes
from almacal.relcal.task import RelcalFitTask
from tests.unit.fake_log import casatasks_log
from tests.unit.relcal_synth import N_CHAN, FakeReader, fake_ms

SCALE = np.array([1.0, 0.92, 1.06, 0.97])
CALS = ["A", "B", "C"]


@pytest.fixture(autouse=True)
def log(monkeypatch):
    """casalog without CASA: (priority, message) of every post."""
    return casatasks_log(monkeypatch)


def _paths(tmp_path_factory, name, n):
    out = []
    for i in range(n):
        d = tmp_path_factory.mktemp(name) / f"ep{i + 1}.ms"
        d.mkdir()
        (d / "table.dat").write_bytes(b"")
        out.append(str(d))
    return out


@pytest.fixture(scope="module")
def epochs(tmp_path_factory):
    """Four epochs; epoch 2 on baselines 20-90 m (the others 9-45 m), a 30 % envelope
    (FWHM 8"), and a line in A's spw 0 channel 3 whose strength changes per epoch."""
    rng = np.random.default_rng(2024)
    paths = _paths(tmp_path_factory, "epochs", 4)
    sets = [
        fake_ms(
            rng,
            p,
            day=30 * i,
            scale=g,
            envelope=0.3,
            baseline_m=(20.0, 90.0) if i == 1 else (9.0, 45.0),
            line_jy=(3.0, 0.0, 1.5, 0.0)[i],
        )
        for i, (p, g) in enumerate(zip(paths, SCALE, strict=True))
    ]
    return sets


@pytest.fixture(scope="module")
def point_epochs(tmp_path_factory):
    rng = np.random.default_rng(77)
    paths = _paths(tmp_path_factory, "points", 4)
    return [
        fake_ms(rng, p, day=30 * i, scale=g)
        for i, (p, g) in enumerate(zip(paths, SCALE, strict=True))
    ]


def _run(sets, **kw):
    reader = FakeReader(sets)
    args = load_spec("relcal_fit").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": CALS, "outfile": ""} | kw
    return run_task(RelcalFitTask(reader), args), reader


def _true_rfcf():
    return SCALE.mean() / SCALE


def test_point_sources_give_the_injected_rfcf(point_epochs, log):
    rec, reader = _run(point_epochs, perspw=True)
    rfcf, sig = np.array(rec["rfcf"]), np.array(rec["rfcf_sigma"])
    # per flux ~0.3 / sqrt(2 x 11000) ~ 2e-3 Jy on 0.5-1.2 Jy: sigma_rFCF ~1.5e-3; 5 sigma
    assert np.all(sig > 0) and np.all(sig < 3e-3)
    assert np.all(np.abs(rfcf - _true_rfcf()) < 5 * sig), (rfcf, _true_rfcf(), sig)
    assert np.array(rec["flux_spw"]).shape == (4, 3, 2)
    assert dict(reader.passes) == {s.info.path: 1 for s in point_epochs}
    assert any("rFCF per epoch" in m for _, m in log)


@pytest.mark.parametrize(
    ("options", "n_pass"),
    [
        ({}, 1),
        ({"perspw": True, "uvrange": "10~60klambda"}, 1),
        ({"uvrange": "common"}, 1),
        ({"fitspw": "auto"}, 1),
        ({"model": "point+gaussian", "modelcheck": True}, 1),
        ({"fitspw": "auto", "uvrange": "common", "model": "point+gaussian", "modelcheck": True}, 1),
        ({"fitposition": True, "model": "gaussian"}, 1),
        ({"fitposition": True, "uvrange": "common", "modelcheck": True}, 1),
        ({"rejectsigma": 5.0, "minfamily": 2}, 1),
        # (u, v) cells without each calibrator's line channels: known after a first pass
        ({"fitposition": True, "fitspw": "auto"}, 2),
    ],
)
def test_each_ms_is_read_once(point_epochs, options, n_pass):
    rec, reader = _run(point_epochs, **options)
    assert dict(reader.passes) == {s.info.path: n_pass for s in point_epochs}
    assert np.all(np.isfinite(rec["rfcf"]))


def test_options_remove_their_biases(epochs):
    """The envelope and epoch 2's longer baselines bias the point fit; the common uv
    range and the total flux of a point+Gaussian model remove it, fitspw the line."""
    truth = _true_rfcf()
    plain, _ = _run(epochs)
    dev = np.abs(np.array(plain["rfcf"]) - truth)
    assert dev.max() > 0.05  # guard: the envelope is resolved out in epoch 2
    common, _ = _run(epochs, uvrange="common", fitspw="auto")
    lo, hi = common["uvrange_klambda"]
    # epoch 2's shortest baseline (20 m) and the others' longest (45 m) at 339-351 GHz
    assert 22 < lo < 24 and 52 < hi < 53.5, (lo, hi)
    assert common["line_channels"]["A"]["0"] == [2, 3, 4]  # channel 3 and its neighbours
    assert set(common["line_channels"]) == {"A"}
    sig = np.array(common["rfcf_sigma"])
    # within 20-45 m the envelope (visibility < 0.07 at 23 klambda) differs by < 1 %
    # of 0.3 between epochs: 5 sigma + 0.3 %
    assert np.all(np.abs(np.array(common["rfcf"]) - truth) < 5 * sig + 3e-3)
    # epoch 2 (20-90 m) sees the 8" envelope below 10 % of its flux on every baseline: its
    # point+Gaussian fits sit at the FWHM bound and their total flux is not measured (its
    # rFCF sigma was ~60 %): that epoch has no usable calibrator, and the error says why
    with pytest.raises(
        ValueError,
        match=r"epoch 2 \(.*ep2\.ms\) has no usable calibrator.*"
        r"A 1\.\d+ \+- 0\.\d+ Jy: fit: Gaussian FWHM .* at its upper bound",
    ):
        _run(epochs, model="point+gaussian", fitspw="auto")
    kept = [0, 2, 3]
    pg, _ = _run([epochs[i] for i in kept], model="point+gaussian", fitspw="auto")
    sig = np.array(pg["rfcf_sigma"])
    truth = SCALE[kept].mean() / SCALE[kept]
    assert np.all(np.abs(np.array(pg["rfcf"]) - truth) < 5 * sig), (pg["rfcf"], truth)
    np.testing.assert_allclose(np.nanmedian(pg["model_fwhm_arcsec"]), 8.0, rtol=0.2)
    assert pg["fit_status"] == [["ok"] * 3] * 3 and pg["exclusions"] == []


def _with_b_flagged_in_epoch_3(point_epochs):
    """The epochs with every row of calibrator B flagged in epoch 3, and that MS."""
    sets = list(point_epochs)
    ms = sets[2]
    flagged = [f.copy() for f in ms.flag]
    for f in flagged:
        f[..., ms.field_id == 1] = True
    sets[2] = type(ms)(**{**ms.__dict__, "flag": flagged})
    return sets, sets[2]


def test_fully_flagged_field_is_excluded_in_its_epoch(point_epochs, log):
    """A calibrator with every row flagged in one epoch leaves that epoch's rFCF (not the
    run), with its reason; its flux in Eq. 1 is predicted by the other calibrators, so the
    other epochs keep their rFCFs."""
    sets, ms = _with_b_flagged_in_epoch_3(point_epochs)
    rec, _ = _run(sets)
    assert rec["exclusions"] == [
        {"epoch": 3, "field": "B", "reason": f"all data flagged in {ms.info.path}"}
    ]
    assert rec["used"][2] == [True, False, True] and rec["n_used"][2] == 2
    assert rec["fit_status"][2][1] == "not fitted (no data)"
    assert any(p == "WARN" and m.startswith("excluded epoch 3 B") for p, m in log)
    # every epoch within 5 propagated sigma of the truth (sigma ~1.5e-3)
    rfcf, sig = np.array(rec["rfcf"]), np.array(rec["rfcf_sigma"])
    assert np.all(sig > 0) and np.all(np.abs(rfcf - _true_rfcf()) < 5 * sig), (rfcf, sig)


def test_no_data_in_range_names_the_epoch(point_epochs):
    with pytest.raises(
        ValueError,
        match=r"epoch 1 \(.*ep1\.ms\) has no usable calibrator \(also epochs 2, 3, 4: .*\): "
        r"A: no unflagged, finite data within spw='', uvrange='>1e6klambda'",
    ):
        _run(point_epochs, uvrange=">1e6klambda")


class FakeSelfcal:
    """relcal.selfcal.SelfcalCalls on FakeMs copies: records the calls; gaincal
    'solves' 10 deg phases."""

    def __init__(self, reader, workdir):
        self.reader, self.workdir = reader, workdir
        self.models, self.gaincals, self.applycals = [], [], []

    def scratch_directory(self, near):
        return contextlib.nullcontext(self.workdir)

    def scratch_copy(self, vis, field_ids, column, workdir):
        ms = self.reader.sets[vis]
        path = f"{workdir}/{vis.rsplit('/', 1)[-1]}.selfcal.ms"
        info = dataclasses.replace(ms.info, path=path)
        self.reader.sets[path] = dataclasses.replace(ms, info=info)
        return path

    def antennas_with_data(self, vis):
        return np.arange(3, 16)

    def write_model(self, info, model_jy):
        self.models.append(model_jy)

    def gaincal(self, **params):
        self.gaincals.append(params)

    def applycal(self, **params):
        self.applycals.append(params)

    def solved_phases(self, caltable):
        n = 40
        g = np.exp(1j * np.deg2rad(np.where(np.arange(n) % 2, 10.0, -10.0)))[None, None, :]
        return np.repeat(g, 2, axis=0), np.zeros((2, 1, n), bool), np.arange(n) % 3


def test_selfcal_rounds_on_scratch_copies(point_epochs, tmp_path):
    reader = FakeReader(point_epochs)
    calls = FakeSelfcal(reader, str(tmp_path))
    args = load_spec("relcal_fit").defaults()
    vis = [s.info.path for s in point_epochs]
    args |= {"vis": vis, "field": CALS, "outfile": "", "selfcal": True, "combine": "spw"}
    rec = run_task(RelcalFitTask(reader, calls), args)
    assert rec["selfcal_solint"] == ["inf", "20.2s", "5.05s"]
    # the antenna nearest the median position of those with data (3-15 on a line)
    assert rec["selfcal_refant"] == ["CM09"] * 4
    np.testing.assert_allclose(rec["selfcal_phase_rms_deg"], 10.0)
    # nothing changed the data: the same fluxes before and after, and as without selfcal
    np.testing.assert_array_equal(rec["selfcal_flux_before"], rec["selfcal_flux_after"])
    plain, _ = _run(point_epochs, perspw=True)
    np.testing.assert_allclose(rec["flux"], plain["flux"], rtol=1e-12)
    # three rounds per MS, each on top of the earlier tables; phase-only; spw-combined
    assert len(calls.gaincals) == 12 and calls.gaincals[2]["gaintable"] == [
        calls.gaincals[0]["caltable"],
        calls.gaincals[1]["caltable"],
    ]
    assert {g["calmode"] for g in calls.gaincals} == {"p"} and calls.gaincals[0]["refant"] == "CM09"
    assert calls.applycals[1]["spwmap"] == [[0, 0], [0, 0]] and not calls.applycals[0]["calwt"]
    # MODEL_DATA: each calibrator's fitted flux per spw, 0 for the target field
    model = calls.models[0]  # (ddid, field) of the first MS
    np.testing.assert_allclose(model[:, :3], np.array(plain["flux_spw"][0]).T, rtol=1e-12)
    assert np.all(model[:, 3] == 0)
    # the user's MSs are not read: 1 + 3 refits and the fit itself per scratch copy
    assert all(reader.passes[p] == 0 for p in vis)
    assert sorted(reader.passes.values()) == [5] * 4


def test_an_epoch_of_two_mss_adds_their_binned_sums(point_epochs, tmp_path):
    """groupby='day': a copy of epoch 1 on the same day doubles its data; with the
    cuts made after the pass the fluxes stay, their weight sigma drops by sqrt(2)."""
    twin_path = tmp_path / "twin.ms"
    twin_path.mkdir()
    (twin_path / "table.dat").write_bytes(b"")
    first = point_epochs[0]
    twin = dataclasses.replace(first, info=dataclasses.replace(first.info, path=str(twin_path)))
    opts = {"uvrange": "common", "fitspw": "auto", "groupby": "day"}
    alone, _ = _run(point_epochs, **opts)
    day, reader = _run([*point_epochs, twin], **opts)
    assert sorted(day["vis"][0]) == sorted([first.info.path, str(twin_path)])
    np.testing.assert_allclose(day["flux"], alone["flux"], rtol=1e-10)
    np.testing.assert_allclose(
        np.array(day["flux_sigma_weights"])[0], np.array(alone["flux_sigma_weights"])[0] / 2**0.5
    )
    assert day["uvrange_klambda"] == alone["uvrange_klambda"]
    assert set(reader.passes.values()) == {1}


def test_two_passes_keep_the_common_uv_range_and_the_line_channels(epochs):
    """fitposition with fitspw='auto' reads each MS twice (the cells need the line
    channels): the first pass's common uv range and line channels are those of the
    single pass without fitposition (the same sums), and both reach the record."""
    opts = {"uvrange": "common", "fitspw": "auto"}
    once, _ = _run(epochs, **opts)
    twice, reader = _run(epochs, fitposition=True, **opts)
    assert set(reader.passes.values()) == {2}  # not vacuous: the two-pass path ran
    assert twice["uvrange_klambda"] == once["uvrange_klambda"]
    assert 22 < twice["uvrange_klambda"][0] < 24  # the common range, not the full one
    assert twice["line_channels"] == once["line_channels"] == {"A": {"0": [2, 3, 4]}}


class _SpecSpy:
    """A Mapper that runs the jobs here and keeps each MS pass's PassSpec (the other jobs
    are fitposition's longest-baseline look-ups, one Target each)."""

    def __init__(self):
        self.specs = []

    def map(self, fn, items, labels):
        self.specs += [job[2].spec for job in items if isinstance(job, tuple)]
        return SERIAL.map(fn, items, labels)

    def describe(self):
        return "spy"


@pytest.mark.parametrize(
    "options", [{"uvrange": "common"}, {"fitposition": True, "fitspw": "auto"}]
)
def test_each_pass_of_many_ms_keeps_its_share_of_the_bin_memory(tmp_path_factory, options):
    """12 MSs: each MS's binned sums get 1/12 of the run's bound (below the per-MS
    bound from 11 MSs on), in the one-pass and in the two-pass measurement."""
    rng = np.random.default_rng(12)
    paths = _paths(tmp_path_factory, "many", 12)
    sets = [fake_ms(rng, p, day=30 * i, scale=1.0, n_row=300) for i, p in enumerate(paths)]
    spy = _SpecSpy()
    args = load_spec("relcal_fit").defaults()
    args |= {"vis": paths, "field": CALS, "outfile": ""} | options
    run_task(RelcalFitTask(FakeReader(sets), mapper=spy), args)
    binned = [s for s in spy.specs if s.bins is not None]
    assert len(binned) == 12  # not vacuous: one binned pass per MS
    assert max_bin_bytes(12) < MAX_BIN_BYTES
    assert {s.max_bin_bytes for s in binned} == {max_bin_bytes(12)}


def test_a_users_exclusion_is_logged_as_information_and_the_others_as_warnings(point_epochs, log):
    """exclude='2:A' is the user's choice (INFO, reason 'exclude (user)'); a calibrator
    with no data is a problem of the data (WARN)."""
    sets, ms = _with_b_flagged_in_epoch_3(point_epochs)
    rec, _ = _run(sets, exclude=["2:A"])
    assert {"epoch": 2, "field": "A", "reason": "exclude (user)"} in rec["exclusions"]
    excluded = {m: p for p, m in log if m.startswith("excluded epoch")}
    assert excluded == {
        "excluded epoch 2 A: exclude (user)": "INFO",
        f"excluded epoch 3 B: all data flagged in {ms.info.path}": "WARN",
    }


def test_the_longest_uv_distance_is_capped_by_uvrange_in_metres_or_wavelengths(point_epochs):
    from almacal.relcal.plan import Target
    from almacal.relcal.run import max_uv_lambda
    from almacal.uvrange import UvRange

    ms = point_epochs[0]
    target = Target(
        ms.info, np.array([0, 1, 2, -1]), {s: np.ones(N_CHAN, bool) for s in (0, 1)}, "DATA"
    )
    rows = (ms.ant[0] != ms.ant[1]) & (ms.field_id < 3)
    d_max = float(np.hypot(ms.uvw[0, rows], ms.uvw[1, rows]).max())
    k = max(ms.info.chan_freq_hz[s].max() for s in (0, 1)) / 299_792_458.0
    assert d_max > 30.0  # not vacuous: the caps below cut it
    # the same products as max_uv_lambda: exact to rounding
    assert max_uv_lambda(FakeReader([ms]), target, None) == pytest.approx(d_max * k, rel=1e-12)
    metres = UvRange(0.0, 30.0, in_wavelengths=False)
    assert max_uv_lambda(FakeReader([ms]), target, metres) == pytest.approx(30.0 * k, rel=1e-12)
    waves = UvRange(0.0, 20e3, in_wavelengths=True)
    assert max_uv_lambda(FakeReader([ms]), target, waves) == 20e3


def test_the_table_has_fitpositions_offsets_per_pair(point_epochs):
    args = load_spec("relcal_fit").defaults()
    sets = point_epochs[:2]  # two epochs: a 6-pair table, fast
    args |= {"vis": [s.info.path for s in sets], "field": CALS, "outfile": "", "fitposition": True}
    result = RelcalFitTask(FakeReader(sets)).result(args)
    t, rec = result.to_table(), result.to_record()
    for col, key in (("dra", "model_dra_arcsec"), ("ddec", "model_ddec_arcsec")):
        np.testing.assert_array_equal(t[col], np.ravel(rec[key]))
        assert str(t[col].unit) == "arcsec"
    assert np.isfinite(t["dra"]).all() and len(t) == 2 * 3  # not vacuous: every pair fitted
