"""The router's one log line per invocation, in CloudWatch Embedded Metric Format.

CloudWatch turns the ``_aws`` block into metrics (namespace ``edgedrill/router``,
dimension ``cache_state``) and keeps the rest as searchable fields; ``results``
parses the same line from local files or CloudWatch events. The line is written
straight to stdout: the Lambda runtime's logging handler would prefix it and
CloudWatch would no longer see it as EMF.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

NAMESPACE = "edgedrill/router"

Sink = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class InvocationLog:
    """Everything one invocation reports."""

    request_id: str
    cache_state: str
    origin: str
    region: str
    dns_ms: float
    handler_ms: float
    dns_queries: int
    reason: str = ""
    stale_age_s: float = 0.0
    unknown_domains: tuple[str, ...] = ()


_METRICS = [
    {"Name": "handler_ms", "Unit": "Milliseconds"},
    {"Name": "dns_ms", "Unit": "Milliseconds"},
    {"Name": "dns_queries", "Unit": "Count"},
]


def emf_line(log: InvocationLog, timestamp_ms: int | None = None) -> str:
    """Render ``log`` as one EMF JSON line (no trailing newline)."""
    document: dict[str, object] = {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": [["cache_state"]], "Metrics": _METRICS}
            ],
        },
        "event": "route",
        "request_id": log.request_id,
        "cache_state": log.cache_state,
        "origin": log.origin,
        "region": log.region,
        "dns_ms": round(log.dns_ms, 3),
        "handler_ms": round(log.handler_ms, 3),
        "dns_queries": log.dns_queries,
    }
    if log.reason:
        document["reason"] = log.reason
    if log.stale_age_s:
        document["stale_age_s"] = round(log.stale_age_s, 3)
    if log.unknown_domains:
        document["unknown_domains"] = list(log.unknown_domains)
    return json.dumps(document, separators=(",", ":"))


def stdout_sink(line: str) -> None:
    """Write one line to stdout, where the Lambda runtime ships it to CloudWatch."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
