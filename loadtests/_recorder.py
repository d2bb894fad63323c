"""Per-request records in a Locust process: one tuple per request, shipped once a second.

The ``request`` listener only keeps a tuple of the raw values (strings and
numbers); a greenlet turns the batch into records (the columns of
``requests.csv``, see :mod:`loadtests._records`) and hands them to a sink
once a second: the run's writer in a local run, a message to the master on a
worker. Converting, formatting and writing happen once per batch, off the
request path.
"""

from __future__ import annotations

import gevent

import logging
import time
from typing import TYPE_CHECKING, Any

from loadtests._records import short_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from loadtests._records import Record

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0


class RecordCollector:
    """Keeps what each request left and hands batches of records to a sink once a second.

    The listener keeps the raw values; converting them into records happens
    once per batch, in one tight loop, instead of once per request on
    Locust's request path.
    """

    def __init__(self, origin_header: str = "x-edgedrill-origin-region") -> None:
        self.origin_header = origin_header.lower()
        self.sink: Callable[[list[Record]], object] | None = None
        self._buffer: list[tuple[Any, ...]] = []
        self.dropped = 0

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None,
        exception: BaseException | None = None,
        context: dict[str, Any] | None = None,
        response: Any = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        """Locust's ``request`` listener."""
        headers = getattr(response, "headers", None)
        if headers is not None:  # not its truth value: geventhttpclient counts every header for it
            get = headers.get
            x_cache = get("x-cache")
            pop = get("x-amz-cf-pop")
            cf_id = get("x-amz-cf-id")
            region = get(self.origin_header)
        else:
            x_cache = pop = cf_id = region = None
        # Only strings and numbers are kept (the exception aside, rare): a tuple of
        # them leaves the garbage collector's lists at its first pass.
        self._buffer.append(
            (
                start_time,
                response_time,
                request_type,
                name,
                getattr(response, "status_code", 0),
                response_length,
                x_cache,
                pop,
                cf_id,
                region,
                context.get("late_ms", 0.0) if context else 0.0,
                exception,
            )
        )

    def _records(self, kept: list[tuple[Any, ...]]) -> list[Record]:
        now = time.time()
        return [
            (
                start if start is not None else now - float(response_time or 0.0) / 1000.0,
                float(response_time or 0.0),
                method,
                name,
                int(status or 0),
                int(length or 0),
                x_cache or "",
                pop or "",
                cf_id or "",
                region or "",
                float(late_ms),
                short_error(error) if error is not None else "",
            )
            for (
                start,
                response_time,
                method,
                name,
                status,
                length,
                x_cache,
                pop,
                cf_id,
                region,
                late_ms,
                error,
            ) in kept
        ]

    def flush(self) -> int:
        """Hand the buffered records to the sink; returns how many."""
        if not self._buffer:
            return 0
        kept, self._buffer = self._buffer, []
        if self.sink is None:
            self.dropped += len(kept)
            return 0
        try:
            batch = self._records(kept)
            self.sink(batch)
        except Exception:
            logger.exception("edgedrill: could not record %d requests", len(kept))
            self.dropped += len(kept)
            return 0
        return len(batch)

    def discard(self) -> None:
        """Forget buffered records (they belong to no run)."""
        self._buffer = []

    def run_forever(self) -> None:
        """Flush once a second until killed."""
        while True:
            gevent.sleep(FLUSH_INTERVAL_S)
            self.flush()
