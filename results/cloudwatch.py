"""Runtime logs of a real distribution, from CloudWatch Logs into the run folder.

Lambda@Edge writes its logs to a log group named ``/aws/lambda/us-east-1.<function>``
in the region of each edge location that ran it ("Lambda@Edge CloudWatch
logs", CloudFront developer guide). :func:`holds_log_group` tells whether a
region holds that group, :func:`fetch_events` walks its events with boto3's
``filter_log_events`` paginator (all of them, or those matching a filter
pattern such as :func:`quoted_term`'s), and :func:`write_events` stores them
as ``logs/lambda/<region>.<function>.log`` in the local layout
(docs/formats.md), so that a run against a real distribution is analysed by
the same parser as a local one. The client is passed in: this package imports
no AWS library (the client's type comes from boto3-stubs, for mypy only).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from results.errors import ResultsError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from pathlib import Path

    from mypy_boto3_logs.client import CloudWatchLogsClient

MAX_PAGES = 100_000
# FilterLogEvents' own maximum (its `limit`), the fewest round trips.
PAGE_SIZE = 10_000
# DescribeLogGroups' maximum `limit`; a prefix is matched by more than one
# group only when other functions' names start with this one's.
GROUP_PAGE_SIZE = 50
MAX_GROUP_PAGES = 1_000
# Characters of the ids searched for (a Lambda request id is a UUID; a
# CloudFront request id is URL-safe base64 with `=` padding): none of them
# has a meaning inside a quoted filter-pattern term.
_TERM_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/.:"
)
MAX_TERM_LENGTH = 128


def edge_log_group(function: str) -> str:
    """The log group Lambda@Edge writes to in every region: ``/aws/lambda/us-east-1.<fn>``."""
    return f"/aws/lambda/us-east-1.{function}"


def holds_log_group(
    client: CloudWatchLogsClient,
    log_group: str,
    *,
    page_size: int = GROUP_PAGE_SIZE,
    max_pages: int = MAX_GROUP_PAGES,
) -> bool:
    """Whether the client's region holds ``log_group`` (describe_log_groups, page by page)."""
    pages = client.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=log_group, PaginationConfig={"PageSize": page_size}
    )
    for count, page in enumerate(pages, start=1):
        if count > max_pages:
            raise ResultsError(f"{log_group}: more than {max_pages} pages of log groups")
        if any(group.get("logGroupName") == log_group for group in page.get("logGroups") or []):
            return True
    return False


def quoted_term(text: str) -> str:
    """The filter pattern matching events that contain ``text`` exactly (a quoted term).

    "Filter pattern syntax for metric filters, subscription filters, filter
    log events" (CloudWatch Logs user guide): a term in double quotes matches
    the exact phrase, punctuation included.
    """
    if not 0 < len(text) <= MAX_TERM_LENGTH or not set(text) <= _TERM_CHARACTERS:
        raise ResultsError(
            f"{text!r}: an id is 1 to {MAX_TERM_LENGTH} characters of letters, digits "
            "and - _ = + / . :"
        )
    return f'"{text}"'


def fetch_events(
    client: CloudWatchLogsClient,
    log_group: str,
    start_ms: int | None,
    end_ms: int | None,
    *,
    filter_pattern: str | None = None,
    on_page: Callable[[int], None] | None = None,
    page_size: int = PAGE_SIZE,
    max_pages: int = MAX_PAGES,
) -> Iterator[Mapping[str, object]]:
    """Every event of ``log_group`` from ``start_ms`` to ``end_ms`` (epoch ms), page by page.

    ``None`` leaves that end of the span open; ``filter_pattern`` keeps only the
    matching events; ``on_page`` is told the number of events so far after
    each page.
    """
    params: dict[str, Any] = {
        "logGroupName": log_group,
        # CloudWatch Logs ignores this and interleaves every stream in time order
        # since 2019 (the FilterLogEvents reference); endpoints that still honour
        # it, moto's among them, would otherwise return one stream after another.
        "interleaved": True,
        "PaginationConfig": {"PageSize": page_size},
    }
    if start_ms is not None:
        params["startTime"] = start_ms
    if end_ms is not None:
        params["endTime"] = end_ms
    if filter_pattern is not None:
        params["filterPattern"] = filter_pattern
    pages = client.get_paginator("filter_log_events").paginate(**params)
    seen = 0
    for count, page in enumerate(pages, start=1):
        if count > max_pages:
            raise ResultsError(
                f"{log_group}: more than {max_pages} pages of events; narrow the time"
            )
        events = page.get("events") or []
        if not isinstance(events, list):
            raise ResultsError(f"{log_group}: filter_log_events returned no event list")
        yield from events
        seen += len(events)
        if on_page is not None:
            on_page(seen)


def stamp(epoch_ms: int) -> str:
    """An event's epoch milliseconds as the ISO timestamp the log files use."""
    seconds, millis = divmod(int(epoch_ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def event_line(event: Mapping[str, object]) -> str | None:
    r"""One event as ``<ISO timestamp>\t<message>`` (None for an event without both).

    A message spanning lines (a traceback) is kept on one, its line breaks
    written as ``\n``, so that every line keeps the local layout.
    """
    epoch_ms = event.get("timestamp")
    message = event.get("message")
    if isinstance(epoch_ms, bool) or not isinstance(epoch_ms, int | float):
        return None
    if not isinstance(message, str):
        return None
    text = message.rstrip("\r\n").replace("\r", "\\r").replace("\n", "\\n")
    return f"{stamp(int(epoch_ms))}\t{text}"


def write_events(events: Iterable[Mapping[str, object]], path: Path) -> int:
    r"""Write events as ``<ISO timestamp>\t<message>`` lines; returns how many.

    The file appears whole or not at all: it is written beside its name and
    renamed, so a fetch that fails half-way leaves no truncated log behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    written = 0
    try:
        with partial.open("w", encoding="utf-8") as handle:
            for event in events:
                line = event_line(event)
                if line is not None:
                    handle.write(line + "\n")
                    written += 1
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return written
