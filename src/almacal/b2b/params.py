"""Validation of b2b_phasetransfer's arguments (xml/b2b_phasetransfer.xml), before any work."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from almacal.casatask.checks import check_writable_dir, check_writable_ms

MODES = ("transfer", "plan")
COMBINE = ("auto", "spw", "none")
HISTORY_MARK = "b2b_phasetransfer applied"
IN_PROGRESS = "b2b_phasetransfer in progress"
"""Written to HISTORY before the applycal; the HISTORY_MARK line follows once the
application and its products are complete. An in-progress line with no mark after it
is an interrupted run: a rerun applies again (CORRECTED_DATA is recomputed from DATA)."""

# Caltables kept, by role: name suffix after the caltable prefix.
TABLE_SUFFIX = {
    "dgc_low": ".dgc_low.G",
    "dgc_low_scaled": ".dgc_low_scaled.G",
    "phasecal": ".phasecal.G",
    "phasecal_scaled": ".phasecal_scaled.G",
    "dgc_offset": ".dgc_offset.G",
}
OUTPUT_SUFFIX = {
    "json": ".json",
    "ecsv": ".ecsv",
    "plot_dgc": "_dgc_phases.png",
    "plot_residual": "_residuals.png",
}


def _bad(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"{name}={value!r} is invalid: expected {expected}")


def _number(name: str, value: Any, lower: float, upper: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, value, f"a number in [{lower}, {upper}]")
    if not (math.isfinite(value) and lower <= value <= upper):
        raise _bad(name, value, f"a finite number in [{lower}, {upper}]")
    return float(value)


def _int_list(name: str, value: Any) -> tuple[int, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise _bad(name, value, "a list of spw ids") from None
    if any(v < 0 for v in out) or any(float(v) != int(float(v)) for v in value):
        raise _bad(name, value, "non-negative integer spw ids")
    return out


def check_solint(solint: Any) -> str:
    """CASA solint forms: 'int', 'inf', or a time such as '10s', '1.5min'."""
    if not isinstance(solint, str) or not re.fullmatch(
        r"int|inf|\d+(\.\d+)?(s|min|h)?", solint.strip()
    ):
        raise _bad("solint", solint, "'int', 'inf' or a time such as '10s'")
    return solint.strip()


def _plan_numbers(kw: Mapping[str, Any]) -> dict[str, float]:
    """mode='plan' inputs: seed 003 Eq. 4 and section 4.2 ranges."""
    return {
        "maxbaseline": _number("maxbaseline", kw["maxbaseline"], 0.0, 20.0),
        "sepinband": _number("sepinband", kw["sepinband"], 0.0, 180.0),
        "sepb2b": _number("sepb2b", kw["sepb2b"], 0.0, 180.0),
        "coherence": _number("coherence", kw["coherence"], 0.0, 1.0),
        "phaserms": _number("phaserms", kw["phaserms"], 0.0, 180.0),
    }


def _check_vis(vis: Any, mode: str) -> str:
    """The absolute MS path; mode='transfer' needs an existing MS, 'plan' reads none."""
    if mode != "transfer":
        return os.path.abspath(vis) if isinstance(vis, str) and vis else ""
    if not isinstance(vis, str) or not vis:
        raise _bad("vis", vis, "the measurement set holding both bands")
    path = os.path.abspath(os.path.expanduser(vis))
    if not os.path.isdir(path) or not os.path.isdir(os.path.join(path, "ANTENNA")):
        raise FileNotFoundError(f"vis={vis!r}: no measurement set at {path}")
    return path


def _check_target(target: Any) -> tuple[str, ...]:
    """Field names from a list or a comma-separated string."""
    names = (
        [t.strip() for t in target.split(",") if t.strip()] if isinstance(target, str) else target
    )
    if not all(isinstance(t, str) for t in names or []):
        raise _bad("target", target, "field names")
    return tuple(names or ())


def _check_choices(kw: Mapping[str, Any]) -> None:
    if kw["mode"] not in MODES:
        raise _bad("mode", kw["mode"], f"one of {list(MODES)}")
    band = kw["band"]
    if isinstance(band, bool) or not isinstance(band, int) or not 3 <= band <= 10:
        raise _bad("band", band, "an ALMA band number 3-10")


def _check_strings(kw: Mapping[str, Any]) -> None:
    for name in ("refant", "dgcfield", "phasecal", "caltable", "outfile"):
        if not isinstance(kw[name], str):
            raise _bad(name, kw[name], "a string")


def _check_switches(kw: Mapping[str, Any]) -> None:
    if kw["combine"] not in COMBINE:
        raise _bad("combine", kw["combine"], f"one of {list(COMBINE)}")
    for name in ("doapply", "makeplots", "force", "overwrite"):
        if not isinstance(kw[name], bool):
            raise _bad(name, kw[name], "True or False")


def _prefixes(vis: str, caltable: str, outfile: str) -> tuple[str, str]:
    """(caltable, outfile) prefixes: caltable defaults to <vis stem>.b2b, outfile to it."""
    stem = os.path.splitext(vis)[0] if vis else os.path.abspath("b2b")
    cal = os.path.abspath(caltable) if caltable else stem + ".b2b"
    return cal, os.path.abspath(outfile) if outfile else cal


@dataclass(frozen=True)
class B2BParams:
    """The checked arguments of one b2b_phasetransfer call; call: the arguments as given
    (recorded in the HISTORY and the result)."""

    vis: str
    mode: str
    refant: str
    dgcfield: str
    phasecal: str
    target: tuple[str, ...]
    lowspw: tuple[int, ...]
    spwmap: tuple[int, ...]
    solint: str
    combine: str
    minsnr: float
    blockgap: float
    doapply: bool
    caltable: str
    outfile: str
    makeplots: bool
    force: bool
    overwrite: bool
    band: int
    maxbaseline: float
    sepinband: float
    sepb2b: float
    coherence: float
    phaserms: float
    call: dict[str, Any]

    @classmethod
    def from_task_args(cls, **kw: Any) -> B2BParams:
        """ValueError (FileNotFoundError for a missing MS) naming the first bad parameter
        and the value given."""
        _check_choices(kw)
        plan = _plan_numbers(kw)
        vis = _check_vis(kw["vis"], kw["mode"])
        _check_strings(kw)
        target = _check_target(kw["target"])
        _check_switches(kw)
        caltable, outfile = _prefixes(vis, kw["caltable"], kw["outfile"])
        return cls(
            vis=vis,
            mode=kw["mode"],
            refant=kw["refant"].strip(),
            dgcfield=kw["dgcfield"].strip(),
            phasecal=kw["phasecal"].strip(),
            target=target,
            lowspw=_int_list("lowspw", kw["lowspw"]),
            spwmap=_int_list("spwmap", kw["spwmap"]),
            solint=check_solint(kw["solint"]),
            combine=kw["combine"],
            minsnr=_number("minsnr", kw["minsnr"], 0.0),
            blockgap=_number("blockgap", kw["blockgap"], 0.0),
            doapply=kw["doapply"],
            caltable=caltable,
            outfile=outfile,
            makeplots=kw["makeplots"],
            force=kw["force"],
            overwrite=kw["overwrite"],
            band=kw["band"],
            call=dict(kw),
            **plan,
        )

    def tables(self) -> dict[str, str]:
        return {k: self.caltable + s for k, s in TABLE_SUFFIX.items()}

    def outputs(self) -> dict[str, str]:
        out = {k: self.outfile + s for k, s in OUTPUT_SUFFIX.items()}
        if not self.makeplots:
            out = {k: v for k, v in out.items() if not k.startswith("plot")}
        return out

    def products(self) -> dict[str, str]:
        """Every product of a transfer by role (caltables, then files), checked before any
        work: their directories exist and are writable (and so is vis when doapply), and
        none exists unless overwrite=True."""
        for name, prefix in (("caltable", self.caltable), ("outfile", self.outfile)):
            parent = os.path.dirname(prefix)
            if not os.path.isdir(parent):
                raise FileNotFoundError(f"{name}={prefix!r}: directory {parent!r} does not exist")
            check_writable_dir(parent, f"{name}={prefix!r}")
        if self.doapply:
            # applycal writes CORRECTED_DATA of vis, the task its HISTORY
            check_writable_ms(self.vis)
        paths = {**self.tables(), **self.outputs()}
        existing = [p for p in paths.values() if os.path.exists(p)]
        if existing and not self.overwrite:
            # Two prefixes (caltable, outfile), hence not casatask.checks.check_outfile;
            # the same FileExistsError.
            raise FileExistsError(
                f"outputs exist: {', '.join(existing)}; set overwrite=True to replace them "
                "or choose another caltable/outfile prefix"
            )
        return paths
