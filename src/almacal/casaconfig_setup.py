"""CASA's data configuration for users who have none of their own.

casatools refuses to import until casaconfig finds measures data. With no
configuration, casaconfig's defaults (``~/.casa/data``, automatic updates on)
fail on a fresh or offline machine with a long AutoUpdatesNotAllowed traceback.
So when the user has no casaconfig configuration of their own and the casadata
package is installed, ``import almacal`` points casaconfig at a site config
shipped with almacal (``casa_site_config.py``: casadata's data, automatic updates
off) by setting ``CASASITECONFIG``. casaconfig reads its configuration once per
process, when casatools (or casashell) first imports ``casaconfig.config``, so
this works only when almacal is imported first; a configuration of the user's
own always wins and is never changed.

When casatools then imports, the CASA log gets one line saying what was done and
how to override it; when casatools fails to import, the error says what to do.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.metadata
import os
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType

SITE_CONFIG = Path(__file__).resolve().with_name("casa_site_config.py")
"""The casaconfig site config almacal uses by default (also casa_init/config.py)."""

# casaconfig/config.py looks at these before an importable `casasiteconfig` module.
STANDARD_SITE_CONFIGS = ("/opt/casa/casasiteconfig.py", "/home/casa/casasiteconfig.py")

# How to configure CASA yourself; every message that says what to do ends with it.
HOW_TO_CONFIGURE = (
    "set measurespath to a directory with CASA's data in ~/.casa/config.py (with casadata: "
    "import casadata; measurespath = casadata.datapath; measures_auto_update = False; "
    "data_auto_update = False), or point CASASITECONFIG at a site config such as almacal's "
    "own: export CASASITECONFIG={site}"
)


@dataclass(frozen=True)
class CasaConfigState:
    """What almacal did about CASA's configuration when it was imported.

    applied: CASASITECONFIG names almacal's site config (set now or inherited).
    reason, fix: when not applied, why not and what to do if casatools then fails
    for want of data (the start of an error message, the start of its advice).
    """

    applied: bool
    reason: str = ""
    fix: str = ""


def _casaconfig_flags(argv: Sequence[str]) -> argparse.Namespace | None:
    """The command-line flags casaconfig reads from sys.argv (its get_argparser).

    None when they cannot be parsed, as casaconfig would fail on them too.
    """
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    parser.add_argument("--configfile", default="~/.casa/config.py")
    parser.add_argument("--noconfig", action="store_true")
    parser.add_argument("--nositeconfig", action="store_true")
    try:
        return parser.parse_known_args(list(argv))[0]
    except argparse.ArgumentError:
        return None


def own_configuration(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """The user's own casaconfig configuration in words, or None when there is none.

    Follows casaconfig/config.py: a site config from CASASITECONFIG, else the first
    of STANDARD_SITE_CONFIGS, else an importable `casasiteconfig` module; then the
    user's config file (``--configfile``, default ~/.casa/config.py) unless
    ``--noconfig``. Monolithic CASA (the casalith package) brings its own data.
    """
    flags = _casaconfig_flags(argv)
    if flags is None:
        return f"command-line flags casaconfig cannot parse ({' '.join(argv[1:])})"
    if flags.nositeconfig:
        return "the --nositeconfig flag (no site config is read)"
    if "CASASITECONFIG" in environ:
        return f"CASASITECONFIG={environ['CASASITECONFIG']}"
    for path in STANDARD_SITE_CONFIGS:
        if os.path.isfile(path):
            return f"the site config {path}"
    module = find_spec("casasiteconfig")
    if module is not None:
        return f"the casasiteconfig module {module.origin}"
    user_config = os.path.abspath(os.path.expanduser(flags.configfile))
    if not flags.noconfig and os.path.exists(user_config):
        return f"your configuration file {user_config}"
    if find_spec("casalith") is not None:
        return "monolithic CASA's own configuration"
    return None


def in_use(environ: Mapping[str, str]) -> bool:
    """Whether casaconfig will read almacal's site config (set here or by a parent process)."""
    return environ.get("CASASITECONFIG") == str(SITE_CONFIG)


def use_casadata_by_default(
    argv: Sequence[str], environ: MutableMapping[str, str]
) -> CasaConfigState:
    """Point casaconfig at SITE_CONFIG when the user has no configuration (see module doc)."""
    if in_use(environ):
        return CasaConfigState(applied=True)
    if "casaconfig.config" in sys.modules:
        return CasaConfigState(
            applied=False,
            reason="CASA read its configuration before almacal was imported, so almacal "
            "could not point it at the casadata package",
            fix="import almacal before casatools and casatasks (in a new Python process)",
        )
    own = own_configuration(argv, environ)
    if own is not None:
        return CasaConfigState(
            applied=False,
            reason=f"CASA uses {own}",
            fix="correct that configuration, or remove it to let almacal use casadata's data",
        )
    if find_spec("casadata") is None:
        return CasaConfigState(
            applied=False,
            reason="you have no CASA configuration and the casadata package is not installed",
            fix="pip install casadata (almacal then uses its data)",
        )
    environ["CASASITECONFIG"] = str(SITE_CONFIG)
    return CasaConfigState(applied=True)


def notice(measurespath: str) -> str:
    """The one line that says almacal chose CASA's data, and how to choose otherwise."""
    try:
        release = f"casadata {importlib.metadata.version('casadata')}, "
    except importlib.metadata.PackageNotFoundError:
        release = ""
    return (
        "almacal: you have no CASA configuration of your own, so CASA uses almacal's "
        f"default: the measures and observatory data at {measurespath} ({release}"
        f"automatic updates off; site config {SITE_CONFIG}). To use other data, set "
        "measurespath in ~/.casa/config.py or point CASASITECONFIG at your own site config."
    )


def is_data_failure(error: BaseException) -> bool:
    """Whether casatools failed for want of data (casaconfig's errors), not e.g. a library."""
    return type(error).__module__.startswith("casaconfig") or (
        "measures data is not available" in str(error)
    )


def import_failure_help(state: CasaConfigState, error: BaseException) -> str:
    """What to do when casatools fails to import for want of data: almacal's error message."""
    if state.applied:
        reason = f"casatools could not start with almacal's default configuration ({SITE_CONFIG})"
        fix = "reinstall casadata (pip install --force-reinstall casadata)"
    else:
        reason, fix = f"casatools could not start: {state.reason}", state.fix
    return (
        f"{reason}. casaconfig said: {type(error).__name__}: {error}. To fix it, {fix}; "
        "or " + HOW_TO_CONFIGURE.format(site=SITE_CONFIG) + "."
    )


class _CasatoolsLoader(importlib.abc.Loader):
    """casatools' own loader, plus: the notice after a good import, help after a bad one."""

    def __init__(self, loader: importlib.abc.Loader, state: CasaConfigState):
        self._loader = loader
        self._state = state

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # casatools sees its real loader (resources, reloads), not this wrapper
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        try:
            self._loader.exec_module(module)
        except Exception as exc:
            if not is_data_failure(exc):
                raise
            raise ImportError(import_failure_help(self._state, exc)) from exc
        _remove_hooks()
        if self._state.applied:
            _post_notice(module)


def _post_notice(casatools: ModuleType) -> None:
    from casaconfig import config

    text = notice(str(config.measurespath))
    logger = getattr(casatools, "logger", None)
    if logger is None:  # no log file configured: the terminal is all there is
        print(text, file=sys.stderr)
    else:  # WARN: CASA copies it to the terminal too
        logger.post(text, "WARN", "almacal")


class CasatoolsImportHook(importlib.abc.MetaPathFinder):
    """Finds casatools as the other finders do and wraps its loader (_CasatoolsLoader)."""

    def __init__(self, state: CasaConfigState):
        self.state = state

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "casatools":
            return None
        if self not in sys.meta_path:
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _CasatoolsLoader(spec.loader, self.state)
                return spec
        return None


def _remove_hooks() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, CasatoolsImportHook)]


def install() -> None:
    """At `import almacal`: the default configuration, and the hook until casatools imports.

    Nothing to do once casatools is imported, nor without casaconfig (without CASA).
    """
    if "casatools" in sys.modules or find_spec("casaconfig") is None:
        return
    state = use_casadata_by_default(getattr(sys, "argv", []), os.environ)
    _remove_hooks()
    sys.meta_path.insert(0, CasatoolsImportHook(state))
