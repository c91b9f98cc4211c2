"""relcal_fit reads each MS once for every option but selfcal (issue 10), counted on the
casatools reader itself."""

from collections import Counter

import numpy as np
import pytest

pytestmark = pytest.mark.casa

CALS = ["SMM9", "SMM4", "SMM3", "SMM11"]


@pytest.fixture(scope="module")
def line_set(simulated_set_factory):
    # as test_relcal_fit_realworld's fitspw test: a line in SMM9's spw 0 that changes
    return simulated_set_factory(
        n_epoch=3, flux_scale=[1.0, 0.92, 1.06], line_peak_jy=[3.0, 0.0, 1.0], seed=62
    )


def _counted(sim, **kw):
    from almacal.casatask.skeleton import run_task
    from almacal.casatask.spec import load_spec
    from almacal.io.ms import CasaMs
    from almacal.io.selfcal import CasaSelfcal
    from almacal.relcal.task import RelcalFitTask

    passes: Counter[str] = Counter()

    class CountingMs(CasaMs):
        @staticmethod
        def chunks(selection):
            passes[selection.path] += 1
            return CasaMs.chunks(selection)

    args = load_spec("relcal_fit").defaults()
    args |= {"vis": list(sim.paths), "field": CALS, "outfile": ""} | kw
    return run_task(RelcalFitTask(CountingMs(), CasaSelfcal()), args), passes


@pytest.mark.parametrize(
    ("options", "n_pass"),
    [
        ({}, 1),
        ({"uvrange": "common"}, 1),
        ({"fitspw": "auto", "perspw": True}, 1),
        ({"fitspw": "auto", "uvrange": "common", "model": "point+gaussian", "modelcheck": True}, 1),
        ({"fitposition": True}, 1),
        ({"fitposition": True, "fitspw": "auto"}, 2),
    ],
)
def test_each_ms_is_read_once(line_set, options, n_pass):
    rec, passes = _counted(line_set, **options)
    assert dict(passes) == {p: n_pass for p in line_set.paths}
    assert np.all(np.isfinite(rec["rfcf"]))


def test_the_task_is_the_steps(line_set):
    from almacal import relcal_fit

    opts = {"fitspw": "auto", "uvrange": "common", "model": "gaussian", "modelcheck": True}
    rec, _ = _counted(line_set, **opts)
    assert relcal_fit(vis=list(line_set.paths), field=CALS, outfile="", **opts) == rec
