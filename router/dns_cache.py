"""The routing record cache: one per execution environment.

Behaviour, with its sources:

* A positive answer is kept for its TTL clamped to ``[min_ttl, max_ttl]``.
* NXDOMAIN and NODATA are cached negatively (RFC 2308 §5) for the SOA-derived
  TTL, or ``negative_ttl`` without an SOA, clamped the same way. A negative
  answer is authoritative: it replaces a positive entry and is not a reason to
  serve stale data.
* When a refresh fails (timeout, SERVFAIL, REFUSED, garbage), the last positive
  answer is served stale (RFC 8767 §4): each stale answer is good for
  ``stale_answer_ttl`` (30 s), the failing servers are not asked again for
  ``failure_recheck_s`` (30 s, §5), and data older than its expiry plus
  ``max_stale`` is dropped.
* With nothing usable the caller gets ``FALLBACK`` and leaves the request on
  the distribution's configured origin. No path raises.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from router.resolver import LookupResult, LookupStatus, Resolver

if TYPE_CHECKING:
    from collections.abc import Callable

    from router.config import RouterConfig

logger = logging.getLogger(__name__)


class CacheState(StrEnum):
    """How a lookup was served, as logged per invocation."""

    HIT = "hit"  # fresh cached answer, no query
    MISS = "miss"  # queried and got an answer
    STALE = "stale"  # refresh failed or is backing off; served expired data
    NEGATIVE = "negative"  # NXDOMAIN/NODATA, fresh from the server or cached
    FALLBACK = "fallback"  # nothing usable: stay on the default origin


@dataclass(frozen=True, slots=True)
class CacheResult:
    """What the cache answers for one invocation."""

    state: CacheState
    values: tuple[str, ...]
    queries: int = 0
    dns_seconds: float = 0.0
    reason: str = ""
    stale_age: float = 0.0  # seconds past expiry, for STALE


@dataclass(slots=True)
class _Entry:
    values: tuple[str, ...]  # empty for a negative entry
    expires_at: float
    negative: bool = False
    stale: bool = False  # an expired answer re-served under stale_answer_ttl


class DnsCache:
    """Caches the TXT answer of one name with RFC 2308 and RFC 8767 rules."""

    def __init__(
        self,
        config: RouterConfig,
        resolver: Resolver,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._resolver = resolver
        self._clock = clock
        self._entry: _Entry | None = None
        self._stale: _Entry | None = None  # last positive answer, kept for serve-stale
        self._recheck_at = float("-inf")  # no query before this after a failure
        self._last_failure = ""

    def answers_without_query(self, within: float = 0.0) -> bool:
        """Whether a lookup in the next ``within`` seconds is answered without asking DNS."""
        until = self._clock() + within
        entry = self._entry
        return (entry is not None and until < entry.expires_at) or until < self._recheck_at

    def lookup(self, timeout: float) -> CacheResult:
        """Return the routing answer for this invocation, querying only when needed."""
        now = self._clock()
        entry = self._entry
        if entry is not None and now < entry.expires_at:
            if entry.negative:
                return CacheResult(CacheState.NEGATIVE, (), reason="cached negative answer")
            if entry.stale and self._stale is not None:
                age = now - self._stale.expires_at
                reason = f"serving stale: {self._last_failure}"
                return CacheResult(CacheState.STALE, entry.values, reason=reason, stale_age=age)
            return CacheResult(CacheState.HIT, entry.values)
        if now < self._recheck_at:
            return self._serve_stale(now, f"backing off after failure: {self._last_failure}")
        started = self._clock()
        result = self._query(timeout)
        elapsed = self._clock() - started
        now = self._clock()
        if result.status is LookupStatus.ANSWER:
            expires = now + self._clamp(result.ttl if result.ttl is not None else 0)
            self._entry = self._stale = _Entry(result.values, expires)
            self._recheck_at = float("-inf")
            return CacheResult(CacheState.MISS, result.values, result.queries, elapsed)
        if result.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA):
            ttl = result.ttl if result.ttl is not None else self._config.negative_ttl
            self._entry = _Entry((), now + self._clamp(ttl), negative=True)
            self._stale = None
            self._recheck_at = float("-inf")
            reason = f"{result.status.value} for {self._config.routing_name}"
            return CacheResult(CacheState.NEGATIVE, (), result.queries, elapsed, reason)
        self._last_failure = result.reason
        self._recheck_at = now + self._config.failure_recheck_s
        stale = self._serve_stale(now, f"refresh failed: {result.reason}")
        return CacheResult(
            stale.state, stale.values, result.queries, elapsed, stale.reason, stale.stale_age
        )

    def _query(self, timeout: float) -> LookupResult:
        try:
            return self._resolver.lookup_txt(self._config.routing_name, timeout)
        # Whatever goes wrong in a lookup is a DNS problem, and a DNS problem
        # must never fail the request: treat it as a failed refresh.
        except Exception as exc:
            logger.warning("resolver raised %s: %s", type(exc).__name__, exc)
            return LookupResult(LookupStatus.FAILURE, reason=f"{type(exc).__name__}: {exc}")

    def _serve_stale(self, now: float, reason: str) -> CacheResult:
        stale = self._stale
        if stale is None:
            return CacheResult(CacheState.FALLBACK, (), reason=reason)
        age = now - stale.expires_at
        if age > self._config.max_stale:
            self._stale = None
            self._entry = None
            return CacheResult(CacheState.FALLBACK, (), reason=f"stale data too old; {reason}")
        # RFC 8767 §4: a stale answer is given a TTL of its own, so the next
        # invocations reuse it without asking the failing servers again.
        self._entry = _Entry(stale.values, now + self._config.stale_answer_ttl, stale=True)
        return CacheResult(CacheState.STALE, stale.values, reason=reason, stale_age=max(age, 0.0))

    def _clamp(self, ttl: int) -> float:
        return float(min(max(ttl, self._config.min_ttl), self._config.max_ttl))
