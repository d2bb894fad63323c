"""Arrival schedules: when each request of a drill is due.

Locust is a closed model: a user waits for its response before it sends the
next request, so a slow target quietly receives less load than asked for
(coordinated omission). edgedrill instead decides *when* every request starts
before the test runs, from a rate profile in requests per second, and measures
how late each one actually started.

A :class:`RateProfile` is a piecewise-linear rate ``r(t)`` over
``[0, duration)``. Arrivals are placed at the inverse of its integral
``Λ(t) = ∫ r``: evenly (the ``k``-th request at ``Λ⁻¹(k + ½)``, so every second
gets exactly the requests it asks for, give or take one) or as a Poisson
process of intensity ``r(t)`` (exponential gaps in ``Λ``-space).

Distributed runs split one schedule between ``slots`` workers: even arrivals
are dealt round-robin (worker ``i`` takes ``k ≡ i mod slots``), Poisson
arrivals are independent processes of rate ``r / slots`` whose superposition
is again Poisson with rate ``r``. Either way the workers together make the
whole profile, whatever their number.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence


class Arrivals(StrEnum):
    """How requests are placed within the rate profile."""

    UNIFORM = "uniform"
    POISSON = "poisson"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the profile where the rate changes linearly."""

    start: float
    end: float
    rate_start: float
    rate_end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            msg = f"segment must end after it starts, got [{self.start}, {self.end})"
            raise ValueError(msg)
        if self.rate_start < 0 or self.rate_end < 0:
            msg = f"rates must not be negative, got {self.rate_start} -> {self.rate_end}"
            raise ValueError(msg)

    @property
    def count(self) -> float:
        """Requests this segment asks for (the area under its rate)."""
        return (self.rate_start + self.rate_end) / 2 * (self.end - self.start)

    def rate(self, t: float) -> float:
        """The rate at ``t`` (``start <= t <= end``)."""
        slope = (self.rate_end - self.rate_start) / (self.end - self.start)
        return self.rate_start + slope * (t - self.start)

    def cumulative(self, t: float) -> float:
        """Requests asked for between ``start`` and ``t``."""
        dt = t - self.start
        slope = (self.rate_end - self.rate_start) / (self.end - self.start)
        return self.rate_start * dt + slope * dt * dt / 2

    def inverse(self, u: float) -> float:
        """The time at which ``u`` requests of this segment have been asked for."""
        slope = (self.rate_end - self.rate_start) / (self.end - self.start)
        # u = a*dt + slope/2*dt², solved in the form that stays exact when the
        # slope is zero or tiny next to a (no cancellation, no division by it).
        a = self.rate_start
        denominator = a + math.sqrt(max(a * a + 2 * slope * u, 0.0))
        if denominator <= 0:
            return self.end
        return self.start + 2 * u / denominator


class RateProfile:
    """A piecewise-linear request rate over ``[0, duration)``, in requests per second."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        if not segments:
            msg = "a rate profile needs at least one segment"
            raise ValueError(msg)
        for before, after in itertools.pairwise(segments):
            if abs(before.end - after.start) > 1e-9:
                msg = f"segments must be contiguous: {before.end} then {after.start}"
                raise ValueError(msg)
        if abs(segments[0].start) > 1e-9:
            msg = f"a rate profile starts at 0, not {segments[0].start}"
            raise ValueError(msg)
        self.segments: tuple[Segment, ...] = tuple(segments)
        starts = [0.0]
        for segment in self.segments:
            starts.append(starts[-1] + segment.count)
        self._count_starts = starts
        self._time_starts = [segment.start for segment in self.segments]

    @property
    def duration(self) -> float:
        """Seconds the profile lasts."""
        return self.segments[-1].end

    @property
    def total(self) -> float:
        """Requests the whole profile asks for."""
        return self._count_starts[-1]

    @property
    def peak(self) -> float:
        """The highest rate anywhere in the profile."""
        return max(max(s.rate_start, s.rate_end) for s in self.segments)

    def rate(self, t: float) -> float:
        """The rate at ``t``; 0 outside the profile."""
        if t < 0 or t >= self.duration:
            return 0.0
        index = bisect.bisect_right(self._time_starts, t) - 1
        return self.segments[index].rate(t)

    def cumulative(self, t: float) -> float:
        """``Λ(t)``: requests asked for between 0 and ``t``."""
        if t <= 0:
            return 0.0
        if t >= self.duration:
            return self.total
        index = bisect.bisect_right(self._time_starts, t) - 1
        return self._count_starts[index] + self.segments[index].cumulative(t)

    def inverse(self, u: float) -> float:
        """``Λ⁻¹(u)``: the earliest time by which ``u`` requests have been asked for."""
        if u <= 0:
            return 0.0
        if u >= self.total:
            return self.duration
        index = bisect.bisect_right(self._count_starts, u) - 1
        # Skip zero-rate segments: no request can fall inside them.
        while self.segments[index].count <= 0:
            index += 1
        segment = self.segments[index]
        return min(segment.inverse(u - self._count_starts[index]), segment.end)

    def per_second(self) -> list[float]:
        """Requests asked for in each whole second ``[s, s + 1)``."""
        seconds = math.ceil(self.duration - 1e-9)
        return [self.cumulative(s + 1) - self.cumulative(s) for s in range(seconds)]


def constant_profile(rate: float, duration: float) -> RateProfile:
    """A constant rate for ``duration`` seconds."""
    return RateProfile([Segment(0.0, duration, rate, rate)])


def spike_profile(
    *,
    baseline: float,
    factor: float,
    spike_at: float,
    hold: float,
    ramp: float = 0.0,
    after: float | None = None,
) -> RateProfile:
    """Baseline, a step (or ramp) to ``factor`` times it, a hold, and back.

    ``after`` is how long the baseline runs once the rate is back down
    (default: as long as before the spike).
    """
    for name, value in (("baseline", baseline), ("spike-at", spike_at), ("spike-hold", hold)):
        if value < 0 or not math.isfinite(value):
            msg = f"{name} must be a finite number >= 0, got {value}"
            raise ValueError(msg)
    if factor <= 0 or not math.isfinite(factor):
        msg = f"spike-factor must be a finite number > 0, got {factor}"
        raise ValueError(msg)
    if ramp < 0 or not math.isfinite(ramp):
        msg = f"ramp must be a finite number >= 0, got {ramp}"
        raise ValueError(msg)
    tail = spike_at if after is None else after
    if tail < 0 or not math.isfinite(tail):
        msg = f"the baseline after the spike must be >= 0 s, got {tail}"
        raise ValueError(msg)
    peak = baseline * factor
    points: list[tuple[float, float, float]] = [
        (spike_at, baseline, baseline),
        (ramp, baseline, peak),
        (hold, peak, peak),
        (ramp, peak, baseline),
        (tail, baseline, baseline),
    ]
    segments: list[Segment] = []
    t = 0.0
    for length, rate_start, rate_end in points:
        if length > 0:
            segments.append(Segment(t, t + length, rate_start, rate_end))
            t += length
    if not segments:
        msg = "the spike profile lasts 0 s: set --spike-at, --spike-hold or --ramp above 0"
        raise ValueError(msg)
    return RateProfile(segments)


def uniform_arrivals(profile: RateProfile, *, slot: int = 0, slots: int = 1) -> Iterator[float]:
    """Evenly spaced arrival offsets (seconds from the start) for one slot of ``slots``."""
    _check_slot(slot, slots)
    total = profile.total
    k = slot
    # Strictly below: an arrival at Λ = total would fall on ``duration`` itself,
    # outside the run (a total of n + ½ has n arrivals, the last at n - ½).
    while k + 0.5 < total:
        yield profile.inverse(k + 0.5)
        k += slots


def poisson_arrivals(
    profile: RateProfile, *, slot: int = 0, slots: int = 1, seed: int = 0
) -> Iterator[float]:
    """Poisson arrival offsets of intensity ``r(t) / slots`` for one slot."""
    _check_slot(slot, slots)
    rng = random.Random(f"edgedrill-poisson:{seed}:{slot}")
    total = profile.total
    u = rng.expovariate(1.0 / slots)
    while u < total:
        yield profile.inverse(u)
        u += rng.expovariate(1.0 / slots)


def arrivals(
    profile: RateProfile, kind: Arrivals, *, slot: int = 0, slots: int = 1, seed: int = 0
) -> Iterator[float]:
    """Arrival offsets of the given kind for one slot of ``slots``."""
    if kind is Arrivals.POISSON:
        return poisson_arrivals(profile, slot=slot, slots=slots, seed=seed)
    return uniform_arrivals(profile, slot=slot, slots=slots)


def count_per_second(offsets: Iterable[float], seconds: int | None = None) -> list[int]:
    """How many of ``offsets`` fall in each whole second from 0."""
    counts: list[int] = [0] * (seconds or 0)
    for offset in offsets:
        if offset < 0:
            continue
        second = int(offset)
        if second >= len(counts):
            if seconds is not None:
                continue
            counts.extend([0] * (second + 1 - len(counts)))
        counts[second] += 1
    return counts


def _check_slot(slot: int, slots: int) -> None:
    if slots < 1 or not 0 <= slot < slots:
        msg = f"slot {slot} is not within 0..{slots - 1}"
        raise ValueError(msg)
