"""The ``edgedrill`` command: one entry point, an explicit list of command groups.

Each group is a module of :mod:`edgedrill.commands` with a
``register(subparsers)`` function. No module imported here may import locust:
it monkey-patches the process on import, so a drill runs Locust in a
subprocess (:mod:`edgedrill.drill`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from edgedrill.commands import (
    alarms,
    chaos,
    deploy,
    distribution,
    gate,
    logs,
    results,
    router,
    run,
    seed,
)
from edgedrill.errors import CliError
from loadtests._errors import LoadtestError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import ModuleType

# In the order of ``edgedrill --help``; ``seed`` adds ``--seed-from-log`` to ``up``,
# so it comes after ``distribution``.
COMMAND_GROUPS: tuple[ModuleType, ...] = (
    router,
    deploy,
    distribution,
    seed,
    run,
    gate,
    results,
    logs,
    chaos,
    alarms,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command."""
    parser = argparse.ArgumentParser(
        prog="edgedrill",
        description="Load and chaos drills for a multi-region CloudFront + Lambda@Edge path.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
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
    previous = _stop_on_signals()
    try:
        code: int = args.func(args)
    except (CliError, LoadtestError) as exc:
        print(f"edgedrill {args.command}: error: {exc}", file=sys.stderr)  # noqa: T201
        return exc.exit_code
    except Terminated as exc:
        word = "hung up" if exc.signum == signal.SIGHUP else "terminated"
        print(f"edgedrill {args.command}: {word}", file=sys.stderr)  # noqa: T201
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"edgedrill {args.command}: interrupted", file=sys.stderr)  # noqa: T201
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job's timeout, a supervisor) or SIGHUP (the terminal closed).

    Unwinds as Ctrl-C does: children are stopped and faults rolled back.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


# SIGHUP too: an AWS-mode DNS fault has no lease of its own, and an ssh session
# that drops must not leave it behind until someone runs chaos rollback.
_UNWINDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop_on_signals() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` (main thread only); the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _raise_terminated) for signum in _UNWINDING_SIGNALS}


if __name__ == "__main__":
    sys.exit(main())
