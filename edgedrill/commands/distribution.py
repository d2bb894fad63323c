"""``edgedrill up`` and ``edgedrill down``: the local distribution from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill.errors import CliError

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    """Add ``up`` and ``down``."""
    from edge.stack import DEFAULT_STATE, add_up_arguments

    up = subparsers.add_parser(
        "up",
        help="start the local distribution (DNS zone, two S3 regions, the edge) until Ctrl-C",
        description="Start the local distribution on 127.0.0.1, print its URLs, write the state "
        "file, and run until Ctrl-C or `edgedrill down`.",
    )
    add_up_arguments(up)
    up.set_defaults(func=_up)
    down = subparsers.add_parser("down", help="stop the local distribution of a state file")
    down.add_argument("--state", type=Path, default=DEFAULT_STATE, help="its state file")
    down.set_defaults(func=_down)


def _up(args: argparse.Namespace) -> int:
    from edge.stack import StackError, run_up

    try:
        return run_up(args)
    except StackError as exc:
        raise CliError(str(exc)) from exc


def _down(args: argparse.Namespace) -> int:
    from edge.stack import StackError, down

    if not args.state.exists():
        raise CliError(f"{args.state}: no state file (is the local distribution running?)")
    try:
        stopped = down(args.state)
    except StackError as exc:
        raise CliError(str(exc)) from exc
    if stopped:
        sys.stdout.write("stopped " + ", ".join(stopped) + "\n")
    else:
        sys.stdout.write("nothing was running; removed the stale state file\n")
    return 0
