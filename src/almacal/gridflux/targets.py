"""Which field, date, spws and pipeline values to check in each EB (pure)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from almacal.gridflux.check import EbTarget
from almacal.gridflux.fluxcsv import FluxCsv, FluxRow

if TYPE_CHECKING:
    from almacal.io.msmeta import CalibratorMeta

# flux.csv comments use pipeline intent names; the MS uses CALIBRATE_FLUX.
PIPELINE_FLUX_INTENT = "AMPLITUDE"


def build_targets(
    metas: Sequence[CalibratorMeta], table: FluxCsv | None, field: str
) -> tuple[EbTarget, ...]:
    """One EbTarget per MS; ValueError naming the MS when the calibrator is ambiguous."""
    return tuple(_target(m, table, field) for m in metas)


def _target(meta: CalibratorMeta, table: FluxCsv | None, field: str) -> EbTarget:
    ms = os.path.basename(os.path.normpath(meta.path))
    rows = table.for_ms(ms) if table is not None else ()
    if table is not None and not rows:
        raise ValueError(
            f"fluxcsv {table.path!r} has no rows for {ms}; it lists {', '.join(table.ms_names())}"
        )
    name = field or _flux_calibrator(meta, rows, ms)
    if name not in meta.field_names:
        raise ValueError(
            f"field {name!r} not found in {meta.path}; fields are: {', '.join(meta.field_names)}"
        )
    radec = meta.field_radec_deg[meta.field_names.index(name)]
    if table is None:
        return EbTarget(
            ms, meta.path, name, meta.obs_date, meta.spws, meta.spw_freq_hz, radec_deg=radec
        )
    fid = str(meta.field_names.index(name))
    mine = [r for r in rows if r.field_name == name or r.field == fid]
    by_spw: dict[int, FluxRow] = {}
    for r in mine:
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
    spws = tuple(s for s in meta.spws if s in by_spw)
    if not spws:
        raise ValueError(
            f"fluxcsv {table.path!r} has no row for {ms} field {name} (id {fid}) in its "
            f"science spws {list(meta.spws)}"
        )
    freqs = tuple(meta.spw_freq_hz[meta.spws.index(s)] for s in spws)
    rows_ = tuple(by_spw[s] for s in spws)
    return EbTarget(ms, meta.path, name, meta.obs_date, spws, freqs, rows_, radec)


def _flux_calibrator(meta: CalibratorMeta, rows: Sequence[FluxRow], ms: str) -> str:
    names = meta.intent_fields.get("CALIBRATE_FLUX", ())
    if not names:
        names = tuple(
            dict.fromkeys(
                r.field_name or meta.field_names[int(r.field)]
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


def phase_calibrators(metas: Sequence[CalibratorMeta]) -> tuple[EbTarget, ...]:
    """One target per CALIBRATE_PHASE field of each MS; ValueError when an MS has none."""
    out = []
    for m in metas:
        ms = os.path.basename(os.path.normpath(m.path))
        names = m.intent_fields.get("CALIBRATE_PHASE", ())
        if not names:
            raise ValueError(f"phasecheck=True but {ms} has no field with intent CALIBRATE_PHASE")
        out += [
            EbTarget(
                ms,
                m.path,
                n,
                m.obs_date,
                m.spws,
                m.spw_freq_hz,
                radec_deg=m.field_radec_deg[m.field_names.index(n)],
            )
            for n in names
        ]
    return tuple(out)
