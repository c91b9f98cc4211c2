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
