"""almacal.casaconfig_setup without CASA: whose configuration counts, what almacal sets,
and the casatools import hook (on stand-in casatools/casaconfig packages)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from almacal import casaconfig_setup as setup


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """No configuration anywhere: empty HOME, no site configs, no casalith/casasiteconfig,
    casaconfig not read yet, casadata installed."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(setup, "STANDARD_SITE_CONFIGS", (str(tmp_path / "site.py"),))
    monkeypatch.delitem(sys.modules, "casaconfig.config", raising=False)
    real = setup.find_spec
    present = {"casadata"}

    def find_spec(name: str):
        if name in ("casadata", "casalith", "casasiteconfig"):
            return real("os") if name in present else None
        return real(name)

    monkeypatch.setattr(setup, "find_spec", find_spec)
    return present


def _user_config(home: Path, name: str = "config.py") -> Path:
    path = home / ".casa" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("measurespath = '/data'\n")
    return path


def test_with_no_configuration_almacal_points_casaconfig_at_its_site_config(bare):
    environ: dict[str, str] = {}
    state = setup.use_casadata_by_default(["python"], environ)
    assert state.applied and environ == {"CASASITECONFIG": str(setup.SITE_CONFIG)}
    assert setup.SITE_CONFIG.is_file()
    assert setup.in_use(environ)
    # a child process that inherits it is in the same state, and changes nothing
    assert setup.use_casadata_by_default(["python"], environ).applied


@pytest.mark.parametrize(
    ("argv", "environ", "site", "expected"),
    [
        (["python"], {"CASASITECONFIG": "/x/config.py"}, False, "CASASITECONFIG=/x/config.py"),
        (["python"], {"CASASITECONFIG": "relative.py"}, False, "CASASITECONFIG=relative.py"),
        (["python"], {}, True, "the site config"),
        (["python", "--nositeconfig"], {}, False, "--nositeconfig"),
        (["python", "--configfile"], {}, False, "cannot parse"),
    ],
    ids=["env", "env-invalid", "standard-site", "nositeconfig", "bad-flags"],
)
def test_site_configuration_wins(bare, tmp_path, argv, environ, site, expected):
    if site:
        Path(setup.STANDARD_SITE_CONFIGS[0]).write_text("measurespath = '/data'\n")
    own = setup.own_configuration(argv, environ)
    assert own is not None and expected in own
    state = setup.use_casadata_by_default(argv, dict(environ))
    assert not state.applied and expected in state.reason and state.fix


def test_user_config_file_wins_unless_noconfig(bare, tmp_path):
    config = _user_config(tmp_path / "home")
    assert setup.own_configuration(["python"], {}) == f"your configuration file {config}"
    assert setup.own_configuration(["python", "--noconfig"], {}) is None
    other = _user_config(tmp_path / "home", "other.py")
    config.unlink()
    assert setup.own_configuration(["python"], {}) is None
    own = setup.own_configuration(["script.py", "--configfile", str(other)], {})
    assert own == f"your configuration file {other}"


@pytest.mark.parametrize(
    ("module", "expected"),
    [("casasiteconfig", "the casasiteconfig module"), ("casalith", "monolithic CASA")],
)
def test_site_module_and_monolithic_casa_win(bare, module, expected):
    bare.add(module)
    own = setup.own_configuration(["python"], {})
    assert own is not None and own.startswith(expected)


def test_nothing_is_set_without_casadata_or_after_casaconfig_read_its_configuration(
    bare, monkeypatch
):
    bare.discard("casadata")
    environ: dict[str, str] = {}
    state = setup.use_casadata_by_default(["python"], environ)
    assert not state.applied and environ == {} and "pip install casadata" in state.fix
    bare.add("casadata")
    monkeypatch.setitem(sys.modules, "casaconfig.config", object())
    state = setup.use_casadata_by_default(["python"], environ)
    assert not state.applied and environ == {}
    assert "before almacal was imported" in state.reason and "import almacal before" in state.fix


class AutoUpdatesNotAllowed(Exception):
    """Stands in for casaconfig's own exception class."""


AutoUpdatesNotAllowed.__module__ = "casaconfig.private.CasaconfigErrors"


def test_only_data_failures_get_almacal_help():
    assert setup.is_data_failure(AutoUpdatesNotAllowed("path must exist"))
    assert setup.is_data_failure(ImportError("measures data is not available, visit ..."))
    assert not setup.is_data_failure(OSError("libgfortran.so.5: cannot open shared object"))


def test_failure_help_names_the_configuration_the_error_and_the_fix():
    state = setup.CasaConfigState(applied=False, reason="CASA uses X", fix="correct X")
    text = setup.import_failure_help(state, AutoUpdatesNotAllowed("path = /nope"))
    assert text.startswith("casatools could not start: CASA uses X. ")
    assert "casaconfig said: AutoUpdatesNotAllowed: path = /nope" in text
    assert "To fix it, correct X; or set measurespath" in text
    assert f"export CASASITECONFIG={setup.SITE_CONFIG}" in text
    text = setup.import_failure_help(setup.CasaConfigState(applied=True), ImportError("boom"))
    assert "almacal's default configuration" in text and "reinstall casadata" in text


def test_notice_is_one_line_saying_what_and_how_to_override():
    text = setup.notice("/some/casadata/__data__")
    assert "\n" not in text
    assert "/some/casadata/__data__" in text and "automatic updates off" in text
    assert str(setup.SITE_CONFIG) in text
    assert "~/.casa/config.py" in text and "CASASITECONFIG" in text


# Stand-ins, so the hook is tested without CASA: casadata, casaconfig with a config
# module, casatools that imports it and, like the real one, raises when data is missing.
FAKE_PACKAGES = {
    "casadata/__init__.py": "datapath = '/fake/casadata'\n",
    "casaconfig/__init__.py": "",
    "casaconfig/config.py": "import os\nmeasurespath = os.environ.get('FAKE_MEASURES')\n",
}
FAKE_CASATOOLS = """
import os
from casaconfig import config

class Logger:
    def post(self, text, priority, origin):
        print('POSTED', priority, origin, text)

logger = Logger()
if os.environ.get('FAKE_FAIL') == 'data':
    raise ImportError('measures data is not available, visit ...')
if os.environ.get('FAKE_FAIL') == 'library':
    raise OSError('libgfortran.so.5: cannot open shared object file')
"""


def _run_with_fakes(tmp_path, code, **env):
    for name, text in FAKE_PACKAGES.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "casatools").mkdir(exist_ok=True)
    (tmp_path / "casatools" / "__init__.py").write_text(FAKE_CASATOOLS)
    (tmp_path / "home").mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CASA", "PYTHON"))}
    clean.update(HOME=str(tmp_path / "home"), PYTHONPATH=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_hook_posts_the_notice_once_after_casatools_imports(tmp_path):
    code = """
        import os, sys, almacal, casatools
        import casatools as again
        print('SITE', os.environ['CASASITECONFIG'])
        print('HOOKS', [type(f).__name__ for f in sys.meta_path].count('CasatoolsImportHook'))
        print('LOADER', type(casatools.__spec__.loader).__name__)
        """
    proc = _run_with_fakes(tmp_path, code, FAKE_MEASURES="/fake/data")
    assert proc.returncode == 0, proc.stderr
    posted = [ln for ln in proc.stdout.splitlines() if ln.startswith("POSTED")]
    assert len(posted) == 1 and posted[0].startswith("POSTED WARN almacal almacal: you have no")
    assert "/fake/data" in posted[0]
    assert f"SITE {setup.SITE_CONFIG}" in proc.stdout
    assert "HOOKS 0" in proc.stdout  # removed once casatools is in
    assert "LOADER SourceFileLoader" in proc.stdout  # casatools keeps its own loader


def test_hook_explains_a_data_failure_and_leaves_others_alone(tmp_path):
    code = """
        import almacal
        try:
            import casatools
        except ImportError as exc:
            print('ERROR', exc)
            print('CAUSE', type(exc.__cause__).__name__)
        try:
            import casatools
        except ImportError as exc:
            print('AGAIN', exc)
        """
    proc = _run_with_fakes(tmp_path, code, FAKE_FAIL="data")
    assert proc.returncode == 0, proc.stderr
    assert "ERROR casatools could not start with almacal's default configuration" in proc.stdout
    assert "CAUSE ImportError" in proc.stdout
    assert "AGAIN casatools could not start" in proc.stdout  # still explained on a retry
    proc = _run_with_fakes(tmp_path, "import almacal, casatools\n", FAKE_FAIL="library")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("OSError: libgfortran")


def test_a_user_configuration_gets_no_notice_and_no_variable(tmp_path):
    _user_config(tmp_path / "home")
    code = "import os, almacal, casatools\nprint('SITE', os.environ.get('CASASITECONFIG'))\n"
    proc = _run_with_fakes(tmp_path, code, FAKE_MEASURES="/fake/data")
    assert proc.returncode == 0, proc.stderr
    assert "SITE None" in proc.stdout and "POSTED" not in proc.stdout
