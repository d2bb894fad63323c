"""The edge server: one CloudFront POP in front of the two S3 regions.

Per viewer request (HTTP/1.1 on 127.0.0.1):

1. strict parsing; a malformed request gets CloudFront's status and error
   page and never reaches the rest;
2. the cache (key: URI and query string): a fresh entry is a ``Hit``,
   conditional and range requests are answered from it, simultaneous misses
   for one key are collapsed into one origin request;
3. on a miss, CloudFront resolves the origin's domain (a failure is a 502 and
   the function does not run), builds the origin-request event and invokes
   the router in an execution environment (:mod:`edge.lambda_runtime`),
   resolves the domain it chose if it changed, and fetches from that region
   over a pooled keep-alive connection;
4. with the origin group, a failover status, connection failure or timeout
   on GET, HEAD or OPTIONS sends the request to the secondary origin, with
   the function run again for it;
5. the response carries ``x-cache``, ``x-amz-cf-id``, ``x-amz-cf-pop``,
   ``via`` and ``age``; one access-log line is written per request.

``python -m edge.server --config FILE`` runs it as a process of the local
distribution.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.access_log import AccessLog, AccessRecord
from edge.agent import FaultAgent
from edge.cache import CacheSettings, EdgeCache, Entry, byte_range, not_modified, ttl_for
from edge.http_wire import (
    MalformedRequest,
    Request,
    ServerConnection,
    end_to_end,
    header,
    header_problem,
)
from edge.jsonapi import ApiError, Json, route
from edge.lambda_runtime import FunctionPool, FunctionSettings, Invocation, Outcome
from edge.origins import (
    FAILOVER_METHODS,
    Origin,
    OriginClient,
    OriginDnsError,
    OriginFailure,
    OriginResolver,
    OriginSettings,
    should_fail_over,
)
from edge.process import LoopThread, run_child
from edge.trigger import (
    Distribution,
    build_event,
    copy_headers,
    generated_response,
    is_generated_response,
    new_request_id,
    origin_headers,
    origin_target,
    validate_request,
)

if TYPE_CHECKING:
    from edge.fault_specs import LambdaFault

logger = logging.getLogger(__name__)

ALLOWED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHED_METHODS = frozenset({"GET", "HEAD"})
_VIEWER_IDLE_S = 60.0  # a viewer connection waiting this long for its next request is closed
_IDLE_SWEEP_S = 5.0
# Origin response headers CloudFront does not pass to viewers.
_STRIPPED = frozenset({"content-length", "x-amz-cf-id", "x-amz-cf-pop", "x-cache", "via", "age"})
# Not a CloudFront header: the local edge tells the viewer which region served a
# miss, so drills can split traffic by origin region. It comes from the reply,
# never from the cache: a hit was served by no region.
ORIGIN_REGION_HEADER = "x-edgedrill-origin-region"
_NOT_MODIFIED_HEADERS = ("etag", "cache-control", "expires", "last-modified", "vary", "date")


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    """Everything the edge process needs, as the stack writes it."""

    origins: tuple[Origin, ...]
    dns: tuple[str, int]
    log_dir: Path
    pop: str = "IAD89-P1"
    distribution: Distribution = field(default_factory=Distribution)
    origin_group: bool = True
    cache: CacheSettings = field(default_factory=CacheSettings)
    origin_settings: OriginSettings = field(default_factory=OriginSettings)
    function: FunctionSettings = field(default_factory=FunctionSettings)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EdgeConfig:
        """Build from the stack's JSON config."""
        host, _, port = str(data["dns"]).rpartition(":")
        function = dict(data.get("function", {}))
        if function.get("router_config"):
            function["router_config"] = Path(function["router_config"])
        return cls(
            origins=tuple(Origin(**origin) for origin in data["origins"]),
            dns=(host, int(port)),
            log_dir=Path(data["log_dir"]),
            pop=data.get("pop", "IAD89-P1"),
            distribution=Distribution(**data.get("distribution", {})),
            origin_group=bool(data.get("origin_group", True)),
            cache=CacheSettings(**data.get("cache", {})),
            origin_settings=OriginSettings(**data.get("origin_settings", {})),
            function=FunctionSettings(**function),
        )


@dataclass(slots=True)
class Reply:
    """What the viewer gets for one request, and what the access log says about it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    result: str  # x-edge-result-type: Hit, RefreshHit, Miss, Error, LimitExceeded
    detail: str = ""  # x-edge-detailed-result-type when it differs
    range: tuple[int, int] | None = None
    close: bool = False
    origin_region: str = ""  # the region that answered, when this request went to one


@dataclass(slots=True)
class EdgeStats:
    """Counters by result type."""

    requests: int = 0
    results: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    collapsed: int = 0
    failovers: int = 0
    malformed: int = 0

    def count(self, reply: Reply) -> None:
        """Count one reply."""
        self.requests += 1
        key = reply.detail or reply.result
        self.results[key] = self.results.get(key, 0) + 1
        status = str(reply.status)
        self.statuses[status] = self.statuses.get(status, 0) + 1


def error_page(status: int, message: str, request_id: str) -> bytes:
    """The HTML page CloudFront generates for its own errors."""
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
        '"http://www.w3.org/TR/html4/loose.dtd">\n'
        '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
        "<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n"
        f"<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n"
        f'<HR noshade size="1px">\n{message}\n<BR clear="all">\n<HR noshade size="1px">\n'
        f"<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: {request_id}\n</PRE>\n"
        "<ADDRESS>\n</ADDRESS>\n</BODY></HTML>"
    ).encode("latin-1", "replace")


_MESSAGES = {
    "LambdaExecutionError": "The Lambda function associated with the CloudFront distribution "
    "returned an error or timed out.",
    "LambdaLimitExceeded": "The Lambda function associated with the CloudFront distribution "
    "was throttled.",
    "LambdaValidationError": "The Lambda function returned an invalid request or response "
    "to CloudFront.",
    "OriginDnsError": "CloudFront wasn't able to resolve the origin domain name.",
    "OriginConnectError": "CloudFront wasn't able to connect to the origin.",
    "OriginCommError": "CloudFront lost the connection to the origin.",
    "OriginReadError": "CloudFront attempted to establish a connection with the origin, "
    "but the origin did not respond in time.",
    "MethodNotAllowed": "This distribution is not configured to allow the HTTP request method "
    "that was used for this request. The distribution supports only cachable requests.",
}


class EdgeServer:
    """The POP: viewer HTTP server, cache, function pool and origin client."""

    def __init__(
        self, config: EdgeConfig, lambda_faults: FaultAgent[LambdaFault] | None = None
    ) -> None:
        self.config = config
        self.cache = EdgeCache(config.cache)
        self.faults: FaultAgent[LambdaFault] = lambda_faults or FaultAgent({"lambda"})
        self.pool = FunctionPool(
            config.function, config.log_dir, faults=lambda: self.faults.faults("lambda")
        )
        self.resolver = OriginResolver(config.dns)
        self.client = OriginClient(config.origin_settings)
        self.access_log = AccessLog(config.log_dir / "cloudfront" / "access.log")
        self.validation_log = (
            config.log_dir / "cloudfront" / f"LambdaEdge.{config.distribution.id}.log"
        )
        self._ports = {origin.domain: origin.port for origin in config.origins}
        self._regions = {origin.domain: origin.region for origin in config.origins}
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # Viewer connections waiting for a request, and since when: one sweep
        # closes the idle ones, instead of a timer armed for every request.
        self._waiting: dict[asyncio.StreamWriter, float] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.stats = EdgeStats()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind the viewer listener; returns its port."""
        # Log lines written on the loop go out in one flush per loop pass.
        self.access_log.bind_loop()
        self.pool.log.bind_loop()
        self._server = await asyncio.start_server(
            self._serve, host, port, limit=32_768, backlog=1024
        )
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_idle())
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, close viewer connections, pools and logs."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for writer in list(self._writers):
            writer.transport.abort()
        self.client.close()
        self.pool.close()
        self.access_log.close()

    # -- viewer connections ---------------------------------------------------

    async def _sweep_idle(self) -> None:
        while True:
            await asyncio.sleep(_IDLE_SWEEP_S)
            cutoff = time.monotonic() - _VIEWER_IDLE_S
            for writer, since in list(self._waiting.items()):
                if since <= cutoff:
                    writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        connection = ServerConnection(reader)
        try:
            while True:
                started = time.time()
                self._waiting[writer] = time.monotonic()
                try:
                    request = await connection.next_request(writer)
                except MalformedRequest as exc:
                    if not writer.is_closing():  # not closed by the idle sweep
                        await self._malformed(connection, writer, exc, peer, started)
                    return
                except (ConnectionError, OSError):
                    return
                finally:
                    self._waiting.pop(writer, None)
                if request is None:
                    return
                started = time.time()
                reply, request_id = await self._respond(request, peer[0])
                keep = request.keep_alive and not reply.close
                data = self._encode(connection, request, reply, keep)
                first_byte = time.time()
                self._log(request, reply, request_id, peer, started, first_byte, len(data))
                if not await _deliver(writer, data) or not connection.keep_alive:
                    return
        except (ConnectionError, OSError):
            return
        except Exception:
            logger.exception("edge connection handler failed")
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _malformed(
        self,
        connection: ServerConnection,
        writer: asyncio.StreamWriter,
        exc: MalformedRequest,
        peer: tuple[Any, ...],
        started: float,
    ) -> None:
        self.stats.malformed += 1
        request_id = new_request_id()
        body = error_page(exc.status, f"Bad request. {exc.detail}", request_id)
        reply = Reply(
            exc.status, [("Content-Type", "text/html")], body, "Error", exc.result, close=True
        )
        self.stats.count(reply)
        stub = Request("-", "/", "HTTP/1.1", [])
        data = self._encode(connection, stub, reply, keep=False, request_id=request_id)
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(data)
            await writer.drain()
        self._log(stub, reply, request_id, peer, started, time.time(), len(data))

    def _encode(
        self,
        connection: ServerConnection,
        request: Request,
        reply: Reply,
        keep: bool,
        request_id: str = "",
    ) -> bytes:
        headers = list(reply.headers)
        body = b"" if request.method == "HEAD" else reply.body
        if reply.status != 304 and not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(reply.body))))
        if request_id:
            headers += self._cf_headers(request_id, reply.result)
        headers.append(("Connection", "keep-alive" if keep else "close"))
        return connection.respond(reply.status, headers, body)

    def _cf_headers(
        self, request_id: str, result: str, age: int | None = None
    ) -> list[tuple[str, str]]:
        headers = [
            ("X-Cache", f"{result} from cloudfront"),
            ("Via", f"1.1 {self.config.distribution.via_host} (CloudFront)"),
            ("X-Amz-Cf-Pop", self.config.pop),
            ("X-Amz-Cf-Id", request_id),
        ]
        if age is not None:
            headers.append(("Age", str(age)))
        return headers

    def _log(
        self,
        request: Request,
        reply: Reply,
        request_id: str,
        peer: tuple[Any, ...],
        started: float,
        first_byte: float,
        sent: int,
    ) -> None:
        path, _, query = _split_target(request.target)
        self.access_log.write_record(
            AccessRecord(
                timestamp=started,
                edge_location=self.config.pop.split("-", 1)[0],
                sc_bytes=sent,
                client_ip=str(peer[0]),
                method=request.method,
                host=self.config.distribution.domain,
                uri_stem=path,
                status=reply.status,
                referer=request.header("referer"),
                user_agent=request.header("user-agent"),
                query=query,
                cookie=request.header("cookie"),
                result_type=reply.result,
                request_id=request_id,
                host_header=request.header("host") or "",
                cs_bytes=request.head_bytes + len(request.body),
                time_taken=max(time.time() - started, 0.0),
                forwarded_for=request.header("x-forwarded-for"),
                response_result_type=reply.result,
                protocol_version=request.version,
                client_port=int(peer[1]) if len(peer) > 1 else 0,
                time_to_first_byte=max(first_byte - started, 0.0),
                detailed_result_type=reply.detail or reply.result,
                content_type=header(reply.headers, "content-type"),
                content_length=len(reply.body),
                range_start=reply.range[0] if reply.range else None,
                range_end=reply.range[1] if reply.range else None,
            )
        )

    # -- one request ------------------------------------------------------------

    async def _respond(self, request: Request, client_ip: str) -> tuple[Reply, str]:
        request_id = new_request_id()
        try:
            reply = await self._handle(request, client_ip, request_id)
        except Exception:
            logger.exception("edge failed on %s %s", request.method, request.target)
            reply = self._error(
                500, "InternalError", request_id, "CloudFront encountered an internal error."
            )
        self.stats.count(reply)
        age = _age_of(reply)
        reply.headers = [(k, v) for k, v in reply.headers if k != "_age"]
        reply.headers += self._cf_headers(request_id, reply.result, age)
        if reply.origin_region:
            reply.headers.append((ORIGIN_REGION_HEADER, reply.origin_region))
        return reply, request_id

    def _error(
        self, status: int, detail: str, request_id: str, message: str | None = None
    ) -> Reply:
        body = error_page(status, message or _MESSAGES.get(detail, detail), request_id)
        headers = [("Server", "CloudFront"), ("Content-Type", "text/html")]
        result = "LimitExceeded" if detail == "LambdaLimitExceeded" else "Error"
        return Reply(status, headers, body, result, detail)

    async def _handle(self, request: Request, client_ip: str, request_id: str) -> Reply:
        if request.method not in ALLOWED_METHODS:
            return self._error(403, "MethodNotAllowed", request_id)
        path, _, query = _split_target(request.target)
        if not path.startswith("/"):
            return self._error(400, "InvalidRequest", request_id, "Bad request.")
        key = f"{path}?{query}" if query else path
        if request.method not in CACHED_METHODS:
            return await self._from_origin(request, client_ip, request_id, path, query, None, key)
        entry = self.cache.get(key)
        if entry is not None and entry.fresh(time.monotonic()):
            return self._from_entry(request, entry, "Hit")
        if request.method == "GET":
            waiting = self._inflight.get(key)
            if waiting is not None:
                # Request collapsing: wait for the origin request already on its way.
                with contextlib.suppress(Exception):
                    await asyncio.shield(waiting)
                entry = self.cache.get(key)
                if entry is not None and entry.fresh(time.monotonic()):
                    self.stats.collapsed += 1
                    return self._from_entry(request, entry, "Hit")
            leader: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._inflight[key] = leader
            try:
                return await self._from_origin(
                    request, client_ip, request_id, path, query, entry, key
                )
            finally:
                if self._inflight.get(key) is leader:
                    del self._inflight[key]
                leader.set_result(None)
        return await self._from_origin(request, client_ip, request_id, path, query, entry, key)

    def _from_entry(self, request: Request, entry: Entry, result: str) -> Reply:
        age = entry.age(time.monotonic())
        headers = [*entry.headers, ("_age", str(age))]
        if entry.status >= 400:
            return Reply(entry.status, headers, entry.body, "Error", "Error")
        return self._viewer_view(request, entry.status, headers, entry.body, result)

    def _viewer_view(
        self,
        request: Request,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        result: str,
    ) -> Reply:
        """Apply the viewer's conditional and range headers to a 200 response."""
        if_none_match = request.header("if-none-match")
        if_modified_since = request.header("if-modified-since")
        wanted_range = request.header("range")
        if if_none_match is None and if_modified_since is None and wanted_range is None:
            return Reply(status, headers, body, result)
        if status == 200 and request.method in CACHED_METHODS:
            probe = Entry(status, headers, body, 0.0, 0.0)
            if not_modified(probe, if_none_match, if_modified_since):
                kept = [
                    (k, v) for k, v in headers if k.lower() in _NOT_MODIFIED_HEADERS or k == "_age"
                ]
                return Reply(304, kept, b"", result)
            wanted = byte_range(wanted_range, len(body))
            if wanted is False:
                extra = [("Content-Range", f"bytes */{len(body)}"), ("Content-Type", "text/html")]
                return Reply(416, [*_keep_age(headers), *extra], b"", "Error", result)
            if isinstance(wanted, tuple):
                start, end = wanted
                part = [(k, v) for k, v in headers if k.lower() != "content-length"]
                part.append(("Content-Range", f"bytes {start}-{end}/{len(body)}"))
                return Reply(206, part, body[start : end + 1], result, range=(start, end))
        return Reply(status, headers, body, result)

    async def _from_origin(
        self,
        request: Request,
        client_ip: str,
        request_id: str,
        path: str,
        query: str,
        stale: Entry | None,
        key: str,
    ) -> Reply:
        group = self.config.origins[:2] if self.config.origin_group else self.config.origins[:1]
        attempts = group if request.method in FAILOVER_METHODS else group[:1]
        conditional: dict[str, str] = {}
        if stale is not None and stale.revalidatable and request.method == "GET":
            if stale.etag:
                conditional["If-None-Match"] = stale.etag
            if stale.last_modified:
                conditional["If-Modified-Since"] = stale.last_modified
        reply: Reply | None = None
        for index, origin in enumerate(attempts):
            if index:
                self.stats.failovers += 1
            reply, unreachable = await self._attempt(
                request, client_ip, request_id, path, query, origin, conditional
            )
            if index == len(attempts) - 1 or (reply.result != "Miss" and not unreachable):
                break
            if not should_fail_over(request.method, None if unreachable else reply.status):
                break
        assert reply is not None
        if reply.result != "Miss":
            return reply
        return self._store(request, reply, stale, key)

    def _store(self, request: Request, reply: Reply, stale: Entry | None, key: str) -> Reply:
        viewer = self._store_entry(request, reply, stale, key)
        viewer.origin_region = reply.origin_region
        return viewer

    def _store_entry(self, request: Request, reply: Reply, stale: Entry | None, key: str) -> Reply:
        if reply.status == 304 and stale is not None:
            ttl = ttl_for(200, [*reply.headers, *stale.headers], self.config.cache) or 0.0
            entry = self.cache.refresh(key, stale, reply.headers, ttl)
            return self._from_entry(request, entry, "RefreshHit")
        headers = end_to_end(reply.headers, also=_STRIPPED)
        # A failed revalidation keeps the stale object for the next attempt.
        keep_stale = stale is not None and reply.status >= 500
        if request.method == "GET" and not keep_stale:
            store_ttl = ttl_for(reply.status, headers, self.config.cache)
            if store_ttl is not None:
                self.cache.put(key, reply.status, headers, reply.body, store_ttl)
        if reply.status >= 400:
            return Reply(reply.status, headers, reply.body, "Error", "Error")
        if request.method == "HEAD":
            length = header(reply.headers, "content-length")
            if length is not None:
                headers.append(("Content-Length", length))
        return self._viewer_view(request, reply.status, headers, reply.body, "Miss")

    async def _attempt(
        self,
        request: Request,
        client_ip: str,
        request_id: str,
        path: str,
        query: str,
        origin: Origin,
        conditional: dict[str, str],
    ) -> tuple[Reply, bool]:
        """One trip to one origin of the group; the flag is True when it was unreachable."""
        try:
            address = await self.resolver.resolve(origin.domain)
        except OriginDnsError as exc:
            logger.info("origin DNS failed: %s", exc.detail)
            return self._error(exc.status, exc.result, request_id), True
        event = build_event(
            self.config.distribution,
            request_id,
            client_ip=client_ip,
            method=request.method,
            uri=path,
            querystring=query,
            origin=origin,
            viewer_version=request.version.removeprefix("HTTP/"),
            extra_headers=conditional,
        )
        original = copy_headers(event["Records"][0]["cf"]["request"]["headers"])
        invocation = await self._invoke(event)
        if invocation.outcome is Outcome.THROTTLED:
            return self._error(503, "LambdaLimitExceeded", request_id), False
        if invocation.outcome is not Outcome.OK:
            return self._error(503, "LambdaExecutionError", request_id), False
        value = invocation.value
        if is_generated_response(value):
            return self._generated(value, request_id), False
        problems = validate_request(value, original, request.method)
        if problems:
            self._validation_failed(request_id, problems)
            return self._error(502, "LambdaValidationError", request_id), False
        domain, origin_path, custom_port = origin_target(value)
        if domain != origin.domain:
            # CloudFront resolves the origin again when the function changed it.
            try:
                address = await self.resolver.resolve(domain)
            except OriginDnsError as exc:
                return self._error(exc.status, exc.result, request_id), True
        port = self._ports.get(domain, custom_port or 80)
        target = (
            origin_path
            + value["uri"]
            + (f"?{value['querystring']}" if value.get("querystring") else "")
        )
        headers = origin_headers(value)
        headers.append(("X-Amz-Cf-Id", request_id))
        headers.append(("Connection", "keep-alive"))
        try:
            response = await self.client.fetch((address, port), request.method, target, headers)
        except OriginFailure as exc:
            logger.info("origin %s failed: %s", domain, exc.detail)
            return self._error(exc.status, exc.result, request_id), True
        region = self._regions.get(domain) or value["origin"].get("s3", {}).get("region", "")
        reply = Reply(
            response.status, response.headers, response.body, "Miss", origin_region=region
        )
        return reply, False

    def _generated(self, value: dict[str, Any], request_id: str) -> Reply:
        """The reply for a response the function generated, or its validation error."""
        generated = generated_response(value)
        if isinstance(generated, str):
            self._validation_failed(request_id, [generated])
            return self._error(502, "LambdaValidationError", request_id)
        status, headers, body = generated
        # Headers h11 would refuse to send are refused here, as CloudFront does.
        problem = header_problem(headers)
        if problem is not None:
            self._validation_failed(request_id, [f"invalid header: {problem}"])
            return self._error(502, "LambdaValidationError", request_id)
        return Reply(status, headers, body, "Miss")

    async def _invoke(self, event: dict[str, Any]) -> Invocation:
        started = self.pool.invoke(event)
        if isinstance(started, Invocation):
            return started
        waiting = asyncio.wrap_future(started)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.config.function.timeout_s)
        except TimeoutError:
            return self.pool.timed_out(started)

    def _validation_failed(self, request_id: str, problems: list[str]) -> None:
        function = self.config.function
        line = json.dumps(
            {
                "EventType": "origin-request",
                "FunctionAssociation": f"us-east-1.{function.name}:{function.version}",
                "DistributionId": self.config.distribution.id,
                "RequestId": request_id,
                "ErrorType": "LambdaValidationError",
                "Errors": problems,
            }
        )
        from edge.lambda_runtime import iso_timestamp

        self.validation_log.parent.mkdir(parents=True, exist_ok=True)
        with self.validation_log.open("a", encoding="utf-8") as handle:
            handle.write(f"{iso_timestamp(time.time())}\t{line}\n")

    def snapshot(self) -> Json:
        """Counters for the control API."""
        s = self.stats
        return {
            "requests": s.requests,
            "results": dict(s.results),
            "statuses": dict(s.statuses),
            "collapsed": s.collapsed,
            "failovers": s.failovers,
            "malformed": s.malformed,
            "cache": {
                "objects": len(self.cache),
                "bytes": self.cache.size_bytes,
                "evictions": self.cache.evictions,
            },
            "lambda": self.pool.snapshot(),
            "origin_dns": {"queries": self.resolver.queries, "failures": self.resolver.failures},
            "origin_connections": {"opened": self.client.connects, "reused": self.client.reused},
        }


def _split_target(target: str) -> tuple[str, str, str]:
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        target = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    path, sep, query = target.partition("?")
    return path, sep, query


def _age_of(reply: Reply) -> int | None:
    for key, value in reply.headers:
        if key == "_age":
            return int(value)
    return None


def _keep_age(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k == "_age"]


def _routes(edge: EdgeServer) -> list[Any]:
    def invalidate(body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        paths = body.get("paths")
        if (
            not isinstance(paths, list)
            or not paths
            or not all(isinstance(p, str) and p.startswith("/") for p in paths)
        ):
            raise ApiError(
                400, "field 'paths': must be a non-empty list of paths starting with '/'"
            )
        return 200, {"paths": paths, "removed": edge.cache.invalidate(paths)}

    def settings(body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        limit = body.get("concurrency_limit")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ApiError(400, "field 'concurrency_limit': must be a positive integer")
            edge.pool.concurrency_limit = limit
        return 200, {"concurrency_limit": edge.pool.concurrency_limit}

    return [
        route("POST", "/cache/invalidations", invalidate),
        route("PUT", "/settings", settings),
        route("GET", "/stats", lambda _b, _p: (200, edge.snapshot())),
    ]


def start(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Start the edge server and its agent; returns the ready payload and a stop function."""
    # Environment threads and the event loop share one interpreter: hand the
    # GIL over more often than the 5 ms default so neither waits long.
    sys.setswitchinterval(0.001)
    edge_config = EdgeConfig.from_json(config)
    agent: FaultAgent[LambdaFault] = FaultAgent({"lambda"})
    loop = LoopThread("edge", fast=True)
    edge = loop.run(_create(edge_config, agent))
    port = loop.run(edge.start(port=int(config.get("port", 0))))
    api = agent.serve(_routes(edge), token=str(config["control_token"]))

    def stop() -> None:
        api.stop()
        loop.run(edge.stop(), timeout=10)
        loop.stop()

    return {"edge_url": f"http://127.0.0.1:{port}", "agent": api.url}, stop


async def _create(config: EdgeConfig, agent: FaultAgent[LambdaFault]) -> EdgeServer:
    return EdgeServer(config, agent)


def main() -> int:
    """``python -m edge.server --config FILE``."""
    return run_child("edge.server", start)


async def _deliver(writer: asyncio.StreamWriter, data: bytes) -> bool:
    """Write a response; False when the viewer hung up while the origin answered.

    The request was served (and logged) either way. uvloop raises RuntimeError,
    not ConnectionError, on a write to a closed transport, so check first.
    """
    if writer.is_closing():
        return False
    writer.write(data)
    await writer.drain()
    return True


if __name__ == "__main__":
    sys.exit(main())

