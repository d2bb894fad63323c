"""``edgedrill chaos inject|list|clear``: faults on the local distribution, always rolled back.

``inject FAULT`` holds one fault (the spellings of :mod:`chaos.faults`) for
``--duration`` or until Ctrl-C, renewing its lease, and rolls it back however
it ends: at the end of the duration, on Ctrl-C, on SIGTERM (which
:mod:`edgedrill.cli` turns into a ``KeyboardInterrupt``). After ``kill -9``
nobody renews it and the engines drop it when its lease runs out.
``list`` shows the active faults with their remaining lease; ``clear``
removes every fault, including those another ``inject`` is holding (that one
notices at its next renewal and stops).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill.errors import CliError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from chaos.control import ControlClient
    from chaos.injection import Injection, LeaseKeeper
    from edge.stack import StackState

# Shown after the fields every fault has, in this order.
_LISTED = ("id", "target", "kind", "probability", "lease_s", "expires_in_s")
_HOLD_SLICE_S = 1.0


def register(subparsers: Any) -> None:
    """Add ``chaos`` with ``inject``, ``list`` and ``clear``."""
    from chaos.faults import VALID_SPELLINGS
    from edge.fault_specs import DEFAULT_LEASE_S
    from edge.stack import DEFAULT_STATE

    chaos = subparsers.add_parser(
        "chaos",
        help="inject, list and clear faults on the running local distribution",
        description="Break one dependency of the local distribution (the router's DNS lookup, "
        "CloudFront's origin resolution, a bucket, the function) and always roll it back.",
    )
    actions = chaos.add_subparsers(dest="chaos_command", required=True, metavar="ACTION")
    inject = actions.add_parser(
        "inject",
        help="hold one fault for --duration (or until Ctrl-C), then roll it back",
        description="Inject FAULT, renew its lease while it holds, and roll it back at the end "
        "of --duration, on Ctrl-C or on SIGTERM. After kill -9 its lease ends it.",
        epilog=f"FAULT is one of: {VALID_SPELLINGS}",
    )
    inject.add_argument("fault", metavar="FAULT", help="e.g. bucket:503 or dns:delay=200ms")
    inject.add_argument(
        "--region", default=None, help="region of a bucket or origin-dns fault (default: primary)"
    )
    inject.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    inject.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="S",
        help="how long to hold it: 30, 30s, 500ms, 5m (default: until Ctrl-C)",
    )
    inject.add_argument(
        "--probability", type=_probability, default=None, metavar="P", help="0..1 (default 1)"
    )
    inject.add_argument(
        "--lease",
        type=_seconds,
        default=DEFAULT_LEASE_S,
        metavar="S",
        help=f"lease renewed every third of it; ends the fault if this process dies "
        f"(default {DEFAULT_LEASE_S:g} s)",
    )
    inject.set_defaults(func=inject_command)
    listing = actions.add_parser("list", help="the active faults and their remaining lease")
    listing.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    listing.set_defaults(func=list_command)
    clear = actions.add_parser("clear", help="remove every active fault")
    clear.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    clear.set_defaults(func=clear_command)


def _seconds(text: str) -> float:
    from chaos.errors import FaultSyntaxError
    from chaos.faults import parse_duration

    try:
        seconds = parse_duration(text)
    except FaultSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0")
    return seconds


def _probability(text: str) -> float:
    from chaos.errors import FaultSyntaxError
    from chaos.faults import parse_probability

    try:
        return parse_probability(text)
    except FaultSyntaxError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@contextlib.contextmanager
def _as_usage_errors() -> Iterator[None]:
    from chaos.errors import ChaosError

    try:
        yield
    except ChaosError as exc:
        raise CliError(str(exc), exit_code=exc.exit_code) from exc


def _client(path: Path) -> tuple[StackState, ControlClient]:
    from chaos.control import ControlClient
    from edge.stack import StackError, StackState

    if not path.exists():
        msg = f"{path}: no state file (is the local distribution running? `edgedrill up`)"
        raise CliError(msg)
    try:
        state = StackState.load(path)
    except StackError as exc:
        raise CliError(str(exc)) from exc
    return state, ControlClient.from_state(state)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def inject_command(args: argparse.Namespace) -> int:
    """``edgedrill chaos inject``."""
    from chaos.faults import parse_fault
    from chaos.injection import LeaseKeeper, inject

    with _as_usage_errors():
        fault = parse_fault(args.fault, region=args.region, probability=args.probability)
    state, client = _client(args.state)
    with _as_usage_errors():
        target = fault.describe(state)
        injection = inject(fault, client, state, lease_s=args.lease)
    keeper = LeaseKeeper(injection)
    try:
        keeper.start()
        hold = "until Ctrl-C" if args.duration is None else f"for {args.duration:g} s"
        _say(
            f"injected {fault.spelling} into {target} at {_stamp(injection.start)}, {hold}\n"
            f"  breaks {fault.dependency}: {fault.kind.breaks}"
            f"{'' if fault.probability == 1 else f' (probability {fault.probability:g})'}\n"
            f"  ids {', '.join(injection.ids)}; lease {args.lease:g} s, "
            f"renewed every {keeper.interval_s:g} s"
        )
        _hold(keeper, args.duration)
    finally:
        keeper.stop()
        confirmed = _rollback(injection)
    if not confirmed:
        msg = (
            f"rollback of {fault.spelling} not confirmed ({injection.detail}); "
            f"its lease ends it by {_stamp(injection.expires_at)}"
        )
        raise CliError(msg)
    if keeper.lapsed.is_set():
        msg = f"{fault.spelling} ended before its time (cleared, or its lease lapsed)"
        raise CliError(msg, exit_code=1)
    return 0


def _hold(keeper: LeaseKeeper, duration: float | None) -> None:
    """Wait for the duration (None: until interrupted), or until the fault lapses."""
    deadline = None if duration is None else time.monotonic() + duration
    while True:
        wait = _HOLD_SLICE_S
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                return
        if keeper.lapsed.wait(wait):
            return


def _rollback(injection: Injection) -> bool:
    """Roll back with Ctrl-C and SIGTERM held off: a rollback cut in half is worse than a wait.

    The wait is bounded by the control client's timeout per spec.
    """
    held: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            held[signum] = signal.signal(signum, signal.SIG_IGN)
    try:
        confirmed = injection.rollback()
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
    if confirmed and injection.end is not None:
        _say(
            f"rolled back {injection.fault.spelling} at {_stamp(injection.end)} "
            f"after {injection.end - injection.start:.1f} s"
        )
    return confirmed


def list_command(args: argparse.Namespace) -> int:
    """``edgedrill chaos list``."""
    _, client = _client(args.state)
    with _as_usage_errors():
        faults = client.list()
    if not faults:
        _say("no active faults")
        return 0
    rows = [["ID", "TARGET", "KIND", "PROBABILITY", "LEASE LEFT", "DETAIL"]]
    for fault in faults:
        detail = " ".join(
            f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in fault.items()
            if k not in _LISTED
        )
        rows.append(
            [
                str(fault.get("id", "")),
                str(fault.get("target", "")),
                str(fault.get("kind", "")),
                f"{float(fault.get('probability', 1.0)):g}",
                f"{float(fault.get('expires_in_s', 0.0)):.1f} s",
                detail,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    _say("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                   for row in rows))
    return 0


def clear_command(args: argparse.Namespace) -> int:
    """``edgedrill chaos clear``."""
    _, client = _client(args.state)
    with _as_usage_errors():
        removed = client.clear()
    _say(f"removed {removed} fault{'' if removed == 1 else 's'}")
    return 0
