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
    # busy_from = end - (duration + init) / 1000, computed in place: one column's memory.
    busy_from = np.where(cold, invocations.init_ms, 0.0)
    busy_from += invocations.duration_ms
    busy_from /= 1000.0
    np.subtract(invocations.end, busy_from, out=busy_from)
    cold_per_second = timeline.counts(invocations.end, cold)
    concurrency = _concurrency(busy_from, invocations.end, timeline)
    del busy_from
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


def _micros(times: FloatArray) -> IntArray:
    """Epoch seconds on whole microseconds."""
    scaled = times * 1e6
    np.rint(scaled, out=scaled)
    return scaled.astype(np.int64)


_SLICE = 1 << 20  # starts handled at once: the temporaries stay this size


def _concurrency(starts: FloatArray, ends: FloatArray, timeline: Timeline) -> IntArray:
    """Highest overlap of ``[start, end]`` intervals within each second of the timeline.

    On whole microseconds: an invocation that starts the instant another ends
    must not count as overlapping it because of a rounding error, and at equal
    times an ending interval frees its environment before the next starts.
    The level only rises at a start, so a second's highest is the level it
    carries in or the level just after one of its starts: after the i-th
    start (in time order) it is i + 1 minus the intervals ended by then.
    """
    seconds = timeline.seconds
    if len(starts) == 0:
        return np.zeros(seconds, dtype=np.int64)
    begin = _micros(starts)
    begin.sort()
    end = _micros(ends)
    end.sort()
    edges = np.rint((timeline.start + np.arange(seconds + 1, dtype=np.float64)) * 1e6)
    edges_us = edges.astype(np.int64)
    # The level carried into each second: intervals begun before it, less those ended.
    started = np.searchsorted(begin, edges_us, side="left")
    peak = started[:-1] - np.searchsorted(end, edges_us[:-1], side="left")
    for lo in range(0, len(begin), _SLICE):
        chunk = begin[lo : lo + _SLICE]
        level = np.arange(lo + 1, lo + 1 + len(chunk), dtype=np.int64)
        level -= np.searchsorted(end, chunk, side="right")
        # Each start's second; starts outside the timeline count nowhere.
        second = np.searchsorted(edges_us, chunk, side="right") - 1
        inside = (second >= 0) & (second < seconds)
        np.maximum.at(peak, second[inside], level[inside])
    result: IntArray = np.maximum(peak, 0).astype(np.int64)
    return result
