"""Looking up the routing record, bounded by a deadline the caller sets.

dnspython's ``Resolver`` sleeps between retries and overshoots its lifetime by
about 100 ms on timeouts, which would push a warm invocation past the billing
threshold during a DNS fault. :class:`DnsResolver` instead sends single
queries with ``dns.query.udp`` (and ``dns.query.tcp`` when the answer is
truncated), each with the time left before the deadline, and moves to the next
nameserver on a failure while time remains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from router.config import Nameserver

if TYPE_CHECKING:
    from collections.abc import Callable


class LookupStatus(StrEnum):
    """How a lookup ended."""

    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"  # the name exists but has no TXT records (NoAnswer)
    FAILURE = "failure"  # timeout, SERVFAIL, REFUSED, unparseable reply, socket error


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The outcome of one lookup.

    ``ttl`` is the answer's TTL for ``ANSWER`` and, for a negative answer, the
    TTL RFC 2308 §5 derives from the SOA in the authority section (``None``
    when there is none). ``queries`` counts the packets actually sent.
    """

    status: LookupStatus
    values: tuple[str, ...] = ()
    ttl: int | None = None
    reason: str = ""
    queries: int = 0


class Resolver(Protocol):
    """The seam between the DNS cache and the network."""

    def lookup_txt(self, name: str, timeout: float) -> LookupResult:
        """Look up the TXT strings of ``name`` within ``timeout`` seconds."""
        ...


def system_nameservers() -> tuple[Nameserver, ...]:
    """The execution environment's own resolvers, from ``/etc/resolv.conf``."""
    try:
        configured = dns.resolver.Resolver(configure=True).nameservers
    except dns.exception.DNSException:
        return (Nameserver("127.0.0.1", 53),)
    servers = tuple(Nameserver(str(server), 53) for server in configured)
    return servers or (Nameserver("127.0.0.1", 53),)


class DnsResolver:
    """Queries nameservers directly with a hard deadline per lookup."""

    def __init__(
        self,
        nameservers: tuple[Nameserver, ...],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nameservers = nameservers or system_nameservers()
        self._clock = clock
        self._next = 0
        self.queries = 0

    def lookup_txt(self, name: str, timeout: float) -> LookupResult:
        """Ask each nameserver in turn until one answers or the deadline passes."""
        deadline = self._clock() + timeout
        query = dns.message.make_query(name, dns.rdatatype.TXT)
        reasons: list[str] = []
        sent = 0
        for attempt in range(len(self._nameservers)):
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            server = self._nameservers[(self._next + attempt) % len(self._nameservers)]
            response, reason, packets = self._ask(query, server, deadline)
            sent += packets
            if response is not None:
                result = _classify(response, sent)
                if result.status is not LookupStatus.FAILURE:
                    self._next = (self._next + attempt) % len(self._nameservers)
                    return result
                reason = result.reason
            reasons.append(f"{server}: {reason}")
        # Start with the next server on the following lookup: the one that
        # failed is likely to fail again.
        self._next = (self._next + 1) % len(self._nameservers)
        if not reasons:
            reasons.append("no time left for a query")
        return LookupResult(LookupStatus.FAILURE, reason="; ".join(reasons), queries=sent)

    def _ask(
        self, query: dns.message.Message, server: Nameserver, deadline: float
    ) -> tuple[dns.message.Message | None, str, int]:
        packets = 0
        try:
            packets += 1
            self.queries += 1
            response = dns.query.udp(
                query,
                server.host,
                timeout=max(deadline - self._clock(), 0.0001),
                port=server.port,
                ignore_unexpected=True,
            )
            if response.flags & dns.flags.TC:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return None, "truncated over UDP, no time left for TCP", packets
                packets += 1
                self.queries += 1
                response = dns.query.tcp(query, server.host, timeout=remaining, port=server.port)
        except dns.exception.Timeout:
            return None, "timeout", packets
        except (dns.exception.DNSException, OSError, ValueError, EOFError) as exc:
            return None, f"{type(exc).__name__}: {exc}", packets
        return response, "", packets


def _classify(response: dns.message.Message, queries: int) -> LookupResult:
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return LookupResult(LookupStatus.NXDOMAIN, ttl=_negative_ttl(response), queries=queries)
    if rcode != dns.rcode.NOERROR:
        return LookupResult(LookupStatus.FAILURE, reason=dns.rcode.to_text(rcode), queries=queries)
    values: list[str] = []
    ttl: int | None = None
    for rrset in response.answer:
        if rrset.rdtype != dns.rdatatype.TXT:
            continue
        ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
        for rdata in rrset:
            values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
    if not values:
        return LookupResult(LookupStatus.NODATA, ttl=_negative_ttl(response), queries=queries)
    return LookupResult(LookupStatus.ANSWER, tuple(values), ttl, queries=queries)


def _negative_ttl(response: dns.message.Message) -> int | None:
    # RFC 2308 §5: the negative TTL is the lesser of the SOA record's own TTL
    # and its MINIMUM field.
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(min(rrset.ttl, rrset[0].minimum))
    return None
