"""What the recipe tests share: a recipe command and the weblog as a reader sees it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.casa.browser import CHROMIUM_FLAGS, chromium


def command(name: str, **params: str) -> str:
    rows = "".join(
        f"<Parameter><Keyword>{k}</Keyword><Value>{v}</Value></Parameter>"
        for k, v in params.items()
    )
    return (
        f"<ProcessingCommand><Command>{name}</Command>"
        f"<ParameterSet>{rows}</ParameterSet></ProcessingCommand>"
    )


def procedure(path, title: str, *commands: str) -> str:
    """A recipe file (the pipeline's ProcessingProcedure XML) of commands; its path."""
    Path(path).write_text(
        f"<ProcessingProcedure><ProcedureTitle>{title}</ProcedureTitle>"
        + "".join(commands)
        + "</ProcessingProcedure>"
    )
    return str(path)


def weblog_screenshot(html: str, png, n: int, tmp_path):
    """Stage n as a weblog reader sees it: t2-4m.html loads the detail page into its frame
    (which is why the pipeline's links are relative to the html directory)."""
    from matplotlib.image import imread

    page = os.path.join(html, "t2-4m.html")
    proc = subprocess.run(
        [
            chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
            # the weblog's scripts load the detail page from disk; give them 15 s
            "--allow-file-access-from-files", "--virtual-time-budget=15000",
            f"--screenshot={png}", "--window-size=1280,3000",
            f"file://{page}?sidebar=sidebar_stage{n}",
        ],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0 and png.exists(), proc.stderr[-2000:]
    return imread(str(png))
