"""Latency percentiles, over a whole run and over sliding N-second windows.

Percentiles are exact, by the nearest-rank rule: the p-th percentile is the
smallest recorded value with at least p % of the values at or below it
(numpy's ``inverted_cdf``). It is always a latency that some request really
had, which is what a threshold on "p99 under 800 ms" means; Locust's own
figures round to two significant digits instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from results.records import FloatArray, IntArray
    from results.timeline import Timeline

DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def percentile_label(p: float) -> str:
    """``99.9 -> "p99.9"``, ``50 -> "p50"``."""
    return f"p{p:g}"


def percentiles(values: FloatArray, ps: Sequence[float]) -> dict[float, float]:
    """Nearest-rank percentiles of ``values`` (NaN for each when there are none)."""
    if len(values) == 0:
        return dict.fromkeys(ps, math.nan)
    found = np.percentile(values, list(ps), method="inverted_cdf")
    return {p: float(v) for p, v in zip(ps, np.atleast_1d(found), strict=True)}


@dataclass(frozen=True, slots=True)
class WindowSeries:
    """Percentiles over the window of ``window_s`` seconds ending at each second."""

    window_s: int
    values: dict[float, FloatArray]  # percentile -> one value per second (NaN: no request)
    counts: IntArray  # requests in each window
    complete: int  # first second whose window lies wholly inside the run

    def worst(self, p: float, *, min_count: int = 1) -> tuple[float, int, int] | None:
        """``(value, window end second, requests)`` of the highest window, or None.

        Only whole windows count, unless the run is shorter than one window,
        and only windows holding at least ``min_count`` requests.
        """
        series = self.values[p]
        eligible = (self.counts >= max(min_count, 1)) & ~np.isnan(series)
        eligible[: self.complete] = False
        if not eligible.any():
            return None
        masked = np.where(eligible, series, -np.inf)
        at = int(np.argmax(masked))
        return float(series[at]), at, int(self.counts[at])

    def sparse(self, min_count: int) -> int:
        """Whole windows holding some requests but fewer than ``min_count`` (left out of worst)."""
        counts = self.counts[max(self.complete, 0) :]
        return int(np.count_nonzero((counts > 0) & (counts < min_count)))


def sliding_percentiles(
    timeline: Timeline,
    start: FloatArray,
    values: FloatArray,
    ps: Sequence[float],
    window_s: int,
) -> WindowSeries:
    """Percentiles of ``values`` (sorted by ``start``) over every ``window_s``-second window."""
    window_s = max(1, int(window_s))
    bounds = timeline.bounds(start)
    seconds = timeline.seconds
    out = {p: np.full(seconds, np.nan) for p in ps}
    counts = np.zeros(seconds, dtype=np.int64)
    qs = list(ps)
    for k in range(seconds):
        lo = bounds[max(0, k - window_s + 1)]
        hi = bounds[k + 1]
        counts[k] = hi - lo
        if hi > lo:
            found = np.percentile(values[lo:hi], qs, method="inverted_cdf")
            for p, v in zip(qs, found, strict=True):
                out[p][k] = v
    complete = window_s - 1 if seconds >= window_s else seconds - 1
    return WindowSeries(window_s=window_s, values=out, counts=counts, complete=complete)
