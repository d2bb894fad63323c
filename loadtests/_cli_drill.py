"""``edgedrill run``: the one entry point for a drill.

With no options it runs the default drill: the local distribution, a 20x
spike sized to the machine, the run folder written under ``results/runs/``
and its path printed on stdout (Locust's own output goes to stderr and to the
run folder's ``locust.log``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loadtests._drill import add_drill_arguments, run_drill_from_args

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    """Add ``edgedrill run``."""
    parser = subparsers.add_parser(
        "run",
        help="run a drill (default: a 20x spike on the local distribution)",
        description="Run a Locust scenario headless and write its run folder "
        "(results/runs/<UTC stamp>-<scenario>/); prints the folder's path.",
    )
    add_drill_arguments(parser)
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the drill and print its run folder."""
    run_dir = run_drill_from_args(args)
    print(run_dir)  # noqa: T201 - the command's output
    return 0
