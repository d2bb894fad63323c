"""Scenario plans: what a drill will ask for, before it runs.

A plan turns a scenario's options into the whole schedule of requests: each
Locust process gets its own share (``tickets(slot, slots)``), and the master
gets the per-second targets of all of them (``targets(slots)``) for
``rate.csv``. Plans are deterministic for given options and seed, so every
worker computes the same schedule and takes its own slice of it, and the
master can count what was asked for without asking the workers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from loadtests._replay_schedule import ReplayRequest, Window, replay_schedule
from loadtests._schedule import Arrivals, RateProfile, arrivals, count_per_second

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from loadtests._cloudfront_log import ParsedLog
    from loadtests._popularity import ZipfKeys

SPIKE_NAME = "spike"
REPLAY_NAME = "replay"
MIN_POOL = 4


class Ticket(NamedTuple):
    """One scheduled request: due ``offset`` s after the run's start, what, and its stats name."""

    offset: float
    method: str
    path: str
    name: str


class Plan(Protocol):
    """What every scenario's plan offers the hooks."""

    scenario: str

    @property
    def duration(self) -> float:
        """Seconds the schedule lasts."""
        ...

    @property
    def peak_rps(self) -> float:
        """The highest request rate of the schedule."""
        ...

    def tickets(self, slot: int, slots: int) -> Iterator[Ticket]:
        """This slot's share of the schedule, in due order."""
        ...

    def targets(self, slots: int) -> list[float]:
        """Requests asked for in each second, all slots together."""
        ...

    def summary(self) -> dict[str, Any]:
        """Scenario facts for ``run.json``."""
        ...


def pool_size(peak_rps: float, latency_s: float, slots: int = 1) -> int:
    """Users needed to carry ``peak_rps`` when responses take up to ``latency_s`` (Little's law)."""
    needed = math.ceil(peak_rps * latency_s)
    return max(needed, MIN_POOL * slots)


@dataclass(slots=True)
class SpikePlan:
    """Arrival-rate spike over the distribution's keys, with Zipf popularity."""

    profile: RateProfile
    keys: ZipfKeys
    kind: Arrivals = Arrivals.UNIFORM
    seed: int = 0
    method: str = "GET"
    scenario: str = SPIKE_NAME
    _targets: dict[int, list[float]] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds the profile lasts."""
        return self.profile.duration

    @property
    def peak_rps(self) -> float:
        """The spike's peak rate."""
        return self.profile.peak

    def tickets(self, slot: int, slots: int) -> Iterator[Ticket]:
        """This slot's arrivals, each asking for a Zipf-drawn key."""
        rng = random.Random(f"edgedrill-keys:{self.seed}:{slot}")
        choose = self.keys.choose
        method = self.method
        name = self.scenario
        for offset in arrivals(self.profile, self.kind, slot=slot, slots=slots, seed=self.seed):
            yield Ticket(offset, method, "/" + choose(rng).lstrip("/"), name)

    def targets(self, slots: int) -> list[float]:
        """Requests scheduled per second over all slots."""
        if slots not in self._targets:
            seconds = math.ceil(self.profile.duration - 1e-9)
            counts = [0] * seconds
            for slot in range(slots):
                offsets = arrivals(self.profile, self.kind, slot=slot, slots=slots, seed=self.seed)
                for second, count in enumerate(count_per_second(offsets, seconds)):
                    counts[second] += count
            self._targets[slots] = [float(c) for c in counts]
        return self._targets[slots]

    def summary(self) -> dict[str, Any]:
        """The profile and popularity, for ``run.json``."""
        return {
            "profile": [
                {"start": s.start, "end": s.end, "rate_start": s.rate_start, "rate_end": s.rate_end}
                for s in self.profile.segments
            ],
            "arrivals": str(self.kind),
            "keys": len(self.keys.ranked),
            "scheduled": round(self.profile.total),
        }


@dataclass(slots=True)
class ReplayPlan:
    """The requests of a CloudFront access log, at their original pace (or scaled)."""

    requests: Sequence[ReplayRequest]
    log: ParsedLog
    speedup: float = 1.0
    multiply: float = 1.0
    window: Window | None = None
    multiply_window: Window | None = None
    scenario: str = REPLAY_NAME

    @classmethod
    def from_log(
        cls,
        log: ParsedLog,
        *,
        speedup: float = 1.0,
        multiply: float = 1.0,
        window: Window | None = None,
        multiply_window: Window | None = None,
    ) -> ReplayPlan:
        """Plan the replay of a parsed log."""
        schedule = replay_schedule(
            log.requests,
            speedup=speedup,
            multiply=multiply,
            window=window,
            multiply_window=multiply_window,
        )
        return cls(schedule, log, speedup, multiply, window, multiply_window)

    @property
    def duration(self) -> float:
        """Until just after the last request is due."""
        if not self.requests:
            return 0.0
        return self.requests[-1].offset + 1e-3

    @property
    def peak_rps(self) -> float:
        """The busiest second of the replay."""
        return max(self.targets(1), default=0.0)

    def tickets(self, slot: int, slots: int) -> Iterator[Ticket]:
        """Every ``slots``-th request of the replay, from ``slot``."""
        name = self.scenario
        for request in self.requests[slot::slots]:
            yield Ticket(request.offset, request.method, request.uri, name)

    def targets(self, slots: int) -> list[float]:
        """Requests due per second (the split between slots changes nothing)."""
        del slots
        return [float(c) for c in count_per_second(r.offset for r in self.requests)]

    def summary(self) -> dict[str, Any]:
        """The log and how it was replayed, for ``run.json``."""
        return {
            "log_files": list(self.log.files),
            "log_requests": len(self.log.requests),
            "scheduled": len(self.requests),
            "speedup": self.speedup,
            "multiply": self.multiply,
            "window": _window(self.window),
            "multiply_window": _window(self.multiply_window),
        }


def _window(window: Window | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {"start": window.start, "end": window.end, "absolute": window.absolute}
