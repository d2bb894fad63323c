"""A drill's stop condition: a breach held for N seconds aborts the drill.

The condition (a drill file's ``[stop]`` table)::

    [stop]
    error_rate = 0.05     # share of failed requests in a one-second window, above which...
    p99_ms = 2000         # ...or the window's 99th percentile latency above which...
    for = "10s"           # ...for this many consecutive seconds, the drill is aborted
    min_requests = 5      # a second with fewer requests proves nothing (default 1)

Requests are binned by the second they started in. A record arrives when its
request ends, so a second is judged only ``settle_s`` after it is over; a
second with fewer than ``min_requests`` requests breaks a streak, so a load
that stopped sending never counts as breaching.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chaos.timeline import TimelineError, parse_seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

Outcome = tuple[float, bool, float]
"""One request: start (epoch seconds), whether it failed, latency in ms."""

_KEYS = frozenset({"error_rate", "p99_ms", "for", "min_requests"})
DEFAULT_SETTLE_S = 2.0
MAX_HOLD_S = 3600.0


@dataclass(frozen=True, slots=True)
class StopCondition:
    """Abort when the error rate or p99 of each second breaches for ``for_s`` seconds in a row."""

    for_s: float
    error_rate: float | None = None
    p99_ms: float | None = None
    min_requests: int = 1

    def describe(self) -> str:
        """The condition in words, for messages and the journal."""
        parts = []
        if self.error_rate is not None:
            parts.append(f"error rate > {self.error_rate:g}")
        if self.p99_ms is not None:
            parts.append(f"p99 > {self.p99_ms:g} ms")
        return f"{' or '.join(parts)} for {self.for_s:g} s"


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{where}: expected a number, got {value!r}"
        raise TimelineError(msg)
    if value < 0:
        msg = f"{where}: must not be negative, got {value!r}"
        raise TimelineError(msg)
    return float(value)


def parse_stop(table: Mapping[str, object], source: str) -> StopCondition:
    """Check a ``[stop]`` table; errors name ``source`` and the key."""
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        msg = f"{source}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})"
        raise TimelineError(msg)
    error_rate = table.get("error_rate")
    p99 = table.get("p99_ms")
    if error_rate is None and p99 is None:
        msg = f"{source}: give error_rate or p99_ms (or both)"
        raise TimelineError(msg)
    rate = None if error_rate is None else _number(error_rate, f"{source}: 'error_rate'")
    if rate is not None and rate >= 1:
        msg = f"{source}: 'error_rate' is a share below 1 (0.05 is 5 %), got {error_rate!r}"
        raise TimelineError(msg)
    if "for" not in table:
        msg = f"{source}: 'for' is missing (how long the breach must hold, e.g. for = \"10s\")"
        raise TimelineError(msg)
    hold = parse_seconds(table["for"], f"{source}: 'for'")
    if not 0 < hold <= MAX_HOLD_S:
        msg = f"{source}: 'for' must be within (0, {MAX_HOLD_S:g}] s, got {table['for']!r}"
        raise TimelineError(msg)
    least = table.get("min_requests", 1)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        msg = f"{source}: 'min_requests': expected a whole number >= 1, got {least!r}"
        raise TimelineError(msg)
    return StopCondition(
        for_s=hold,
        error_rate=rate,
        p99_ms=None if p99 is None else _number(p99, f"{source}: 'p99_ms'"),
        min_requests=least,
    )


@dataclass(slots=True)
class _Second:
    requests: int = 0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)


class StopWatch:
    """Feeds per-request outcomes to a :class:`StopCondition`; reports a sustained breach."""

    def __init__(
        self,
        condition: StopCondition,
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.condition = condition
        self.settle_s = settle_s
        self._clock = clock
        self._seconds: dict[int, _Second] = defaultdict(_Second)
        self._lock = threading.Lock()
        self._next: int | None = None  # the first second not judged yet
        self._streak = 0
        self.breach = ""

    def add(self, outcomes: Iterable[Outcome]) -> None:
        """Take requests' outcomes (cheap: binning only, judged in :meth:`check`)."""
        with self._lock:
            seconds = self._seconds
            for start, failed, latency_ms in outcomes:
                second = math.floor(start)
                if self._next is not None and second < self._next:
                    continue  # that second is judged already
                bin_ = seconds[second]
                bin_.requests += 1
                bin_.failures += bool(failed)
                bin_.latencies.append(latency_ms)

    def check(self) -> str:
        """Judge the seconds that have settled; the breach description once it has held."""
        with self._lock:
            if self.breach or not self._seconds:
                return self.breach
            if self._next is None:
                self._next = min(self._seconds)
            settled = math.floor(self._clock() - self.settle_s)  # seconds before this are over
            while self._next < settled and not self.breach:
                second = self._next
                self._next += 1
                found = self._judge(self._seconds.pop(second, None))
                self._streak = self._streak + 1 if found else 0
                if found and self._streak >= self.condition.for_s:
                    self.breach = f"{found} for {self._streak} s in a row"
            return self.breach

    def _judge(self, second: _Second | None) -> str:
        condition = self.condition
        if second is None or second.requests < condition.min_requests:
            return ""
        if condition.error_rate is not None:
            rate = second.failures / second.requests
            if rate > condition.error_rate:
                return f"error rate {rate:.3g} > {condition.error_rate:g}"
        if condition.p99_ms is not None:
            p99 = _percentile(second.latencies, 99.0)
            if p99 > condition.p99_ms:
                return f"p99 {p99:.0f} ms > {condition.p99_ms:g} ms"
        return ""


def _percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (the smallest value with at least p % at or below it)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]
