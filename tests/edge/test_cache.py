"""CloudFront's expiration rules and the byte-bounded LRU."""

from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.cache import CacheSettings, EdgeCache, Entry, byte_range, not_modified, ttl_for

DEFAULTS = CacheSettings()


@pytest.mark.parametrize(
    ("status", "headers", "settings", "expected"),
    [
        (200, [("Cache-Control", "max-age=60")], DEFAULTS, 60.0),
        (200, [("Cache-Control", "max-age=60, s-maxage=5")], DEFAULTS, 5.0),
        (
            200,
            [("Cache-Control", "max-age=600")],
            CacheSettings(max_ttl=300, default_ttl=300),
            300.0,
        ),
        (200, [("Cache-Control", "max-age=1")], CacheSettings(min_ttl=30), 30.0),
        (200, [], DEFAULTS, 86_400.0),
        (200, [("Cache-Control", "no-cache")], DEFAULTS, None),
        (200, [("Cache-Control", "private, max-age=60")], DEFAULTS, None),
        (200, [("Cache-Control", "no-store")], CacheSettings(min_ttl=20), 20.0),
        (200, [("Cache-Control", "max-age=0")], DEFAULTS, None),
        (404, [], DEFAULTS, 10.0),
        (503, [("Cache-Control", "max-age=2")], DEFAULTS, 2.0),
        (302, [("Cache-Control", "max-age=60")], DEFAULTS, None),
    ],
)
def test_ttl_rules(
    status: int, headers: list[tuple[str, str]], settings: CacheSettings, expected: float | None
) -> None:
    assert ttl_for(status, headers, settings) == expected


def test_expires_counts_from_the_origin_date() -> None:
    date = email.utils.formatdate(1_000_000, usegmt=True)
    expires = email.utils.formatdate(1_000_120, usegmt=True)
    headers = [("Date", date), ("Expires", expires)]
    assert ttl_for(200, headers, DEFAULTS) == 120.0
    assert ttl_for(200, [*headers, ("Cache-Control", "max-age=7")], DEFAULTS) == 7.0


def test_lru_evicts_the_least_recently_used_by_bytes() -> None:
    now = [0.0]
    cache = EdgeCache(CacheSettings(max_bytes=3_000, max_object_bytes=3_000), clock=lambda: now[0])
    for key in ("a", "b", "c"):
        cache.put(key, 200, [], b"x" * 900, 60)
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("d", 200, [], b"x" * 900, 60)
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.size_bytes <= 3_000
    assert cache.evictions == 1
    assert cache.put("huge", 200, [], b"x" * 5_000, 60) is None


def test_freshness_age_and_invalidation() -> None:
    now = [100.0]
    cache = EdgeCache(DEFAULTS, clock=lambda: now[0])
    entry = cache.put("/media/a.jpg?v=1", 200, [], b"abc", 10)
    assert entry is not None
    now[0] = 105.5
    assert entry.fresh(now[0])
    assert entry.age(now[0]) == 5
    now[0] = 110.0
    assert not entry.fresh(now[0])
    cache.put("/static/b.css", 200, [], b"abc", 10)
    assert cache.invalidate(["/media/*"]) == 1
    assert cache.get("/media/a.jpg?v=1") is None
    assert cache.invalidate(["/static/b.css"]) == 1
    assert len(cache) == 0


@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 1_500)), max_size=60))
def test_the_cache_never_holds_more_than_its_size(puts: list[tuple[str, int]]) -> None:
    cache = EdgeCache(CacheSettings(max_bytes=4_000, max_object_bytes=4_000))
    for key, size in puts:
        cache.put(key, 200, [("ETag", '"x"')], b"x" * size, 60)
        assert cache.size_bytes <= 4_000
        assert cache.size_bytes == sum(e.size for e in cache._entries.values())


def test_conditional_requests() -> None:
    modified = "Wed, 21 Oct 2015 07:28:00 GMT"
    entry = Entry(200, [("ETag", '"abc"'), ("Last-Modified", modified)], b"", 0, 1)
    assert not_modified(entry, '"abc"', None)
    assert not_modified(entry, 'W/"abc", "def"', None)
    assert not_modified(entry, "*", None)
    assert not not_modified(entry, '"zzz"', modified)  # If-None-Match wins
    assert not_modified(entry, None, modified)
    assert not not_modified(entry, None, "Wed, 21 Oct 2015 07:27:00 GMT")
    assert not not_modified(Entry(404, [("ETag", '"abc"')], b"", 0, 1), '"abc"', None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=100-", False),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=9-2", None),
        (None, None),
    ],
)
def test_byte_ranges(header: str | None, expected: object) -> None:
    assert byte_range(header, 100) == expected
