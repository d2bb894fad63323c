"""CloudWatch alarms on the router's metrics, one set per region, put idempotently.

Three alarms per region where the function runs, each named
``edgedrill-<function>-<kind>`` (the same name in every region, alarms being
regional) so that a drill can name it as its stop condition:

``fallback-share``
    invocations that found no usable DNS answer and stayed on the default
    origin (``cache_state`` ``fallback``), as a share of all invocations;
``stale-share``
    invocations served an expired answer (``stale``, RFC 8767), as a share;
``duration-p99``
    p99 of Lambda's own ``Duration`` against the billing threshold.

The shares are metric math on the router's EMF line (:mod:`router.logs`):
namespace ``edgedrill/router``, metric ``handler_ms`` with the one dimension
``cache_state``. The router emits no count metric, but every invocation adds
one sample of ``handler_ms`` under its state, so the ``SampleCount`` of each
state is its invocations and their sum over the states
(:class:`router.dns_cache.CacheState`) is all of them; numerator and
denominator come from the same log lines. A period without invocations is
a share of 0 (and missing data does not breach).

The duration alarm reads ``AWS/Lambda`` ``Duration`` with ``FunctionName``
``us-east-1.<function>``, which Lambda@Edge publishes in the region where the
function ran ("CloudWatch metrics for Lambda@Edge", CloudFront developer
guide). Not ``handler_ms``: a percentile cannot be recombined across the
``cache_state`` dimension, and ``Duration`` is what the billed duration is
rounded up from, the quantity the threshold is about.

:func:`ensure_alarms` puts an alarm only when ``DescribeAlarms`` shows a
different definition (or none), so a second run changes nothing; the actions
someone wired to an alarm (SNS topics, whether they are enabled) are kept.
"""

from __future__ import annotations

import dataclasses
import math
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from chaos.aws_api import aws_call
from router.dns_cache import CacheState
from router.logs import NAMESPACE

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from mypy_boto3_cloudwatch.client import CloudWatchClient

ALARM_PREFIX = "edgedrill"
LAMBDA_NAMESPACE = "AWS/Lambda"
EDGE_FUNCTION_PREFIX = "us-east-1."
COUNTED_METRIC = "handler_ms"
STATE_DIMENSION = "cache_state"
_MAX_PAGES = 10

# The keys of a PutMetricAlarm request that make up the definition, compared
# with DescribeAlarms' answer (which holds the same names).
_DEFINITION_KEYS = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
)


# Left as the alarm's owner set them: see with_actions_of.
_ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")


class AlarmKind(StrEnum):
    """The alarms edgedrill keeps, as their names end."""

    FALLBACK_SHARE = "fallback-share"
    STALE_SHARE = "stale-share"
    DURATION_P99 = "duration-p99"


class Outcome(StrEnum):
    """What putting one alarm did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclasses.dataclass(frozen=True, slots=True)
class AlarmSettings:
    """Thresholds and evaluation of one function's alarms."""

    function: str
    fallback_share_max: float = 0.05
    stale_share_max: float = 0.5
    threshold_ms: float = 50.0
    period_s: int = 60
    evaluation_periods: int = 1


def alarm_name(function: str, kind: AlarmKind) -> str:
    """``edgedrill-<function>-<kind>``: stable, the same in every region."""
    return f"{ALARM_PREFIX}-{function}-{kind}"


def alarm_names(function: str) -> tuple[str, ...]:
    """Every alarm name of ``function``, in :class:`AlarmKind` order."""
    return tuple(alarm_name(function, kind) for kind in AlarmKind)


def _share_metrics(settings: AlarmSettings, state: CacheState) -> list[dict[str, Any]]:
    """Metric math: SampleCount of ``handler_ms`` under ``state`` over that of every state."""
    queries: list[dict[str, Any]] = [
        {
            "Id": str(each),
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": COUNTED_METRIC,
                    "Dimensions": [{"Name": STATE_DIMENSION, "Value": str(each)}],
                },
                "Period": settings.period_s,
                "Stat": "SampleCount",
            },
            "ReturnData": False,
        }
        for each in CacheState
    ]
    total = " + ".join(f"FILL({each}, 0)" for each in CacheState)
    queries.append(
        {
            "Id": "invocations",
            "Expression": total,
            "Label": "router invocations",
            "ReturnData": False,
        }
    )
    queries.append(
        {
            "Id": "share",
            "Expression": f"IF(invocations > 0, FILL({state}, 0) / invocations, 0)",
            "Label": f"share of invocations {state}",
            "ReturnData": True,
        }
    )
    return queries


def alarm_requests(settings: AlarmSettings) -> list[dict[str, Any]]:
    """The PutMetricAlarm requests of one region, in :class:`AlarmKind` order."""
    common: dict[str, Any] = {
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": settings.evaluation_periods,
        "DatapointsToAlarm": settings.evaluation_periods,
        # No traffic is no evidence of a fault: a drill must not stop on it.
        "TreatMissingData": "notBreaching",
    }
    function = settings.function
    shares = (
        (
            AlarmKind.FALLBACK_SHARE,
            CacheState.FALLBACK,
            settings.fallback_share_max,
            "found no usable DNS answer and stayed on the default origin",
        ),
        (
            AlarmKind.STALE_SHARE,
            CacheState.STALE,
            settings.stale_share_max,
            "were served an expired DNS answer",
        ),
    )
    requests = [
        {
            "AlarmName": alarm_name(function, kind),
            "AlarmDescription": f"edgedrill: share of {function}'s router invocations that "
            f"{why} ({STATE_DIMENSION} {state}) above {limit:g}",
            "Metrics": _share_metrics(settings, state),
            "Threshold": float(limit),
            **common,
        }
        for kind, state, limit, why in shares
    ]
    requests.append(
        {
            "AlarmName": alarm_name(function, AlarmKind.DURATION_P99),
            "AlarmDescription": f"edgedrill: p99 of {function}'s Lambda Duration above the "
            f"billing threshold {settings.threshold_ms:g} ms",
            "Namespace": LAMBDA_NAMESPACE,
            "MetricName": "Duration",
            "Dimensions": [{"Name": "FunctionName", "Value": EDGE_FUNCTION_PREFIX + function}],
            "ExtendedStatistic": "p99",
            "Period": settings.period_s,
            "Threshold": float(settings.threshold_ms),
            **common,
        }
    )
    return requests


def _normal(value: object) -> object:
    """A definition value compared the way CloudWatch stores it."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in sorted(value.items()) if v not in (None, [], "")}
    if isinstance(value, list | tuple):
        items = [_normal(v) for v in value]
        # Dimensions are a set; metric queries keep their order.
        if all(isinstance(item, dict) and "Name" in item and "Id" not in item for item in items):
            return sorted(items, key=repr)
        return items
    return value


def _subset(desired: object, current: object) -> bool:
    """Whether ``current`` holds everything ``desired`` says (extra keys AWS adds allowed)."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(
            _subset(value, current.get(key)) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(current, list)
            and len(desired) == len(current)
            and all(_subset(d, c) for d, c in zip(desired, current, strict=True))
        )
    return desired == current


def same_definition(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether the alarm DescribeAlarms shows is the one ``desired`` would put."""
    for key in _DEFINITION_KEYS:
        want, have = _normal(desired.get(key)), _normal(current.get(key))
        if want in (None, [], "") and have in (None, [], "", {}):
            continue
        if not _subset(want, have):
            return False
    return True


def with_actions_of(current: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """``request`` keeping the actions someone gave the alarm (a pager's SNS topic, say).

    PutMetricAlarm replaces the whole alarm: sent without them it would remove
    the actions, and edgedrill asks for none of its own.
    """
    merged = dict(request)
    for key in _ACTION_KEYS:
        if key not in merged and current.get(key):
            merged[key] = list(current[key])
    if "ActionsEnabled" not in merged and current.get("ActionsEnabled") is False:
        merged["ActionsEnabled"] = False
    return merged


def current_alarms(
    client: CloudWatchClient, names: Sequence[str], region: str
) -> dict[str, Mapping[str, Any]]:
    """The metric alarms of ``names`` in ``region``, by name (DescribeAlarms, page by page)."""
    found: dict[str, Mapping[str, Any]] = {}
    with aws_call("DescribeAlarms", f"{', '.join(names)} in {region}"):
        pages = client.get_paginator("describe_alarms").paginate(
            AlarmNames=list(names), AlarmTypes=["MetricAlarm"]
        )
        # One page holds up to 100 alarms: the few names asked for fit in one.
        for _, page in zip(range(_MAX_PAGES), pages, strict=False):
            for alarm in page.get("MetricAlarms") or []:
                found[str(alarm.get("AlarmName"))] = alarm
    return found


def ensure_alarms(
    client: CloudWatchClient, region: str, requests: Iterable[Mapping[str, Any]]
) -> list[tuple[str, Outcome]]:
    """Put each alarm whose definition differs from the region's; what each put did."""
    requests = list(requests)
    existing = current_alarms(client, [str(r["AlarmName"]) for r in requests], region)
    done: list[tuple[str, Outcome]] = []
    for wanted in requests:
        name = str(wanted["AlarmName"])
        current = existing.get(name)
        request = dict(wanted) if current is None else with_actions_of(current, wanted)
        if current is not None and same_definition(current, request):
            done.append((name, Outcome.UNCHANGED))
            continue
        with aws_call("PutMetricAlarm", f"{name} in {region}"):
            client.put_metric_alarm(**request)
        done.append((name, Outcome.CREATED if current is None else Outcome.UPDATED))
    return done
