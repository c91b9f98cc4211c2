"""spwconsistency inputs checked before any file or visibility is read."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from almacal.casatask.checks import check_outfile, split_names
from almacal.spwcons.results import output_paths

# Parameters that only mean something when spwconsistency runs relcal_fit itself.
FIT_PARAM_DEFAULTS = {"spw": "", "datacolumn": "auto", "uvrange": "", "groupby": "vis"}


@dataclass(frozen=True)
class SpwConsistencyParams:
    resultfile: str  # absolute path, or '' to fit vis
    vis: tuple[str, ...]
    field: tuple[str, ...]
    fit_params: dict  # spw, datacolumn, uvrange, groupby for relcal_fit
    nboot: int
    nmc: int
    seed: int
    siglevel: float
    outfile: str  # absolute stem, or ''
    overwrite: bool
    call: dict = dataclasses.field(default_factory=dict)  # the task's arguments, for the record
    fit: Any = None  # relcal_fit's checked parameters for vis (RelcalFitParams), or None

    @classmethod
    def build(
        cls,
        *,
        resultfile: str,
        vis: list[str],
        field: list[str],
        fit_params: dict,
        nboot: int,
        nmc: int,
        seed: int,
        siglevel: float,
        outfile: str,
        overwrite: bool,
    ) -> SpwConsistencyParams:
        if resultfile.strip():
            path = _check_resultfile(resultfile, vis, field, fit_params)
        else:
            path = ""
            _check_fit_inputs(vis, field, fit_params)
        if not 0.0 < siglevel < 1.0:
            raise ValueError(f"siglevel={siglevel!r} must be between 0 and 1 (exclusive)")
        for name, value, low in (("nboot", nboot, 100), ("nmc", nmc, 100), ("seed", seed, 0)):
            if value < low:
                raise ValueError(f"{name}={value!r} must be an integer >= {low}")
        stem = check_outfile(outfile, overwrite, output_paths)
        if stem and path in output_paths(stem).values():
            # relcal_fit's stem: its JSON and ECSV would be replaced by ours
            raise ValueError(
                f"outfile {outfile!r} would overwrite resultfile {resultfile!r}; "
                "choose another outfile"
            )
        return cls(
            resultfile=path,
            vis=tuple(vis),
            field=tuple(field),
            fit_params=dict(fit_params),
            nboot=int(nboot),
            nmc=int(nmc),
            seed=int(seed),
            siglevel=float(siglevel),
            outfile=stem,
            overwrite=bool(overwrite),
        )


def _check_resultfile(resultfile: str, vis: list[str], field: list[str], fit_params: dict) -> str:
    """The absolute resultfile; nothing else that only a fit of vis would use."""
    if [v for v in vis if v.strip()] or [f for f in field if f.strip()]:
        raise ValueError(
            f"give either resultfile ({resultfile!r}) or vis and field "
            f"(vis={vis!r}, field={field!r}), not both"
        )
    changed = {k: v for k, v in fit_params.items() if v != FIT_PARAM_DEFAULTS[k]}
    if changed:
        raise ValueError(
            f"{', '.join(f'{k}={v!r}' for k, v in changed.items())}: only used when "
            f"spwconsistency fits vis; resultfile {resultfile!r} was fitted already "
            "(rerun relcal_fit with them)"
        )
    path = os.path.abspath(os.path.expanduser(resultfile))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"resultfile {resultfile!r} does not exist")
    return path


def _check_fit_inputs(vis: list[str], field: list[str], fit_params: dict) -> None:
    vis_given = [v for v in vis if v.strip()]
    if not vis_given:
        raise ValueError(
            "give resultfile (a relcal_fit JSON written with perspw=True) "
            "or vis and field; all are empty"
        )
    if not [f for f in field if f.strip()]:
        raise ValueError(f"field must name the stable calibrators in vis={vis!r}")
    _check_fit_selection(vis_given, field, fit_params)


def _check_fit_selection(vis: list[str], field: list[str], fit_params: dict) -> None:
    """What is known to fail only after all the fits: fewer than two of anything."""
    fields = split_names(field)
    if len(fields) < 2:
        raise ValueError(
            f"field={field!r} names {len(fields)} calibrator; spwconsistency compares "
            "calibrators within each spw and needs at least two"
        )
    if fit_params["groupby"] == "vis" and len(vis) < 2:
        raise ValueError(
            f"vis={vis!r} is one epoch (groupby='vis'); spwconsistency needs at least two"
        )


def check_spw_count(spws: tuple[int, ...], spw: str, vis: str) -> None:
    """What spw selects in the MSs (relcal_fit's parameters, read before any fit) must be
    at least two spectral windows: a single one has nothing to compare."""
    if len(spws) < 2:
        raise ValueError(
            f"spw={spw!r} selects {len(spws)} spectral window ({', '.join(map(str, spws))}) "
            f"of {vis}; spwconsistency needs at least two (e.g. '' for all)"
        )
