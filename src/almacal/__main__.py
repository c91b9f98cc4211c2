"""`almacal` / `python -m almacal`: list the tasks, run the demo, start the CASA prompt."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version


def _task_list() -> str:
    from almacal.casatask.spec import load_spec, task_names

    return "\n".join(f"  {n:<18} {load_spec(n).shortdescription}" for n in task_names())


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _versions() -> str:
    """almacal's version, then the CASA packages it runs with (for bug reports)."""
    casa = ", ".join(f"{name} {_version(name)}" for name in ("casatools", "casatasks", "casashell"))
    python = ".".join(map(str, sys.version_info[:3]))
    return f"almacal {_version('almacal')} ({casa}; Python {python})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="almacal",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="CASA tasks to check and repair the ALMA flux scale.\n\ntasks:\n"
        + _task_list()
        + "\n\nUse them from Python (from almacal import relcal_fit) or at the CASA prompt "
        "(almacal shell, or casa_init/startup.py).",
    )
    parser.add_argument(
        "--version", action="version", version=_versions(), help="show the versions and exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.add_parser("tasks", help="list the tasks")
    demo = sub.add_parser(
        "demo", help="simulate 7 epochs, relcal_fit, spwconsistency, relcal_apply, refit"
    )
    demo.add_argument("--outdir", default="almacal_demo", help="where products go")
    demo.add_argument(
        "--size",
        choices=["test", "full"],
        default="test",
        help="dataset size (test: ~20 s and ~280 MB; full: 128 channels, 1 s integrations)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the simulation's random numbers (noise, phases); same seed, same data",
    )
    shell_help = "start the CASA prompt (casashell) with the almacal tasks"
    sub.add_parser(
        "shell",
        help=shell_help,
        description=shell_help + ", CASA's data configured as for `import almacal`, and your "
        "~/.casa/startup.py. Every other option goes to casashell (python -m casashell "
        "--help lists them), e.g. almacal shell --nologger --log2term -c script.py",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, casa_args = parser.parse_known_args(argv)
    if casa_args and args.command != "shell":
        parser.error(f"unrecognized arguments: {' '.join(casa_args)}")
    if args.command == "tasks":
        print(_task_list())
    elif args.command == "demo":
        from almacal.demo import run_demo

        print(run_demo(args.outdir, size=args.size, seed=args.seed))
    elif args.command == "shell":
        from almacal.prompt import run_shell

        return run_shell(casa_args)
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
