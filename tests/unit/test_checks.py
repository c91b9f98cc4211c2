"""Shared checks (almacal.casatask.checks): the MS list and the output locations."""

from __future__ import annotations

import os

import pytest

from almacal.casatask.checks import (
    check_outfile,
    check_vis,
    check_writable_dir,
    check_writable_ms,
)
from tests.fsutil import read_only


def _ms(path):
    (path / "HISTORY").mkdir(parents=True)
    (path / "table.dat").write_text("")
    (path / "table.f0").write_text("")
    (path / "HISTORY" / "table.dat").write_text("")
    return str(path)


def test_two_names_of_one_ms_are_a_duplicate(tmp_path, monkeypatch):
    ms = _ms(tmp_path / "a.ms")
    os.symlink(ms, tmp_path / "link.ms")
    monkeypatch.chdir(tmp_path)
    for names in ([ms, str(tmp_path / "link.ms")], [ms, "a.ms"], ["a.ms", "./a.ms/"]):
        with pytest.raises(ValueError, match="vis lists the same measurement set twice: "):
            check_vis(names)
    with pytest.raises(ValueError, match=r"'a.ms' and 'link.ms'"):  # both names given
        check_vis(["a.ms", "link.ms"])
    other = _ms(tmp_path / "b.ms")
    assert check_vis([ms, other]) == (ms, other)  # guard: distinct MSs pass


def test_outfile_in_an_unwritable_directory_is_refused_naming_outfile(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    paths_of = lambda stem: {"json": stem + ".json"}  # noqa: E731
    assert check_outfile(str(out / "r"), False, paths_of) == str(out / "r")  # guard
    with read_only(str(out)):
        with pytest.raises(PermissionError, match=r"outfile '.*out/r': cannot write in '.*out'"):
            check_outfile(str(out / "r"), False, paths_of)
    assert os.listdir(out) == []  # the probe leaves nothing


def test_a_read_only_ms_is_seen_before_any_work(tmp_path):
    ms = _ms(tmp_path / "a.ms")
    check_writable_ms(ms)  # guard: writable
    with read_only(ms):
        with pytest.raises(PermissionError, match=r"vis '.*a.ms' is not writable"):
            check_writable_ms(ms)
    with read_only(os.path.join(ms, "HISTORY")):
        with pytest.raises(
            PermissionError, match=r"vis '.*a.ms' \(HISTORY table\) is not writable"
        ):
            check_writable_ms(ms)
    with read_only(os.path.join(ms, "table.f0")):
        with pytest.raises(PermissionError, match=r"not writable: .*table.f0 is read-only"):
            check_writable_ms(ms)
    check_writable_dir(ms, "vis")  # writable again afterwards
