"""Test helper: a written PNG is a real figure of the expected size, not an empty canvas."""

from __future__ import annotations

import os

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_figure_png(path: str | os.PathLike, figsize_in: tuple[float, float], dpi: int) -> None:
    """The file at path is a PNG of figsize_in x dpi pixels with data drawn on it.

    A figure with axes, ticks and data has many colours and covers a few per cent of
    the canvas; a blank or single-colour image (a figure saved before drawing, or a
    failed draw) has one colour or a near-empty canvas. Our figures draw data in
    matplotlib's colour cycle and the frames in black and grey: coloured pixels mean
    that data, not only empty axes, were drawn.
    """
    import matplotlib.image

    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE, f"{path} is not a PNG"
    pixels = matplotlib.image.imread(os.fspath(path))  # (height, width, RGB[A]) in [0, 1]
    width, height = (round(s * dpi) for s in figsize_in)
    assert pixels.shape[:2] == (height, width), (path, pixels.shape)
    rgb = pixels[..., :3].reshape(-1, 3)
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    # axes, text and markers anti-aliased on a white canvas: hundreds of colours
    assert len(colours) > 20, f"{path}: only {len(colours)} colours"
    inked = 1.0 - counts.max() / counts.sum()
    # frames, labels and data cover several per cent of a figure; 1 % is a lower bound
    assert inked > 0.01, f"{path}: {100 * inked:.2f} % of the pixels differ from the background"
    spread = rgb.max(axis=1) - rgb.min(axis=1)  # 0 for white, grey and black
    coloured = np.count_nonzero(spread > 0.3) / len(rgb)
    assert coloured > 1e-3, f"{path}: no data drawn ({100 * coloured:.3f} % coloured pixels)"
