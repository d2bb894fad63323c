"""The DNS cache's rules, driven by a fake clock and a scripted resolver."""

from __future__ import annotations

from typing import Any

import pytest

from router.dns_cache import CacheState, DnsCache
from router.resolver import LookupResult, LookupStatus
from tests.router.conftest import (
    EUW1,
    USE1,
    FakeClock,
    ScriptedResolver,
    answer,
    failure,
    make_config,
    nxdomain,
)


def make_cache(
    clock: FakeClock, *results: LookupResult, **config: Any
) -> tuple[DnsCache, ScriptedResolver]:
    resolver = ScriptedResolver(list(results))
    return DnsCache(make_config(**config), resolver, clock=clock), resolver


def test_first_lookup_is_a_miss_then_hits_until_ttl(clock: FakeClock) -> None:
    cache, resolver = make_cache(clock, answer(USE1, EUW1, ttl=60))
    first = cache.lookup(0.02)
    assert first.state is CacheState.MISS
    assert first.values == (USE1, EUW1)
    assert first.queries == 1
    clock.advance(59.9)
    assert cache.lookup(0.02).state is CacheState.HIT
    assert len(resolver.calls) == 1
    clock.advance(0.2)
    assert cache.lookup(0.02).state is CacheState.MISS
    assert len(resolver.calls) == 2


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [(0, 5), (1, 5), (60, 60), (86_400, 300)],
)
def test_ttl_is_clamped_to_min_and_max(clock: FakeClock, ttl: int, expected: int) -> None:
    cache, resolver = make_cache(clock, answer(USE1, ttl=ttl), min_ttl=5, max_ttl=300)
    cache.lookup(0.02)
    clock.advance(expected - 0.01)
    assert cache.lookup(0.02).state is CacheState.HIT
    clock.advance(0.02)
    assert cache.lookup(0.02).state is CacheState.MISS
    assert len(resolver.calls) == 2


def test_nxdomain_is_cached_negatively_for_the_soa_ttl(clock: FakeClock) -> None:
    cache, resolver = make_cache(clock, nxdomain(ttl=40), answer(USE1))
    first = cache.lookup(0.02)
    assert first.state is CacheState.NEGATIVE
    assert first.values == ()
    clock.advance(39)
    assert cache.lookup(0.02).state is CacheState.NEGATIVE
    assert len(resolver.calls) == 1
    clock.advance(2)
    assert cache.lookup(0.02).state is CacheState.MISS


def test_negative_answer_without_soa_uses_negative_ttl(clock: FakeClock) -> None:
    cache, resolver = make_cache(
        clock, LookupResult(LookupStatus.NODATA, queries=1), answer(USE1), negative_ttl=12
    )
    assert cache.lookup(0.02).state is CacheState.NEGATIVE
    clock.advance(11)
    assert cache.lookup(0.02).state is CacheState.NEGATIVE
    clock.advance(2)
    assert cache.lookup(0.02).state is CacheState.MISS
    assert len(resolver.calls) == 2


def test_nxdomain_replaces_a_positive_answer_and_is_not_served_stale(clock: FakeClock) -> None:
    cache, _ = make_cache(clock, answer(USE1, ttl=10), nxdomain(ttl=30), failure())
    cache.lookup(0.02)
    clock.advance(11)
    assert cache.lookup(0.02).state is CacheState.NEGATIVE
    clock.advance(31)
    # The record was deleted on purpose: a later failure has nothing stale to serve.
    assert cache.lookup(0.02).state is CacheState.FALLBACK


def test_failed_refresh_serves_stale_and_backs_off(clock: FakeClock) -> None:
    cache, resolver = make_cache(clock, answer(USE1, EUW1, ttl=10), failure("SERVFAIL"))
    cache.lookup(0.02)
    clock.advance(15)
    stale = cache.lookup(0.02)
    assert stale.state is CacheState.STALE
    assert stale.values == (USE1, EUW1)
    assert "SERVFAIL" in stale.reason
    assert stale.stale_age == pytest.approx(5)
    assert len(resolver.calls) == 2
    # RFC 8767: the failing server is not asked again for 30 s; the stale
    # answer keeps being served meanwhile.
    for _ in range(29):
        clock.advance(1)
        result = cache.lookup(0.02)
        assert result.state is CacheState.STALE
        assert result.queries == 0
    assert len(resolver.calls) == 2
    clock.advance(1.5)
    assert cache.lookup(0.02).state is CacheState.STALE
    assert len(resolver.calls) == 3


def test_recovery_after_stale_is_a_miss_with_the_new_answer(clock: FakeClock) -> None:
    cache, _ = make_cache(clock, answer(USE1, ttl=10), failure(), answer(EUW1, ttl=10))
    cache.lookup(0.02)
    clock.advance(11)
    assert cache.lookup(0.02).state is CacheState.STALE
    clock.advance(31)
    recovered = cache.lookup(0.02)
    assert recovered.state is CacheState.MISS
    assert recovered.values == (EUW1,)


def test_stale_data_is_dropped_after_max_stale(clock: FakeClock) -> None:
    cache, _ = make_cache(clock, answer(USE1, ttl=10), failure(), max_stale=100)
    cache.lookup(0.02)
    clock.advance(50)
    assert cache.lookup(0.02).state is CacheState.STALE
    clock.advance(61)  # 101 s past expiry
    result = cache.lookup(0.02)
    assert result.state is CacheState.FALLBACK
    assert "too old" in result.reason


def test_failure_with_nothing_cached_falls_back_and_backs_off(clock: FakeClock) -> None:
    cache, resolver = make_cache(clock, failure("timeout"))
    first = cache.lookup(0.02)
    assert first.state is CacheState.FALLBACK
    assert "timeout" in first.reason
    clock.advance(10)
    second = cache.lookup(0.02)
    assert second.state is CacheState.FALLBACK
    assert second.queries == 0
    assert len(resolver.calls) == 1


def test_a_resolver_that_raises_is_a_failure_not_an_exception(clock: FakeClock) -> None:
    class Exploding:
        def lookup_txt(self, name: str, timeout: float) -> LookupResult:
            raise RuntimeError("boom")

    cache = DnsCache(make_config(), Exploding(), clock=clock)
    result = cache.lookup(0.02)
    assert result.state is CacheState.FALLBACK
    assert "boom" in result.reason


def test_lookup_passes_the_timeout_to_the_resolver(clock: FakeClock) -> None:
    cache, resolver = make_cache(clock, answer(USE1))
    cache.lookup(0.013)
    assert resolver.calls == [("origins.test", 0.013)]


def test_answers_without_query_tells_whether_the_next_lookup_asks_dns(clock: FakeClock) -> None:
    cache, resolver = make_cache(clock, answer(USE1, ttl=10), failure("SERVFAIL"))
    assert not cache.answers_without_query()
    cache.lookup(0.02)
    assert cache.answers_without_query()
    assert cache.answers_without_query(within=9.0)
    assert not cache.answers_without_query(within=10.5)
    clock.advance(10.5)
    assert not cache.answers_without_query()
    cache.lookup(0.02)  # the refresh fails: stale is served, DNS is not asked meanwhile
    assert cache.answers_without_query(within=5.0)
    assert len(resolver.calls) == 2
