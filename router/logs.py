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
    # CloudFront's id of the viewer request (the x-amz-cf-id header the viewer
    # sees), shared by both attempts of a failover; request_id is Lambda's.
    cf_request_id: str = ""


_METRICS = [
    {"Name": "handler_ms", "Unit": "Milliseconds"},
    {"Name": "dns_ms", "Unit": "Milliseconds"},
    {"Name": "dns_queries", "Unit": "Count"},
]
# The EMF directive is the same on every line: encode it once. The line is
# assembled by hand because json.dumps of the whole document costs about as
# much as the rest of a warm invocation.
_DIRECTIVE_TAIL = json.dumps(
    [{"Namespace": NAMESPACE, "Dimensions": [["cache_state"]], "Metrics": _METRICS}],
    separators=(",", ":"),
)
# ASCII with \u escapes: a lone surrogate from a hostile event (a request id, an
# origin domain on the fallback path) still makes a line that UTF-8 stdout can
# carry and any JSON reader can parse; the log line never fails a request.
_quote = json.encoder.encode_basestring_ascii


def emf_line(log: InvocationLog, timestamp_ms: int | None = None) -> str:
    """Render ``log`` as one EMF JSON line (no trailing newline)."""
    timestamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    parts = [
        f'{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":{_DIRECTIVE_TAIL}}}',
        ',"event":"route","request_id":',
        _quote(log.request_id),
        ',"cache_state":',
        _quote(log.cache_state),
        ',"origin":',
        _quote(log.origin),
        ',"region":',
        _quote(log.region),
        f',"dns_ms":{log.dns_ms:.3f},"handler_ms":{log.handler_ms:.3f}',
        f',"dns_queries":{int(log.dns_queries)}',
    ]
    if log.cf_request_id:
        parts += [',"cf_request_id":', _quote(log.cf_request_id)]
    if log.reason:
        parts += [',"reason":', _quote(log.reason)]
    if log.stale_age_s:
        parts.append(f',"stale_age_s":{log.stale_age_s:.3f}')
    if log.unknown_domains:
        parts += [',"unknown_domains":', json.dumps(list(log.unknown_domains))]
    parts.append("}")
    return "".join(parts)


def stdout_sink(line: str) -> None:
    """Write one line to stdout, where the Lambda runtime ships it to CloudWatch."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
