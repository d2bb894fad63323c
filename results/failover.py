"""Failover time: from a fault's start until the error rate is back under its threshold.

Seconds are counted from the fault's own start (bin ``k`` is
``[fault.start + k, fault.start + k + 1)``), so a fault that starts mid-second
is measured at 1 s resolution from its start, not from the run's second grid.
Requests are binned by when they started: a request that hangs until its
timeout counts against the second it was sent in.

The error rate is *back* after the last second over the threshold, from the
fault's start to the end of the data, provided at least ``stable_s`` seconds
were observed after it (with at least one request); errors that begin late,
once a cached DNS answer expires, are still this fault's. If no second went
over the threshold the failover time is 0; if the data ends before
``stable_s`` clean seconds, there is none.

With several faults in a run, a fault's data ends where the next fault that
starts after it ended begins (:func:`observed_until`): a DNS fault followed by
a bucket outage is not charged with the outage's errors. Faults that overlap
cannot be told apart and share the data to its end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from results.records import BoolArray, FloatArray, IntArray
    from results.run_folder import Fault

DEFAULT_ERROR_RATE = 0.01
DEFAULT_STABLE_S = 5


@dataclass(frozen=True, slots=True)
class Failover:
    """How the viewers saw one fault."""

    fault: Fault
    failover_s: float | None  # None: the error rate never came back under the threshold
    peak_error_rate: float  # worst second from the fault's start to the end of the data
    impact_s: int  # seconds over the threshold before recovery
    error_rate_threshold: float
    stable_s: int
    after_fault_end: bool  # recovered only once the fault was lifted

    @property
    def recovered(self) -> bool:
        """Whether the error rate came back under the threshold."""
        return self.failover_s is not None


def failover(
    fault: Fault,
    start: FloatArray,
    failed: BoolArray,
    *,
    data_end: float,
    error_rate: float = DEFAULT_ERROR_RATE,
    stable_s: int = DEFAULT_STABLE_S,
) -> Failover:
    """Measure one fault against the per-request records (``start`` sorted)."""
    stable_s = max(1, int(stable_s))
    seconds = max(1, math.ceil(data_end - fault.start))
    # The last second may be partial: what comes after data_end is not this fault's.
    edges = np.minimum(fault.start + np.arange(seconds + 1, dtype=np.float64), data_end)
    bounds = np.searchsorted(start, edges, side="left")
    requests = np.diff(bounds)
    failed_before = np.concatenate(([0], np.cumsum(failed, dtype=np.int64)))
    failures = failed_before[bounds[1:]] - failed_before[bounds[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(requests > 0, failures / np.maximum(requests, 1), np.nan)
    over = requests > 0
    over &= rate > error_rate
    peak = float(np.nanmax(rate)) if np.any(requests > 0) else math.nan
    back = _back_under(over, requests, stable_s)
    lifted = fault.end is not None and back is not None and fault.start + back > fault.end
    return Failover(
        fault=fault,
        failover_s=float(back) if back is not None else None,
        peak_error_rate=peak,
        impact_s=int(np.count_nonzero(over)),
        error_rate_threshold=error_rate,
        stable_s=stable_s,
        after_fault_end=bool(lifted),
    )


def observed_until(faults: Sequence[Fault], data_end: float) -> list[float]:
    """Per fault, where its data ends: the next fault that starts after it ended, or the end."""
    ends: list[float] = []
    for fault in faults:
        end = fault.end_or(data_end)
        later = [other.start for other in faults if other.start >= end and other is not fault]
        ends.append(min([data_end, *later]))
    return ends


def _back_under(over: BoolArray, requests: IntArray, stable_s: int) -> int | None:
    """The second after the last one over the threshold, if ``stable_s`` clean ones follow."""
    if not np.any(requests > 0):
        return None
    if not np.any(over):
        return 0
    back = int(np.flatnonzero(over)[-1]) + 1
    if len(over) - back < stable_s or int(requests[back:].sum()) == 0:
        return None
    return back
