"""The POP's object cache: CloudFront's expiration rules over an LRU bounded in bytes.

How long an object stays, from the CloudFront developer guide ("Manage how
long content stays in the cache (expiration)"):

* ``Cache-Control: s-maxage`` or ``max-age`` (``s-maxage`` wins): that many
  seconds, clamped to ``[min_ttl, max_ttl]``;
* else ``Expires``: until that date (relative to the origin's ``Date``),
  clamped the same way;
* else ``default_ttl``;
* ``no-store``, ``no-cache`` or ``private``: not cached when ``min_ttl`` is 0,
  else cached for ``min_ttl``;
* error responses (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504):
  the error caching minimum TTL, 10 s by default, unless the origin's
  ``max-age`` says otherwise.

The cache key is the URI and the query string. Expired entries stay until
evicted: with a validator they are revalidated (``RefreshHit``).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge.http_wire import Headers, header

if TYPE_CHECKING:
    from collections.abc import Callable

CACHEABLE_STATUSES = frozenset({200, 203, 206, 300, 301, 410})
ERROR_STATUSES = frozenset({400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The cache behaviour's TTLs and the POP's cache size."""

    min_ttl: float = 0.0
    default_ttl: float = 86_400.0
    max_ttl: float = 31_536_000.0
    error_ttl: float = 10.0
    max_bytes: int = 512 << 20
    max_object_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        if not 0 <= self.min_ttl <= self.default_ttl <= self.max_ttl:
            msg = "TTLs must satisfy 0 <= min_ttl <= default_ttl <= max_ttl"
            raise ValueError(msg)
        if self.error_ttl < 0 or self.max_bytes < 0 or self.max_object_bytes < 0:
            msg = "error_ttl, max_bytes and max_object_bytes must not be negative"
            raise ValueError(msg)


def cache_directives(value: str | None) -> dict[str, str]:
    """``Cache-Control`` directives, lower-cased, with their arguments."""
    directives: dict[str, str] = {}
    if not value:
        return directives
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            directives[name.strip().lower()] = argument.strip().strip('"')
    return directives


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return max(float(int(text)), 0.0)
    except ValueError:
        return None


def _http_date(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def ttl_for(
    status: int, headers: Headers, settings: CacheSettings, now: float | None = None
) -> float | None:
    """Seconds CloudFront keeps this response, or None when it does not cache it."""
    directives = cache_directives(header(headers, "cache-control"))
    max_age = _seconds(directives.get("s-maxage"))
    if max_age is None:
        max_age = _seconds(directives.get("max-age"))
    if status in ERROR_STATUSES:
        return max_age if max_age is not None else (settings.error_ttl or None)
    if status not in CACHEABLE_STATUSES:
        return None
    if {"no-store", "no-cache", "private"} & directives.keys():
        return settings.min_ttl or None
    if max_age is not None:
        ttl = max_age
    else:
        expires = _http_date(header(headers, "expires"))
        if expires is not None:
            origin_now = _http_date(header(headers, "date")) or (
                now if now is not None else time.time()
            )
            ttl = max(expires - origin_now, 0.0)
        else:
            ttl = settings.default_ttl
    ttl = min(max(ttl, settings.min_ttl), settings.max_ttl)
    return ttl or None


@dataclass(slots=True)
class Entry:
    """One cached response."""

    status: int
    headers: Headers
    body: bytes
    stored_at: float
    expires_at: float

    @property
    def size(self) -> int:
        """Bytes the entry takes in the cache (body plus headers)."""
        return len(self.body) + sum(len(k) + len(v) + 4 for k, v in self.headers)

    def fresh(self, now: float) -> bool:
        """Whether the entry is within its TTL."""
        return now < self.expires_at

    def age(self, now: float) -> int:
        """Whole seconds since the entry was fetched (the ``Age`` header)."""
        return max(int(now - self.stored_at), 0)

    @property
    def etag(self) -> str | None:
        """The entry's ``ETag``."""
        return header(self.headers, "etag")

    @property
    def last_modified(self) -> str | None:
        """The entry's ``Last-Modified``."""
        return header(self.headers, "last-modified")

    @property
    def revalidatable(self) -> bool:
        """Whether a conditional request can refresh it (RefreshHit)."""
        return self.status == 200 and bool(self.etag or self.last_modified)


class EdgeCache:
    """An LRU of :class:`Entry` bounded by total bytes."""

    def __init__(
        self, settings: CacheSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        """The entry for ``key`` (fresh or not), marking it recently used."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, status: int, headers: Headers, body: bytes, ttl: float) -> Entry | None:
        """Store a response for ``ttl`` seconds; None when it is too large to keep."""
        now = self._clock()
        entry = Entry(status, headers, body, now, now + ttl)
        size = entry.size
        if size > min(self.settings.max_object_bytes, self.settings.max_bytes):
            self.remove(key)
            return None
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > self.settings.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size
                self.evictions += 1
        return entry

    def refresh(self, key: str, entry: Entry, headers: Headers, ttl: float) -> Entry:
        """Renew ``entry`` after a 304: new TTL, headers updated from the 304 (RFC 9111 §4.3.4)."""
        updates = {k.lower(): (k, v) for k, v in headers if k.lower() not in ("content-length",)}
        merged = [(k, v) for k, v in entry.headers if k.lower() not in updates]
        merged.extend(updates.values())
        now = self._clock()
        renewed = Entry(entry.status, merged, entry.body, now, now + ttl)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = renewed
            self._bytes += renewed.size
        return renewed

    def remove(self, key: str) -> bool:
        """Drop ``key``; True if it was cached."""
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            return old is not None

    def invalidate(self, paths: list[str]) -> int:
        """CloudFront invalidation of exact paths or ``prefix*``; returns the entries removed."""
        removed = 0
        with self._lock:
            for key in list(self._entries):
                path = key.split("?", 1)[0]
                for pattern in paths:
                    if (pattern.endswith("*") and path.startswith(pattern[:-1])) or path == pattern:
                        entry = self._entries.pop(key)
                        self._bytes -= entry.size
                        removed += 1
                        break
        return removed


def not_modified(entry: Entry, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """Whether a conditional viewer request gets 304 from ``entry`` (RFC 9110 §13.2.2)."""
    if entry.status != 200:
        return False
    if if_none_match is not None:
        etag = entry.etag
        if etag is None:
            return False
        if if_none_match.strip() == "*":
            return True
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag.removeprefix("W/") in wanted
    if if_modified_since is not None:
        since = _http_date(if_modified_since)
        modified = _http_date(entry.last_modified)
        return since is not None and modified is not None and modified <= since
    return False


def byte_range(range_header: str | None, length: int) -> tuple[int, int] | bool | None:
    """The single ``bytes=`` range asked for: ``(start, end)``, None (ignore) or False (416)."""
    if not range_header or not range_header.startswith("bytes=") or "," in range_header:
        return None
    first, sep, last = range_header[6:].strip().partition("-")
    if not sep:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return False
            return (max(length - suffix, 0), length - 1) if length else False
        start = int(first)
        end = int(last) if last else length - 1
    except ValueError:
        return None
    if start >= length:
        return False
    if start < 0 or end < start:
        return None
    return start, min(end, length - 1)
