"""The ``edgedrill`` command: one entry point for every command.

Subcommands live in ``loadtests/_cli_<topic>.py`` modules, each with a
``register(subparsers)`` function; they are found by name so that adding a
command never means editing this file. No module imported here may import
locust at the top: locust monkey-patches the process on import, so only the
commands that run Locust import it, inside their own function.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests._errors import CliError

if TYPE_CHECKING:
    from collections.abc import Sequence

_PACKAGE_DIR = Path(__file__).parent


def _command_modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.iter_modules([str(_PACKAGE_DIR)])
        if info.name.startswith("_cli_")
    ]
    return [f"loadtests.{name}" for name in sorted(names)]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="edgedrill",
        description="Load and chaos drills for a multi-region CloudFront + Lambda@Edge path.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _command_modules():
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``edgedrill`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    previous = _stop_on_sigterm()
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"edgedrill {args.command}: error: {exc}", file=sys.stderr)  # noqa: T201
        return exc.exit_code
    except Terminated:
        print(f"edgedrill {args.command}: terminated", file=sys.stderr)  # noqa: T201
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"edgedrill {args.command}: interrupted", file=sys.stderr)  # noqa: T201
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job's timeout, a supervisor): unwind as Ctrl-C does, stopping children."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


def _stop_on_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


if __name__ == "__main__":
    sys.exit(main())
