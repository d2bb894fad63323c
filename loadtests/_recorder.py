"""Per-request records in a Locust process: one tuple per request, shipped once a second.

The ``request`` listener only builds a tuple (the columns of
``requests.csv``, see :mod:`loadtests._records`); a greenlet hands the batch
to a sink once a second: the run's writer in a local run, a message to the
master on a worker. Formatting and writing happen once per batch, off the
request path, so recording costs a request a few microseconds.
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
    """Keeps one tuple per request and hands batches to a sink once a second."""

    def __init__(self, origin_header: str = "x-edgedrill-origin-region") -> None:
        self.origin_header = origin_header.lower()
        self.sink: Callable[[list[Record]], object] | None = None
        self._buffer: list[Record] = []
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
        duration = float(response_time or 0.0)
        headers = getattr(response, "headers", None)
        if headers is not None:  # not its truth value: geventhttpclient counts every header for it
            get = headers.get
            x_cache = get("x-cache") or ""
            pop = get("x-amz-cf-pop") or ""
            cf_id = get("x-amz-cf-id") or ""
            region = get(self.origin_header) or ""
        else:
            x_cache = pop = cf_id = region = ""
        late = float(context.get("late_ms", 0.0)) if context else 0.0
        self._buffer.append(
            (
                start_time if start_time is not None else time.time() - duration / 1000.0,
                duration,
                request_type,
                name,
                int(getattr(response, "status_code", 0) or 0),
                int(response_length or 0),
                x_cache,
                pop,
                cf_id,
                region,
                late,
                short_error(exception) if exception is not None else "",
            )
        )

    def flush(self) -> int:
        """Hand the buffered records to the sink; returns how many."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        if self.sink is None:
            self.dropped += len(batch)
            return 0
        try:
            self.sink(batch)
        except Exception:
            logger.exception("edgedrill: could not record %d requests", len(batch))
            self.dropped += len(batch)
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
