"""The only place that reads visibilities from measurement sets (casatools table and ms tools).

Rows and cells come back as they are stored (almacal.vischunk); what to select
and how to reduce it is decided by the pure cores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from almacal.io.msinfo import read_ms_info
from almacal.io.tables import casatools, opened_table, row_blocks
from almacal.msinfo import MsInfo
from almacal.vischunk import ReadSelection, SpwSlice, VisChunk


def read_info(path: str) -> MsInfo:
    """The MS model (almacal.io.msinfo); ValueError naming vis if it is not an MS."""
    return read_ms_info(path)


# One item of a CASA spw selection with channel numbers: '0:100~200', '1,2:3~5;9~12^2'
# items; frequency or velocity ranges ('0:340~341GHz') are left to CASA.
_CHANNEL_ITEM = re.compile(r"^\s*(?P<spw>[^:]+):(?P<chans>[\d\s~;^]+)$")


def _spw_list(info: MsInfo) -> str:
    return ", ".join(
        f"{s.id} ({s.centre_hz / 1e9:.3f} GHz, {s.n_chan} channels)" for s in info.spws
    )


def _channels_outside(ms, info: MsInfo, spw: str) -> str | None:
    """Why an item of spw names channels an spw does not have (msseltoindex would
    clamp them to its last channel), or None."""
    for item in spw.split(","):
        m = _CHANNEL_ITEM.match(item)
        if not m:
            continue
        numbers = [int(x) for x in re.findall(r"\d+", re.sub(r"\^\s*\d+", "", m["chans"]))]
        for s in ms.msseltoindex(vis=info.path, spw=m["spw"])["spw"]:
            n = info.spws[int(s)].n_chan
            if numbers and max(numbers) >= n:
                return (
                    f"spw {spw!r}: channels {m['chans'].strip()} lie outside spw {int(s)} of "
                    f"{info.path}, which has {n} channels (0~{n - 1}); CASA would clamp them "
                    "to its last channel"
                )
    return None


def select_channels(info: MsInfo, spw: str) -> dict[int, np.ndarray]:
    """CASA spw selection -> {spw id: (n_chan,) bool channel mask}; ValueError naming spw
    (also for channel numbers beyond an spw's channels)."""
    if not spw.strip():
        return {int(s): np.ones(info.chan_freq_hz[s].size, bool) for s in np.unique(info.ddid_spw)}
    ms = casatools().ms()
    try:
        sel = ms.msseltoindex(vis=info.path, spw=spw)
        outside = _channels_outside(ms, info, spw)
    except RuntimeError as exc:
        raise ValueError(
            f"spw {spw!r} does not select data in {info.path}: {exc}; its spws are "
            f"{_spw_list(info)}"
        ) from exc
    finally:
        ms.done()
    if outside:
        raise ValueError(outside)
    masks: dict[int, np.ndarray] = {}
    for s, start, stop, step in np.atleast_2d(sel["channel"]):
        m = masks.setdefault(int(s), np.zeros(info.chan_freq_hz[s].size, bool))
        m[start : stop + 1 : max(step, 1)] = True
    if not masks:
        raise ValueError(f"spw {spw!r} selects no data in {info.path}")
    return masks


def _where(sel: ReadSelection, ddid: str) -> str:
    return f"{ddid} && FIELD_ID IN {list(sel.field_ids)} && ANTENNA1 != ANTENNA2 && !FLAG_ROW"


def vis_chunks(sel: ReadSelection) -> Iterator[VisChunk]:
    """One chunked pass over the selected rows, spw slice by spw slice; ~CHUNK_BYTES of
    visibilities per chunk, so memory stays flat whatever the MS size. An MS with none
    of the fields has no chunks."""
    if not sel.field_ids:
        return
    for k, s in enumerate(sel.spws):
        for dd in s.dds:
            with opened_table(sel.path, _where(sel, f"DATA_DESC_ID == {dd.ddid}")) as sub:
                first, last = [dd.corr_first, s.chan_first], [dd.corr_last, s.chan_last]
                slicer = (first, last, [dd.corr_step, 1])
                for rows in row_blocks(sub.nrows(), 16 * dd.n_corr * s.n_chan):
                    # no local names for the arrays: the consumer frees a chunk before
                    # the next one is read
                    yield VisChunk(
                        spw_index=k,
                        # casatools returns (corr, chan, row); .T views it as (row, chan, corr)
                        data=sub.getcolslice(sel.column, *slicer, *rows).T,
                        flag=sub.getcolslice("FLAG", *slicer, *rows).T,
                        weight=_weight(sub, sel, s, dd.corr_index, slicer, rows),
                        field_id=sub.getcol("FIELD_ID", *rows),
                        time=sub.getcol("TIME", *rows),
                        uv_m=sub.getcol("UVW", *rows)[:2] if sel.uvw else None,
                    )


def _weight(sub, sel: ReadSelection, s: SpwSlice, corr: np.ndarray, slicer, rows) -> np.ndarray:
    if sel.weight_spectrum:
        return sub.getcolslice("WEIGHT_SPECTRUM", *slicer, *rows).T
    # one weight per row and correlation: no (row, chan) weight array
    return sub.getcol("WEIGHT", *rows)[corr].T


def longest_baselines_m(sel: ReadSelection) -> tuple[float, ...]:
    """Per spw slice, the longest projected baseline sqrt(u^2 + v^2) in metres of the
    selected rows (0 without rows); reads UVW only."""
    if not sel.field_ids:
        return tuple(0.0 for _ in sel.spws)
    out = []
    for s in sel.spws:
        ddids = [d.ddid for d in s.dds]
        with opened_table(sel.path, _where(sel, f"DATA_DESC_ID IN {ddids}")) as sub:
            if sub.nrows() == 0:
                out.append(0.0)
                continue
            uvw = sub.getcol("UVW")
        out.append(float(np.hypot(uvw[0], uvw[1]).max()))
    return tuple(out)


class CasaMs:
    """The casatools implementation of the readers the relcal core takes (relcal.run.MsReader)."""

    read_info = staticmethod(read_info)
    select_channels = staticmethod(select_channels)
    chunks = staticmethod(vis_chunks)
    longest_baselines_m = staticmethod(longest_baselines_m)
