"""Runtime logs of a real distribution, from CloudWatch Logs into the run folder.

Lambda@Edge writes its logs to a log group named ``/aws/lambda/us-east-1.<function>``
in the region of each edge location that ran it ("Lambda@Edge CloudWatch
logs", CloudFront developer guide). :func:`fetch_events` pages through one
group's events with ``filter_log_events``; :func:`write_events` stores them
as ``logs/lambda/<region>.<function>.log`` in the local layout
(docs/formats.md), so that a run against a real distribution is analysed by
the same parser as a local one. The client is passed in (boto3's, or any
object with ``filter_log_events``): this package imports no AWS library.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from results.errors import ResultsError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

MAX_PAGES = 100_000


class LogsClient(Protocol):
    """The one call of a CloudWatch Logs client this module makes."""

    def filter_log_events(self, **kwargs: object) -> Mapping[str, object]:
        """One page of a log group's events."""
        ...


def edge_log_group(function: str) -> str:
    """The log group Lambda@Edge writes to in every region: ``/aws/lambda/us-east-1.<fn>``."""
    return f"/aws/lambda/us-east-1.{function}"


def fetch_events(
    client: LogsClient,
    log_group: str,
    start_ms: int,
    end_ms: int,
    *,
    max_pages: int = MAX_PAGES,
) -> Iterator[Mapping[str, object]]:
    """Every event of ``log_group`` from ``start_ms`` to ``end_ms`` (epoch ms), page by page."""
    token: object = None
    for _ in range(max_pages):
        request: dict[str, object] = {
            "logGroupName": log_group,
            "startTime": start_ms,
            "endTime": end_ms,
        }
        if token:
            request["nextToken"] = token
        page = client.filter_log_events(**request)
        events = page.get("events") or []
        if not isinstance(events, list):
            raise ResultsError(f"{log_group}: filter_log_events returned no event list")
        yield from events
        token = page.get("nextToken")
        if not token:
            return
    raise ResultsError(f"{log_group}: more than {max_pages} pages of events; narrow the time")


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
