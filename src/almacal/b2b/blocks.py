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


def _auto_gap(gaps: np.ndarray) -> float:
    """AUTO_GAP_FACTOR x the median gap between consecutive DGC scans, >= MIN_BLOCK_GAP_S."""
    if not gaps.size:
        return 1.0
    return max(MIN_BLOCK_GAP_S, AUTO_GAP_FACTOR * float(np.median(gaps)))


def _block(part: Sequence[tuple[int, float, float, bool]]) -> DgcBlock | str:
    """The block of consecutive scans, or why it cannot give an offset."""
    low = tuple(s[0] for s in part if s[3])
    high = tuple(s[0] for s in part if not s[3])
    if not low or not high:
        return "DGC scans %s form a block without %s-frequency scans; block ignored" % (
            [s[0] for s in part],
            "low" if not low else "high",
        )
    return DgcBlock(low, high, float(part[0][1]), float(part[-1][2]))


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
        gap_s = _auto_gap(gaps)
    cut = np.concatenate([[0], np.flatnonzero(gaps > gap_s) + 1, [len(order)]])
    found = [_block(order[a:b]) for a, b in zip(cut[:-1], cut[1:], strict=True)]
    blocks = [b for b in found if isinstance(b, DgcBlock)]
    warnings = [w for w in found if isinstance(w, str)]
    if not blocks:
        raise ValueError("missing DGC scans: no block has both low- and high-frequency DGC scans")
    if len(blocks) == 1:
        warnings.append(
            "only one DGC block: the band offset is taken as constant and its drift "
            "cannot be corrected (seed 003 section 2.1 uses start and end blocks)"
        )
    return blocks, warnings
