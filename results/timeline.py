"""The run's 1 s time axis: second ``k`` covers ``[start + k, start + k + 1)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from results.records import BoolArray, FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class Timeline:
    """Seconds since the run's start, ``seconds`` of them."""

    start: float  # Unix epoch seconds
    seconds: int

    @classmethod
    def covering(cls, start: float, *ends: float) -> Timeline:
        """A timeline from ``start`` long enough to hold every time in ``ends``."""
        last = max((end for end in ends if math.isfinite(end)), default=start)
        return cls(start, max(1, math.ceil(last - start)))

    @property
    def axis(self) -> IntArray:
        """``0 .. seconds-1``, the x axis of every per-second series."""
        return np.arange(self.seconds, dtype=np.int64)

    def second_of(self, times: FloatArray) -> IntArray:
        """The second each epoch time falls in (may lie outside ``[0, seconds)``)."""
        return np.floor(times - self.start).astype(np.int64)

    def bounds(self, sorted_times: FloatArray) -> IntArray:
        """Offsets into time-sorted data: second ``k`` is ``[bounds[k], bounds[k+1])``.

        Data before the start or after the last second falls outside every second.
        """
        edges = self.start + np.arange(self.seconds + 1, dtype=np.float64)
        found: IntArray = np.searchsorted(sorted_times, edges, side="left").astype(np.int64)
        return found

    def counts(self, times: FloatArray, mask: BoolArray | None = None) -> IntArray:
        """How many times (under ``mask``) fall in each second."""
        seconds = self.second_of(times if mask is None else times[mask])
        inside = (seconds >= 0) & (seconds < self.seconds)
        counted: IntArray = np.bincount(seconds[inside], minlength=self.seconds).astype(np.int64)
        return counted

    def sums(self, times: FloatArray, values: FloatArray | IntArray) -> FloatArray:
        """The sum of ``values`` in each second."""
        seconds = self.second_of(times)
        inside = (seconds >= 0) & (seconds < self.seconds)
        summed = np.bincount(
            seconds[inside], weights=values[inside].astype(np.float64), minlength=self.seconds
        )
        return np.asarray(summed, dtype=np.float64)

    def outside(self, times: FloatArray) -> int:
        """How many times fall outside the timeline."""
        seconds = self.second_of(times)
        return int(np.count_nonzero((seconds < 0) | (seconds >= self.seconds)))
