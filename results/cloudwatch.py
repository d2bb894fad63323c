"""Runtime logs of a real distribution, from CloudWatch Logs into the run folder.

Lambda@Edge writes its logs to a log group named ``/aws/lambda/us-east-1.<function>``
in the region of each edge location that ran it ("Lambda@Edge CloudWatch
logs", CloudFront developer guide). :func:`fetch_events` walks one group's
events with boto3's ``filter_log_events`` paginator; :func:`write_events`
stores them as ``logs/lambda/<region>.<function>.log`` in the local layout
(docs/formats.md), so that a run against a real distribution is analysed by
the same parser as a local one. The client is passed in: this package imports
no AWS library (the client's type comes from boto3-stubs, for mypy only).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from results.errors import ResultsError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

    from mypy_boto3_logs.client import CloudWatchLogsClient

MAX_PAGES = 100_000
# FilterLogEvents' own maximum (its `limit`), the fewest round trips.
PAGE_SIZE = 10_000


def edge_log_group(function: str) -> str:
    """The log group Lambda@Edge writes to in every region: ``/aws/lambda/us-east-1.<fn>``."""
    return f"/aws/lambda/us-east-1.{function}"


def fetch_events(
    client: CloudWatchLogsClient,
    log_group: str,
    start_ms: int,
    end_ms: int,
    *,
    page_size: int = PAGE_SIZE,
    max_pages: int = MAX_PAGES,
) -> Iterator[Mapping[str, object]]:
    """Every event of ``log_group`` from ``start_ms`` to ``end_ms`` (epoch ms), page by page."""
    pages = client.get_paginator("filter_log_events").paginate(
        logGroupName=log_group,
        startTime=start_ms,
        endTime=end_ms,
        # CloudWatch Logs ignores this and interleaves every stream in time order
        # since 2019 (the FilterLogEvents reference); endpoints that still honour
        # it, moto's among them, would otherwise return one stream after another.
        interleaved=True,
        PaginationConfig={"PageSize": page_size},
    )
    for count, page in enumerate(pages, start=1):
        if count > max_pages:
            raise ResultsError(
                f"{log_group}: more than {max_pages} pages of events; narrow the time"
            )
        events = page.get("events") or []
        if not isinstance(events, list):
            raise ResultsError(f"{log_group}: filter_log_events returned no event list")
        yield from events


def _stamp(epoch_ms: int) -> str:
    seconds, millis = divmod(int(epoch_ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def write_events(events: Iterable[Mapping[str, object]], path: Path) -> int:
    r"""Write events as ``<ISO timestamp>\t<message>`` lines; returns how many.

    A message spanning lines (a traceback) is kept on one, its line breaks
    written as ``\n``, so that every line keeps the local layout.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        for event in events:
            stamp = event.get("timestamp")
            message = event.get("message")
            if isinstance(stamp, bool) or not isinstance(stamp, int | float):
                continue
            if not isinstance(message, str):
                continue
            text = message.rstrip("\r\n").replace("\r", "\\r").replace("\n", "\\n")
            handle.write(f"{_stamp(int(stamp))}\t{text}\n")
            written += 1
    return written
