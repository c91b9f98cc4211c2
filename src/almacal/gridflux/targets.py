"""Which field, date, spws and pipeline values to check in each EB (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from almacal.gridflux.check import EbTarget
from almacal.gridflux.ebselect import (
    FLUX_INTENTS,
    PHASE_INTENTS,
    centre_frequencies,
    fields_with_intent,
    ms_name,
    science_spws,
)
from almacal.gridflux.fluxcsv import FluxCsv, FluxRow
from almacal.msinfo import MsInfo

# flux.csv comments use pipeline intent names; the MS uses CALIBRATE_FLUX.
PIPELINE_FLUX_INTENT = "AMPLITUDE"


def build_targets(
    infos: Sequence[MsInfo], table: FluxCsv | None, field: str
) -> tuple[EbTarget, ...]:
    """One EbTarget per MS; ValueError naming the MS when the calibrator is ambiguous."""
    return tuple(_target(info, table, field) for info in infos)


def _target(info: MsInfo, table: FluxCsv | None, field: str) -> EbTarget:
    ms = ms_name(info)
    rows = table.for_ms(ms) if table is not None else ()
    if table is not None and not rows:
        raise ValueError(
            f"fluxcsv {table.path!r} has no rows for {ms}; it lists {', '.join(table.ms_names())}"
        )
    name = field or _flux_calibrator(info, rows, ms)
    if name not in info.field_names:
        raise ValueError(
            f"field {name!r} not found in {info.path}; fields are: {', '.join(info.field_names)}"
        )
    fid = info.field_names.index(name)
    radec = info.fields[fid].radec_deg
    spws = science_spws(info)
    if table is None:
        freqs = centre_frequencies(info, spws)
        return EbTarget(ms, info.path, name, info.start_utc, spws, freqs, radec_deg=radec)
    by_spw = _calibrator_rows(table, rows, ms, name, str(fid))
    spws = tuple(s for s in spws if s in by_spw)
    if not spws:
        raise ValueError(
            f"fluxcsv {table.path!r} has no row for {ms} field {name} (id {fid}) in its "
            f"science spws {list(science_spws(info))}"
        )
    rows_ = tuple(by_spw[s] for s in spws)
    freqs = centre_frequencies(info, spws)
    return EbTarget(ms, info.path, name, info.start_utc, spws, freqs, rows_, radec)


def _calibrator_rows(
    table: FluxCsv, rows: Sequence[FluxRow], ms: str, name: str, fid: str
) -> dict[int, FluxRow]:
    """The amplitude calibrator's flux.csv row per spw; ValueError for a duplicate or I <= 0."""
    by_spw: dict[int, FluxRow] = {}
    for r in (r for r in rows if r.field_name == name or r.field == fid):
        if r.spw in by_spw:
            raise ValueError(
                f"fluxcsv {table.path!r} lines {by_spw[r.spw].line} and {r.line}: "
                f"two rows for {ms} field {name} spw {r.spw}"
            )
        if r.flux <= 0:
            raise ValueError(
                f"fluxcsv {table.path!r} line {r.line}: I is {r.flux!r} Jy for {ms} field {name} "
                f"spw {r.spw}; the amplitude calibrator needs I > 0"
            )
        by_spw[r.spw] = r
    return by_spw


def _flux_calibrator(info: MsInfo, rows: Sequence[FluxRow], ms: str) -> str:
    names = fields_with_intent(info, FLUX_INTENTS)
    if not names:
        names = tuple(
            dict.fromkeys(
                r.field_name or info.field_names[int(r.field)]
                for r in rows
                if PIPELINE_FLUX_INTENT in r.intents
            )
        )
    if len(names) == 1:
        return names[0]
    if not names:
        raise ValueError(
            f"{ms} has no field with intent CALIBRATE_FLUX (nor an AMPLITUDE row in fluxcsv): "
            "give the amplitude calibrator as field='J....'"
        )
    raise ValueError(
        f"{ms} has several amplitude calibrators ({', '.join(names)}): choose one with field="
    )


def phase_calibrators(infos: Sequence[MsInfo]) -> tuple[EbTarget, ...]:
    """One target per CALIBRATE_PHASE field of each MS; ValueError when an MS has none."""
    out = []
    for info in infos:
        ms = ms_name(info)
        names = fields_with_intent(info, PHASE_INTENTS)
        if not names:
            raise ValueError(f"phasecheck=True but {ms} has no field with intent CALIBRATE_PHASE")
        spws = science_spws(info)
        freqs = centre_frequencies(info, spws)
        out += [
            EbTarget(
                ms,
                info.path,
                n,
                info.start_utc,
                spws,
                freqs,
                radec_deg=info.fields[info.field_names.index(n)].radec_deg,
            )
            for n in names
        ]
    return tuple(out)
