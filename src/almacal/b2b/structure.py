"""Find the B2B structure of an MS from its scan list (seed 003 sections 2.1, 2.2.2).

DGC scans at low and high frequency (intents CALIBRATE_DIFFGAIN#REFERENCE /
#ON_SOURCE, the pipeline's DIFFGAINREF / DIFFGAINSRC; else a user-given DGC
field), the low-frequency phase calibrator, the high-frequency targets, and
the low -> high spw map (by baseband, or the user's spwmap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from almacal.b2b.blocks import DgcBlock, group_blocks

DGC_REF_INTENTS = ("CALIBRATE_DIFFGAIN#REFERENCE", "DIFFGAINREF")
DGC_SRC_INTENTS = ("CALIBRATE_DIFFGAIN#ON_SOURCE", "DIFFGAINSRC")
PHASE_INTENTS = ("CALIBRATE_PHASE", "PHASE")
TARGET_INTENTS = ("OBSERVE_TARGET", "TARGET")

# Bands closer than this frequency ratio are one band: B2B pairs differ by >= 2.8 (Table 2).
MIN_BAND_RATIO = 1.5


@dataclass(frozen=True)
class ScanInfo:
    """One scan: field, spws, intents and time range (MJD s)."""

    scan: int
    field: str
    spws: tuple[int, ...]
    intents: tuple[str, ...]
    start: float
    stop: float

    def has_intent(self, names: Sequence[str]) -> bool:
        return any(
            i == n or i.startswith(n + "#") or i.split("#")[0] == n
            for i in self.intents
            for n in names
        )


@dataclass(frozen=True)
class SpwInfo:
    spw: int
    centre_hz: float
    bbc: int  # baseband number, <= 0 when unknown


@dataclass(frozen=True)
class B2BStructure:
    """What b2b_phasetransfer calibrates; spwmap maps each high spw to its low spw."""

    low_spws: tuple[int, ...]
    high_spws: tuple[int, ...]
    spwmap: dict[int, int]
    spw_freq_hz: dict[int, float]
    dgc_field: str
    phasecal: str
    targets: tuple[str, ...]
    dgc_low_scans: tuple[int, ...]
    dgc_high_scans: tuple[int, ...]
    phasecal_scans: tuple[int, ...]
    target_scans: tuple[int, ...]
    blocks: tuple[DgcBlock, ...]
    from_intents: bool
    notes: tuple[str, ...]
    warnings: tuple[str, ...]

    def ratio(self, high_spw: int) -> float:
        """nu_high / nu_low of a high spw and its mapped low spw."""
        return self.spw_freq_hz[high_spw] / self.spw_freq_hz[self.spwmap[high_spw]]

    def to_record(self) -> dict:
        return {
            "low_spws": list(self.low_spws),
            "high_spws": list(self.high_spws),
            "spwmap": {str(k): v for k, v in self.spwmap.items()},
            "freq_ratio": {str(h): self.ratio(h) for h in self.high_spws},
            "dgc_field": self.dgc_field,
            "phasecal": self.phasecal,
            "targets": list(self.targets),
            "dgc_low_scans": list(self.dgc_low_scans),
            "dgc_high_scans": list(self.dgc_high_scans),
            "phasecal_scans": list(self.phasecal_scans),
            "target_scans": list(self.target_scans),
            "blocks": [b.to_record() for b in self.blocks],
            "from_intents": self.from_intents,
        }


def split_bands(spws: Sequence[SpwInfo]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(low, high) spw ids split at the largest frequency ratio between neighbours.

    Raises ValueError when all spws lie within MIN_BAND_RATIO (one band only).
    """
    order = sorted(spws, key=lambda s: s.centre_hz)
    if len(order) < 2:
        raise ValueError("the MS has fewer than two spws: no low-frequency spws for B2B")
    freq = np.array([s.centre_hz for s in order])
    ratios = freq[1:] / freq[:-1]
    k = int(np.argmax(ratios))
    if ratios[k] < MIN_BAND_RATIO:
        raise ValueError(
            "no low-frequency spws: all spws lie within %.3g-%.3g GHz (one band); "
            "B2B needs calibrator spws at a lower band (or give lowspw)"
            % (freq[0] / 1e9, freq[-1] / 1e9)
        )
    return tuple(s.spw for s in order[: k + 1]), tuple(s.spw for s in order[k + 1 :])


def map_spws(
    low: Sequence[int], high: Sequence[int], spws: Sequence[SpwInfo], user: Sequence[int]
) -> tuple[dict[int, int], str]:
    """high spw -> low spw: user spwmap (CASA form, index = high spw), else by baseband.

    Without usable baseband numbers the i-th low spw (by frequency) serves the
    i-th high spw; the returned note says which rule was used.
    """
    info = {s.spw: s for s in spws}
    if user:
        out = {}
        for h in high:
            if h >= len(user):
                raise ValueError(
                    f"spwmap={list(user)!r} has no entry for high-frequency spw {h} "
                    f"(index {h}); it needs {max(high) + 1} entries"
                )
            if user[h] not in low:
                raise ValueError(
                    f"spwmap={list(user)!r} maps spw {h} to {user[h]}, which is not a "
                    f"low-frequency spw ({list(low)})"
                )
            out[h] = int(user[h])
        return out, "spwmap given by the user"
    low_bbc = {info[s].bbc: s for s in low if info[s].bbc > 0}
    if len(low_bbc) == len(low) and all(info[h].bbc in low_bbc for h in high):
        return {h: low_bbc[info[h].bbc] for h in high}, "low -> high spws matched by baseband"
    lo = sorted(low, key=lambda s: info[s].centre_hz)
    hi = sorted(high, key=lambda s: info[s].centre_hz)
    if len(lo) < len(hi):
        raise ValueError(
            f"cannot map {len(hi)} high-frequency spws onto {len(lo)} low ones without "
            "baseband numbers: give spwmap"
        )
    return (
        {h: lo[i] for i, h in enumerate(hi)},
        "no baseband numbers: low -> high spws matched in frequency order",
    )


def find_structure(
    scans: Sequence[ScanInfo],
    spws: Sequence[SpwInfo],
    *,
    dgcfield: str = "",
    phasecal: str = "",
    target: Sequence[str] = (),
    lowspw: Sequence[int] = (),
    spwmap: Sequence[int] = (),
    blockgap: float = 0.0,
) -> B2BStructure:
    """Classify scans and spws; raise ValueError naming what is missing."""
    notes: list[str] = []
    used_spws = {s for sc in scans for s in sc.spws}
    spw_list = [s for s in spws if s.spw in used_spws]
    if lowspw:
        unknown = [s for s in lowspw if s not in used_spws]
        if unknown:
            raise ValueError(f"lowspw={list(lowspw)!r}: spws {unknown} have no data in the MS")
        low = tuple(sorted(lowspw))
        high = tuple(sorted(s.spw for s in spw_list if s.spw not in low))
        if not high:
            raise ValueError(f"lowspw={list(lowspw)!r} leaves no high-frequency spws")
    else:
        low, high = split_bands(spw_list)
    freq = {s.spw: s.centre_hz for s in spws}
    mapping, how = map_spws(low, high, spw_list, spwmap)
    notes.append(how)

    def in_band(sc: ScanInfo, band: Sequence[int]) -> bool:
        return bool(sc.spws) and set(sc.spws) <= set(band)

    from_intents = any(sc.has_intent(DGC_REF_INTENTS + DGC_SRC_INTENTS) for sc in scans)
    if dgcfield:
        dgc_scans = [sc for sc in scans if sc.field == dgcfield]
        if not dgc_scans:
            fields = sorted({sc.field for sc in scans})
            raise ValueError(f"dgcfield={dgcfield!r} has no scans; fields are: {fields}")
        dlow = [sc for sc in dgc_scans if in_band(sc, low)]
        dhigh = [sc for sc in dgc_scans if in_band(sc, high)]
        from_intents = False
    elif from_intents:
        dlow = [sc for sc in scans if sc.has_intent(DGC_REF_INTENTS) and in_band(sc, low)]
        dhigh = [sc for sc in scans if sc.has_intent(DGC_SRC_INTENTS) and in_band(sc, high)]
    else:
        raise ValueError(
            "no DGC scans: the MS has no CALIBRATE_DIFFGAIN (DIFFGAINREF/DIFFGAINSRC) "
            "intents; give dgcfield (the quasar observed alternately in both bands)"
        )
    if not dlow or not dhigh:
        raise ValueError(
            "missing DGC scans: found %d low-frequency and %d high-frequency DGC scans; "
            "both are needed to solve the band offset" % (len(dlow), len(dhigh))
        )
    dgc_names = sorted({sc.field for sc in dlow + dhigh})
    if len(dgc_names) > 1:
        raise ValueError(f"DGC scans cover several fields {dgc_names}: give dgcfield")

    if not phasecal:
        pcs = sorted(
            {
                sc.field
                for sc in scans
                if sc.has_intent(PHASE_INTENTS) and in_band(sc, low) and sc.field != dgc_names[0]
            }
        )
        if len(pcs) != 1:
            raise ValueError(
                "cannot tell the low-frequency phase calibrator from the intents "
                f"(candidates: {pcs or 'none'}): give phasecal"
            )
        phasecal = pcs[0]
    pc_scans = [sc for sc in scans if sc.field == phasecal and in_band(sc, low)]
    if not pc_scans:
        raise ValueError(
            f"phasecal={phasecal!r} has no scans in the low-frequency spws {list(low)}"
        )

    if target:
        targets = tuple(target)
        for t in targets:
            if not any(sc.field == t for sc in scans):
                raise ValueError(
                    f"target field {t!r} not found; fields are: "
                    f"{sorted({sc.field for sc in scans})}"
                )
    else:
        targets = tuple(
            sorted(
                {sc.field for sc in scans if sc.has_intent(TARGET_INTENTS) and in_band(sc, high)}
            )
        )
        if not targets:
            targets = tuple(
                sorted(
                    {
                        sc.field
                        for sc in scans
                        if in_band(sc, high) and sc.field not in (phasecal, dgc_names[0])
                    }
                )
            )
    tgt_scans = [sc for sc in scans if sc.field in targets and in_band(sc, high)]
    if not tgt_scans:
        raise ValueError(f"no high-frequency target scans (target={list(targets)!r})")

    blocks, warnings = group_blocks(
        [(sc.scan, sc.start, sc.stop, sc in dlow) for sc in dlow + dhigh], gap_s=blockgap
    )
    return B2BStructure(
        low_spws=low,
        high_spws=high,
        spwmap=mapping,
        spw_freq_hz={s: freq[s] for s in low + high},
        dgc_field=dgc_names[0],
        phasecal=phasecal,
        targets=targets,
        dgc_low_scans=tuple(sorted(sc.scan for sc in dlow)),
        dgc_high_scans=tuple(sorted(sc.scan for sc in dhigh)),
        phasecal_scans=tuple(sorted(sc.scan for sc in pc_scans)),
        target_scans=tuple(sorted(sc.scan for sc in tgt_scans)),
        blocks=tuple(blocks),
        from_intents=from_intents,
        notes=tuple(notes),
        warnings=tuple(warnings),
    )
