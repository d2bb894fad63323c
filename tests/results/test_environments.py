"""Cold starts and concurrent executions from REPORT lines."""

from __future__ import annotations

import math

import numpy as np
import pytest

import results.environments
from results.environments import _concurrency, environments
from results.logs import Invocations
from results.records import Categories
from results.timeline import Timeline


def _invocations(
    end: list[float], duration_ms: list[float], init_ms: list[float | None]
) -> Invocations:
    n = len(end)
    return Invocations(
        end=np.array(end),
        duration_ms=np.array(duration_ms),
        billed_ms=np.ceil(np.array(duration_ms)).astype(np.int64),
        memory_mb=np.full(n, 128),
        max_memory_mb=np.full(n, 60),
        init_ms=np.array([math.nan if i is None else i for i in init_ms]),
        log_region=Categories(("us-east-1",), np.zeros(n, dtype=np.int32)),
        status={},
    )


def test_cold_starts_and_concurrency_known_answer() -> None:
    timeline = Timeline(100.0, 4)
    # Busy intervals: [100.1, 100.5] cold (init 300 ms), [100.2, 101.3], [101.5, 101.6],
    # [99.0, 100.05] (began before the run) and [102.0, 102.0] (instantaneous).
    inv = _invocations(
        end=[100.5, 101.3, 101.6, 100.05, 102.0],
        duration_ms=[100.0, 1100.0, 100.0, 1050.0, 0.0],
        init_ms=[300.0, None, None, None, 5.0],
    )
    found = environments(inv, timeline, [50, 99])
    assert found.cold_starts == 2
    assert found.cold_per_second.tolist() == [1, 0, 1, 0]
    assert found.environments_per_second.tolist() == [1, 1, 2, 2]
    assert found.invocations_per_second.tolist() == [2, 2, 1, 0]
    # Second 0: the early one ends at 100.05, then two overlap from 100.2 to 100.5;
    # second 2 opens with the instantaneous one still busy until 102.000.
    assert found.concurrency_per_second.tolist() == [2, 1, 1, 0]
    assert found.max_concurrency == 2
    assert found.init_ms[50] == 5.0
    assert found.init_ms[100.0] == 300.0
    assert found.cold_by_region == {"us-east-1": 2}


def test_back_to_back_invocations_are_one_environment() -> None:
    timeline = Timeline(0.0, 1)
    inv = _invocations(end=[0.2, 0.4, 0.6], duration_ms=[200.0, 200.0, 200.0], init_ms=[None] * 3)
    assert environments(inv, timeline, [50]).max_concurrency == 1


def test_no_invocations() -> None:
    found = environments(_invocations([], [], []), Timeline(0.0, 3), [50])
    assert found.max_concurrency == 0
    assert found.concurrency_per_second.tolist() == [0, 0, 0]


def _walked(starts: np.ndarray, ends: np.ndarray, timeline: Timeline) -> list[int]:
    """Concurrency per second by walking every event in time order, one at a time."""
    us = [(round(float(t) * 1e6), +1) for t in starts] + [(round(float(t) * 1e6), -1) for t in ends]
    us.sort()  # at one instant an end (-1) comes before a start (+1)
    edges = [round((timeline.start + k) * 1e6) for k in range(timeline.seconds + 1)]
    peaks = []
    level = at = 0
    for k in range(timeline.seconds):
        while at < len(us) and us[at][0] < edges[k]:
            level += us[at][1]
            at += 1
        peak = level
        while at < len(us) and us[at][0] < edges[k + 1]:
            level += us[at][1]
            at += 1
            peak = max(peak, level)
        peaks.append(max(peak, 0))
    return peaks


@pytest.mark.parametrize("slice_size", [1, 3, 1 << 20])
def test_concurrency_per_second_equals_a_walk_through_every_event(
    monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    monkeypatch.setattr(results.environments, "_SLICE", slice_size)
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(0, 80))
        # Whole tenths and shared durations: many starts meet ends at one instant.
        ends = np.sort(1000.0 + rng.integers(-20, 130, n) / 10.0)
        starts = ends - rng.choice([0.0, 0.5, 1.0, 2.5], n)
        timeline = Timeline(1000.0, int(rng.integers(1, 14)))
        assert _concurrency(starts, ends, timeline).tolist() == _walked(starts, ends, timeline)
