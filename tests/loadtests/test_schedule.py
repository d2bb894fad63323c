from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from loadtests._schedule import (
    Arrivals,
    RateProfile,
    Segment,
    arrivals,
    constant_profile,
    count_per_second,
    poisson_arrivals,
    spike_profile,
    uniform_arrivals,
)


def test_spike_profile_steps_to_factor_times_baseline_and_back():
    profile = spike_profile(baseline=5, factor=20, spike_at=10, hold=20, ramp=0, after=5)
    assert profile.duration == 35
    assert profile.rate(0) == 5
    assert profile.rate(9.99) == 5
    assert profile.rate(10) == 100
    assert profile.rate(29.99) == 100
    assert profile.rate(30) == 5
    assert profile.total == pytest.approx(5 * 10 + 100 * 20 + 5 * 5)
    assert profile.peak == 100


def test_spike_profile_ramps_linearly():
    profile = spike_profile(baseline=10, factor=3, spike_at=2, hold=2, ramp=4, after=0)
    assert profile.duration == 12
    assert profile.rate(4) == pytest.approx(20)  # half-way up the ramp
    assert profile.rate(10) == pytest.approx(20)  # half-way down
    assert profile.cumulative(6) == pytest.approx(10 * 2 + (10 + 30) / 2 * 4)


def test_cooldown_defaults_to_the_baseline_before_the_spike():
    profile = spike_profile(baseline=1, factor=2, spike_at=7, hold=1)
    assert profile.duration == 15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": -1, "factor": 2, "spike_at": 1, "hold": 1}, "baseline"),
        ({"baseline": 1, "factor": 0, "spike_at": 1, "hold": 1}, "spike-factor"),
        ({"baseline": 1, "factor": 2, "spike_at": math.inf, "hold": 1}, "spike-at"),
        ({"baseline": 1, "factor": 2, "spike_at": 1, "hold": -2}, "spike-hold"),
        ({"baseline": 1, "factor": 2, "spike_at": 1, "hold": 1, "ramp": -1}, "ramp"),
        ({"baseline": 1, "factor": 2, "spike_at": 0, "hold": 0, "after": 0}, "lasts 0 s"),
    ],
)
def test_spike_profile_rejects_bad_values_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        spike_profile(**kwargs)


def test_profile_rejects_gaps_and_negative_rates():
    with pytest.raises(ValueError, match="contiguous"):
        RateProfile([Segment(0, 1, 1, 1), Segment(2, 3, 1, 1)])
    with pytest.raises(ValueError, match="negative"):
        Segment(0, 1, -1, 1)
    with pytest.raises(ValueError, match="starts at 0"):
        RateProfile([Segment(1, 2, 1, 1)])


def test_uniform_arrivals_give_every_second_its_target():
    profile = spike_profile(baseline=7, factor=20, spike_at=3, hold=4, after=3)
    counts = count_per_second(uniform_arrivals(profile), 10)
    assert counts == [7, 7, 7, 140, 140, 140, 140, 7, 7, 7]


def test_uniform_arrivals_split_between_slots_add_up_to_the_whole():
    profile = spike_profile(baseline=3.3, factor=11, spike_at=2.5, hold=3.2, ramp=1.3, after=2)
    whole = list(uniform_arrivals(profile))
    parts = [list(uniform_arrivals(profile, slot=s, slots=3)) for s in range(3)]
    assert sorted(t for part in parts for t in part) == pytest.approx(whole)
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


def test_no_arrival_falls_on_the_end_of_the_profile():
    # The default spike with a 15.5 s cooldown asks for 2,652.5 requests in 55.5 s:
    # an arrival at the 2,653rd half-step would land on 55.5 itself, after the run.
    profile = spike_profile(baseline=5, factor=20, spike_at=15, hold=25, after=15.5)
    assert (profile.total, profile.duration) == (2652.5, 55.5)
    times = list(uniform_arrivals(profile))
    assert len(times) == 2652
    assert max(times) < profile.duration
    assert sum(count_per_second(times)) == 2652
    assert len(count_per_second(times)) == 56


def test_arrivals_skip_zero_rate_segments():
    profile = RateProfile([Segment(0, 2, 0, 0), Segment(2, 3, 10, 10)])
    times = list(uniform_arrivals(profile))
    assert len(times) == 10
    assert all(2 <= t < 3 for t in times)


def test_poisson_arrivals_have_the_profiles_rate_and_are_reproducible():
    profile = constant_profile(200, 50)
    first = list(poisson_arrivals(profile, seed=3))
    again = list(poisson_arrivals(profile, seed=3))
    other = list(poisson_arrivals(profile, seed=4))
    assert first == again
    assert first != other
    # 10,000 expected; a Poisson count is within 4 sigma (400) of it.
    assert abs(len(first) - 10_000) < 400
    assert first == sorted(first)


def test_poisson_slots_are_independent_streams_of_a_share_of_the_rate():
    profile = constant_profile(100, 100)
    parts = [list(arrivals(profile, Arrivals.POISSON, slot=s, slots=2, seed=1)) for s in range(2)]
    assert parts[0] != parts[1]
    for part in parts:
        assert abs(len(part) - 5_000) < 300


def test_bad_slot_is_rejected():
    with pytest.raises(ValueError, match="slot 2"):
        list(uniform_arrivals(constant_profile(1, 1), slot=2, slots=2))


def test_per_second_targets_of_a_profile():
    profile = spike_profile(baseline=2, factor=10, spike_at=1.5, hold=1, after=0.5)
    assert profile.per_second() == pytest.approx([2, 11, 11])


def test_count_per_second_grows_or_clips():
    assert count_per_second([0.1, 0.2, 2.5, -1]) == [2, 0, 1]
    assert count_per_second([0.1, 5.0], 2) == [1, 0]


_segments = st.lists(
    st.tuples(
        st.floats(min_value=0.05, max_value=5),
        st.floats(min_value=0, max_value=50),
        st.floats(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=6,
)


def _profile(parts):
    segments, t = [], 0.0
    for length, a, b in parts:
        segments.append(Segment(t, t + length, a, b))
        t += length
    return RateProfile(segments)


@settings(max_examples=60, deadline=None)
@given(_segments, st.floats(min_value=0, max_value=1))
@example([(1.0, 0.0, 3.4e-20)], 0.5)  # a ramp from 0 with a vanishing slope
def test_inverse_undoes_cumulative(parts, share):
    profile = _profile(parts)
    u = share * profile.total
    t = profile.inverse(u)
    assert 0 <= t <= profile.duration + 1e-9
    assert profile.cumulative(t) == pytest.approx(u, abs=1e-6 * max(1.0, profile.total))


@settings(max_examples=60, deadline=None)
@given(_segments)
def test_uniform_arrivals_are_ordered_and_as_many_as_asked(parts):
    profile = _profile(parts)
    times = list(uniform_arrivals(profile))
    assert times == sorted(times)
    assert len(times) == max(math.ceil(profile.total - 0.5), 0)
    assert all(0 <= t < profile.duration for t in times)
