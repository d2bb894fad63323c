from __future__ import annotations

import calendar
import collections

import pytest

from loadtests._cloudfront_log import LogRequest
from loadtests._replay_schedule import (
    Window,
    WindowError,
    arrival_times,
    parse_window,
    replay_schedule,
)

T0 = float(calendar.timegm((2026, 11, 26, 17, 31, 48, 0, 0, 0)))


def request(finished: float, uri: str = "/a", taken: float = 0.0, method: str = "GET"):
    return LogRequest(finished, taken, method, uri, 200, 10, "test:1")


def test_requests_of_one_second_are_spread_evenly_and_time_taken_subtracted():
    requests = [request(T0, "/a"), request(T0, "/b"), request(T0 + 1, "/c", taken=0.5)]
    estimated = arrival_times(requests)
    assert [i for _, i in estimated] == [0, 1, 2]
    assert [t - T0 for t, _ in estimated] == pytest.approx([0.25, 0.75, 1.0])


def test_lines_out_of_order_are_replayed_in_time_order():
    requests = [request(T0 + 5, "/late"), request(T0, "/early"), request(T0 + 2, "/mid")]
    schedule = replay_schedule(requests)
    assert [r.uri for r in schedule] == ["/early", "/mid", "/late"]
    assert [r.offset for r in schedule] == pytest.approx([0, 2, 5])


def test_every_request_is_kept_with_method_and_query():
    requests = [
        request(T0 + i % 7, f"/k{i}?v={i}", method="HEAD" if i % 3 else "GET") for i in range(100)
    ]
    schedule = replay_schedule(requests)
    assert len(schedule) == 100
    assert collections.Counter((r.method, r.uri) for r in schedule) == collections.Counter(
        (r.method, r.uri) for r in requests
    )


def test_speedup_compresses_time():
    requests = [request(T0 + i) for i in range(11)]
    schedule = replay_schedule(requests, speedup=5)
    assert schedule[-1].offset == pytest.approx(2.0)


def test_multiply_scales_the_count_and_keeps_the_pace():
    requests = [request(T0 + i) for i in range(10)]
    schedule = replay_schedule(requests, multiply=3)
    assert len(schedule) == 30
    offsets = [r.offset for r in schedule]
    assert offsets == sorted(offsets)
    assert offsets[:4] == pytest.approx([0, 1 / 3, 2 / 3, 1])


def test_fractional_multiply_thins_evenly():
    requests = [request(T0 + i / 10) for i in range(100)]
    schedule = replay_schedule(requests, multiply=0.25)
    assert len(schedule) == 25


def test_multiply_only_inside_its_window():
    requests = [request(T0 + i) for i in range(30)]
    schedule = replay_schedule(requests, multiply=20, multiply_window=Window(10, 20, False))
    seconds = collections.Counter(int(r.offset) for r in schedule)
    assert seconds[5] == 1
    assert seconds[15] == 20
    assert seconds[25] == 1
    assert len(schedule) == 20 + 10 * 20


def test_window_crops_and_restarts_at_its_start():
    requests = [request(T0 + i) for i in range(60)]
    schedule = replay_schedule(requests, window=Window(10, 20, False))
    assert len(schedule) == 10
    assert schedule[0].offset == pytest.approx(0.5 - 0.5)  # the log's 10th second, from 0


def test_absolute_window():
    requests = [request(T0 + i) for i in range(60)]
    window = parse_window("2026-11-26T17:32:18Z/2026-11-26T17:32:28Z")
    schedule = replay_schedule(requests, window=window)
    assert len(schedule) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:20", Window(10, 20, False)),
        (":20", Window(None, 20, False)),
        ("5:", Window(5, None, False)),
        ("", None),
        ("2026-11-26T17:31:48Z/", Window(T0, None, True)),
    ],
)
def test_parse_window(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20:10", "after the start"),
        ("abc", "START:END"),
        ("x:10", "not a number"),
        ("-5:10", ">= 0"),
        ("yesterday/today", "ISO 8601"),
    ],
)
def test_bad_windows_name_the_option(text, message):
    with pytest.raises(WindowError, match=message) as caught:
        parse_window(text, "--multiply-window")
    assert "--multiply-window" in str(caught.value)


def test_bad_factors_are_rejected():
    with pytest.raises(ValueError, match="--speedup"):
        replay_schedule([request(T0)], speedup=0)
    with pytest.raises(ValueError, match="--multiply"):
        replay_schedule([request(T0)], multiply=-1)


def test_empty_log_or_window_gives_no_requests():
    assert replay_schedule([]) == []
    assert replay_schedule([request(T0)], window=Window(100, 200, False)) == []
