"""relcal_apply's plan: which factor goes to which MS, and where the products go."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass

HISTORY_MARK = "almacal relcal_apply:"


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


def _factors_from_file(paths: tuple[str, ...], factorfile: str) -> tuple[float, ...]:
    if not os.path.isfile(factorfile):
        raise FileNotFoundError(f"factorfile {factorfile!r} does not exist")
    try:
        with open(factorfile) as fh:
            table = json.load(fh)["vis_factors"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(
            f"factorfile {factorfile!r} is not a relcal_fit JSON (no 'vis_factors'): {exc}"
        ) from exc
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
        if table[key] is None:
            raise ValueError(f"factorfile {factorfile!r} has no valid factor for {key!r}")
        out.append(float(table[key]))
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
    if mode == "inplace":
        if outputvis:
            raise ValueError("outputvis is only used with mode='split'; mode='inplace' writes vis")
        outs = paths
    else:
        outs = tuple(os.path.abspath(o) for o in outputvis) or tuple(
            stem(p) + ".rescaled.ms" for p in paths
        )
    cals = tuple(os.path.abspath(c) for c in caltable) or tuple(
        stem(o) + ".relcal.amp" for o in outs
    )
    products = (outs if mode == "split" else ()) + cals
    if len(set(products)) != len(products) or (mode == "split" and set(outs) & set(paths)):
        raise ValueError(
            f"outputvis/caltable names must be distinct from each other and from vis: {products}"
        )
    for name, p in [("outputvis", o) for o in (outs if mode == "split" else ())] + [
        ("caltable", c) for c in cals
    ]:
        if not os.path.isdir(os.path.dirname(p)):
            raise FileNotFoundError(f"{name} {p!r}: directory does not exist")
        if os.path.exists(p) and not overwrite:
            raise FileExistsError(f"{name} {p!r} exists; set overwrite=True to replace it")
    return tuple(Rescale(p, f, o, c) for p, f, o, c in zip(paths, factors, outs, cals, strict=True))
