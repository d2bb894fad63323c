"""Choosing an origin from the answer set and rewriting the request for it."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from router.config import OriginConfig, RouterConfig
    from router.events import HeaderEntry, Request

logger = logging.getLogger(__name__)

_INVERSE_2_64 = 1.0 / 2.0**64


@dataclass(frozen=True, slots=True)
class Candidates:
    """The configured origins an answer names, and the strings it named that we do not know."""

    origins: tuple[OriginConfig, ...]
    unknown: tuple[str, ...]


def candidates(config: RouterConfig, values: tuple[str, ...]) -> Candidates:
    """Match TXT strings to configured origins; unknown or zero-weight ones drop out."""
    chosen: list[OriginConfig] = []
    unknown: list[str] = []
    for value in values:
        origin = config.origin_for(value.strip())
        if origin is None:
            unknown.append(value)
        elif origin.weight > 0 and origin not in chosen:
            chosen.append(origin)
    return Candidates(tuple(chosen), tuple(unknown))


class WeightedRoundRobin:
    """Smooth weighted round-robin over a set of origins.

    Each pick adds every origin's weight to its running score, takes the
    highest score and subtracts the total: over any window of ``sum(weights)``
    picks each origin is chosen exactly ``weight`` times, interleaved rather
    than in runs. The scores restart whenever the set changes.
    """

    def __init__(self) -> None:
        self._origins: tuple[OriginConfig, ...] = ()
        self._scores: list[int] = []
        self._total = 0

    def pick(self, origins: tuple[OriginConfig, ...]) -> OriginConfig:
        """Choose the next origin from ``origins`` (non-empty, positive weights)."""
        if origins != self._origins:
            self._origins = origins
            self._scores = [0] * len(origins)
            self._total = sum(origin.weight for origin in origins)
        best = 0
        for index, origin in enumerate(origins):
            self._scores[index] += origin.weight
            if self._scores[index] > self._scores[best]:
                best = index
        self._scores[best] -= self._total
        return origins[best]


def ranked(origins: tuple[OriginConfig, ...], key: str) -> list[OriginConfig]:
    """``origins`` in the order weighted rendezvous hashing gives ``key``, best first.

    Every origin scores ``-weight / ln(u)`` with ``u`` uniform in (0, 1) from a
    hash of the key and the origin's domain: over many keys each origin comes
    first in proportion to its weight, and one key always gets the same order.
    Both of CloudFront's attempts for a viewer request carry its ``requestId``,
    so the failover attempt can take the next origin in that request's order,
    never the one its first attempt used.
    """
    prefix = key.encode("utf-8", "surrogatepass") + b"\0"
    scored: list[tuple[float, int]] = []
    for index, origin in enumerate(origins):
        digest = hashlib.blake2b(prefix + origin.domain.encode(), digest_size=8).digest()
        unit = (int.from_bytes(digest, "big") + 0.5) * _INVERSE_2_64
        scored.append((origin.weight / -math.log(unit), index))
    scored.sort(reverse=True)
    return [origins[index] for _, index in scored]


def rewrite(request: Request, origin: OriginConfig) -> None:
    """Point ``request`` at ``origin`` in place, touching only the origin and Host.

    For an S3 origin this sets ``domainName`` and ``region``; for a custom
    origin ``domainName`` (the origin's ``custom_domain`` when it has one).
    CloudFront requires the Host header to match a changed S3 origin, so it is
    rewritten too, keeping the header's original key casing.
    """
    target = request["origin"]
    if "s3" in target:
        s3 = target["s3"]
        s3["domainName"] = origin.domain
        s3["region"] = origin.region
        domain = origin.domain
    else:
        custom = target["custom"]
        domain = origin.custom_domain or origin.domain
        custom["domainName"] = domain
    headers = request["headers"]
    existing = headers.get("host")
    key = existing[0].get("key", "Host") if existing else "Host"
    entry: HeaderEntry = {"key": key, "value": domain}
    headers["host"] = [entry]


def current_domain(request: Request) -> str:
    """The origin domain the request is headed to now."""
    target = request["origin"]
    if "s3" in target:
        return target["s3"]["domainName"]
    return target["custom"]["domainName"]
