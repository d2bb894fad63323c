"""``edgedrill chaos inject|list|clear``: faults on the local distribution, always rolled back.

``inject FAULT`` holds one fault (the spellings of :mod:`chaos.faults`) for
``--duration`` or until Ctrl-C, renewing its lease, and rolls it back however
it ends: at the end of the duration, on Ctrl-C, on SIGTERM (which
:mod:`edgedrill.cli` turns into a ``KeyboardInterrupt``). After ``kill -9``
nobody renews it and the engines drop it when its lease runs out.
``list`` shows the active faults with their remaining lease; ``clear``
removes every fault, including those another ``inject`` is holding (that one
notices at its next renewal and stops).

With ``--aws-bucket`` or ``--aws-zone``/``--aws-record``, ``inject`` acts on
AWS instead (:mod:`chaos.aws_faults`): ``bucket:403`` merges an expiring
Deny into the bucket's policy; ``dns:nxdomain``, ``dns:wrong-answer`` and
``dns:ttl=N`` change a Route 53 record set. The target must be named by
``--allow``; without ``--execute`` it prints the exact JSON it would apply
and the JSON that would restore, and changes nothing. With ``--execute`` a
journal is written before each change, and ``rollback --journal FILE``
undoes the change from it after a crash.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill.errors import CliError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from chaos.aws_alarm_stop import AlarmStop
    from chaos.aws_api import AwsApi
    from chaos.aws_change import AwsChange
    from chaos.aws_faults import AwsInjection
    from chaos.control import ControlClient
    from chaos.injection import Injection, LeaseKeeper
    from edge.stack import StackState

# Shown after the fields every fault has, in this order.
_LISTED = ("id", "target", "kind", "probability", "lease_s", "expires_in_s")
_HOLD_SLICE_S = 1.0


def register(subparsers: Any) -> None:
    """Add ``chaos`` with ``inject``, ``list``, ``clear`` and ``rollback``."""
    from chaos.faults import VALID_SPELLINGS
    from edge.fault_specs import DEFAULT_LEASE_S
    from edge.stack import DEFAULT_STATE

    chaos = subparsers.add_parser(
        "chaos",
        help="inject, list and clear faults on the running local distribution (or on AWS)",
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
        "--region",
        default=None,
        help="region of a bucket or origin-dns fault (default: primary); in AWS mode, the "
        "bucket's region (default: us-east-1, from where S3 redirects)",
    )
    inject.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    inject.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="S",
        help="how long to hold it: 30, 30s, 500ms, 5m (default: until Ctrl-C; "
        "required in AWS mode, at most 1 h)",
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
    _add_aws_mode(inject)
    inject.set_defaults(func=inject_command)
    listing = actions.add_parser("list", help="the active faults and their remaining lease")
    listing.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    listing.set_defaults(func=list_command)
    clear = actions.add_parser("clear", help="remove every active fault")
    clear.add_argument("--state", type=Path, default=DEFAULT_STATE, help="the state file")
    clear.set_defaults(func=clear_command)
    _register_rollback(actions)


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

    if _aws_mode(args):
        return aws_inject_command(args)
    _refuse_aws_flags(args)
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
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
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
    _say(
        "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        )
    )
    return 0


def clear_command(args: argparse.Namespace) -> int:
    """``edgedrill chaos clear``."""
    _, client = _client(args.state)
    with _as_usage_errors():
        removed = client.clear()
    _say(f"removed {removed} fault{'' if removed == 1 else 's'}")
    return 0


# AWS mode: flags of `inject` that only it takes, with the value each has when not given.
_AWS_ONLY = {
    "allow": None,
    "execute": False,
    "journal": None,
    "stop_on_alarm": None,
    "alarm_region": None,
    "aws_record_type": None,
    "profile": None,
    "endpoint_url": None,
}
_AWS_EPILOG = """\
AWS mode (--aws-bucket, or --aws-zone with --aws-record):
  bucket:403        --aws-bucket NAME: a Deny of s3:GetObject (own Sid EdgedrillDrill<id>) is
                    merged into the bucket policy, with a DateLessThan aws:CurrentTime condition
                    of now + --duration + 60 s, so it ends by itself if edgedrill dies; the saved
                    policy is put back byte for byte (or deleted if there was none). If someone
                    changed the policy meanwhile, only edgedrill's statement is removed.
  dns:nxdomain      --aws-zone ID --aws-record NAME: every record set of that name and type
                    (--aws-record-type, default TXT; all SetIdentifiers) is deleted. The name
                    answers NXDOMAIN only if no other type exists at it, else NODATA.
  dns:wrong-answer  the same sets upserted with "wrong-answer.invalid" (TXT) or 192.0.2.1 (A).
  dns:ttl=N         the same sets upserted with TTL N.
  The saved record sets come back exactly in one ChangeBatch; alias records are refused.
  --allow bucket:NAME / --allow zone:ID must name the target (else exit 2, no AWS call).
  Without --execute: a dry run printing the exact JSON to apply and to restore.
  With --execute: the journal (--journal FILE, default ./edgedrill-chaos-<id>.json) is
  written before each change; `edgedrill chaos rollback --journal FILE` restores after a
  crash. Ctrl-C and SIGTERM restore at once. --stop-on-alarm NAME restores at once and
  exits 3 when a named CloudWatch alarm is in ALARM (checked every 2 s).
"""


def _add_aws_mode(inject: argparse.ArgumentParser) -> None:
    from chaos.aws_api import EDGE_REGION
    from edgedrill.aws_options import add_aws_arguments

    # Raw, so the AWS table below keeps its columns; the local text is wrapped here.
    inject.formatter_class = argparse.RawDescriptionHelpFormatter
    inject.description = textwrap.fill(
        f"{inject.description} With --aws-bucket, or --aws-zone and --aws-record, it acts on "
        "AWS instead (see the end).",
        80,
    )
    inject.epilog = f"{textwrap.fill(inject.epilog or '', 90)}\n\n{_AWS_EPILOG}"
    group = inject.add_argument_group("AWS mode")
    group.add_argument("--aws-bucket", metavar="NAME", help="bucket:403 on this S3 bucket")
    group.add_argument("--aws-zone", metavar="ID", help="a dns fault in this Route 53 hosted zone")
    group.add_argument("--aws-record", metavar="NAME", help="the record name of a dns fault")
    group.add_argument(
        "--aws-record-type", metavar="TYPE", default=None, help="its record type (default TXT)"
    )
    group.add_argument(
        "--allow",
        action="append",
        metavar="TARGET",
        help="bucket:NAME or zone:ID that may be changed (repeatable; required)",
    )
    group.add_argument(
        "--execute", action="store_true", help="change AWS (default: a dry run that prints JSON)"
    )
    group.add_argument(
        "--journal",
        type=Path,
        default=None,
        metavar="FILE",
        help="journal written before each change (default ./edgedrill-chaos-<id>.json)",
    )
    group.add_argument(
        "--stop-on-alarm",
        action="append",
        metavar="NAME",
        help="CloudWatch alarm whose ALARM state restores at once and exits 3 (repeatable)",
    )
    group.add_argument(
        "--alarm-region",
        action="append",
        metavar="REGION",
        help="a region whose --stop-on-alarm alarms are watched, repeatable or comma-separated: "
        "edgedrill alarms puts them in every region the function runs in "
        f"(default {EDGE_REGION})",
    )
    add_aws_arguments(inject)


def _register_rollback(actions: Any) -> None:
    from edgedrill.aws_options import add_aws_arguments

    rollback = actions.add_parser(
        "rollback",
        help="undo an AWS-mode fault from its journal (after a crash or kill -9)",
        description="Read the journal an AWS-mode `chaos inject --execute` wrote and restore "
        "the bucket policy or record sets it saved, from what is there now: a change that never "
        "landed or was already undone leaves nothing to restore; a second run says so.",
    )
    rollback.add_argument(
        "--journal", type=Path, required=True, metavar="FILE", help="the fault's journal file"
    )
    add_aws_arguments(rollback)
    rollback.set_defaults(func=rollback_command)


def _aws_mode(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, name, None) is not None for name in ("aws_bucket", "aws_zone", "aws_record")
    )


def _refuse_aws_flags(args: argparse.Namespace) -> None:
    for name, unset in _AWS_ONLY.items():
        if getattr(args, name, unset) != unset:
            flag = "--" + name.replace("_", "-")
            msg = f"{flag} applies to AWS mode only (--aws-bucket, or --aws-zone and --aws-record)"
            raise CliError(msg)


def _aws_duration(duration: float | None) -> float:
    from chaos.aws_faults import MAX_DURATION_S

    if duration is None:
        msg = "--duration: required in AWS mode (the bucket Deny's expiry is derived from it)"
        raise CliError(msg)
    if duration > MAX_DURATION_S:
        raise CliError(f"--duration: at most {MAX_DURATION_S / 3600:g} h in AWS mode")
    return duration


def aws_inject_command(args: argparse.Namespace) -> int:
    """``edgedrill chaos inject FAULT --aws-...``: a dry run, or the fault held on AWS."""
    from chaos.aws_alarm_stop import AlarmStop
    from chaos.aws_faults import AwsTarget, check_allowed, check_target, new_drill_id, plan_change
    from chaos.aws_record import DEFAULT_TYPE
    from chaos.faults import parse_fault
    from edgedrill.aws_options import aws_api, aws_errors

    with _as_usage_errors():
        fault = parse_fault(args.fault, region=args.region, probability=args.probability)
        target = AwsTarget(
            bucket=args.aws_bucket,
            region=fault.region,
            zone=args.aws_zone,
            record=args.aws_record,
            record_type=(args.aws_record_type or DEFAULT_TYPE).upper(),
        )
        check_target(fault, target)
        duration = _aws_duration(args.duration)
        check_allowed(target, args.allow or ())
        stop = AlarmStop(tuple(args.stop_on_alarm or ()), _alarm_regions(args.alarm_region))
    api = aws_api(args)
    now = datetime.now(UTC)
    drill_id = new_drill_id(now)
    with aws_errors(), _as_usage_errors():
        change = plan_change(api, fault, target, drill_id=drill_id, duration_s=duration, now=now)
        cloudwatch = stop.clients(api) if stop.names else {}
        stop.states(cloudwatch)  # an alarm that does not exist is refused before anything changes
    journal_path = args.journal or Path(f"edgedrill-chaos-{drill_id}.json")
    if not args.execute:
        _say(_dry_run(fault.spelling, change, duration))
        _say(f"with --execute, the journal would be {journal_path}")
        return 0
    watch = (stop, cloudwatch)
    return _hold_on_aws(api, change, fault.spelling, drill_id, journal_path, watch, duration)


def _alarm_regions(given: list[str] | None) -> tuple[str, ...]:
    """The regions of ``--alarm-region`` (repeated or comma-separated), in order, once each."""
    from chaos.aws_api import EDGE_REGION
    from edgedrill.aws_options import region_list

    try:
        return region_list(",".join(given or [EDGE_REGION]))
    except argparse.ArgumentTypeError as exc:
        raise CliError(f"--alarm-region: {exc}") from None


def _dry_run(spelling: str, change: AwsChange, duration: float) -> str:
    import json

    from chaos.aws_bucket import BucketDeny

    lines = [
        f"dry run: nothing changed (add --execute to apply); {spelling} on {change.target} "
        f"for {duration:g} s",
        f"  {change.effect}",
    ]
    if isinstance(change, BucketDeny):
        lines += [
            f"would apply: PutBucketPolicy on {change.target} (statement {change.sid}, which "
            f"expires by itself at {change.expires}: --duration + 60 s):",
            change.applied,
        ]
        if change.original is None:
            lines.append(f"would restore: DeleteBucketPolicy on {change.target} (it has no policy)")
        else:
            lines += [
                f"would restore: PutBucketPolicy on {change.target} with the saved policy, "
                "byte for byte:",
                change.original,
            ]
    else:
        lines += [
            f"would apply: ChangeResourceRecordSets on {change.target}, ChangeBatch:",
            json.dumps(change.apply_document(), indent=2),
            "would restore: ChangeResourceRecordSets, ChangeBatch:",
            json.dumps(change.restore_document(), indent=2),
        ]
    return "\n".join(lines)


def _hold_on_aws(
    api: AwsApi,
    change: AwsChange,
    spelling: str,
    drill_id: str,
    journal_path: Path,
    watch: tuple[AlarmStop, Any],
    duration: float,
) -> int:
    from chaos.aws_faults import AwsInjection
    from chaos.aws_journal import AwsJournal
    from edgedrill.aws_options import aws_errors
    from edgedrill.errors import DrillAborted

    stop, cloudwatch = watch
    with aws_errors(), _as_usage_errors():
        journal = AwsJournal.begin(journal_path, drill_id, spelling, change)
        firing = stop.firing(cloudwatch) if stop.names else []
    if firing:
        msg = f"not started: stop alarm {', '.join(firing)} is in ALARM"
        raise DrillAborted(msg)
    injection = AwsInjection(api, change, journal)
    start = time.time()
    try:
        with aws_errors(), _as_usage_errors():
            injection.apply()
            _say(
                f"injected {spelling} into {change.target} at {_stamp(start)}, for {duration:g} s\n"
                f"  {change.effect}\n"
                f"  journal {journal_path} (after a crash: edgedrill chaos rollback --journal "
                f"{journal_path})"
            )
            firing = _hold_aws(watch, duration)
    except BaseException:
        _restore_aws(injection, start, failing=True)
        raise
    _restore_aws(injection, start, failing=False)
    if firing:
        msg = f"stop alarm {', '.join(firing)} in ALARM: {spelling} rolled back"
        raise DrillAborted(msg)
    return 0


def _hold_aws(watch: tuple[AlarmStop, Any], duration: float) -> list[str]:
    """Wait for the duration, polling the stop alarms; the names of those in ALARM, if any."""
    from chaos.aws_alarm_stop import POLL_S

    stop, cloudwatch = watch
    deadline = time.monotonic() + duration
    next_poll = time.monotonic() + POLL_S
    while (left := deadline - time.monotonic()) > 0:
        if stop.names and time.monotonic() >= next_poll:
            firing = stop.firing(cloudwatch)
            if firing:
                return firing
            next_poll = time.monotonic() + POLL_S
        time.sleep(min(_HOLD_SLICE_S, left, max(next_poll - time.monotonic(), 0.05)))
    return []


def _restore_aws(injection: AwsInjection, start: float, *, failing: bool) -> None:
    """Undo with Ctrl-C and SIGTERM held off; when already failing, report and let it go on."""
    from chaos.aws_change import Outcome
    from chaos.errors import ChaosError

    held: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            held[signum] = signal.signal(signum, signal.SIG_IGN)
    try:
        restored = injection.restore()
    except ChaosError as exc:
        if not failing:
            raise CliError(
                f"{exc}; journal {injection.journal.path}", exit_code=exc.exit_code
            ) from exc
        sys.stderr.write(
            f"edgedrill chaos: error: rollback failed: {exc}; retry with edgedrill chaos rollback "
            f"--journal {injection.journal.path}\n"
        )
        return
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
    end = time.time()
    if restored.warning:
        sys.stderr.write(f"edgedrill chaos: warning: {restored.warning}\n")
    verb = (
        "rolled back"
        if restored.outcome is not Outcome.NOTHING_TO_RESTORE
        else "nothing to roll back"
    )
    _say(f"{verb}: {restored.detail} at {_stamp(end)} after {end - start:.1f} s")


def rollback_command(args: argparse.Namespace) -> int:
    """``edgedrill chaos rollback --journal FILE``: undo a journaled AWS-mode fault."""
    from chaos.aws_faults import rollback
    from chaos.aws_journal import Status, load
    from edgedrill.aws_options import aws_api, aws_errors

    with _as_usage_errors():
        journal = load(args.journal)
    if journal.status is Status.RESTORED:
        _say(
            f"nothing to restore: {journal.fault} on {journal.target} is already restored "
            f"({args.journal})"
        )
        return 0
    was = journal.status
    api = aws_api(args)
    with aws_errors(), _as_usage_errors():
        restored = rollback(api, journal)
    if restored.warning:
        sys.stderr.write(f"edgedrill chaos: warning: {restored.warning}\n")
    _say(
        f"{restored.outcome}: {restored.detail} ({journal.fault}; the journal said {was}, "
        f"now {journal.status}: {args.journal})"
    )
    return 0
