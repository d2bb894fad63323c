"""``edgedrill alarms``: CloudWatch alarms on the router's metrics in each region it runs in.

The alarms (:mod:`edgedrill.alarms`) are named ``edgedrill-<function>-fallback-share``,
``-stale-share`` and ``-duration-p99``, the same in every region; any of them
can be a drill's stop condition. Putting them again with the same settings
changes nothing and says ``unchanged``.
"""

from __future__ import annotations

import argparse
import functools
import json
from typing import TYPE_CHECKING, Any

from edge.settings import setting
from edgedrill.aws_options import (
    add_aws_arguments,
    add_function_and_regions,
    aws_api,
    aws_errors,
)
from edgedrill.commands.logs import find_log_regions, in_regions, note
from edgedrill.errors import CliError

if TYPE_CHECKING:
    from edgedrill.alarms import AlarmSettings, Outcome

FALLBACK_SHARE_MAX = setting(
    "--fallback-share-max",
    float,
    0.05,
    (0, 1),
    "alarm above this share of invocations left on the default origin (cache_state fallback)",
    open_bounds="<",
)
STALE_SHARE_MAX = setting(
    "--stale-share-max",
    float,
    0.5,
    (0, 1),
    "alarm above this share of invocations served a stale DNS answer",
    open_bounds="<",
)
# An origin-request trigger runs 30 s at the most (the Lambda@Edge quotas page).
THRESHOLD_MS = setting(
    "--threshold-ms",
    float,
    50.0,
    (0, 30_000),
    "billing threshold the p99 of Lambda's Duration is held to, ms",
    open_bounds="<",
)
# PutMetricAlarm: Period is 10, 20, 30 or a multiple of 60, the shorter ones
# only for high-resolution metrics, which neither EMF's default nor Lambda's
# are; Period x EvaluationPeriods is one day at the most.
MAX_EVALUATED_S = 86_400
PERIOD = setting(
    "--period", int, 60, (60, MAX_EVALUATED_S), "seconds per datapoint, a multiple of 60"
)
EVALUATION_PERIODS = setting(
    "--evaluation-periods",
    int,
    1,
    (1, MAX_EVALUATED_S // 60),
    "datapoints evaluated, all of which must breach",
)


def _period(text: str) -> int:
    seconds = PERIOD.parse(text)
    if seconds % 60:
        raise argparse.ArgumentTypeError(f"must be a multiple of 60, got {text!r}")
    return seconds


def register(subparsers: Any) -> None:
    """Add ``alarms``."""
    parser = subparsers.add_parser(
        "alarms",
        help="CloudWatch alarms on the router's metrics in each region (drill stop conditions)",
        description="Put three CloudWatch alarms in each region: edgedrill-FUNCTION-fallback-share "
        "and edgedrill-FUNCTION-stale-share (metric math on the router's EMF metrics, namespace "
        "edgedrill/router) and edgedrill-FUNCTION-duration-p99 (AWS/Lambda Duration of "
        "us-east-1.FUNCTION against the billing threshold). Idempotent: an alarm already so "
        "defined is left alone and reported 'unchanged'.",
    )
    add_function_and_regions(
        parser,
        "comma-separated regions (default: every enabled region of the account that "
        "holds /aws/lambda/us-east-1.FUNCTION, i.e. where the function has run)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the PutMetricAlarm requests as JSON and change nothing",
    )
    group = parser.add_argument_group("thresholds")
    FALLBACK_SHARE_MAX.add_to(group, metavar="R")
    STALE_SHARE_MAX.add_to(group, metavar="R")
    THRESHOLD_MS.add_to(group, metavar="MS")
    group.add_argument(
        PERIOD.flag,
        type=_period,
        default=PERIOD.default,
        metavar="S",
        help=f"{PERIOD.help} (default: {PERIOD.default}; {PERIOD.describe_range()})",
    )
    EVALUATION_PERIODS.add_to(group, metavar="N")
    add_aws_arguments(parser)
    parser.set_defaults(func=alarms_command)


def alarm_settings(args: argparse.Namespace) -> AlarmSettings:
    """The alarms' settings the parsed flags describe."""
    from edgedrill.alarms import AlarmSettings

    if args.period * args.evaluation_periods > MAX_EVALUATED_S:
        raise CliError(
            f"--evaluation-periods: {args.evaluation_periods} x --period {args.period} s is "
            f"over {MAX_EVALUATED_S:,} s (CloudWatch's one day)"
        )
    return AlarmSettings(
        function=args.function,
        fallback_share_max=args.fallback_share_max,
        stale_share_max=args.stale_share_max,
        threshold_ms=args.threshold_ms,
        period_s=args.period,
        evaluation_periods=args.evaluation_periods,
    )


def alarms_command(args: argparse.Namespace) -> int:
    """Put the alarms in each region, or print what would be put."""
    from edgedrill.alarms import alarm_names, alarm_requests, ensure_alarms
    from results.cloudwatch import edge_log_group

    settings = alarm_settings(args)
    requests = alarm_requests(settings)
    api = aws_api(args)
    with aws_errors():
        regions = args.regions or find_log_regions(api, args.function)
    if not regions:
        raise CliError(
            f"--regions: no region holds {edge_log_group(args.function)} (has the function "
            "run yet?); name the regions"
        )
    if args.dry_run:
        document = [
            {"region": region, "operation": "PutMetricAlarm", "request": request}
            for region in regions
            for request in requests
        ]
        print(json.dumps(document, indent=2))  # noqa: T201
        note(f"dry run: {len(document)} alarms in {', '.join(regions)}, nothing changed")
        return 0

    clients = functools.partial(api.client, "cloudwatch")

    def put(region: str) -> list[tuple[str, Outcome]]:
        return ensure_alarms(clients(region), region, requests)

    with aws_errors():
        done = in_regions(regions, put)
    for region, outcomes in done.items():
        for name, outcome in outcomes:
            print(f"{region}\t{name}\t{outcome}")  # noqa: T201
    names = " ".join(alarm_names(args.function))
    note(f"stop conditions for a drill (each region): {names}")
    return 0
