"""The `almacal` command line and `almacal shell`'s pieces, without starting CASA."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import version

import pytest

from almacal import __main__ as cli
from almacal import prompt


def _all_actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        yield parser.prog, action
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield parser.prog, choice
            for sub in action.choices.values():
                yield from _all_actions(sub)


def test_every_option_and_command_has_help():
    actions = list(_all_actions(cli._parser()))
    assert any("--seed" in a.option_strings for _, a in actions)  # not a vacuous pass
    for prog, action in actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, (prog, action.dest)


def test_version_is_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    python = ".".join(map(str, sys.version_info[:3]))
    assert out.startswith(f"almacal {version('almacal')} (casatools ")
    assert out.rstrip().endswith(f"Python {python})")


def test_shell_passes_other_options_to_casashell(monkeypatch):
    seen = []
    monkeypatch.setattr(prompt, "run_shell", lambda args: seen.append(args) or 7)
    assert cli.main(["shell", "--nologger", "-c", "script.py"]) == 7
    assert seen == [["--nologger", "-c", "script.py"]]


def test_other_commands_refuse_unknown_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["tasks", "--nologger"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --nologger" in capsys.readouterr().err


def test_shell_command_gives_casashell_the_almacal_startup_file():
    cmd = prompt.shell_command(["--nogui"])
    assert cmd[:3] == [sys.executable, "-m", "casashell"]
    assert cmd[3:] == ["--startupfile", str(prompt.SHELL_STARTUP), "--nogui"]
    assert prompt.SHELL_STARTUP.is_file()


def test_user_startup_runs_in_the_prompt_namespace(tmp_path):
    startup = tmp_path / "startup.py"
    startup.write_text("seen = sorted(k for k in globals() if not k.startswith('__'))\n")
    namespace = {"vis": ["a.ms"]}
    prompt.run_user_startup(namespace, str(startup))
    assert namespace["seen"] == ["vis"]
    prompt.run_user_startup(namespace, str(tmp_path / "missing.py"))  # none: nothing to do
