"""spwconsistency's steps on synthetic MSs (no casatools): the spw selection is checked
against the MSs, through relcal_fit's parameters, before any fit."""

import numpy as np
import pytest

from almacal.casatask.skeleton import run_task
from almacal.casatask.spec import load_spec
from almacal.relcal.task import RelcalFitTask
from almacal.spwcons.task import SpwConsistencyTask
from tests.unit.relcal_synth import FakeReader, fake_ms
from tests.unit.test_relcal_run import log  # noqa: F401 (autouse: casalog without CASA)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    rng = np.random.default_rng(91)
    out = []
    for i, g in enumerate((1.0, 0.95, 1.04)):
        d = tmp_path_factory.mktemp("spwc") / f"ep{i + 1}.ms"
        d.mkdir()
        (d / "table.dat").write_bytes(b"")
        out.append(fake_ms(rng, str(d), day=30 * i, scale=g))
    return out


def _run(sets, **kw):
    reader = FakeReader(sets)
    args = load_spec("spwconsistency").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": ["A", "B", "C"], "outfile": ""} | kw
    return run_task(SpwConsistencyTask(RelcalFitTask(reader)), args), reader


def test_one_selected_spw_is_refused_before_any_fit(sets):
    with pytest.raises(ValueError, match=r"spw='1' selects 1 spectral window \(1\) of .*ep1\.ms"):
        _run(sets, spw="1")
    reader = FakeReader(sets)
    args = load_spec("spwconsistency").defaults()
    args |= {"vis": [s.info.path for s in sets], "field": ["A", "B"], "spw": "0", "outfile": ""}
    with pytest.raises(ValueError, match="needs at least two"):
        run_task(SpwConsistencyTask(RelcalFitTask(reader)), args)
    assert not reader.passes  # guard: refused before any visibility was read


def test_two_spws_run_relcal_fit_once_per_ms(sets):
    rec, reader = _run(sets, nmc=200, nboot=100)
    assert dict(reader.passes) == {s.info.path: 1 for s in sets}
    assert rec["spw"] == [0, 1] and np.isfinite(rec["decomposition"]["sigma_fit"]["sigma"])
