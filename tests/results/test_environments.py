"""Cold starts and concurrent executions from REPORT lines."""

from __future__ import annotations

import math

import numpy as np

from results.environments import environments
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
