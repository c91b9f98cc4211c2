"""Repository contracts: CI runs the README's test command; lint and types are clean."""

import pathlib
import re
import shutil
import subprocess
import sys

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
        assert "pip install" in cmd and "CASASITECONFIG=" in cmd


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
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    src = ROOT / "src" / "almacal"
    found = {
        ".".join(("almacal", *p.parent.relative_to(src).parts)) for p in src.rglob("__init__.py")
    }
    # editable installs find unlisted packages anyway; a wheel silently drops them
    assert found | {"almacal.tasks"} == set(config["packages"])
