"""The README's prompt tutorial, verbatim, at `almacal shell` on the demo's output."""

import json
import os
import pathlib
import re
import subprocess
import sys

from tests.casa.msutil import fingerprint

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tutorial_lines():
    """The `CASA <n>: ...` lines of the README block after 'A first session'."""
    text = (ROOT / "README.md").read_text()
    section = text.split("A first session", 1)[1]
    block = re.search(r"```\n(CASA <1>:.*?)\n```", section, flags=re.S)
    assert block, "README has no prompt tutorial after 'A first session'"
    return [re.sub(r"^CASA <\d+>: ", "", ln) for ln in block.group(1).splitlines()]


def test_readme_prompt_tutorial_runs_on_the_demo_output(demo_dir, tmp_path):
    lines = tutorial_lines()
    assert lines[0] == "inp relcal_fit" and "dryrun=True" in lines[5]  # the README's 7 lines
    cwd = demo_dir / "ms"
    vis = ["ep01_20181014.ms", "ep02_20190306.ms", "ep03_20190407.ms"]
    before = {v: fingerprint(cwd / v) for v in vis}
    home = tmp_path / "home"
    home.mkdir()  # no ~/.casa: a new user's machine
    env = {k: v for k, v in os.environ.items() if k != "CASASITECONFIG"} | {"HOME": str(home)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "almacal",
            "shell",
            "--nologger",
            "--nogui",
            "--agg",
            "--colors",
            "NoColor",
        ],  # fmt: skip
        input="\n".join(lines) + "\nexit\n",
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for error in ("Traceback", "Error", "SEVERE\trelcal"):
        assert error not in out, out[-4000:]
    # progress per MS, the record's short summary, the dry run's plan: on the terminal
    assert len(re.findall(r"relcal_fit: \[\d/3\] ep0\d_\d{8}\.ms: [0-9.]+ GB read", out)) == 3
    assert "relcal_fit: 3 epochs, 4 calibrators (SMM9, SMM4, SMM3, SMM11)" in out
    fit = json.loads((cwd / "serpens.json").read_text())
    plan = re.findall(r"Would rescale \S*(ep0\d_\d{8}\.ms): amplitudes x ([0-9.]+)", out)
    assert [(n, float(f)) for n, f in plan] == [
        (v, round(f, 6)) for v, f in zip(vis, fit["rfcf"], strict=True)
    ]
    # the real run: rescaled copies beside the inputs, each with the fitted factor
    for v, f in zip(vis, fit["rfcf"], strict=True):
        assert (cwd / v.replace(".ms", ".rescaled.ms")).is_dir()
        assert f"Rescaling {cwd / v}: amplitudes x {f:.6f}" in out
    applied = json.loads((cwd / "ep01_20181014.rescaled.relcal_apply.json").read_text())
    assert [r["factor"] for r in applied["rescale"]] == fit["rfcf"]
    assert (cwd / "serpens.html").stat().st_size > 10_000
    assert (cwd / "ep01_20181014.rescaled.relcal_apply.html").is_file()
    assert {v: fingerprint(cwd / v) for v in vis} == before  # split mode: inputs untouched
