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
from almacal.msinfo import ScanInfo, SpwInfo

DGC_REF_INTENTS = ("CALIBRATE_DIFFGAIN#REFERENCE", "DIFFGAINREF")
DGC_SRC_INTENTS = ("CALIBRATE_DIFFGAIN#ON_SOURCE", "DIFFGAINSRC")
PHASE_INTENTS = ("CALIBRATE_PHASE", "PHASE")
TARGET_INTENTS = ("OBSERVE_TARGET", "TARGET")

# Bands closer than this frequency ratio are one band: B2B pairs differ by >= 2.8 (Table 2).
MIN_BAND_RATIO = 1.5


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
    return tuple(s.id for s in order[: k + 1]), tuple(s.id for s in order[k + 1 :])


def _user_spwmap(low: Sequence[int], high: Sequence[int], user: Sequence[int]) -> dict[int, int]:
    """The user's spwmap (CASA form: index = high spw), checked against the bands."""
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
    return out


def map_spws(
    low: Sequence[int], high: Sequence[int], spws: Sequence[SpwInfo], user: Sequence[int]
) -> tuple[dict[int, int], str]:
    """high spw -> low spw: user spwmap (CASA form, index = high spw), else by baseband.

    Without usable baseband numbers the i-th low spw (by frequency) serves the
    i-th high spw; the returned note says which rule was used.
    """
    if user:
        return _user_spwmap(low, high, user), "spwmap given by the user"
    info = {s.id: s for s in spws}
    low_bbc = {info[s].bbc_no: s for s in low if info[s].bbc_no > 0}
    if len(low_bbc) == len(low) and all(info[h].bbc_no in low_bbc for h in high):
        return {h: low_bbc[info[h].bbc_no] for h in high}, "low -> high spws matched by baseband"
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


def _in_band(sc: ScanInfo, band: Sequence[int]) -> bool:
    """Every spw of the scan is in band (a scan with no spws is in none)."""
    return bool(sc.spws) and set(sc.spws) <= set(band)


def _field_names(scans: Sequence[ScanInfo]) -> list[str]:
    return sorted({sc.field for sc in scans})


@dataclass(frozen=True)
class SpwChoice:
    """The two bands and the map between them; note says how the map was made."""

    low: tuple[int, ...]
    high: tuple[int, ...]
    spwmap: dict[int, int]
    note: str


def select_spws(
    scans: Sequence[ScanInfo],
    spws: Sequence[SpwInfo],
    *,
    lowspw: Sequence[int] = (),
    spwmap: Sequence[int] = (),
) -> SpwChoice:
    """Low and high spws among those with data: lowspw as given, else split at the
    largest frequency gap; then the high -> low map."""
    used = {s for sc in scans for s in sc.spws}
    with_data = [s for s in spws if s.id in used]
    if lowspw:
        unknown = [s for s in lowspw if s not in used]
        if unknown:
            raise ValueError(f"lowspw={list(lowspw)!r}: spws {unknown} have no data in the MS")
        low = tuple(sorted(lowspw))
        high = tuple(sorted(s.id for s in with_data if s.id not in low))
        if not high:
            raise ValueError(f"lowspw={list(lowspw)!r} leaves no high-frequency spws")
    else:
        low, high = split_bands(with_data)
    mapping, note = map_spws(low, high, with_data, spwmap)
    return SpwChoice(low, high, mapping, note)


@dataclass(frozen=True)
class DgcScans:
    """The DGC source and its scans in each band; from_intents: found by intent."""

    field: str
    low: tuple[ScanInfo, ...]
    high: tuple[ScanInfo, ...]
    from_intents: bool


def _dgc_of_field(
    scans: Sequence[ScanInfo], name: str, low: Sequence[int], high: Sequence[int]
) -> tuple[list[ScanInfo], list[ScanInfo]]:
    """A user-given DGC field's scans in the low and in the high spws."""
    field_scans = [sc for sc in scans if sc.field == name]
    if not field_scans:
        raise ValueError(f"dgcfield={name!r} has no scans; fields are: {_field_names(scans)}")
    return (
        [sc for sc in field_scans if _in_band(sc, low)],
        [sc for sc in field_scans if _in_band(sc, high)],
    )


def _dgc_by_intent(
    scans: Sequence[ScanInfo], low: Sequence[int], high: Sequence[int]
) -> tuple[list[ScanInfo], list[ScanInfo]]:
    """DIFFGAIN REFERENCE scans in the low spws, ON_SOURCE scans in the high spws."""
    if not any(sc.has_intent(DGC_REF_INTENTS + DGC_SRC_INTENTS) for sc in scans):
        raise ValueError(
            "no DGC scans: the MS has no CALIBRATE_DIFFGAIN (DIFFGAINREF/DIFFGAINSRC) "
            "intents; give dgcfield (the quasar observed alternately in both bands)"
        )
    return (
        [sc for sc in scans if sc.has_intent(DGC_REF_INTENTS) and _in_band(sc, low)],
        [sc for sc in scans if sc.has_intent(DGC_SRC_INTENTS) and _in_band(sc, high)],
    )


def select_dgc_scans(
    scans: Sequence[ScanInfo], low: Sequence[int], high: Sequence[int], *, dgcfield: str = ""
) -> DgcScans:
    """dgcfield's scans split by band, else the DGC scans by intent. Both bands are
    needed, from one field."""
    if dgcfield:
        dlow, dhigh = _dgc_of_field(scans, dgcfield, low, high)
        if not dlow or not dhigh:
            by_intent = _field_names(
                [sc for sc in scans if sc.has_intent(DGC_REF_INTENTS + DGC_SRC_INTENTS)]
            )
            raise ValueError(
                f"dgcfield={dgcfield!r} has {len(dlow)} scans in the low-frequency spws "
                f"{list(low)} and {len(dhigh)} in the high-frequency spws {list(high)}: the DGC "
                "source is the quasar observed alternately in both bands (fields with DGC "
                f"intents: {by_intent or 'none'})"
            )
    else:
        dlow, dhigh = _dgc_by_intent(scans, low, high)
    if not dlow or not dhigh:
        raise ValueError(
            "missing DGC scans: found %d low-frequency and %d high-frequency DGC scans; "
            "both are needed to solve the band offset" % (len(dlow), len(dhigh))
        )
    names = _field_names(dlow + dhigh)
    if len(names) > 1:
        raise ValueError(f"DGC scans cover several fields {names}: give dgcfield")
    return DgcScans(names[0], tuple(dlow), tuple(dhigh), from_intents=not dgcfield)


def select_phasecal(
    scans: Sequence[ScanInfo], low: Sequence[int], dgc_field: str, *, phasecal: str = ""
) -> tuple[str, tuple[int, ...]]:
    """(phase calibrator, its low-frequency scans): phasecal, else the one field other
    than the DGC source with CALIBRATE_PHASE scans in the low spws."""
    if not phasecal:
        candidates = _field_names(
            [
                sc
                for sc in scans
                if sc.has_intent(PHASE_INTENTS) and _in_band(sc, low) and sc.field != dgc_field
            ]
        )
        if len(candidates) != 1:
            raise ValueError(
                "cannot tell the low-frequency phase calibrator from the intents "
                f"(candidates: {candidates or 'none'}): give phasecal"
            )
        phasecal = candidates[0]
    pc_scans = sorted(sc.scan for sc in scans if sc.field == phasecal and _in_band(sc, low))
    if not pc_scans:
        raise ValueError(
            f"phasecal={phasecal!r} has no scans in the low-frequency spws {list(low)}"
        )
    return phasecal, tuple(pc_scans)


def _default_targets(
    scans: Sequence[ScanInfo], high: Sequence[int], calibrators: Sequence[str]
) -> tuple[str, ...]:
    """OBSERVE_TARGET fields in the high spws, else every field there but the calibrators."""
    in_high = [sc for sc in scans if _in_band(sc, high)]
    targets = _field_names([sc for sc in in_high if sc.has_intent(TARGET_INTENTS)])
    return tuple(targets or _field_names([sc for sc in in_high if sc.field not in calibrators]))


def select_targets(
    scans: Sequence[ScanInfo],
    high: Sequence[int],
    calibrators: Sequence[str],
    *,
    target: Sequence[str] = (),
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """(targets, their high-frequency scans): target as given (every field must exist),
    else the default targets."""
    missing = [t for t in target if not any(sc.field == t for sc in scans)]
    if missing:
        raise ValueError(
            f"target field {missing[0]!r} not found; fields are: {_field_names(scans)}"
        )
    targets = tuple(target) or _default_targets(scans, high, calibrators)
    tgt_scans = sorted(sc.scan for sc in scans if sc.field in targets and _in_band(sc, high))
    if not tgt_scans:
        raise ValueError(f"no high-frequency target scans (target={list(targets)!r})")
    return targets, tuple(tgt_scans)


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
    bands = select_spws(scans, spws, lowspw=lowspw, spwmap=spwmap)
    dgc = select_dgc_scans(scans, bands.low, bands.high, dgcfield=dgcfield)
    pc_name, pc_scans = select_phasecal(scans, bands.low, dgc.field, phasecal=phasecal)
    targets, tgt_scans = select_targets(scans, bands.high, (pc_name, dgc.field), target=target)
    blocks, warnings = group_blocks(
        [(sc.scan, sc.start, sc.stop, True) for sc in dgc.low]
        + [(sc.scan, sc.start, sc.stop, False) for sc in dgc.high],
        gap_s=blockgap,
    )
    freq = {s.id: s.centre_hz for s in spws}
    return B2BStructure(
        low_spws=bands.low,
        high_spws=bands.high,
        spwmap=bands.spwmap,
        spw_freq_hz={s: freq[s] for s in bands.low + bands.high},
        dgc_field=dgc.field,
        phasecal=pc_name,
        targets=targets,
        dgc_low_scans=tuple(sorted(sc.scan for sc in dgc.low)),
        dgc_high_scans=tuple(sorted(sc.scan for sc in dgc.high)),
        phasecal_scans=pc_scans,
        target_scans=tgt_scans,
        blocks=tuple(blocks),
        from_intents=dgc.from_intents,
        notes=(bands.note,),
        warnings=tuple(warnings),
    )
