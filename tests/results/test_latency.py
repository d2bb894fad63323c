"""Nearest-rank percentiles and sliding windows, on records with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from results.latency import percentile_label, percentiles, sliding_percentiles
from results.timeline import Timeline


def test_nearest_rank_on_one_to_a_hundred() -> None:
    values = np.arange(1.0, 101.0)
    np.random.default_rng(3).shuffle(values)
    found = percentiles(values, [50, 90, 99, 99.9, 100])
    assert found == {50: 50.0, 90: 90.0, 99: 99.0, 99.9: 100.0, 100: 100.0}


def test_nearest_rank_is_a_recorded_value() -> None:
    # Interpolation would say 25 for the median of four; nearest rank says 20.
    assert percentiles(np.array([40.0, 10.0, 30.0, 20.0]), [50, 75, 76]) == {
        50: 20.0,
        75: 30.0,
        76: 40.0,
    }


def test_no_values_gives_nan() -> None:
    assert all(math.isnan(v) for v in percentiles(np.zeros(0), [50, 99]).values())


def test_labels() -> None:
    assert [percentile_label(p) for p in (50, 99.0, 99.9)] == ["p50", "p99", "p99.9"]


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200), st.floats(0.1, 100))
def test_percentile_meets_the_rank_definition(values: list[float], p: float) -> None:
    array = np.array(values)
    found = percentiles(array, [p])[p]
    n = len(array)
    at_or_below = np.count_nonzero(array <= found)
    below = np.count_nonzero(array < found)
    assert found in array
    assert at_or_below >= math.ceil(p / 100 * n - 1e-9)
    assert below < max(math.ceil(p / 100 * n - 1e-9), 1)


def test_sliding_windows_known_answers() -> None:
    timeline = Timeline(1000.0, 6)
    # Second k holds the latencies k*10+1 .. k*10+3, except second 3, which is empty.
    starts, values = [], []
    for k in (0, 1, 2, 4, 5):
        for j in (1, 2, 3):
            starts.append(1000.0 + k + j / 10)
            values.append(k * 10.0 + j)
    series = sliding_percentiles(timeline, np.array(starts), np.array(values), [50, 100], 3)
    # Window ending at 2 covers seconds 0..2: nine values 1,2,3,11,..,23; rank 5 is 12.
    assert series.values[50][2] == 12.0
    assert series.values[100][2] == 23.0
    assert series.counts.tolist() == [3, 6, 9, 6, 6, 6]
    # Window ending at 4 covers 2..4 (3 empty): 21,22,23,41,42,43.
    assert series.values[50][4] == 23.0
    # Only whole windows (ending at 2 or later) are candidates for the worst.
    assert series.worst(100) == (53.0, 5, 6)
    assert series.worst(100, min_count=7) == (23.0, 2, 9)
    assert series.worst(100, min_count=10) is None


def test_a_run_shorter_than_the_window_is_one_window() -> None:
    timeline = Timeline(0.0, 3)
    series = sliding_percentiles(
        timeline, np.array([0.5, 1.5, 2.5]), np.array([5.0, 1.0, 3.0]), [100], 10
    )
    assert series.worst(100) == (5.0, 2, 3)


def test_times_outside_the_timeline_are_not_counted() -> None:
    timeline = Timeline(10.0, 2)
    series = sliding_percentiles(
        timeline, np.array([9.5, 10.5, 11.5, 12.5]), np.array([100.0, 1.0, 2.0, 300.0]), [100], 1
    )
    assert series.values[100].tolist() == [1.0, 2.0]
    assert timeline.outside(np.array([9.5, 10.5, 11.5, 12.5])) == 2


@pytest.mark.parametrize(("ends", "expected"), [((10.0,), 1), ((10.2, 13.5), 4), ((9.0,), 1)])
def test_timeline_covers_its_ends(ends: tuple[float, ...], expected: int) -> None:
    assert Timeline.covering(10.0, *ends).seconds == expected
