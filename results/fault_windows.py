"""What each fault did inside its window: where the misses went, the router's DNS, the errors.

:mod:`results.failover` measures a fault by what the viewers saw (the error
rate back under a threshold). This module measures it by where the path sent
the traffic, which an origin group's retry hides from the error rate:

* A fault that breaks one origin region (target ``s3:<region>``, or
  ``origin-dns:fail`` with a region) is measured from ``requests.csv``'s
  ``origin_region``, the region that answered each cache miss (the local
  edge's ``x-edgedrill-origin-region`` header; empty on hits). A miss the
  region answered with an error still reached it. Only the misses the fault
  held for their whole request count (begun in the window, ended by its end):
  one still in flight at the rollback may be answered by the mended region.

  - ``failover_s``: from the fault's start to the start of the last miss that
    region answered before the fault's end; 0 when none did. ``None`` when the
    window's last miss was still answered there (misses never stopped reaching
    it while the fault held) or when no miss fell in the window.
  - ``failback_s``: from the fault's end to the start of the first miss that
    region answered again; ``None`` when none did before the data ends, or the
    fault never ended.

* A fault on the router's own lookup of the routing name (``dns:*``) is
  measured from the router's EMF lines: the share of invocations in the window
  whose answer was served stale (RFC 8767) or fell back to the default origin.

Requests are placed by their start time and router lines by their log time,
as everywhere in the analysis. A window is ``[start, end)``; a fault still
active when the run ended lasts to the end of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from results.logs import Routes
    from results.records import BoolArray, Categories, FloatArray, RequestRecords
    from results.run_folder import Fault

@dataclass(frozen=True, slots=True)
class ServedRegion:
    """How cache misses left the faulted region and came back to it."""

    region: str
    failover_s: float | None  # None: misses still reached the region when the fault ended
    failback_s: float | None  # None: no miss reached the region again within the run
    misses: int  # misses answered by any region during the window
    misses_to_region: int  # of them, answered by the faulted region


@dataclass(frozen=True, slots=True)
class RouterDns:
    """The router's DNS cache states during a fault on its lookup."""

    invocations: int
    stale: int
    fallback: int

    @property
    def absorbed_share(self) -> float:
        """Share of invocations served stale or on the fallback origin (NaN without any)."""
        if not self.invocations:
            return math.nan
        return (self.stale + self.fallback) / self.invocations


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """One fault, measured over its own window."""

    fault: Fault
    start_offset_s: float  # from the run's start
    duration_s: float | None  # None: still active when the run ended
    requests: int  # viewer requests that started in the window
    errors: int  # of them, failed
    served: ServedRegion | None  # None: not a region fault, or no origin_region in the run
    router_dns: RouterDns | None  # None: not on the router's lookup, or no router lines

    @property
    def error_rate(self) -> float:
        """Failed share of the window's requests (NaN without any)."""
        return self.errors / self.requests if self.requests else math.nan


def has_served_regions(records: RequestRecords) -> bool:
    """Whether any request names the region that answered it (local distribution runs)."""
    return any(records.origin_region.labels)


def fault_windows(
    faults: Sequence[Fault],
    records: RequestRecords,
    routes: Routes | None,
    *,
    run_start: float,
    data_end: float,
) -> tuple[FaultWindow, ...]:
    """Measure every fault over its window (``records`` sorted by start)."""
    served_data = has_served_regions(records)
    failed = records.failed
    windows: list[FaultWindow] = []
    for fault in faults:
        end = fault.end_or(data_end)
        lo, hi = np.searchsorted(records.start, [fault.start, end], side="left")
        region = fault.faulted_region
        served = None
        if served_data and region is not None:
            served = served_region(
                fault,
                region,
                records.start,
                records.duration_ms,
                records.origin_region,
                data_end,
            )
        router_dns = None
        if fault.on_router_dns and routes is not None and len(routes):
            router_dns = _router_dns(routes, fault.start, end)
        windows.append(
            FaultWindow(
                fault=fault,
                start_offset_s=fault.start - run_start,
                duration_s=fault.end - fault.start if fault.end is not None else None,
                requests=int(hi - lo),
                errors=int(np.count_nonzero(failed[lo:hi])),
                served=served,
                router_dns=router_dns,
            )
        )
    return tuple(windows)


def served_region(
    fault: Fault,
    region: str,
    start: FloatArray,
    duration_ms: FloatArray,
    origin: Categories,
    data_end: float,
) -> ServedRegion:
    """Failover and failback of ``region`` from the answering region of each miss."""
    end = fault.end_or(data_end)
    lo, hi = (int(i) for i in np.searchsorted(start, [fault.start, end], side="left"))
    answered: BoolArray = origin.mask([bool(label) for label in origin.labels])
    to_region: BoolArray = origin.label_mask(region)
    held = start[lo:hi] + duration_ms[lo:hi] / 1000.0 <= end  # not in flight at the end
    inside_answered = np.flatnonzero(answered[lo:hi] & held)
    inside_region = np.flatnonzero(to_region[lo:hi] & held)
    failover_s: float | None
    if not len(inside_answered):
        failover_s = None
    elif not len(inside_region):
        failover_s = 0.0
    elif inside_region[-1] == inside_answered[-1]:
        failover_s = None
    else:
        failover_s = float(start[lo + inside_region[-1]] - fault.start)
    failback_s: float | None = None
    if fault.end is not None:
        back = np.flatnonzero(to_region[hi:])
        if len(back):
            failback_s = float(start[hi + back[0]] - fault.end)
    return ServedRegion(
        region=region,
        failover_s=failover_s,
        failback_s=failback_s,
        misses=len(inside_answered),
        misses_to_region=len(inside_region),
    )


def _router_dns(routes: Routes, start: float, end: float) -> RouterDns:
    lo, hi = (int(i) for i in np.searchsorted(routes.time, [start, end], side="left"))
    states = routes.cache_state
    inside = states.codes[lo:hi]
    labels = states.labels

    def count(state: str) -> int:
        if state not in labels:
            return 0
        return int(np.count_nonzero(inside == labels.index(state)))

    return RouterDns(invocations=hi - lo, stale=count("stale"), fallback=count("fallback"))
