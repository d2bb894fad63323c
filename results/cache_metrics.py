"""The two caches on the path: the router's DNS cache and the edge (CloudFront) cache.

DNS: every router line says how its lookup was served (``hit``, ``miss``,
``stale``, ``negative``, ``fallback``) and how many queries it sent. Without a
cache the router would send one query per invocation, 1,000 per 1,000; the
measured figure against that is what the cache saves.

Edge: the viewer's ``x-cache`` header (``Hit``/``RefreshHit``/``Miss``/``Error
from cloudfront``); only misses reach the router.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from results.latency import percentiles
from results.logs import CACHE_STATES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from results.access_log import AccessLog
    from results.logs import Routes
    from results.records import FloatArray, IntArray, RequestRecords
    from results.timeline import Timeline

NO_CACHE_QUERIES_PER_1K = 1000.0  # one query per invocation


@dataclass(frozen=True, slots=True)
class DnsCacheMetrics:
    """How the router's DNS cache served a run's invocations."""

    invocations: int
    states: dict[str, int]  # every state, zero included
    queries: int
    queries_per_1k_invocations: float
    queries_per_1k_requests: float  # per 1,000 viewer requests
    saving_factor: float  # one-query-per-invocation over the measured rate
    query_ms: dict[float, float]  # dns_ms percentiles of invocations that queried
    max_stale_age_s: float
    reasons: list[tuple[str, str, int]]  # (state, reason, count), most frequent first
    states_per_second: dict[str, IntArray]
    queries_per_second: FloatArray


def dns_cache(
    routes: Routes, viewer_requests: int, timeline: Timeline, ps: Sequence[float]
) -> DnsCacheMetrics:
    """DNS cache states, queries and their timing."""
    invocations = len(routes)
    counts = routes.cache_state.counts()
    states = {state: counts.get(state, 0) for state in CACHE_STATES}
    queries = int(routes.dns_queries.sum())
    per_1k = queries / invocations * 1000.0 if invocations else math.nan
    queried = routes.dns_queries > 0
    return DnsCacheMetrics(
        invocations=invocations,
        states=states,
        queries=queries,
        queries_per_1k_invocations=per_1k,
        queries_per_1k_requests=queries / viewer_requests * 1000.0 if viewer_requests else math.nan,
        saving_factor=(NO_CACHE_QUERIES_PER_1K / per_1k) if per_1k > 0 else math.inf,
        query_ms=percentiles(routes.dns_ms[queried], ps),
        max_stale_age_s=routes.max_stale_age_s,
        reasons=sorted(
            ((state, reason, n) for (state, reason), n in routes.reasons.items()),
            key=lambda item: -item[2],
        ),
        states_per_second={
            state: timeline.counts(routes.time, routes.cache_state.label_mask(state))
            for state in CACHE_STATES
        },
        queries_per_second=timeline.sums(routes.time, routes.dns_queries),
    )


@dataclass(frozen=True, slots=True)
class EdgeCacheMetrics:
    """How the edge cache answered the viewers."""

    requests: int  # responses that carried x-cache
    hits: int
    hit_ratio: float
    by_x_cache: dict[str, int]
    hits_per_second: IntArray
    with_header_per_second: IntArray
    log_result_types: dict[str, int]  # x-edge-result-type from the access log
    log_detailed_result_types: dict[str, int]  # for errors, x-edge-detailed-result-type
    log_hit_ratio: float


def edge_cache(
    records: RequestRecords, access_log: AccessLog | None, timeline: Timeline
) -> EdgeCacheMetrics:
    """Edge hit ratio from the viewers' ``x-cache`` and, when present, the access log."""
    hit = records.edge_hit
    has_header = records.has_x_cache
    hits = int(np.count_nonzero(hit))
    with_header = int(np.count_nonzero(has_header))
    log_types: dict[str, int] = {}
    log_details: dict[str, int] = {}
    log_ratio = math.nan
    if access_log is not None and len(access_log):
        log_types = access_log.result_type.counts()
        errors = access_log.result_type.mask(
            [label not in ("Hit", "RefreshHit", "Miss") for label in access_log.result_type.labels]
        )
        log_details = {
            label: n for label, n in access_log.detailed_result_type.counts(errors).items() if label
        }
        log_hits = log_types.get("Hit", 0) + log_types.get("RefreshHit", 0)
        log_ratio = log_hits / len(access_log)
    return EdgeCacheMetrics(
        requests=with_header,
        hits=hits,
        hit_ratio=hits / with_header if with_header else math.nan,
        by_x_cache=records.x_cache.counts(),
        hits_per_second=timeline.counts(records.start, hit),
        with_header_per_second=timeline.counts(records.start, has_header),
        log_result_types=log_types,
        log_detailed_result_types=log_details,
        log_hit_ratio=log_ratio,
    )
