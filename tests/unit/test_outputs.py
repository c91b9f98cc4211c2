"""Task outputs appear all together or not at all, and their JSON is strict."""

import json
import math
import os

import numpy as np
import pytest

from almacal.outputs import json_safe, staged, write_json


def test_staged_files_appear_only_when_all_are_written(tmp_path):
    paths = {"a": str(tmp_path / "x.json"), "b": str(tmp_path / "x.png")}
    (tmp_path / "x.png").write_text("old")
    with staged(paths) as tmp:
        assert set(tmp) == set(paths)
        for key, path in paths.items():  # writers pick the format from the extension
            assert os.path.splitext(tmp[key])[1] == os.path.splitext(path)[1]
        for t in tmp.values():
            with open(t, "w") as fh:
                fh.write("new")
        assert (tmp_path / "x.png").read_text() == "old"  # not replaced before the end
    assert (tmp_path / "x.json").read_text() == (tmp_path / "x.png").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.png"]


def test_a_failure_keeps_the_old_products_and_leaves_no_temporaries(tmp_path):
    paths = {"a": str(tmp_path / "x.json"), "b": str(tmp_path / "x.png")}
    (tmp_path / "x.png").write_text("old")
    with pytest.raises(RuntimeError, match="plot failed"), staged(paths) as tmp:
        with open(tmp["a"], "w") as fh:
            fh.write("new")
        raise RuntimeError("plot failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]
    assert (tmp_path / "x.png").read_text() == "old"


def test_json_is_strict_and_plain(tmp_path):
    record = {"f": np.float64(1.5), "nan": math.nan, "a": np.array([1.0, np.inf]), "t": (1, 2)}
    assert json_safe(record) == {"f": 1.5, "nan": None, "a": [1.0, None], "t": [1, 2]}
    write_json(str(tmp_path / "r.json"), record)
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["a"] == [1.0, None]


def test_task_figures_leave_the_users_matplotlib_alone():
    # a task runs in the user's CASA session: no backend switch, no pyplot figures
    import pathlib

    src = pathlib.Path(__file__).resolve().parents[2] / "src" / "almacal"
    offenders = [
        str(p)
        for p in src.rglob("*.py")
        if "matplotlib.use(" in p.read_text() or "import matplotlib.pyplot" in p.read_text()
    ]
    assert offenders == []
