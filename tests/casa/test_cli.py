"""`python -m almacal`: task list and the README's demo, as a user runs them."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from almacal.figures import DPI
from almacal.simulate import TRUTH_FILE
from tests.pngutil import assert_figure_png


def _run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "almacal", *args], cwd=cwd, capture_output=True, text=True
    )


def test_help_lists_the_tasks(tmp_path):
    proc = _run("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("relcal_fit", "relcal_apply", "demo"):
        assert name in proc.stdout


def test_demo_recovers_table3_factors_and_undoes_them(tmp_path):
    outdir = tmp_path / "demo"
    proc = _run("demo", "--outdir", str(outdir), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = re.search(r"largest recovery error: ([0-9.]+) %; .* = ([0-9.]+) %", proc.stdout)
    assert m, proc.stdout
    # the bar at demo noise: rFCFs recovered to better than 0.3 %
    assert float(m.group(1)) < 0.3
    assert float(m.group(2)) < 0.3  # after relcal_apply + refit all rFCFs are ~1
    rows = [ln for ln in proc.stdout.splitlines() if re.match(r"\s+\d+ \d{4}-\d\d-\d\d", ln)]
    assert len(rows) == 7
    _assert_report_is_the_products(proc.stdout, rows, outdir, m)
    assert_figure_png(outdir / "relcal_fit.png", figsize_in=(9, 7.5), dpi=DPI)
    # no spw error is injected: the fixed-seed demo must not report one
    assert "sigma_spw consistent with 0" in proc.stdout
    limit = re.search(r"95 % upper limit ([0-9.]+) %", proc.stdout)
    assert limit, proc.stdout
    assert float(limit.group(1)) < 0.3  # tighter than seed 000's 0.8 % by far at demo noise
    # 7 epochs: 2 rows of 4 panels of 3.2 x 2.8 in (spwcons/plot.py)
    assert_figure_png(
        outdir / "spwconsistency_mcf.png", figsize_in=(4 * 3.6, 2 * 3.3 + 0.9), dpi=DPI
    )


def _assert_report_is_the_products(stdout, rows, outdir, worst):
    """Every number the demo prints is the one in its JSON products (to the printed digits)
    and the injected column is the simulation's truth."""
    fit = json.loads((outdir / "relcal_fit.json").read_text())
    refit = json.loads((outdir / "relcal_refit.json").read_text())
    spw = json.loads((outdir / "spwconsistency.json").read_text())
    truth = json.loads((outdir / "ms" / TRUTH_FILE).read_text())
    number = r"([-+]?[0-9.]+)"
    row = re.compile(
        rf"\s+(\d+) (\S+)  +{number}  +{number} \+- {number}  +{number}  +{number} \+- {number}$"
    )
    parsed = np.array([[float(x) for x in row.match(ln).groups()[2:]] for ln in rows])
    injected, rfcf, rfcf_sigma, diff_pct, after, after_sigma = parsed.T
    assert [row.match(ln).group(2) for ln in rows] == fit["date"]
    np.testing.assert_allclose(injected, truth["true_rfcf"], atol=5e-5)  # printed to 4 decimals
    np.testing.assert_allclose(rfcf, fit["rfcf"], atol=5e-5)
    np.testing.assert_allclose(rfcf_sigma, fit["rfcf_sigma"], atol=5e-5)
    ratio = np.array(fit["rfcf"]) / np.array(truth["true_rfcf"])
    np.testing.assert_allclose(diff_pct, 100 * (ratio - 1), atol=5e-4)
    np.testing.assert_allclose(after, refit["rfcf"], atol=5e-6)  # 5 decimals
    np.testing.assert_allclose(after_sigma, refit["rfcf_sigma"], atol=5e-6)
    assert float(worst.group(1)) == pytest.approx(100 * np.max(np.abs(ratio - 1)), abs=5e-4)
    assert float(worst.group(2)) == pytest.approx(
        100 * np.max(np.abs(np.array(refit["rfcf"]) - 1)), abs=5e-4
    )
    assert np.ptp(injected) > 0.1  # not vacuous: Table 3's factors span 0.92-1.09
    sigma_spw = spw["decomposition"]["sigma_spw"]
    limit = re.search(r"95 % upper limit ([0-9.]+) %", stdout)
    assert float(limit.group(1)) == pytest.approx(100 * sigma_spw["upper95"], abs=5e-4)
    assert not sigma_spw["detected"]
