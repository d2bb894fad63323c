"""How a run's columns are kept: narrow types, joined chunks, per-second counts in slices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import results.timeline
from results.records import Categories, in_order, narrow, sorted_columns
from results.timeline import Timeline


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([0, 200, 503], np.int16),
        ([-32768, 32767], np.int16),
        ([0, 32768], np.int32),
        ([1024, 2**31 - 1], np.int32),
        ([0, 2**31], np.int64),
        ([-(2**40), 5], np.int64),
        ([], np.int64),
    ],
)
def test_whole_numbers_take_the_narrowest_type_that_holds_them(
    values: list[int], kind: type
) -> None:
    column = np.array(values, dtype=np.int64)
    narrowed = narrow(column)
    assert narrowed.dtype == kind
    assert narrowed.tolist() == values


def test_category_codes_take_one_byte_for_a_few_labels_and_more_for_many() -> None:
    few = Categories(("a", "b", "c"), np.array([0, 2, 1, 2], dtype=np.int32))
    assert few.codes.dtype == np.uint8
    assert few.counts() == {"a": 1, "b": 1, "c": 2}
    assert few.label_mask("c").tolist() == [False, True, False, True]
    labels = tuple(f"e{k}" for k in range(300))
    many = Categories(labels, np.arange(300, dtype=np.int32)[::-1])
    assert many.codes.dtype == np.uint16
    assert many.counts()["e299"] == 1
    joined = Categories.concatenate([few, many])
    assert joined.labels[:3] == ("a", "b", "c")
    assert joined.counts()["c"] == 2
    assert joined.codes.dtype == np.uint16


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), max_size=60), st.integers(1, 4))
def test_joined_chunks_are_what_a_stable_sort_of_the_whole_gives(
    keys: list[float], parts: int
) -> None:
    key = np.array(keys)
    payload = np.arange(len(key), dtype=np.int64)  # ties keep file order
    cuts = np.linspace(0, len(key), parts + 1).astype(int)
    chunks: list[tuple[np.ndarray, ...]] = [
        (key[a:b], payload[a:b]) for a, b in itertools.pairwise(cuts)
    ]
    joined_key, joined_payload = sorted_columns(chunks)
    order = np.argsort(key, kind="stable")
    assert joined_key.tolist() == key[order].tolist()
    assert joined_payload.tolist() == payload[order].tolist()
    assert chunks == []


def test_in_order_says_no_to_a_step_back_or_a_nan() -> None:
    assert in_order(np.array([1.0, 1.0, 2.0]))
    assert in_order(np.zeros(0))
    assert not in_order(np.array([1.0, 3.0, 2.0]))
    assert not in_order(np.array([1.0, np.nan, 2.0]))


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_per_second_counts_in_slices_equal_one_count_of_everything(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    monkeypatch.setattr(results.timeline, "SLICE", size)
    rng = np.random.default_rng(11)
    timeline = Timeline(1000.0, 20)
    times = np.sort(1000.0 + rng.uniform(-3.0, 24.0, 500))  # some outside the run
    mask = rng.random(500) < 0.3
    values = rng.integers(0, 4, 500)
    seconds = np.floor(times - 1000.0).astype(np.int64)
    inside = (seconds >= 0) & (seconds < 20)
    expected = [int(np.count_nonzero(inside & (seconds == k))) for k in range(20)]
    expected_masked = [int(np.count_nonzero(inside & mask & (seconds == k))) for k in range(20)]
    expected_sums = [float(values[inside & (seconds == k)].sum()) for k in range(20)]
    assert timeline.counts(times).tolist() == expected
    assert timeline.counts(times, mask).tolist() == expected_masked
    assert timeline.sums(times, values).tolist() == expected_sums
    assert timeline.counts(times).dtype == np.int64
