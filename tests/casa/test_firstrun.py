"""A new user's first run: almacal installed by pip, no CASA configuration, no variable set.

One venv for the module: almacal is pip-installed (a real wheel build, no
dependencies) into a fresh venv that sees this environment's packages through a
.pth file. Every command then runs as on a fresh machine: no CASASITECONFIG,
HOME an empty folder (no ~/.casa), the working directory another empty folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from almacal.casatask.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
NOTICE = "almacal: you have no CASA configuration of your own"
SHELL_FLAGS = ["--nologger", "--nologfile", "--log2term", "--nogui", "--agg", "--colors", "NoColor"]


@dataclass(frozen=True)
class Install:
    """A venv holding a pip-installed almacal, and a place for clean runs."""

    bin: Path
    site_packages: Path
    tmp: Path

    def home(self, name: str) -> Path:
        """An empty HOME (created on first use)."""
        path = self.tmp / "homes" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, args: list[str], *, home: Path, cwd: Path, stdin: str | None = None, **env: str):
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("CASA", "PYTHON"))}
        clean.update(HOME=str(home), PATH=f"{self.bin}:{os.environ['PATH']}", **env)
        cwd.mkdir(parents=True, exist_ok=True)
        try:
            return subprocess.run(
                args, cwd=cwd, env=clean, input=stdin, capture_output=True, text=True, timeout=600
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"{args[:3]} did not finish in 600 s:\n{exc.stdout}\n{exc.stderr}")


def _copy_source(dest: Path) -> Path:
    """The files a wheel is built from (links kept: src/almacal/xml, casa_site_config.py)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("src", "tasks", "xml", "casa_init"):
        shutil.copytree(ROOT / name, dest / name, symlinks=True, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    tmp = tmp_path_factory.mktemp("firstrun")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # this environment's casatools, numpy, pip...; not its editable almacal (a finder
    # installed by a .pth file there, which a plain path line does not run)
    (Path(purelib) / "parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = _copy_source(tmp / "source")
    proc = subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "-q", str(source)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    installed = Path(purelib) / "almacal"
    assert (installed / "casa_site_config.py").is_file()  # a file in the wheel, not a link
    assert not (installed / "casa_site_config.py").is_symlink()
    return Install(bin=venv / "bin", site_packages=Path(purelib), tmp=tmp)


@pytest.fixture(scope="module")
def demo(install: Install) -> tuple[subprocess.CompletedProcess[str], Path]:
    cwd = install.tmp / "demo"
    proc = install.run(["almacal", "demo", "--size", "test"], home=install.home("demo"), cwd=cwd)
    return proc, cwd / "almacal_demo"


def _casadata_path() -> str:
    import casadata

    return str(casadata.datapath)


def test_demo_runs_with_no_configuration_and_says_so_once(install, demo):
    proc, outdir = demo
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "largest recovery error" in proc.stdout
    # the one-line notice: what almacal chose and how to choose otherwise
    lines = [ln for ln in proc.stderr.splitlines() if NOTICE in ln]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert _casadata_path() in lines[0] and "automatic updates off" in lines[0]
    assert "~/.casa/config.py" in lines[0] and "CASASITECONFIG" in lines[0]
    assert "AutoUpdatesNotAllowed" not in proc.stderr
    assert (outdir / "relcal_fit.json").is_file()
    assert not (install.home("demo") / ".casa" / "config.py").exists()  # nothing written for you
    logs = list((install.tmp / "demo").glob("casa-*.log"))
    assert logs and any(NOTICE in p.read_text() for p in logs)  # in the CASA log too


def test_python_import_runs_a_task_with_no_configuration(install, demo):
    _, outdir = demo
    fit = json.loads((outdir / "relcal_fit.json").read_text())
    vis = [v[0] for v in fit["vis"]]
    code = (
        "import json\nfrom almacal import relcal_fit\n"
        f"rec = relcal_fit(vis={vis!r}, field={fit['field']!r}, outfile='again')\n"
        "print('RFCF', json.dumps(rec['rfcf']))\n"
    )
    cwd = install.tmp / "python"
    proc = install.run(["python", "-c", code], home=install.home("python"), cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sum(NOTICE in ln for ln in proc.stderr.splitlines()) == 1
    rfcf = json.loads(proc.stdout.split("RFCF ", 1)[1])
    # same MSs, same fit as the demo's own: the same numbers
    assert rfcf == pytest.approx(fit["rfcf"], rel=1e-12)
    assert (cwd / "again.json").is_file()


def test_a_user_configuration_with_another_measurespath_wins(install):
    home = install.home("configured")
    data = install.tmp / "my_casa_data"
    if not data.exists():
        data.symlink_to(_casadata_path(), target_is_directory=True)
    (home / ".casa").mkdir(exist_ok=True)
    (home / ".casa" / "config.py").write_text(
        f"measurespath = {str(data)!r}\nmeasures_auto_update = False\ndata_auto_update = False\n"
    )
    code = (
        "import os, almacal, casatools\n"
        "from casaconfig import config\n"
        "print('CONFIG', config.measurespath)\n"
        "print('CTSYS', casatools.ctsys.measurespath())\n"
        "print('SITE', os.environ.get('CASASITECONFIG'))\n"
    )
    proc = install.run(["python", "-c", code], home=home, cwd=install.tmp / "configured")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"CONFIG {data}\n" in proc.stdout
    assert f"CTSYS {data}\n" in proc.stdout
    assert "SITE None" in proc.stdout  # almacal set nothing
    assert NOTICE not in proc.stderr


@pytest.mark.parametrize(
    ("config", "code", "expected"),
    [
        (
            None,
            "import casaconfig.config\nimport almacal\nalmacal.relcal_fit(vis=['x.ms'])\n",
            ["CASA read its configuration before almacal was imported", "import almacal before"],
        ),
        (
            "measurespath = '/nonexistent/casa/data'\n",
            "import almacal\nalmacal.relcal_fit(vis=['x.ms'])\n",
            ["CASA uses your configuration file", "correct that configuration"],
        ),
    ],
    ids=["casaconfig-read-first", "broken-user-config"],
)
def test_when_casatools_cannot_start_the_error_says_what_to_do(install, config, code, expected):
    home = install.home("broken" if config else "too-late")
    if config:
        (home / ".casa").mkdir(exist_ok=True)
        (home / ".casa" / "config.py").write_text(config)
    proc = install.run(["python", "-c", code], home=home, cwd=install.tmp / "broken")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: casatools could not start"), proc.stderr[-3000:]
    for text in [*expected, "casaconfig said: AutoUpdatesNotAllowed", "export CASASITECONFIG="]:
        assert text in last


def _readme_prompt_setup() -> str:
    """The README's command that registers the tasks for every CASA session."""
    text = (ROOT / "README.md").read_text()
    lines = re.findall(r"^.*>> ~/.casa/startup.py.*$", text, re.M)
    # the pipeline section appends casa_init/pipeline_startup.py the same way
    [line] = [ln for ln in lines if "cat casa_init/startup.py" in ln]
    return line.strip()


SHELL_SESSION = """
print('TASK', relcal_fit)
print('DATA', casatools.ctsys.measurespath())
print('MINE', globals().get('my_startup_ran'))
taskhelp()
exit
"""


def test_almacal_shell_starts_the_prompt_with_the_tasks_and_no_configuration(install):
    proc = install.run(
        ["almacal", "shell", *SHELL_FLAGS],
        home=install.home("shell"),
        cwd=install.tmp / "shell",
        stdin=SHELL_SESSION,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "TASK <CASA task relcal_fit" in proc.stdout
    assert f"DATA {_casadata_path()}" in proc.stdout
    assert sum(NOTICE in ln for ln in proc.stderr.splitlines()) == 1


def test_readme_setup_line_creates_casa_dir_and_the_user_startup_runs_once(install):
    """The README's line on a fresh HOME (no ~/.casa), then the prompt: tasks once each."""
    home = install.home("readme")
    assert not (home / ".casa").exists()
    setup = subprocess.run(
        ["bash", "-c", _readme_prompt_setup()], cwd=ROOT, env={**os.environ, "HOME": str(home)}
    )
    assert setup.returncode == 0
    with open(home / ".casa" / "startup.py", "a") as f:
        f.write("my_startup_ran = True\n")
    site_config = install.site_packages / "almacal" / "casa_site_config.py"
    n_category = len(load_spec("relcal_fit").category.split(","))
    for args in (["almacal", "shell"], ["python", "-m", "casashell"]):
        proc = install.run(
            [*args, *SHELL_FLAGS],
            home=home,
            cwd=install.tmp / "readme",
            stdin=SHELL_SESSION,
            # plain casashell reads no almacal before casaconfig: give it the site config
            **({} if args[0] == "almacal" else {"CASASITECONFIG": str(site_config)}),
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "TASK <CASA task relcal_fit" in proc.stdout and "MINE True" in proc.stdout, args
        extra = proc.stdout.split("Extra tasks", 1)[1]
        # registered by almacal shell and by the user's startup.py, listed once per category
        assert len(re.findall(r"relcal_fit : ", extra)) == n_category, args


def test_version_is_the_installed_distribution(install):
    proc = install.run(["almacal", "--version"], home=install.home("cli"), cwd=install.tmp / "cli")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"almacal {version('almacal')} (casatools {version('casatools')}")
