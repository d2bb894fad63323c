"""When each logged request is replayed: original inter-arrival times, compressed or scaled.

CloudFront logs the second in which a response *finished* and how long it
took (``time-taken``, milliseconds). A request's arrival is estimated as that
second, plus an even spread of the requests logged in the same second (the
log cannot say more precisely where in the second they fell), minus its
``time-taken``. Lines need not be in time order, within or across files.

Then, in this order:

1. ``window``: only the part of the log between two points is replayed
   (seconds since the log's first request, or UTC ISO 8601 times);
2. ``multiply``: the rate is scaled by a factor, over the whole replay or only
   inside ``multiply_window`` (same units). Copies of a request are spread
   evenly over the gap to the next request, so the shape of the traffic over
   time is kept; a factor below 1 thins the log evenly;
3. ``speedup``: all offsets are divided by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from loadtests._cloudfront_log import LogRequest


class WindowError(ValueError):
    """A window option does not parse."""


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of the log: seconds since its first request, or absolute epoch times."""

    start: float | None
    end: float | None
    absolute: bool

    def bounds(self, origin: float) -> tuple[float, float]:
        """The window as offsets from ``origin`` (the log's first arrival, epoch)."""
        lo = -math.inf if self.start is None else self.start
        hi = math.inf if self.end is None else self.end
        if self.absolute:
            lo, hi = lo - origin, hi - origin
        return lo, hi


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """One request to replay, ``offset`` seconds after the replay starts."""

    offset: float
    method: str
    uri: str


def parse_window(text: str, option: str = "--window") -> Window | None:
    """Parse ``START:END`` (seconds since the log's start) or ``START/END`` (ISO 8601 UTC).

    Either end may be left out (``:120``, ``60:``). An empty text is no window.
    """
    text = text.strip()
    if not text:
        return None
    if "/" in text:
        start_text, _, end_text = text.partition("/")
        start = _iso(start_text, option)
        end = _iso(end_text, option)
        absolute = True
    elif ":" in text:
        start_text, _, end_text = text.partition(":")
        start = _seconds(start_text, option)
        end = _seconds(end_text, option)
        absolute = False
    else:
        msg = f"{option}: expected START:END in seconds or START/END in ISO 8601, got {text!r}"
        raise WindowError(msg)
    if start is not None and end is not None and end <= start:
        msg = f"{option}: the end must come after the start, got {text!r}"
        raise WindowError(msg)
    return Window(start, end, absolute)


def _seconds(text: str, option: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        msg = f"{option}: {text!r} is not a number of seconds"
        raise WindowError(msg) from None
    if not math.isfinite(value) or value < 0:
        msg = f"{option}: {text!r} must be a finite number of seconds >= 0"
        raise WindowError(msg)
    return value


def _iso(text: str, option: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{option}: {text!r} is not an ISO 8601 time"
        raise WindowError(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def arrival_times(requests: Sequence[LogRequest]) -> list[tuple[float, int]]:
    """Estimated arrival (epoch seconds) of each request, sorted, with its index."""
    by_second: dict[float, list[int]] = {}
    for index, request in enumerate(requests):
        by_second.setdefault(request.finished, []).append(index)
    estimated: list[tuple[float, int]] = []
    for second, indexes in by_second.items():
        n = len(indexes)
        for position, index in enumerate(indexes):
            spread = (position + 0.5) / n
            estimated.append((second + spread - requests[index].time_taken, index))
    estimated.sort()
    return estimated


def replay_schedule(
    requests: Sequence[LogRequest],
    *,
    speedup: float = 1.0,
    multiply: float = 1.0,
    window: Window | None = None,
    multiply_window: Window | None = None,
) -> list[ReplayRequest]:
    """The replay of ``requests``: who is sent when, in offset order from 0."""
    if speedup <= 0 or not math.isfinite(speedup):
        msg = f"--speedup must be a finite number > 0, got {speedup}"
        raise ValueError(msg)
    if multiply <= 0 or not math.isfinite(multiply):
        msg = f"--multiply must be a finite number > 0, got {multiply}"
        raise ValueError(msg)
    estimated = arrival_times(requests)
    if not estimated:
        return []
    origin = estimated[0][0]
    lo, hi = window.bounds(origin) if window else (-math.inf, math.inf)
    kept = [(t - origin, i) for t, i in estimated if lo <= t - origin < hi]
    if not kept:
        return []
    start = max(lo, 0.0) if window and window.start is not None else kept[0][0]
    m_lo, m_hi = multiply_window.bounds(origin) if multiply_window else (-math.inf, math.inf)
    out: list[ReplayRequest] = []
    accumulated = 0.0
    emitted = 0
    mean_gap = (kept[-1][0] - kept[0][0]) / max(len(kept) - 1, 1)
    for position, (t, index) in enumerate(kept):
        factor = multiply if m_lo <= t < m_hi else 1.0
        accumulated += factor
        copies = math.floor(accumulated + 1e-9) - emitted
        if copies <= 0:
            continue
        emitted += copies
        following = kept[position + 1][0] if position + 1 < len(kept) else t + mean_gap
        gap = max(following - t, 0.0)
        request = requests[index]
        for copy in range(copies):
            offset = (t - start + copy * gap / copies) / speedup
            out.append(ReplayRequest(offset, request.method, request.uri))
    out.sort(key=lambda r: r.offset)
    return out
