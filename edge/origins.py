"""The distribution's origins: the origin group, CloudFront's own DNS resolution, the fetch.

* The origin group: a primary and a secondary S3 origin. CloudFront fails
  over to the secondary on 400, 403, 404, 416, 500, 502, 503, 504, a
  connection failure or a timeout, for GET, HEAD and OPTIONS only, and runs
  the origin-request function again for it (CloudFront developer guide,
  "Optimize high availability with CloudFront origin failover").
* CloudFront resolves the origin's domain before the function runs, and
  again when the function changed it. That lookup goes to the local DNS zone,
  separately from the router's own TXT lookup; a failure is a 502
  (``OriginDnsError``). Answers are kept for their TTL.
* The fetch uses pooled keep-alive connections per origin address, with
  CloudFront's origin settings: connection attempts (3), connection timeout
  (10 s), response timeout (30 s) and keep-alive timeout (5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from edge.http_wire import ClientConnection, Headers, NoResponse, ProtocolError, Response

logger = logging.getLogger(__name__)

FAILOVER_STATUSES = frozenset({400, 403, 404, 416, 500, 502, 503, 504})
FAILOVER_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DNS_TIMEOUT_S = 2.0

# One origin connection: its streams and its HTTP/1.1 state, reused while pooled.
_Link = tuple[asyncio.StreamReader, asyncio.StreamWriter, ClientConnection]


@dataclass(frozen=True, slots=True)
class Origin:
    """One S3 origin of the distribution: its domain, region and local port."""

    id: str
    domain: str
    region: str
    port: int
    path: str = ""


@dataclass(frozen=True, slots=True)
class OriginSettings:
    """CloudFront's per-origin connection settings."""

    connection_attempts: int = 3
    connection_timeout_s: float = 10.0
    response_timeout_s: float = 30.0
    keepalive_timeout_s: float = 5.0
    max_body_bytes: int = 1 << 30


class OriginFailure(Exception):
    """The origin could not be reached or did not answer in time."""

    def __init__(self, result: str, status: int, detail: str) -> None:
        super().__init__(detail)
        self.result = result  # x-edge-detailed-result-type
        self.status = status  # what the viewer gets without failover
        self.detail = detail


class OriginDnsError(OriginFailure):
    """CloudFront could not resolve the origin's domain (502, the function is not run)."""

    def __init__(self, domain: str, detail: str) -> None:
        super().__init__("OriginDnsError", 502, f"cannot resolve {domain}: {detail}")
        self.domain = domain


def should_fail_over(method: str, status: int | None) -> bool:
    """Whether an origin group moves to its secondary (``status`` None: no response)."""
    return method in FAILOVER_METHODS and (status is None or status in FAILOVER_STATUSES)


class OriginResolver:
    """CloudFront's resolution of origin domains through the local zone, cached for the TTL."""

    def __init__(self, nameserver: tuple[str, int]) -> None:
        self._nameserver = nameserver
        self._cache: dict[str, tuple[str, float]] = {}
        self._inflight: dict[str, asyncio.Future[str]] = {}
        self.queries = 0
        self.failures = 0

    async def resolve(self, domain: str) -> str:
        """The IPv4 address of ``domain``; raises :class:`OriginDnsError`."""
        cached = self._cache.get(domain)
        now = time.monotonic()
        if cached is not None and now < cached[1]:
            return cached[0]
        pending = self._inflight.get(domain)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[domain] = future
        try:
            address = await self._query(domain)
        except OriginDnsError as exc:
            self.failures += 1
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise their own copy
            raise
        finally:
            self._inflight.pop(domain, None)
        future.set_result(address)
        return address

    async def _query(self, domain: str) -> str:
        query = dns.message.make_query(domain, dns.rdatatype.A)
        host, port = self._nameserver
        self.queries += 1
        try:
            response = await dns.asyncquery.udp(query, host, timeout=_DNS_TIMEOUT_S, port=port)
            if response.flags & dns.flags.TC:
                response = await dns.asyncquery.tcp(query, host, timeout=_DNS_TIMEOUT_S, port=port)
        except dns.exception.Timeout as exc:
            raise OriginDnsError(domain, "timeout") from exc
        except (dns.exception.DNSException, OSError, ValueError, EOFError) as exc:
            raise OriginDnsError(domain, f"{type(exc).__name__}: {exc}") from exc
        if response.rcode() != dns.rcode.NOERROR:
            raise OriginDnsError(domain, dns.rcode.to_text(response.rcode()))
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.A:
                address = str(next(iter(rrset)))
                if rrset.ttl:
                    self._cache[domain] = (address, time.monotonic() + rrset.ttl)
                return address
        raise OriginDnsError(domain, "no A record")


class OriginClient:
    """Keep-alive connection pools per origin address, and the fetch."""

    def __init__(self, settings: OriginSettings) -> None:
        self.settings = settings
        self._idle: dict[tuple[str, int], deque[tuple[_Link, float]]] = {}
        self.connects = 0
        self.reused = 0

    async def _connect(self, address: tuple[str, int]) -> _Link:
        last: Exception | None = None
        for _ in range(max(self.settings.connection_attempts, 1)):
            try:
                self.connects += 1
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*address, limit=1 << 20),
                    self.settings.connection_timeout_s,
                )
            except (OSError, TimeoutError) as exc:
                last = exc
            else:
                return reader, writer, ClientConnection(reader)
        kind = "timed out" if isinstance(last, TimeoutError) else f"{type(last).__name__}: {last}"
        raise OriginFailure(
            "OriginConnectError", 502, f"cannot connect to {address[0]}:{address[1]}: {kind}"
        )

    def _checkout(self, address: tuple[str, int]) -> _Link | None:
        idle = self._idle.get(address)
        now = time.monotonic()
        while idle:
            link, since = idle.pop()
            reader, writer, _ = link
            if (
                now - since < self.settings.keepalive_timeout_s
                and not writer.is_closing()
                and not reader.at_eof()
            ):
                self.reused += 1
                return link
            writer.close()
        return None

    async def fetch(
        self,
        address: tuple[str, int],
        method: str,
        target: str,
        headers: Headers,
        body: bytes = b"",
    ) -> Response:
        """Send one request and read the whole response; raises :class:`OriginFailure`."""
        loop = asyncio.get_running_loop()
        for attempt in range(2):
            pooled = self._checkout(address)
            link = pooled if pooled is not None else await self._connect(address)
            _, writer, http = link
            # One timer per fetch; when it fires it cuts the connection, and the
            # read that fails because of it is reported as the timeout it is.
            timer = _ResponseTimer(writer)
            handle = loop.call_later(self.settings.response_timeout_s, timer.expire)
            try:
                writer.write(http.request(method, target, headers, body))
                response = await http.response(self.settings.max_body_bytes)
            except (OSError, ProtocolError) as exc:
                writer.transport.abort()
                if timer.expired:
                    raise OriginFailure(
                        "OriginReadError", 504, "origin response timed out"
                    ) from exc
                if pooled is not None and attempt == 0 and _nothing_read(exc):
                    continue  # the origin had closed the idle connection: retry on a new one
                raise OriginFailure(
                    "OriginCommError", 502, f"origin connection failed: {exc}"
                ) from exc
            finally:
                handle.cancel()
            if response.reusable:
                self._idle.setdefault(address, deque()).append((link, time.monotonic()))
            else:
                writer.close()
            return response
        raise OriginFailure("OriginCommError", 502, "origin connection failed twice")

    def close(self) -> None:
        """Close every pooled connection."""
        for idle in self._idle.values():
            while idle:
                (_, writer, _), _ = idle.pop()
                with contextlib.suppress(RuntimeError):
                    writer.close()


class _ResponseTimer:
    """Cuts an origin connection whose response is late, and remembers that it did."""

    __slots__ = ("expired", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        self.writer.transport.abort()


def _nothing_read(exc: BaseException) -> bool:
    return isinstance(exc, NoResponse | ConnectionError)
