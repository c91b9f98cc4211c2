"""The architecture stays visible: pure cores free of CASA and I/O, small functions.

Layering (issue 10): the pure packages import neither casatools, casatasks, urllib
nor almacal.io, anywhere in a module (only under `if TYPE_CHECKING:`); almacal.io
imports no pure package. Size: no function over 60 lines and no cyclomatic
complexity above 15 in src/ (radon's measure, a test-only dependency).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "almacal"
PURE = ("relcal", "spwcons", "gridflux", "b2b", "simulate")
FORBIDDEN = ("casatools", "casatasks", "urllib")
MAX_LINES = 60
MAX_COMPLEXITY = 15


def _modules():
    found = sorted(p for p in SRC.rglob("*.py") if p.is_file())
    assert len(found) > 50, SRC  # guard: the walk found the package
    return found


def _imports(tree: ast.Module):
    """Every imported module name, except those under `if TYPE_CHECKING:`."""
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for n in ast.walk(node):
            if isinstance(n, ast.Import):
                yield from (a.name for a in n.names)
            elif isinstance(n, ast.ImportFrom) and n.level == 0:
                yield n.module or ""


def _part(path: pathlib.Path) -> str:
    return path.relative_to(SRC).parts[0]


def test_pure_packages_import_no_casa_and_no_io():
    bad = [
        f"{p.relative_to(SRC)}: {m}"
        for p in _modules()
        if _part(p) in PURE
        for m in _imports(ast.parse(p.read_text()))
        if m.split(".")[0] in FORBIDDEN or m == "almacal.io" or m.startswith("almacal.io.")
    ]
    assert not bad, bad


def test_io_imports_no_pure_package():
    bad = [
        f"{p.relative_to(SRC)}: {m}"
        for p in _modules()
        if _part(p) == "io"
        for m in _imports(ast.parse(p.read_text()))
        if any(m == f"almacal.{c}" or m.startswith(f"almacal.{c}.") for c in PURE)
    ]
    assert not bad, bad


def test_the_check_sees_a_violation(tmp_path):
    # guard: the walker finds imports inside functions, not only at module level
    tree = ast.parse("def f():\n    import casatools\n    from almacal.io import ms\n")
    assert list(_imports(tree)) == ["casatools", "almacal.io"]


def test_no_long_functions():
    long = [
        f"{p.relative_to(SRC)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for p in _modules()
        for n in ast.walk(ast.parse(p.read_text()))
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and n.end_lineno - n.lineno + 1 > MAX_LINES
    ]
    assert not long, long


def test_no_complex_functions():
    radon = pytest.importorskip("radon.complexity", reason="radon (the [test] extra) measures it")
    worst = [
        f"{p.relative_to(SRC)}:{b.lineno} {b.fullname} (complexity {b.complexity})"
        for p in _modules()
        for b in radon.cc_visit(p.read_text())
        if b.complexity > MAX_COMPLEXITY
    ]
    assert not worst, worst
