"""relcal_apply's parameters and plan: which factor goes to which MS, and where the
products go; every check on the arguments, before any MS is read."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from almacal.casatask.checks import check_vis, check_writable_dir, check_writable_ms

HISTORY_MARK = "almacal relcal_apply:"
IN_PROGRESS = f"{HISTORY_MARK} in progress"
"""The HISTORY line written before applycal changes an MS in inplace mode; the lines of
Rescale.history_line follow it when the application completed."""

FACTOR_LIMITS = (1e-3, 1e3)
"""Factors refused even with force=True: beyond them WEIGHT (float32, scaled by
1/factor^2) loses its range (factor=1e30 makes every weight 0)."""

MODES = ("split", "inplace")
DATACOLUMNS = ("auto", "corrected", "data")


@dataclass(frozen=True)
class Rescale:
    """One MS to rescale: amplitudes x factor, weights / factor^2 (seed 000, App. E)."""

    vis: str
    factor: float
    outputvis: str  # == vis in inplace mode
    caltable: str

    @property
    def gencal_parameter(self) -> float:
        """Per-antenna amplitude gain g: applycal divides by g_i g_j = 1/factor."""
        return 1.0 / math.sqrt(self.factor)

    def history_line(self) -> str:
        return (
            f"{HISTORY_MARK} amplitudes multiplied by factor={self.factor:.10g} "
            f"(gencal caltype='amp' parameter={self.gencal_parameter:.10g}, "
            f"caltable={self.caltable}, source vis={self.vis})"
        )

    def in_progress_line(self, run: str) -> str:
        """The HISTORY line before an inplace applycal; run: who and when."""
        return (
            f"{IN_PROGRESS} ({run}): amplitudes to be multiplied by factor={self.factor:.10g} "
            f"(caltable={self.caltable}); unless '{HISTORY_MARK} amplitudes multiplied' follows, "
            "the run was interrupted and CORRECTED_DATA and WEIGHT may be partly rescaled"
        )

    def to_record(self) -> dict:
        return asdict(self) | {"gencal_parameter": self.gencal_parameter}


def stem(path: str) -> str:
    return path[:-3] if path.lower().endswith(".ms") else path


def resolve_factors(
    paths: tuple[str, ...], factor: list[float], factorfile: str
) -> tuple[float, ...]:
    """One factor per MS, from the list or from a relcal_fit JSON (matched by path or name)."""
    if factor and factorfile.strip():
        raise ValueError("give either factor or factorfile, not both")
    if factor:
        if len(factor) != len(paths):
            raise ValueError(
                f"factor has {len(factor)} values for {len(paths)} vis; give one per vis"
            )
        values = tuple(float(f) for f in factor)
    elif factorfile.strip():
        values = _factors_from_file(paths, factorfile)
    else:
        raise ValueError("factor is empty and no factorfile is given: nothing to apply")
    for p, f in zip(paths, values, strict=True):
        if not (math.isfinite(f) and f > 0):
            raise ValueError(f"factor for {p} is {f!r}; factors must be finite and > 0")
    return values


def check_factor_range(
    paths: tuple[str, ...], factors: tuple[float, ...], factorrange: list[float], force: bool
) -> tuple[float, float]:
    """The checked factorrange; ValueError for a factor outside it (unless force) or
    outside FACTOR_LIMITS (always)."""
    try:
        lo, hi = (float(x) for x in factorrange)
    except (TypeError, ValueError):
        raise ValueError(
            f"factorrange={factorrange!r} is invalid: expected [lowest, highest]"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"factorrange={factorrange!r} is invalid: expected 0 < lowest < highest")
    for p, f in zip(paths, factors, strict=True):
        if not FACTOR_LIMITS[0] <= f <= FACTOR_LIMITS[1]:
            raise ValueError(
                f"factor for {p} is {f:g}: factors outside {FACTOR_LIMITS[0]:g}-"
                f"{FACTOR_LIMITS[1]:g} are refused even with force=True (the weights, scaled "
                "by 1/factor^2, would lose their float32 range)"
            )
        if not lo <= f <= hi and not force:
            raise ValueError(
                f"factor for {p} is {f:g}, outside factorrange=[{lo:g}, {hi:g}]: a correction "
                "that large is more often a wrong factor (a weak calibrator's rFCF, a factor "
                "for another MS) than a real one; check it, then widen factorrange or set "
                "force=True"
            )
    return lo, hi


def _read_factor_table(factorfile: str) -> dict:
    """factorfile's 'vis_factors'; errors name factorfile."""
    if not os.path.exists(factorfile):
        raise FileNotFoundError(f"factorfile {factorfile!r} does not exist")
    if not os.path.isfile(factorfile):
        raise ValueError(f"factorfile {factorfile!r} is not a file")
    try:
        with open(factorfile, encoding="utf-8") as fh:
            table = json.load(fh)["vis_factors"]
    except OSError as exc:
        raise type(exc)(f"factorfile {factorfile!r} cannot be read: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:  # ValueError: JSON or not UTF-8 text
        raise ValueError(
            f"factorfile {factorfile!r} is not a relcal_fit JSON (no 'vis_factors'): {exc}"
        ) from None
    if not isinstance(table, dict):
        raise ValueError(
            f"factorfile {factorfile!r}: 'vis_factors' is a {type(table).__name__}, expected "
            "{vis: factor}"
        )
    return table


def _number(factorfile: str, vis: str, key: str, value: Any) -> float:
    """A factor of the file as a float; ValueError naming the file, the MS and the entry."""
    if value is None:
        raise ValueError(f"factorfile {factorfile!r} has no valid factor for {key!r}")
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"factorfile {factorfile!r}: the factor for vis {vis!r} (entry {key!r}) is "
            f"{value!r}, not a number"
        ) from None


def _factors_from_file(paths: tuple[str, ...], factorfile: str) -> tuple[float, ...]:
    table = _read_factor_table(factorfile)
    by_name: dict[str, list[str]] = {}
    for k in table:
        by_name.setdefault(os.path.basename(os.path.normpath(k)), []).append(k)
    out = []
    for p in paths:
        key = p if p in table else None
        names = by_name.get(os.path.basename(os.path.normpath(p)), [])
        if key is None and len(names) == 1:
            key = names[0]
        if key is None:
            raise ValueError(
                f"vis {p!r} has no epoch in factorfile {factorfile!r}; it covers: "
                f"{', '.join(sorted(by_name))}"
            )
        out.append(_number(factorfile, p, key, table[key]))
    return tuple(out)


def plan_rescales(
    paths: tuple[str, ...],
    factors: tuple[float, ...],
    *,
    mode: str,
    outputvis: list[str],
    caltable: list[str],
    overwrite: bool,
) -> tuple[Rescale, ...]:
    """Output and caltable names, checked against existing files."""
    n = len(paths)
    for name, given in (("outputvis", outputvis), ("caltable", caltable)):
        if given and len(given) != n:
            raise ValueError(f"{name} has {len(given)} names for {n} vis; give one per vis or none")
    outs = _output_names(paths, mode, outputvis)
    cals = tuple(os.path.abspath(c) for c in caltable) or tuple(
        stem(o) + ".relcal.amp" for o in outs
    )
    split = outs if mode == "split" else ()
    products = split + cals
    if len(set(products)) != len(products) or set(split) & set(paths):
        raise ValueError(
            f"outputvis/caltable names must be distinct from each other and from vis: {products}"
        )
    _check_products([("outputvis", o) for o in split] + [("caltable", c) for c in cals], overwrite)
    return tuple(Rescale(p, f, o, c) for p, f, o, c in zip(paths, factors, outs, cals, strict=True))


def _check_products(products: list[tuple[str, str]], overwrite: bool) -> None:
    """(parameter, path) of each product: its directory exists and is writable, it does
    not exist (or overwrite)."""
    for name, p in products:
        if not os.path.isdir(os.path.dirname(p)):
            raise FileNotFoundError(f"{name} {p!r}: directory does not exist")
        check_writable_dir(os.path.dirname(p), f"{name} {p!r}")
        if os.path.exists(p) and not overwrite:
            raise FileExistsError(f"{name} {p!r} exists; set overwrite=True to replace it")


def _output_names(paths: tuple[str, ...], mode: str, outputvis: list[str]) -> tuple[str, ...]:
    """The MS each vis's rescaled data go to: vis itself in inplace mode."""
    if mode == "inplace":
        if outputvis:
            raise ValueError("outputvis is only used with mode='split'; mode='inplace' writes vis")
        return paths
    return tuple(os.path.abspath(o) for o in outputvis) or tuple(
        stem(p) + ".rescaled.ms" for p in paths
    )


@dataclass(frozen=True)
class RelcalApplyParams:
    """relcal_apply's checked arguments; the plan names every product."""

    rescales: tuple[Rescale, ...]
    mode: str  # 'split' or 'inplace'
    datacolumn: str  # 'auto', 'corrected' or 'data'
    force: bool
    dryrun: bool
    call: tuple[str, ...]  # the parameters as HISTORY lines, like casatasks record them
    factorrange: tuple[float, float]  # outside it only with force (seed 000: rFCF 0.92-1.09)
    report: str = ""  # the report's stem (outfile): <report>.html and <report>.json
    overwrite: bool = False

    @classmethod
    def from_task_args(cls, args: Mapping[str, Any]) -> RelcalApplyParams:
        """ValueError / FileNotFoundError / FileExistsError naming the parameter."""
        mode = _choice("mode", args["mode"], MODES)
        datacolumn = _choice("datacolumn", args["datacolumn"], DATACOLUMNS)
        paths = check_vis(args["vis"])
        factors = resolve_factors(paths, args["factor"], args["factorfile"])
        factorrange = check_factor_range(paths, factors, args["factorrange"], bool(args["force"]))
        plan = plan_rescales(
            paths,
            factors,
            mode=mode,
            outputvis=args["outputvis"],
            caltable=args["caltable"],
            overwrite=bool(args["overwrite"]),
        )
        if mode == "inplace":
            # applycal writes CORRECTED_DATA and WEIGHT of vis, relcal_apply its HISTORY
            for p in paths:
                check_writable_ms(p)
        return cls(
            rescales=plan,
            mode=mode,
            datacolumn=datacolumn,
            force=bool(args["force"]),
            dryrun=bool(args["dryrun"]),
            call=tuple(f"{k:<11} = {v!r}" for k, v in args.items()),
            factorrange=factorrange,
            report=report_stem(args.get("outfile", ""), plan, mode),
            overwrite=bool(args["overwrite"]),
        )

    def outside_range(self, r: Rescale) -> bool:
        """Whether r's factor is outside factorrange (applied only because force=True)."""
        return not self.factorrange[0] <= r.factor <= self.factorrange[1]

    def modifies(self) -> tuple[str, ...]:
        """The input MSs the run changes: vis in inplace mode, none in a dry run."""
        return () if self.dryrun or self.mode != "inplace" else tuple(r.vis for r in self.rescales)

    def products(self) -> dict[str, str]:
        """Caltables, and in split mode the output MSs; none in a dry run."""
        if self.dryrun:
            return {}
        out = {f"caltable{i}": r.caltable for i, r in enumerate(self.rescales)}
        if self.mode == "split":
            out |= {f"outputvis{i}": r.outputvis for i, r in enumerate(self.rescales)}
        return out


def report_stem(outfile: str, plan: tuple[Rescale, ...], mode: str = "split") -> str:
    """The report's stem: outfile, or '<first output without .ms>.relcal_apply' beside the
    data it describes (so runs on different MSs never collide); '.relcal_apply_inplace'
    in inplace mode, where the first output is vis itself: an inplace run on a split
    run's output (X.rescaled.ms) must not collide with that run's report."""
    if outfile.strip():
        path = os.path.abspath(os.path.expanduser(outfile))
        if not os.path.isdir(os.path.dirname(path)):
            raise FileNotFoundError(f"outfile {outfile!r}: directory does not exist")
        return path
    suffix = ".relcal_apply" if mode == "split" else ".relcal_apply_inplace"
    return stem(plan[0].outputvis) + suffix


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is invalid: expected one of {', '.join(allowed)}")
    return value
