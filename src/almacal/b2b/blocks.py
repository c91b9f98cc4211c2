"""Group DGC scans into blocks by time gaps (seed 003 section 2.1: start / end blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# A gap longer than this many times the median gap between consecutive DGC scans
# starts a new block; never less than MIN_BLOCK_GAP_S (a slew and retune take ~20 s).
AUTO_GAP_FACTOR = 5.0
MIN_BLOCK_GAP_S = 60.0


@dataclass(frozen=True)
class DgcBlock:
    """DGC scans close in time: low-frequency (reference) and high-frequency scans."""

    low_scans: tuple[int, ...]
    high_scans: tuple[int, ...]
    start: float
    stop: float

    def to_record(self) -> dict:
        return {
            "low_scans": list(self.low_scans),
            "high_scans": list(self.high_scans),
            "start_mjd_s": self.start,
            "stop_mjd_s": self.stop,
        }


def group_blocks(
    scans: Sequence[tuple[int, float, float, bool]], *, gap_s: float = 0.0
) -> tuple[list[DgcBlock], list[str]]:
    """Blocks from (scan, start, stop, is_low) tuples; gap_s <= 0 picks the gap automatically.

    A block without both low and high scans cannot give an offset: it is dropped
    with a warning. Raises ValueError if no block is usable. One block gives a
    warning: a drift of the band offset cannot be followed.
    """
    if not scans:
        raise ValueError("no DGC scans to group into blocks")
    order = sorted(scans, key=lambda s: s[1])
    starts = np.array([s[1] for s in order])
    stops = np.array([s[2] for s in order])
    gaps = starts[1:] - stops[:-1]
    if gap_s <= 0:
        gap_s = max(MIN_BLOCK_GAP_S, AUTO_GAP_FACTOR * float(np.median(gaps))) if gaps.size else 1.0
    cut = np.concatenate([[0], np.flatnonzero(gaps > gap_s) + 1, [len(order)]])
    blocks, warnings = [], []
    for a, b in zip(cut[:-1], cut[1:], strict=True):
        part = order[a:b]
        low = tuple(s[0] for s in part if s[3])
        high = tuple(s[0] for s in part if not s[3])
        if not low or not high:
            warnings.append(
                "DGC scans %s form a block without %s-frequency scans; block ignored"
                % ([s[0] for s in part], "low" if not low else "high")
            )
            continue
        blocks.append(DgcBlock(low, high, float(starts[a]), float(stops[b - 1])))
    if not blocks:
        raise ValueError("missing DGC scans: no block has both low- and high-frequency DGC scans")
    if len(blocks) == 1:
        warnings.append(
            "only one DGC block: the band offset is taken as constant and its drift "
            "cannot be corrected (seed 003 section 2.1 uses start and end blocks)"
        )
    return blocks, warnings
