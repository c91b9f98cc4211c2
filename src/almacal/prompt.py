"""almacal at the CASA prompt (casashell): the tasks registered, and `almacal shell`.

casashell runs start-up files in the prompt's own namespace, after its tasks are
loaded and while ``register_builtin`` still exists (CASA_NOTES); the start-up
files (casa_init/startup.py for ~/.casa/startup.py, prompt_startup.py for
`almacal shell`) pass that namespace here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SHELL_STARTUP = Path(__file__).resolve().with_name("prompt_startup.py")
"""The start-up file `almacal shell` gives casashell."""

USER_STARTUP = "~/.casa/startup.py"
"""casaconfig's default startupfile: the user's own, which `almacal shell` runs too."""


def register_tasks(namespace: dict[str, Any]) -> None:
    """Put every almacal task into the prompt's namespace as a CASA builtin.

    They are listed by taskhelp() under "Extra tasks". Running this twice is harmless.
    """
    import casashell

    import almacal

    for name in almacal.__all__:
        namespace[name] = getattr(almacal, name)
        if "register_builtin" in namespace:  # only exists during start-up
            namespace["register_builtin"](name)
    if almacal not in casashell.extra_task_modules:
        casashell.extra_task_modules.append(almacal)


def run_user_startup(namespace: dict[str, Any], path: str = USER_STARTUP) -> None:
    """Run the user's own start-up file in the prompt's namespace, if there is one.

    `almacal shell` replaces casashell's start-up file by its own, so it runs the
    user's here, as casashell would have.
    """
    startup = os.path.expanduser(path)
    if os.path.isfile(startup):
        code = compile(Path(startup).read_text(), startup, "exec")
        exec(code, namespace)  # as casashell runs it: in the prompt's namespace


def shell_command(casa_args: Sequence[str]) -> list[str]:
    """casashell with almacal's start-up file; casa_args (e.g. --nologger) follow."""
    return [sys.executable, "-m", "casashell", "--startupfile", str(SHELL_STARTUP), *casa_args]


def run_shell(casa_args: Sequence[str]) -> int:
    """`almacal shell`: the CASA prompt with the tasks and CASA's configuration.

    The configuration reaches casashell through the environment (CASASITECONFIG,
    set by ``import almacal`` when the user has none); casashell discards what
    its config files print, so the notice is printed here.
    """
    from importlib.util import find_spec

    from almacal import casaconfig_setup

    if find_spec("casashell") is None:
        print(
            "almacal shell needs casashell: pip install 'almacal[shell]' (monolithic CASA: "
            "start casa and run casa_init/startup.py, see README)",
            file=sys.stderr,
        )
        return 2
    if casaconfig_setup.in_use(os.environ):
        import casadata

        print(casaconfig_setup.notice(casadata.datapath), file=sys.stderr)
    return subprocess.call(shell_command(casa_args))
