"""`almacal` / `python -m almacal`: list the tasks, run the demo."""

from __future__ import annotations

import argparse
import sys


def _task_list() -> str:
    from almacal.casatask.spec import load_spec, task_names

    return "\n".join(f"  {n:<18} {load_spec(n).shortdescription}" for n in task_names())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="almacal",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="CASA tasks to check and repair the ALMA flux scale.\n\ntasks:\n"
        + _task_list()
        + "\n\nUse them from Python (from almacal import relcal_fit) or at the CASA prompt "
        "(see casa_init/startup.py).",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tasks", help="list the tasks")
    demo = sub.add_parser(
        "demo", help="simulate 7 epochs, relcal_fit, spwconsistency, relcal_apply, refit"
    )
    demo.add_argument("--outdir", default="almacal_demo", help="where products go")
    demo.add_argument(
        "--size",
        choices=["test", "full"],
        default="test",
        help="dataset size (full: 128 channels, 1 s integrations)",
    )
    demo.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "tasks":
        print(_task_list())
    elif args.command == "demo":
        from almacal.demo import run_demo

        print(run_demo(args.outdir, size=args.size, seed=args.seed))
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
