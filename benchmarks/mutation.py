"""Mutation score of the pure packages against the unit tests (mutmut 3; not run in CI).

Usage, from the repository root:

    .venv/bin/pip install -e '.[test,mutation]'
    .venv/bin/python benchmarks/mutation.py --timeout 5400       # run, then report
    .venv/bin/python benchmarks/mutation.py --package relcal     # one package, from scratch
    .venv/bin/python benchmarks/mutation.py --survivors          # retest the last survivors
    .venv/bin/python benchmarks/mutation.py --report             # report the last run only
    .venv/bin/python benchmarks/mutation.py --sample 250         # a random 250 per package

The default run is one resumable `mutmut run` over the four packages: the fastest
mutants go first, a mutant already tested keeps its result, so running it again after
a timeout carries on where it stopped. --package starts one package's session afresh
(every mutant of `almacal.<package>.*`); --survivors retests, by name, the mutants left
in mutants/survivors.txt (after tests were added).

mutmut reads [tool.mutmut] in pyproject.toml: it copies src/ (and the XML, tasks/ and
tests/) into mutants/, mutates relcal, spwcons, gridflux and b2b (not the figure-only
plot.py files) and runs, for each mutant, the tests/unit tests that call the mutated
function, with one worker (the machine is shared) under `timeout`. About 9 700 mutants;
most take well under a second, but those of relcal.factors, spwcons.inputs/normalize/
decompose (covered by the statistical spwcons tests, ~35 s per surviving mutant),
relcal.posfit/uvgrid and gridflux.service/catalog (~9 s) need more than the 2 h one core
gives: rerun with the same command to carry on.

Score per package = killed / (total - equivalent). "Equivalent" survivors are
  * the mutants listed in benchmarks/mutation_equivalent.txt (name or fnmatch pattern,
    then the reason), and
  * mutants that change nothing but constants no program reads: the text of an
    exception's message, a warning, a log line or a docstring; a string of words (prose:
    a reason, a table description); a number moved by less than 1e-6 of itself
    (1e9 -> 1000000001.0); only np.errstate's settings, zip's strict= or np.asarray's
    dtype=float. Found by comparing the syntax trees of the original and the mutated
    function; each reason is counted in the report. A text mutant that makes a
    %-conversion invalid ('%s' -> '%S') is not among them: formatting it raises.
--sample N tests a seeded random sample of N mutants per package (every mutant equally
likely, unlike a cut-short full run, which has tested the fastest first) and reports the
score over the sample with its 95 % Wilson interval; the sample's names are kept in
mutants/sample.txt, so --sample-report reports it again and --survivors retests its
survivors.

Mutants whose function no unit test calls ("no tests") count as not killed; the last
column gives the score over the mutants tested so far (without the "not checked" ones).
"""

from __future__ import annotations

import argparse
import ast
import collections
import fnmatch
import math
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("relcal", "spwcons", "gridflux", "b2b")
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.txt"
# calls whose string arguments are text for a person, not data
MESSAGE_CALLS = {"warn", "post", "ValueError", "TypeError", "RuntimeError", "FileExistsError"}
MESSAGE_CALLS |= {"FileNotFoundError", "KeyError", "OSError", "IndexError"}


def run_mutmut(names: list[str], timeout_s: int, label: str) -> int:
    cmd = ["timeout", str(timeout_s), sys.executable, "-m", "mutmut", "run"]
    cmd += ["--max-children", "1", *names]
    log = ROOT / "mutants" / f"run-{label}.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "w") as out:
        return subprocess.call(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def statuses() -> dict[str, str]:
    text = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    out = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name.startswith("almacal."):
            out[name] = status
    return out


def listed_equivalents() -> dict[str, str]:
    out = {}
    if EQUIVALENT_FILE.exists():
        for line in EQUIVALENT_FILE.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                out[name] = reason.strip()
    return out


class _Functions:
    """Original and mutated function definitions of the files in mutants/src."""

    def __init__(self) -> None:
        self._by_module: dict[str, dict[str, ast.AST]] = {}

    def get(self, module: str, name: str) -> ast.AST | None:
        if module not in self._by_module:
            path = ROOT / "mutants" / "src" / Path(*module.split(".")).with_suffix(".py")
            defs: dict[str, ast.AST] = {}
            if path.exists():
                for node in ast.walk(ast.parse(path.read_text())):
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                        defs[node.name] = node
            self._by_module[module] = defs
        return self._by_module[module].get(name)


def _diffs(orig: ast.AST, mutant: ast.AST) -> list[tuple[list[ast.AST], ast.AST, ast.AST]]:
    """(ancestors, original node, mutated node) of every place where the trees differ."""
    diffs: list[tuple[list[ast.AST], ast.AST, ast.AST]] = []

    def walk(a: ast.AST, b: ast.AST, stack: list[ast.AST]) -> None:
        if type(a) is not type(b):
            diffs.append((stack, a, b))
            return
        if isinstance(a, ast.Constant):
            if a.value != b.value or type(a.value) is not type(b.value):  # type: ignore[attr-defined]
                diffs.append((stack, a, b))
            return
        for name in a._fields:
            if name == "name" and isinstance(a, ast.FunctionDef):
                continue
            va, vb = getattr(a, name, None), getattr(b, name, None)
            if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
                for x, y in zip(va, vb, strict=True):
                    if isinstance(x, ast.AST) and isinstance(y, ast.AST):
                        walk(x, y, stack + [a])
                    elif x != y:
                        diffs.append((stack, a, b))
            elif isinstance(va, ast.AST) and isinstance(vb, ast.AST):
                walk(va, vb, stack + [a])
            elif va != vb or type(va) is not type(vb):
                diffs.append((stack, a, b))

    walk(orig, mutant, [])
    return diffs


def _equivalent_change(orig: ast.AST, mutant: ast.AST) -> str | None:
    """A reason when every change is one no program reads: the message of a raised
    exception, a warning or a log line; a string of words (prose); a number moved by
    less than 1e-6 of itself."""
    diffs = _diffs(orig, mutant)
    if not diffs:
        return None
    reasons = set()
    for path, a, b in diffs:
        if _breaks_format(a, b):
            return None
        if _is_message(path + [a]):
            reasons.add("message text only (exception, warning, log or docstring)")
            continue
        call = _call_context(path + [a], b)
        if call:
            reasons.add(call)
            continue
        x, y = getattr(a, "value", None), getattr(b, "value", None)
        if not (isinstance(a, ast.Constant) and isinstance(b, ast.Constant)):
            return None
        if isinstance(x, str) and isinstance(y, str) and " " in x.strip():
            reasons.add("prose text only (a string with words, e.g. a reason or label)")
        elif (
            isinstance(x, int | float)
            and isinstance(y, int | float)
            and not isinstance(x, bool)
            and not isinstance(y, bool)
            and x != 0
            and abs(y - x) <= 1e-6 * abs(x)
        ):
            reasons.add("a constant moved by < 1e-6 of itself (below every tolerance)")
        else:
            return None
    return "; ".join(sorted(reasons))


# a printf-style conversion and its type character (Python's % operator)
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(.)")
_VALID_CONVERSIONS = set("diouxXeEfFgGcrsa%")


def _breaks_format(a: ast.AST, b: ast.AST) -> bool:
    """The mutant turns a valid %-conversion into one Python rejects ('%s' -> '%S' by an
    upper-casing mutant): the message is no longer text only, formatting it raises."""
    x, y = getattr(a, "value", None), getattr(b, "value", None)
    if not (isinstance(x, str) and isinstance(y, str)):
        return False
    valid = set(_CONVERSION.findall(x)) <= _VALID_CONVERSIONS
    return valid and not set(_CONVERSION.findall(y)) <= _VALID_CONVERSIONS


def _keyword_names(node: ast.AST) -> set[str]:
    return {k.arg or "" for k in getattr(node, "keywords", [])}


def _call_context(path: list[ast.AST], mutated: ast.AST) -> str | None:
    """Reasons for changes that only touch an argument no result depends on:
    np.errstate's settings (whether numpy warns), zip's strict= length check on inputs of
    one length, np.asarray's dtype=float on values that are floats already."""
    calls = [n for n in path if isinstance(n, ast.Call)]
    if not calls:
        return None
    call = calls[-1]
    name = _call_name(call)
    inside_args = path[-1] is not call.func and not (
        isinstance(path[-1], ast.Call) and path[-1] is call and _call_name(call) != name
    )
    if name == "errstate" and inside_args:
        return "np.errstate settings only (whether numpy warns, no number changes)"
    kw_orig = {k.arg: k.value for k in call.keywords}
    changed = None
    if path[-1] is call and isinstance(mutated, ast.Call):
        kw_mut = {k.arg: k.value for k in mutated.keywords}
        if ast.dump(call.func) == ast.dump(mutated.func) and len(call.args) == len(mutated.args):
            same_args = all(
                ast.dump(x) == ast.dump(y) for x, y in zip(call.args, mutated.args, strict=True)
            )
            diff = {
                k
                for k in set(kw_orig) | set(kw_mut)
                if k not in kw_orig
                or k not in kw_mut
                or ast.dump(kw_orig[k]) != ast.dump(kw_mut[k])
            }
            if same_args and len(diff) == 1:
                changed = diff.pop()
    else:
        for k in call.keywords:
            if k.value in path or k.value is path[-1]:
                changed = k.arg
    if name == "zip" and changed == "strict":
        return "zip strict= only (a length check; every caller passes equal lengths)"
    if name == "asarray" and changed == "dtype":
        return "np.asarray dtype=float only (the values are floats already)"
    return None


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def _is_message(path: list[ast.AST]) -> bool:
    """The node (last of path) is in the message of a raised exception (the arguments
    of the exception's constructor, not which exception), in the arguments of a
    warnings.warn/casalog.post call, or is a docstring."""
    for parent, child in zip(path, path[1:], strict=False):
        if isinstance(parent, ast.Raise) and child is parent.exc:
            return (
                isinstance(child, ast.Call)
                and len(path) > path.index(child) + 1
                and (path[path.index(child) + 1] is not child.func)
            )
        if isinstance(parent, ast.Call) and _call_name(parent) in MESSAGE_CALLS:
            if child is not parent.func:
                return True
    return len(path) > 1 and isinstance(path[-2], ast.Expr) and isinstance(path[-1], ast.Constant)


def classify(names: dict[str, str]) -> dict[str, str]:
    """Reason for every survivor judged equivalent: listed, or message text only."""
    listed = listed_equivalents()
    funcs = _Functions()
    out = {}
    for name, status in names.items():
        if status != "survived":
            continue
        pattern = next((p for p in listed if fnmatch.fnmatchcase(name, p)), None)
        if pattern is not None:
            out[name] = listed[pattern]
            continue
        module, _, mangled = name.rpartition(".")
        orig_name = mangled.rpartition("__mutmut_")[0] + "__mutmut_orig"
        orig, mutant = funcs.get(module, orig_name), funcs.get(module, mangled)
        reason = None if orig is None or mutant is None else _equivalent_change(orig, mutant)
        if reason:
            out[name] = reason
    return out


def draw_sample(packages: tuple[str, ...], n: int, seed: int, timeout_s: int) -> list[str]:
    """n mutant names per package, drawn uniformly; mutmut generates the mutants first
    (a run of a name that matches none makes them and tests nothing)."""
    names = statuses() if (ROOT / "mutants").exists() else {}
    if not names:
        run_mutmut(["almacal.no_such_module.*"], timeout_s, "generate")
        names = statuses()
    rng = random.Random(seed)
    sample: list[str] = []
    for package in packages:
        mine = sorted(x for x in names if x.startswith(f"almacal.{package}."))
        sample += rng.sample(mine, min(n, len(mine)))
    (ROOT / "mutants" / "sample.txt").write_text("\n".join(sample) + "\n")
    return sample


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion k/n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def report_sample(packages: tuple[str, ...]) -> None:
    """Score over mutants/sample.txt only, with its interval."""
    sample = set((ROOT / "mutants" / "sample.txt").read_text().split())
    names = {n: s for n, s in statuses().items() if n in sample}
    equivalent = classify(names)
    print(f"{'package':10s} {'sample':>6s} {'killed':>6s} {'surv':>6s} {'no test':>7s} ", end="")
    print(f"{'equiv':>6s} {'unrun':>6s} {'score':>7s}  95 % interval")
    for package in packages:
        mine = {n: s for n, s in names.items() if n.startswith(f"almacal.{package}.")}
        count = collections.Counter(mine.values())
        n_eq = sum(n in equivalent for n in mine)
        killed = count["killed"] + count["timeout"]
        tested = len(mine) - n_eq - count["not checked"]
        lo, hi = wilson(killed, tested)
        score = 100.0 * killed / tested if tested else float("nan")
        print(
            f"{package:10s} {len(mine):6d} {killed:6d} {count['survived'] - n_eq:6d} "
            f"{count['no tests']:7d} {n_eq:6d} {count['not checked']:6d} {score:6.1f}%  "
            f"{100 * lo:.1f}-{100 * hi:.1f} %"
        )
    _write_survivors(names, equivalent, packages, listed=True)


def _write_survivors(
    names: dict[str, str], equivalent: dict[str, str], packages: tuple[str, ...], listed: bool
) -> None:
    """The equivalents of packages by reason, and their survivors (not killed, not
    equivalent) into mutants/survivors.txt, for --survivors to retest; listed: print them."""
    mine = {n for n in names if n.split(".")[1] in packages}
    left = sorted(n for n in mine if names[n] in ("survived", "no tests") and n not in equivalent)
    reasons = collections.Counter(equivalent[n] for n in equivalent if n in mine)
    print("equivalent survivors by reason:")
    for reason, k in reasons.most_common():
        print(f"  {k:5d}  {reason}")
    (ROOT / "mutants" / "survivors.txt").write_text("\n".join(left) + "\n")
    print(f"{len(left)} not killed and not equivalent: mutants/survivors.txt")
    for name in left if listed else ():
        print(f"  {name}")


def report(packages: tuple[str, ...]) -> None:
    names = statuses()
    equivalent = classify(names)
    print(f"{'package':10s} {'total':>6s} {'killed':>6s} {'surv':>6s} {'no test':>7s} ", end="")
    print(f"{'timeout':>7s} {'equiv':>6s} {'score':>7s} {'checked':>8s}")
    for package in packages:
        mine = {n: s for n, s in names.items() if n.startswith(f"almacal.{package}.")}
        count = collections.Counter(mine.values())
        n_eq = sum(n in equivalent for n in mine)
        killed = count["killed"] + count["timeout"]
        tested = len(mine) - n_eq
        score = 100.0 * killed / tested if tested else float("nan")
        # the same over the mutants tested so far (a run cut short leaves 'not checked')
        checked = tested - count["not checked"]
        score_checked = 100.0 * killed / checked if checked else float("nan")
        print(
            f"{package:10s} {len(mine):6d} {count['killed']:6d} {count['survived'] - n_eq:6d} "
            f"{count['no tests']:7d} {count['timeout']:7d} {n_eq:6d} {score:6.1f}% "
            f"{score_checked:7.1f}%"
        )
        other = set(count) - {"killed", "survived", "no tests", "timeout"}
        if other:
            print("           also: " + ", ".join(f"{k} {count[k]}" for k in sorted(other)))
    _write_survivors(names, equivalent, packages, listed=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", choices=PACKAGES, action="append")
    ap.add_argument("--survivors", action="store_true", help="retest mutants/survivors.txt")
    ap.add_argument("--report", action="store_true", help="only report the last run")
    ap.add_argument("--timeout", type=int, default=5400, help="seconds per mutmut session")
    ap.add_argument("--sample", type=int, help="test a random N mutants per package")
    ap.add_argument("--seed", type=int, default=20261201, help="the sample's seed")
    ap.add_argument("--sample-report", action="store_true", help="report the last sample")
    args = ap.parse_args()
    packages = tuple(args.package or PACKAGES)
    sessions: list[tuple[str, list[str]]] = []
    if args.sample_report:
        report_sample(packages)
        return
    if args.sample:
        names = draw_sample(packages, args.sample, args.seed, args.timeout)
        rc = run_mutmut(names, args.timeout, "sample")
        print(f"sample: mutmut exit {rc}" + (" (timed out)" if rc == 124 else ""))
        report_sample(packages)
        return
    if args.report:
        pass
    elif args.survivors:
        names = (ROOT / "mutants" / "survivors.txt").read_text().split()
        sessions = [("survivors", [n for n in names if n.split(".")[1] in packages])]
    elif args.package:
        sessions = [(p, [f"almacal.{p}.*"]) for p in packages]
    else:
        sessions = [("all", [])]
    for label, names in sessions:
        rc = run_mutmut(names, args.timeout, label)
        print(f"{label}: mutmut exit {rc}" + (" (timed out)" if rc == 124 else ""))
    report(packages)


if __name__ == "__main__":
    main()
