"""Open an HTML report in headless Chromium (Debian's `chromium`, installed by .ci/run) and
check what a reader sees: a page that is not blank, the record's numbers, every figure
embedded, every warning, nothing fetched from the network."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
import subprocess

import numpy as np

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    assert os.path.exists(path), "chromium is not installed: .ci/run installs Debian's chromium"
    return path


def screenshot(page: str, tmp_path) -> np.ndarray:
    """The top 1280 x 2000 pixels of page as Chromium renders it: (row, col, rgb[a]) floats."""
    from matplotlib.image import imread

    png = str(tmp_path / (os.path.basename(page) + ".screenshot.png"))
    profile = tmp_path / "chromium-profile"
    proc = subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            "file://" + os.path.abspath(page),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and os.path.exists(png), proc.stderr[-2000:]
    return imread(png)


def page_text(page: str) -> str:
    """The page's visible text, tags removed and entities decoded."""
    with open(page, encoding="utf-8") as fh:
        raw = fh.read()
    raw = re.sub(r"<(style|script)\b.*?</\1>", " ", raw, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def check_report(page: str, *, numbers: list[str], figures: list[str], warnings: list[str],
                 tmp_path) -> np.ndarray:  # fmt: skip
    """Assert what a reader of page must see; returns the screenshot for more checks.

    numbers : the record's headline values as the report prints them (formatted from the
    JSON by the caller); figures : the PNG files the task wrote; warnings : the record's.
    """
    with open(page, encoding="utf-8") as fh:
        raw = fh.read()
    # self-contained: nothing is fetched (no http(s) src/href, no external stylesheet)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", raw), "network resource"
    assert "<style>" in raw
    text = " ".join(page_text(page).split())
    missing = [n for n in numbers if n not in text]
    assert numbers and not missing, f"headline numbers missing from {page}: {missing}"
    for w in warnings:
        assert " ".join(w.split()) in text, f"warning missing from {page}: {w}"
    embedded = re.findall(r'<img src="data:image/png;base64,([^"]+)"', raw)
    assert len(embedded) == len(figures), (len(embedded), figures)
    for b64, png in zip(embedded, figures, strict=True):
        with open(png, "rb") as fh:
            assert base64.b64decode(b64) == fh.read(), f"{png} is not the figure embedded"
    image = screenshot(page, tmp_path)
    rgb = image[..., :3]
    # not blank: many pixels differ from the white background, in more than one colour
    ink = np.any(rgb < 0.9, axis=-1)
    assert ink.mean() > 0.02, f"screenshot of {page} is nearly blank ({ink.mean():.4f} inked)"
    assert rgb.reshape(-1, 3).std(axis=0).max() > 0.05
    return image
