"""The run's 1 s time axis: second ``k`` covers ``[start + k, start + k + 1)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from results.records import BoolArray, FloatArray, IntArray


# Times taken at once by the per-second counts: their temporaries stay this
# size, whatever the run's length.
SLICE = 1 << 20


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
        offsets = times - self.start
        np.floor(offsets, out=offsets)
        return offsets.astype(np.int64)

    def bounds(self, sorted_times: FloatArray) -> IntArray:
        """Offsets into time-sorted data: second ``k`` is ``[bounds[k], bounds[k+1])``.

        Data before the start or after the last second falls outside every second.
        """
        edges = self.start + np.arange(self.seconds + 1, dtype=np.float64)
        found: IntArray = np.searchsorted(sorted_times, edges, side="left").astype(np.int64)
        return found

    def counts(self, times: FloatArray, mask: BoolArray | None = None) -> IntArray:
        """How many times (under ``mask``) fall in each second."""
        counted = np.zeros(self.seconds, dtype=np.int64)
        for lo in range(0, len(times), SLICE):
            part = times[lo : lo + SLICE]
            if mask is not None:
                part = part[mask[lo : lo + SLICE]]
            seconds = self.second_of(part)
            inside = (seconds >= 0) & (seconds < self.seconds)
            counted += np.bincount(seconds[inside], minlength=self.seconds)
        return counted

    def sums(self, times: FloatArray, values: FloatArray | IntArray) -> FloatArray:
        """The sum of ``values`` in each second (exact for whole numbers, as counts are)."""
        summed = np.zeros(self.seconds, dtype=np.float64)
        for lo in range(0, len(times), SLICE):
            seconds = self.second_of(times[lo : lo + SLICE])
            inside = (seconds >= 0) & (seconds < self.seconds)
            weights = values[lo : lo + SLICE][inside].astype(np.float64)
            summed += np.bincount(seconds[inside], weights=weights, minlength=self.seconds)
        return summed

    def outside(self, times: FloatArray) -> int:
        """How many times fall outside the timeline."""
        seconds = self.second_of(times)
        return int(np.count_nonzero((seconds < 0) | (seconds >= self.seconds)))
