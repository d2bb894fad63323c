"""The origin-request trigger: ``handler(event, context)``.

Importing this module is the cold start: it loads the bundled config and
creates the execution environment's one :class:`Environment` (its DNS cache
and round-robin state). The local edge emulator creates its environments with
the same :func:`create_environment` call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from router.config import RouterConfig, load_config
from router.dns_cache import CacheResult, CacheState, DnsCache
from router.events import Request, origin_request
from router.logs import InvocationLog, Sink, emf_line, stdout_sink
from router.resolver import DnsResolver, Resolver
from router.routing import (
    Candidates,
    WeightedRoundRobin,
    candidates,
    current_domain,
    ranked,
    rewrite,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from router.config import OriginConfig

logger = logging.getLogger(__name__)

# Never let the lookup eat the last milliseconds of the trigger's time budget.
_DEADLINE_MARGIN_MS = 5.0


class LambdaContext(Protocol):
    """The part of Lambda's context object the router reads."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the runtime kills the invocation."""
        ...


@dataclass(slots=True)
class Environment:
    """One execution environment's router: config, DNS cache and spread state."""

    config: RouterConfig
    cache: DnsCache
    resolver: Resolver
    timer: Callable[[], float] = time.perf_counter
    sink: Sink = stdout_sink
    balancer: WeightedRoundRobin = field(default_factory=WeightedRoundRobin)
    invocations: int = 0
    dns_queries: int = 0
    # The answer set changes only when the cache refreshes: match it to the
    # configured origins once per answer, not once per invocation.
    _answer: tuple[str, ...] | None = None
    _found: Candidates | None = None
    # Domain -> secondary origin, from the config once per environment.
    _secondaries: dict[str, OriginConfig] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for origin in self.config.origins[1:]:
            for domain in (origin.domain, origin.custom_domain):
                if domain:
                    self._secondaries.setdefault(domain, origin)

    def handle(self, event: object, context: object = None) -> Request:
        """Route one origin request; raises only EventError for a non-origin-request event."""
        started = self.timer()
        cf_config, request = origin_request(event)
        self.invocations += 1
        timeout_ms = self.config.lookup_timeout_ms
        remaining = _remaining_ms(context)
        if remaining is not None:
            timeout_ms = max(min(timeout_ms, remaining - _DEADLINE_MARGIN_MS), 0.0)
        result = self.cache.lookup(timeout_ms / 1000.0)
        self.dns_queries += result.queries
        viewer_request = cf_config.get("requestId")
        key = viewer_request if isinstance(viewer_request, str) else ""
        origin_domain, region, state, reason, unknown = self._route(request, result, key)
        handler_ms = (self.timer() - started) * 1000.0
        request_id = getattr(context, "aws_request_id", None) or cf_config.get("requestId", "")
        log = InvocationLog(
            request_id=str(request_id),
            cache_state=state,
            origin=origin_domain,
            region=region,
            dns_ms=result.dns_seconds * 1000.0,
            handler_ms=handler_ms,
            dns_queries=result.queries,
            reason=reason,
            stale_age_s=result.stale_age,
            unknown_domains=unknown,
            cf_request_id=key,
        )
        # The request is routed: a log line that cannot be written (a closed
        # stdout, a full pipe) costs that line, never the viewer's request.
        try:
            self.sink(emf_line(log))
        except (OSError, ValueError):
            logger.exception("could not write the invocation's log line")
        return request

    def _candidates(self, values: tuple[str, ...]) -> Candidates:
        if self._found is None or values != self._answer:
            self._answer, self._found = values, candidates(self.config, values)
        return self._found

    def _arrived_on_secondary(self, request: Request) -> OriginConfig | None:
        """The configured secondary origin the request arrived on, if it did.

        With an origin group, CloudFront runs the function again for the
        failover attempt, the request then headed to the group's secondary
        origin; the primary attempt arrives on the primary, the first
        configured origin.
        """
        return self._secondaries.get(current_domain(request).lower().rstrip("."))

    def _pick(
        self, request: Request, origins: tuple[OriginConfig, ...], key: str
    ) -> tuple[OriginConfig, str]:
        """The origin for this attempt, and why when it is not the usual choice.

        With CloudFront's ``requestId`` both attempts of a viewer request rank
        the origins alike (:func:`ranked`): the first attempt takes the first,
        the failover attempt the next one, never the region that just failed.
        Without an id the first attempt takes the round-robin's pick and a
        failover attempt stays where CloudFront sent it.
        """
        secondary = self._arrived_on_secondary(request)
        if secondary is None:
            return (ranked(origins, key)[0] if key else self.balancer.pick(origins)), ""
        order = ranked(origins, key) if key else []
        if len(order) > 1:
            return order[1], "failover attempt: the next origin in this request's order"
        return secondary, "failover attempt: kept on its origin"

    def _route(
        self, request: Request, result: CacheResult, key: str = ""
    ) -> tuple[str, str, str, str, tuple[str, ...]]:
        """Rewrite the request for the chosen origin; fall back on any problem."""
        state, reason = result.state.value, result.reason
        unknown: tuple[str, ...] = ()
        try:
            found = self._candidates(result.values)
            unknown = found.unknown
            if unknown and result.state is CacheState.MISS:
                logger.warning(
                    "ignoring unknown origins in %s: %s", self.config.routing_name, unknown
                )
            if found.origins:
                origin, why = self._pick(request, found.origins, key)
                rewrite(request, origin)
                reason = "; ".join(part for part in (reason, why) if part)
                return origin.domain, origin.region, state, reason, unknown
            if result.state in (CacheState.HIT, CacheState.MISS, CacheState.STALE):
                state = CacheState.FALLBACK.value
                reason = "answer names no configured origin with weight > 0"
        # A bug here would fail every cache miss of the distribution; leaving the
        # request on its configured origin keeps serving while the log says why.
        except Exception as exc:
            logger.exception("routing failed; leaving the request on its origin")
            state, reason = CacheState.FALLBACK.value, f"routing error: {type(exc).__name__}: {exc}"
        domain = _safe_domain(request)
        return domain, _region_of(self.config, domain), state, reason, unknown


def _remaining_ms(context: object) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    try:
        return float(remaining())
    # A context object that misbehaves only costs us the deadline clamp.
    except Exception:
        return None


def _safe_domain(request: Request) -> str:
    try:
        return current_domain(request)
    except (KeyError, TypeError):
        return ""


def _region_of(config: RouterConfig, domain: str) -> str:
    origin = config.origin_for(domain) if domain else None
    return origin.region if origin is not None else ""


def create_environment(
    config: RouterConfig | None = None,
    *,
    resolver: Resolver | None = None,
    clock: Callable[[], float] = time.monotonic,
    sink: Sink = stdout_sink,
) -> Environment:
    """Do what a cold start does: load config, build the resolver and the empty cache.

    ``clock`` drives TTLs and back-off (tests pass a fake one); handler time is
    always measured with ``time.perf_counter``.
    """
    config = config if config is not None else load_config()
    resolver = resolver if resolver is not None else DnsResolver(config.nameservers)
    cache = DnsCache(config, resolver, clock=clock)
    return Environment(config=config, cache=cache, resolver=resolver, sink=sink)


_environment: Environment | None = None


def environment() -> Environment:
    """This execution environment's router, created on first use."""
    global _environment
    if _environment is None:
        _environment = create_environment()
    return _environment


def reset_environment(env: Environment | None = None) -> Environment | None:
    """Drop (or replace) the module's environment; the next invocation is a cold start."""
    global _environment
    _environment = env
    return env


def handler(event: object, context: object = None) -> Request:
    """Lambda@Edge origin-request entry point."""
    return environment().handle(event, context)


# Cold start: Lambda runs module initialisation before the first invocation
# and reports it as Init Duration, so the environment is built here.
environment()
