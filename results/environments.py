"""Execution environments: cold starts and concurrent executions over time.

Each REPORT line is written when an invocation ends, with its ``Duration``
and, on a cold start, the ``Init Duration`` that ran before it. An
environment runs one invocation at a time, so it is busy over
``[end - init - duration, end]``, and the number of busy environments at any
instant is the overlap of those intervals: the concurrency Lambda counts
against its per-region limit. Log timestamps have millisecond resolution,
which bounds the precision of the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from results.latency import percentiles

if TYPE_CHECKING:
    from collections.abc import Sequence

    from results.logs import Invocations
    from results.records import FloatArray, IntArray
    from results.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Environments:
    """Cold starts and concurrency of a run's invocations."""

    invocations: int
    cold_starts: int
    init_ms: dict[float, float]  # percentiles of Init Duration
    max_concurrency: int
    cold_per_second: IntArray
    invocations_per_second: IntArray
    concurrency_per_second: IntArray  # highest number of busy environments in each second
    environments_per_second: IntArray  # environments created so far (cumulative cold starts)
    cold_by_region: dict[str, int]


def environments(invocations: Invocations, timeline: Timeline, ps: Sequence[float]) -> Environments:
    """Cold starts and concurrency per second."""
    cold = invocations.cold
    init = np.where(cold, invocations.init_ms, 0.0)
    busy_from = invocations.end - (invocations.duration_ms + init) / 1000.0
    cold_per_second = timeline.counts(invocations.end, cold)
    concurrency = _concurrency(busy_from, invocations.end, timeline)
    return Environments(
        invocations=len(invocations),
        cold_starts=int(np.count_nonzero(cold)),
        init_ms=percentiles(invocations.init_ms[cold], [*ps, 100.0]),
        max_concurrency=int(concurrency.max()) if len(concurrency) else 0,
        cold_per_second=cold_per_second,
        invocations_per_second=timeline.counts(invocations.end),
        concurrency_per_second=concurrency,
        environments_per_second=np.cumsum(cold_per_second),
        cold_by_region=invocations.log_region.counts(cold),
    )


def _concurrency(starts: FloatArray, ends: FloatArray, timeline: Timeline) -> IntArray:
    """Highest overlap of ``[start, end]`` intervals within each second of the timeline."""
    seconds = timeline.seconds
    if len(starts) == 0:
        return np.zeros(seconds, dtype=np.int64)
    # On whole microseconds: an invocation that starts the instant another ends
    # must not count as overlapping it because of a rounding error.
    times = np.rint(np.concatenate((starts, ends)) * 1e6).astype(np.int64)
    steps = np.concatenate((np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)))
    # At equal times an ending interval frees its environment before the next starts.
    order = np.lexsort((steps, times))
    times = times[order]
    level = np.cumsum(steps[order])
    edges = np.rint((timeline.start + np.arange(seconds + 1, dtype=np.float64)) * 1e6)
    bounds = np.searchsorted(times, edges.astype(np.int64), side="left")
    # The level carried into each second from the events before it.
    peak = np.where(bounds[:-1] > 0, level[np.maximum(bounds[:-1] - 1, 0)], 0)
    has_events = bounds[1:] > bounds[:-1]
    if has_events.any():
        # Seconds without events hold no index, so each segment of reduceat
        # ends exactly where its own second ends.
        within = level[: bounds[-1]]
        peak[has_events] = np.maximum(
            peak[has_events], np.maximum.reduceat(within, bounds[:-1][has_events])
        )
    result: IntArray = np.maximum(peak, 0).astype(np.int64)
    return result
