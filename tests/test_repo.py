"""Repository contracts: CI runs the README's test command; lint and types are clean;
the CASA versions pinned for tests lie in the range pyproject.toml declares."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    commands = _readme_commands()
    test_cmd = [c for c in commands if "pytest" in c]
    demo_cmd = [c for c in commands if "almacal demo" in c]
    assert len(test_cmd) == 1 and len(demo_cmd) == 1, commands
    assert test_cmd[0].strip() in (ROOT / ".ci" / "run").read_text()
    for cmd in test_cmd + demo_cmd:  # a fresh machine: each installs what it needs
        assert "pip install -c constraints.txt" in cmd  # the tested versions
        # almacal configures CASA itself when the user has no configuration
        assert "CASASITECONFIG" not in cmd


def _tool(name):
    path = shutil.which(name, path=str(pathlib.Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}; install '.[test]'")
    return path


@pytest.mark.parametrize(
    "args",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_lint_and_types(args):
    proc = subprocess.run([_tool(args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_package_is_in_the_wheel():
    import tomllib  # Python 3.11+

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    src = ROOT / "src" / "almacal"
    found = {
        ".".join(("almacal", *p.parent.relative_to(src).parts)) for p in src.rglob("__init__.py")
    }
    # editable installs find unlisted packages anyway; a wheel silently drops them
    assert found | {"almacal.tasks"} == set(config["packages"])


CASA_PACKAGES = ("casatools", "casatasks", "casashell")


def _pins(path):
    """{package: version} of the `name==version` lines of a constraints file."""
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"([A-Za-z0-9_.-]+)==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _declared_ranges():
    """{package: SpecifierSet} of the CASA packages in pyproject.toml, extras included."""
    import tomllib  # Python 3.11+
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for rs in project["optional-dependencies"].values() for r in rs]
    reqs = [Requirement(line) for line in project["dependencies"] + extras]
    return {r.name: r.specifier for r in reqs if r.name in CASA_PACKAGES}


@pytest.mark.parametrize("constraints", ["constraints.txt", ".ci/constraints-casa6.6.txt"])
def test_tested_casa_versions_lie_in_the_declared_range(constraints):
    pins = _pins(ROOT / constraints)
    ranges = _declared_ranges()
    assert set(ranges) == set(CASA_PACKAGES)
    for name, spec in ranges.items():
        assert not any(s.operator == "==" for s in spec), f"{name} is pinned: {spec}"
        assert pins[name] in spec, f"{constraints}: {name}=={pins[name]} outside {spec}"


def test_casa_is_the_tested_release():
    """This environment runs the CASA its constraints file names (.ci/run sets
    ALMACAL_CONSTRAINTS for the 6.6 leg, whose almacal install must have kept it)."""
    constraints = os.environ.get("ALMACAL_CONSTRAINTS", "constraints.txt")
    pins = _pins(ROOT / constraints)
    installed = {name: version(name) for name in CASA_PACKAGES}
    expected = {name: pins[name] for name in CASA_PACKAGES}
    assert installed == expected, f"install with: pip install -c {constraints} -e '.[test]'"
