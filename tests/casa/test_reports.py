"""Each task's HTML report, opened in headless Chromium: not blank, the record's headline
numbers (formatted here from the task's JSON), every figure, every warning; the demo's
terminal: progress per MS, no CASA chatter. gridflux_check's and b2b_phasetransfer's
reports are checked in their own tests (tests/casa/browser.py)."""

import json
import re

from tests.casa.browser import check_report


def _json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def test_relcal_fit_report_shows_every_rfcf_and_its_figure(demo_dir, tmp_path):
    rec = _json(demo_dir / "relcal_fit.json")
    numbers = [f"{r:.4f} ± {s:.4f}" for r, s in zip(rec["rfcf"], rec["rfcf_sigma"], strict=True)]
    numbers += [f"{f:.5f}" for row in rec["flux"] for f in row]  # every calibrator's flux
    assert len(numbers) == 7 + 7 * 4
    check_report(
        str(demo_dir / "relcal_fit.html"),
        numbers=numbers,
        figures=[str(demo_dir / "relcal_fit.png")],
        warnings=[x["reason"] for x in rec.get("exclusions", [])],
        tmp_path=tmp_path,
    )


def test_refit_report_is_titled_for_the_rescaled_data(demo_dir, tmp_path):
    rec = _json(demo_dir / "relcal_refit.json")
    check_report(
        str(demo_dir / "relcal_refit.html"),
        numbers=[f"{r:.4f} ± {s:.4f}" for r, s in zip(rec["rfcf"], rec["rfcf_sigma"], strict=True)]
        + ["ep01_20181014.rescaled.ms"],
        figures=[str(demo_dir / "relcal_refit.png")],
        warnings=[],
        tmp_path=tmp_path,
    )


def test_spwconsistency_report_shows_sigmas_alpha_and_three_figures(demo_dir, tmp_path):
    rec = _json(demo_dir / "spwconsistency.json")
    dec, mc = rec["decomposition"], rec["montecarlo"]
    numbers = [
        f"{100 * dec['sigma_fit']['sigma']:.3f} ± {100 * dec['sigma_fit']['error']:.3f} %",
        f"< {100 * dec['sigma_spw']['upper95']:.3f} %",  # the demo injects no spw error
        f"{mc['sigma_alpha']:.3f}",
    ]
    numbers += [
        f"{a:+.3f} ± {e:.3f}"
        for a, e in zip(rec["powerlaw"]["alpha"], rec["powerlaw"]["alpha_error"], strict=True)
    ]
    numbers += [f"{v:.2f}" for v in rec["qa"].values()]
    assert not dec["sigma_spw"]["detected"]
    check_report(
        str(demo_dir / "spwconsistency.html"),
        numbers=numbers,
        figures=[str(demo_dir / f"spwconsistency_{k}.png") for k in ("mcf", "hist", "mc")],
        warnings=[],
        tmp_path=tmp_path,
    )


def test_relcal_apply_report_shows_each_factor_applied(demo_dir, tmp_path):
    rec = _json(demo_dir / "relcal_apply.json")
    fit = _json(demo_dir / "relcal_fit.json")
    assert [r["factor"] for r in rec["rescale"]] == fit["rfcf"]  # what was fitted is applied
    check_report(
        str(demo_dir / "relcal_apply.html"),
        numbers=[f"{r['factor']:.6f}" for r in rec["rescale"]]
        + [f"{r['gencal_parameter']:.6f}" for r in rec["rescale"]],
        figures=[],
        warnings=[],
        tmp_path=tmp_path,
    )


def test_demo_terminal_shows_progress_and_no_casa_chatter(demo_dir):
    err = (demo_dir / "stderr.txt").read_text()
    # one line per MS: simulated, then read by relcal_fit (fit and refit)
    assert len(re.findall(r"^simulate_epochs: \[\d/7\] ep0\d_\d{8}\.ms: ", err, re.M)) == 7
    reads = re.findall(
        r"^relcal_fit: \[\d/7\] ep0\d_\d{8}(\.rescaled)?\.ms: [0-9.]+ GB read in", err, re.M
    )
    assert len(reads) == 14
    # the simulator's and split/gencal/applycal's INFO lines are in the log file only
    for chatter in ("NewMSSimulator", "MSTransformManager", "applycal::", "Begin Task"):
        assert chatter not in err, chatter
    assert "Replacing" not in err  # a fresh output directory
    log = next(demo_dir.parent.glob("casa-*.log")).read_text()
    assert "NewMSSimulator::observe()" in log and "Begin Task: applycal" in log


def test_xml_returns_name_every_key_of_the_records(demo_dir):
    from almacal.casatask.spec import load_spec

    for task, name in (
        ("relcal_fit", "relcal_fit.json"),
        ("spwconsistency", "spwconsistency.json"),
        ("relcal_apply", "relcal_apply.json"),
    ):
        rec = _json(demo_dir / name)
        text = load_spec(task).returns
        assert len(rec) > 3
        missing = [k for k in rec if not re.search(rf"\b{k}\b", text)]
        assert not missing, f"{task} <returns> does not name {missing}"
        if task == "relcal_apply":
            missing = [k for k in rec["rescale"][0] if not re.search(rf"\b{k}\b", text)]
            assert not missing, missing
