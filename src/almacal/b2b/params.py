"""Validation of b2b_phasetransfer's arguments (xml/b2b_phasetransfer.xml), before any work."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any

MODES = ("transfer", "plan")
COMBINE = ("auto", "spw", "none")
HISTORY_MARK = "b2b_phasetransfer applied"

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


@dataclass(frozen=True)
class B2BParams:
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

    @classmethod
    def from_task_args(cls, **kw: Any) -> B2BParams:
        mode = kw["mode"]
        if mode not in MODES:
            raise _bad("mode", mode, f"one of {list(MODES)}")
        band = kw["band"]
        if isinstance(band, bool) or not isinstance(band, int) or not 3 <= band <= 10:
            raise _bad("band", band, "an ALMA band number 3-10")
        p_plan = {
            "maxbaseline": _number("maxbaseline", kw["maxbaseline"], 0.0, 20.0),
            "sepinband": _number("sepinband", kw["sepinband"], 0.0, 180.0),
            "sepb2b": _number("sepb2b", kw["sepb2b"], 0.0, 180.0),
            "coherence": _number("coherence", kw["coherence"], 0.0, 1.0),
            "phaserms": _number("phaserms", kw["phaserms"], 0.0, 180.0),
        }
        vis = kw["vis"]
        if mode == "transfer":
            if not isinstance(vis, str) or not vis:
                raise _bad("vis", vis, "the measurement set holding both bands")
            vis = os.path.abspath(os.path.expanduser(vis))
            if not os.path.isdir(vis) or not os.path.isdir(os.path.join(vis, "ANTENNA")):
                raise FileNotFoundError(f"vis={kw['vis']!r}: no measurement set at {vis}")
        else:
            vis = os.path.abspath(vis) if isinstance(vis, str) and vis else ""
        for name in ("refant", "dgcfield", "phasecal", "caltable", "outfile"):
            if not isinstance(kw[name], str):
                raise _bad(name, kw[name], "a string")
        target = kw["target"]
        if isinstance(target, str):
            target = [t.strip() for t in target.split(",") if t.strip()]
        if not all(isinstance(t, str) for t in target or []):
            raise _bad("target", kw["target"], "field names")
        if kw["combine"] not in COMBINE:
            raise _bad("combine", kw["combine"], f"one of {list(COMBINE)}")
        for name in ("doapply", "makeplots", "force", "overwrite"):
            if not isinstance(kw[name], bool):
                raise _bad(name, kw[name], "True or False")
        stem = os.path.splitext(vis)[0] if vis else os.path.abspath("b2b")
        caltable = os.path.abspath(kw["caltable"]) if kw["caltable"] else stem + ".b2b"
        outfile = os.path.abspath(kw["outfile"]) if kw["outfile"] else caltable
        return cls(
            vis=vis,
            mode=mode,
            refant=kw["refant"].strip(),
            dgcfield=kw["dgcfield"].strip(),
            phasecal=kw["phasecal"].strip(),
            target=tuple(target or ()),
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
            band=band,
            **p_plan,
        )

    def tables(self) -> dict[str, str]:
        return {k: self.caltable + s for k, s in TABLE_SUFFIX.items()}

    def outputs(self) -> dict[str, str]:
        out = {k: self.outfile + s for k, s in OUTPUT_SUFFIX.items()}
        if not self.makeplots:
            out = {k: v for k, v in out.items() if not k.startswith("plot")}
        return out

    def check_outputs(self) -> None:
        """Existing products are an error unless overwrite=True (checked before any work)."""
        for name, prefix in (("caltable", self.caltable), ("outfile", self.outfile)):
            parent = os.path.dirname(prefix)
            if not os.path.isdir(parent):
                raise FileNotFoundError(f"{name}={prefix!r}: directory {parent!r} does not exist")
        existing = [
            p for p in [*self.tables().values(), *self.outputs().values()] if os.path.exists(p)
        ]
        if existing and not self.overwrite:
            # FileExistsError, like almacal.outputs.check_outfile for the other tasks.
            raise FileExistsError(
                f"outputs exist: {', '.join(existing)}; set overwrite=True to replace them "
                "or choose another caltable/outfile prefix"
            )
