"""Optional quasar calibrator fields observed after the Serpens block of each epoch.

The pipeline sets the flux scale from the amplitude (flux) calibrator's catalog
flux; a simulation in which the catalog was stale multiplies every visibility by
F_stale / F_true, i.e. flux_scale = F_stale / F_true (gridflux_check's tests).
A field's role gives its scans' intent: 'flux_calibrator' -> CALIBRATE_FLUX,
'phase_calibrator' -> CALIBRATE_PHASE; the Serpens fields keep theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from almacal.simulate.serpens import FieldModel

OBS_MODES = {
    "flux_calibrator": "CALIBRATE_FLUX#ON_SOURCE,CALIBRATE_BANDPASS#ON_SOURCE",
    "phase_calibrator": "CALIBRATE_PHASE#ON_SOURCE",
}

GRID_QUASAR = FieldModel(
    "J1924-2914", "19:24:51.0560", "-29:14:30.121", "flux_calibrator", 2.9, -0.6
)
"""J1924-2914, the grid calibrator of seed 000 epochs 1, 4-7 (Table 6). Position from
the ALMA calibrator catalog; flux at REF_FREQ_HZ and index are typical Table 4 values."""

PHASE_QUASAR = FieldModel(
    "J1851+0035", "18:51:46.7230", "+00:35:32.364", "phase_calibrator", 0.45, -0.5
)
"""J1851+0035, the phase calibrator of seed 000 epoch 7 (Table 2); flux and index invented."""


def check_calibrator_fields(
    values: Sequence[FieldModel] | None, fields: Sequence[FieldModel]
) -> tuple[FieldModel, ...]:
    """The quasar fields to add; ValueError naming the field when one is unusable."""
    if values is None:
        return ()
    out = tuple(values)
    names = {f.name for f in fields}
    for f in out:
        if not isinstance(f, FieldModel):
            raise ValueError(f"calibrator_fields: {f!r} is not a FieldModel")
        if f.role not in OBS_MODES:
            raise ValueError(
                f"calibrator_fields: {f.name!r} has role {f.role!r}; expected one of "
                f"{sorted(OBS_MODES)}"
            )
        if f.name in names or not f.flux_jy > 0:
            raise ValueError(
                f"calibrator_fields: {f.name!r} must be a new field name with flux_jy > 0"
            )
        names.add(f.name)
    return out


def obs_modes(fields: Sequence[FieldModel]) -> Mapping[str, str]:
    """STATE OBS_MODE of the calibrator fields (the others keep the default)."""
    return {f.name: OBS_MODES[f.role] for f in fields if f.role in OBS_MODES}
