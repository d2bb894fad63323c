"""``edgedrill seed`` and ``edgedrill up --seed-from-log LOG``: a log's objects, seeded locally.

A replay of a real distribution's log asks for that distribution's objects;
seeding puts every key the log shows served into the local regions at its
logged size, so the replay hits real objects (see :mod:`loadtests._seed`).

``edgedrill seed --log LOG [--state FILE]`` seeds a running local
distribution. ``edgedrill up --seed-from-log LOG`` reads the log first (a
missing or empty log fails before anything starts), starts the distribution
as ``up`` does, seeds it as soon as its state file is written, and says so;
a seeding failure stops it. The ``up`` command itself belongs to
:mod:`edgedrill.commands.distribution`; this module adds the option to it
(:data:`edgedrill.cli.COMMAND_GROUPS` registers this group after that one).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill.errors import CliError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from loadtests._cloudfront_log import ParsedLog
    from loadtests._seed import SeedObject

logger = logging.getLogger(__name__)

_STATE_WAIT_S = 180.0
MALFORMED_SHOWN = 10


def register(subparsers: Any) -> None:
    """Add ``seed``, and ``--seed-from-log`` to ``up`` when it exists."""
    from edge.stack import DEFAULT_STATE

    seed = subparsers.add_parser(
        "seed",
        help="put a CloudFront log's objects into the running local distribution",
        description="Put every object a CloudFront access log shows served into each local "
        "S3 region, at its logged size, so that a replay of the log hits real objects.",
    )
    seed.add_argument("--log", required=True, type=Path, help="access log: file or folder")
    seed.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    seed.set_defaults(func=seed_command)
    up = subparsers.choices.get("up")
    if up is not None:
        up.add_argument(
            "--seed-from-log",
            type=Path,
            default=None,
            metavar="LOG",
            help="also put the objects of this CloudFront access log into every region",
        )
        up.set_defaults(func=functools.partial(_seeded_up, up.get_default("func")))


def _read(log: Path) -> tuple[ParsedLog, list[SeedObject]]:
    from loadtests._cloudfront_log import LogError, read_log
    from loadtests._seed import objects_from_log

    try:
        parsed = read_log(log)
    except LogError as exc:
        raise CliError(str(exc)) from exc
    for line in parsed.malformed[:MALFORMED_SHOWN]:
        sys.stderr.write(f"edgedrill: skipped malformed log line {line}\n")
    if len(parsed.malformed) > MALFORMED_SHOWN:
        sys.stderr.write(
            f"edgedrill: ... and {len(parsed.malformed) - MALFORMED_SHOWN} more malformed lines\n"
        )
    objects = objects_from_log(parsed.requests)
    if not objects:
        msg = f"--log: {log} shows no object served (2xx or 304) to seed"
        raise CliError(msg)
    return parsed, objects


def _seed(state_path: Path, objects: list[SeedObject]) -> str:
    from edge.stack import StackError, StackState
    from loadtests._seed import seed_regions

    try:
        state = StackState.load(state_path)
    except (StackError, OSError) as exc:
        msg = f"{state_path}: {exc}"
        raise CliError(msg) from exc
    total = seed_regions(state.regions, state.bucket, objects)
    return (
        f"seeded {len(objects)} objects ({total} bytes) into "
        f"{', '.join(state.regions)} {state.bucket}\n"
    )


def seed_command(args: argparse.Namespace) -> int:
    """``edgedrill seed``."""
    if not args.state.exists():
        msg = f"{args.state}: no state file (is the local distribution running?)"
        raise CliError(msg)
    _, objects = _read(args.log)
    sys.stdout.write(_seed(args.state, objects))
    return 0


def _seeded_up(up: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``edgedrill up --seed-from-log LOG``: ``up``, seeded once its state file appears."""
    log = getattr(args, "seed_from_log", None)
    if log is None:
        return up(args)
    _, objects = _read(log)
    state_path = Path(args.state).resolve()
    failure: list[str] = []
    seeder = threading.Thread(
        target=_seed_when_up,
        args=(state_path, objects, failure),
        name="seed-from-log",
        daemon=True,
    )
    seeder.start()
    code = up(args)
    if failure:
        raise CliError(failure[0])
    return code


def _seed_when_up(state_path: Path, objects: list[SeedObject], failure: list[str]) -> None:
    """Wait (bounded) for this process's state file, seed, and stop ``up`` on failure."""
    from edge.stack import StackError, StackState

    deadline = time.monotonic() + _STATE_WAIT_S
    while time.monotonic() < deadline:
        try:
            if StackState.load(state_path).pids.get("up") == os.getpid():
                break
        except (StackError, OSError):
            pass
        time.sleep(0.1)
    else:
        return  # up never came up; it reports why itself
    try:
        sys.stdout.write(_seed(state_path, objects))
        sys.stdout.flush()
    except Exception as exc:
        failure.append(f"--seed-from-log: {exc}")
        os.kill(os.getpid(), signal.SIGTERM)
