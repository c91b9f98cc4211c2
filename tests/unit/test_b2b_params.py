"""b2b_phasetransfer argument checks: one clear error naming the parameter, before any work."""

import pytest

from almacal.b2b.params import B2BParams
from tests.unit.b2b_fake_casa import TASK_ARGS

DEFAULTS = TASK_ARGS | {"mode": "plan", "makeplots": True}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "apply"}, "mode='apply' is invalid"),
        ({"solint": "often"}, "solint='often' is invalid"),
        ({"combine": "all"}, "combine='all' is invalid"),
        ({"minsnr": -1.0}, "minsnr=-1.0 is invalid"),
        ({"band": 2}, "band=2 is invalid"),
        ({"coherence": 1.5}, "coherence=1.5 is invalid"),
        ({"lowspw": ["a"]}, "lowspw=\\['a'\\] is invalid"),
        ({"doapply": "yes"}, "doapply='yes' is invalid"),
    ],
)
def test_bad_values_name_the_parameter(change, message):
    with pytest.raises(ValueError, match=message):
        B2BParams.from_task_args(**(DEFAULTS | change))


def test_missing_ms_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no measurement set"):
        B2BParams.from_task_args(**(DEFAULTS | {"mode": "transfer", "vis": str(tmp_path / "x.ms")}))


def test_default_names_follow_the_vis_stem(tmp_path):
    ms = tmp_path / "obs.ms"
    (ms / "ANTENNA").mkdir(parents=True)
    (ms / "HISTORY").mkdir()
    p = B2BParams.from_task_args(**(DEFAULTS | {"mode": "transfer", "vis": str(ms)}))
    assert p.tables()["dgc_offset"] == str(tmp_path / "obs.b2b.dgc_offset.G")
    assert p.outputs()["json"] == str(tmp_path / "obs.b2b.json")
    (tmp_path / "obs.b2b.json").write_text("{}")
    with pytest.raises(FileExistsError, match="outputs exist"):
        p.products()
    bad = B2BParams.from_task_args(
        **(DEFAULTS | {"mode": "transfer", "vis": str(ms), "outfile": str(tmp_path / "no/x")})
    )
    with pytest.raises(FileNotFoundError, match="outfile=.*does not exist"):
        bad.products()


def test_every_value_passes_through(tmp_path, monkeypatch):
    ms = tmp_path / "obs.ms"
    (ms / "ANTENNA").mkdir(parents=True)
    args = DEFAULTS | {
        "mode": "transfer",
        "vis": str(ms),
        "refant": " DA41 ",
        "dgcfield": " J1924 ",
        "phasecal": " J1925 ",
        "target": "SMM1, SMM2,",
        "lowspw": [0, 1],
        "spwmap": 3,
        "solint": " 10s ",
        "combine": "spw",
        "minsnr": 2,
        "blockgap": 120.0,
        "doapply": False,
        "caltable": str(tmp_path / "cal"),
        "outfile": str(tmp_path / "out"),
        "makeplots": False,
        "force": True,
        "overwrite": True,
        "band": 9,
        "maxbaseline": 2.5,
        "sepinband": 4.0,
        "sepb2b": 1.0,
        "coherence": 0.8,
        "phaserms": 20.0,
    }
    p = B2BParams.from_task_args(**args)
    assert p == B2BParams(
        vis=str(ms),
        mode="transfer",
        refant="DA41",
        dgcfield="J1924",
        phasecal="J1925",
        target=("SMM1", "SMM2"),
        lowspw=(0, 1),
        spwmap=(3,),
        solint="10s",
        combine="spw",
        minsnr=2.0,
        blockgap=120.0,
        doapply=False,
        caltable=str(tmp_path / "cal"),
        outfile=str(tmp_path / "out"),
        makeplots=False,
        force=True,
        overwrite=True,
        band=9,
        maxbaseline=2.5,
        sepinband=4.0,
        sepb2b=1.0,
        coherence=0.8,
        phaserms=20.0,
        call=args,
    )
    assert sorted(p.outputs()) == ["ecsv", "json"]  # no plots
    assert p.outputs()["ecsv"] == str(tmp_path / "out.ecsv")
    assert p.tables()["phasecal_scaled"] == str(tmp_path / "cal.phasecal_scaled.G")
    p.products()  # nothing exists yet
    (tmp_path / "out.json").write_text("{}")
    p.products()  # overwrite=True
    assert B2BParams.from_task_args(**(args | {"target": ["A", "B"]})).target == ("A", "B")
    # outfile defaults to the caltable prefix; plan mode without vis names files after 'b2b'
    q = B2BParams.from_task_args(**(args | {"outfile": ""}))
    assert q.outfile == str(tmp_path / "cal") and q.outputs()["json"] == str(tmp_path / "cal.json")
    monkeypatch.chdir(tmp_path)
    plan = B2BParams.from_task_args(**DEFAULTS)
    assert plan.vis == "" and plan.caltable == str(tmp_path / "b2b.b2b")
    assert sorted(plan.outputs()) == ["ecsv", "json", "plot_dgc", "plot_residual"]
    assert B2BParams.from_task_args(**(DEFAULTS | {"vis": "x.ms"})).vis == str(tmp_path / "x.ms")


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("band", 3, 10),
        ("maxbaseline", 0.0, 20.0),
        ("sepinband", 0.0, 180.0),
        ("sepb2b", 0.0, 180.0),
        ("coherence", 0.0, 1.0),
        ("phaserms", 0.0, 180.0),
    ],
)
def test_range_limits_are_inclusive_and_named(name, low, high):
    for ok in (low, high):
        assert getattr(B2BParams.from_task_args(**(DEFAULTS | {name: ok})), name) == ok
    step = 1 if name == "band" else 1e-9
    for bad in (low - step, high + step):
        with pytest.raises(ValueError, match=f"^{name}={bad!r} is invalid: expected "):
            B2BParams.from_task_args(**(DEFAULTS | {name: bad}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"band": True}, "band=True is invalid: expected an ALMA band number 3-10"),
        ({"band": 7.0}, "band=7.0 is invalid"),
        ({"minsnr": "3"}, "minsnr='3' is invalid: expected a number in \\[0.0, inf\\]"),
        ({"minsnr": True}, "minsnr=True is invalid"),
        ({"blockgap": float("nan")}, "blockgap=nan is invalid: expected a finite number"),
        ({"phaserms": float("inf")}, "phaserms=inf is invalid"),
        ({"refant": None}, "refant=None is invalid: expected a string"),
        ({"outfile": 1}, "outfile=1 is invalid: expected a string"),
        ({"target": ["A", 3]}, "target=\\['A', 3\\] is invalid: expected field names"),
        ({"makeplots": 1}, "makeplots=1 is invalid: expected True or False"),
        ({"overwrite": None}, "overwrite=None is invalid"),
        ({"spwmap": [-1]}, "spwmap=\\[-1\\] is invalid: expected non-negative integer spw ids"),
        ({"spwmap": [1.5]}, "spwmap=\\[1.5\\] is invalid: expected non-negative"),
        ({"lowspw": 3.5}, "lowspw=3.5 is invalid: expected a list of spw ids"),
        (
            {"combine": "all"},
            "combine='all' is invalid: expected one of \\['auto', 'spw', 'none'\\]",
        ),
        ({"mode": "apply"}, "mode='apply' is invalid: expected one of \\['transfer', 'plan'\\]"),
        ({"solint": 10}, "solint=10 is invalid: expected 'int', 'inf' or a time"),
        ({"mode": "transfer", "vis": ""}, "vis='' is invalid: expected the measurement set"),
        ({"mode": "transfer", "vis": None}, "vis=None is invalid"),
    ],
)
def test_each_refusal_names_the_value_and_what_was_expected(change, message):
    with pytest.raises(ValueError, match=message):
        B2BParams.from_task_args(**(DEFAULTS | change))


def test_spw_lists_and_solints_accepted():
    p = B2BParams.from_task_args(**(DEFAULTS | {"lowspw": "", "spwmap": None, "solint": "inf"}))
    assert p.lowspw == () and p.spwmap == () and p.solint == "inf"
    assert B2BParams.from_task_args(**(DEFAULTS | {"spwmap": [0, 2.0]})).spwmap == (0, 2)
    for solint in ("int", "1.5min", "2h", "30"):
        assert B2BParams.from_task_args(**(DEFAULTS | {"solint": solint})).solint == solint
    ms_dir = B2BParams.from_task_args(**(DEFAULTS | {"minsnr": 0}))
    assert ms_dir.minsnr == 0.0 and isinstance(ms_dir.minsnr, float)


def test_transfer_needs_an_ms_with_an_antenna_table(tmp_path):
    (tmp_path / "x.ms").mkdir()  # a directory, but no ANTENNA subtable
    with pytest.raises(FileNotFoundError, match="vis='.*x.ms': no measurement set at"):
        B2BParams.from_task_args(**(DEFAULTS | {"mode": "transfer", "vis": str(tmp_path / "x.ms")}))
    (tmp_path / "y.ms").write_text("")
    with pytest.raises(FileNotFoundError, match="no measurement set"):
        B2BParams.from_task_args(**(DEFAULTS | {"mode": "transfer", "vis": str(tmp_path / "y.ms")}))


@pytest.mark.parametrize("where", ["caltable", "outfile", "vis"])
def test_unwritable_outputs_and_ms_are_refused_before_any_work(tmp_path, where):
    from tests.fsutil import read_only

    ms = tmp_path / "data" / "obs.ms"
    (ms / "ANTENNA").mkdir(parents=True)
    (ms / "HISTORY").mkdir()
    (tmp_path / "cal").mkdir()
    (tmp_path / "diag").mkdir()
    args = DEFAULTS | {
        "mode": "transfer",
        "vis": str(ms),
        "caltable": str(tmp_path / "cal" / "x"),
        "outfile": str(tmp_path / "diag" / "y"),
    }
    p = B2BParams.from_task_args(**args)
    assert p.products()  # guard: writable as made
    locked = {"caltable": tmp_path / "cal", "outfile": tmp_path / "diag", "vis": ms}[where]
    with read_only(str(locked)):
        with pytest.raises(PermissionError, match=rf"^{where}[=\s]"):
            p.products()
        if where == "vis":  # without doapply the MS is only read
            assert B2BParams.from_task_args(**(args | {"doapply": False})).products()
