"""The fault proxy in front of each S3 region: its front door, like Toxiproxy in a test stack.

Every request to a region goes through the proxy, which forwards it to the
region's moto server unless a leased fault says otherwise:

* an S3 error (503 SlowDown, 500 InternalError, 403 AccessDenied, 404
  NoSuchKey) with S3's XML body ``<Error><Code/><Message/><Resource/><RequestId/></Error>``;
* ``refused``: at probability 1 the listening socket is closed and open
  connections are reset, so new connections are refused by the kernel; at a
  lower probability a share of requests have their connection reset instead
  (a kernel cannot refuse some connections and accept others on one socket);
* ``reset``: the connection is reset once the request is read;
* ``delay``: the answer comes ``delay_ms`` late;
* ``drop``: the request is read and never answered, until the client gives up;
* ``bandwidth``: the headers go at once, the body at ``bytes_per_s`` (the
  rest at once if the fault ends mid-body);
* ``truncate``: the headers announce the full ``Content-Length``, half the
  body follows, then the connection closes.

The proxy also presents itself as S3 does: ``Server: AmazonS3`` and
``x-amz-request-id`` on every answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import random
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from edge.fault_specs import S3_ERRORS, S3Fault, S3FaultKind
from edge.http_wire import (
    ClientConnection,
    Headers,
    MalformedRequest,
    ProtocolError,
    Request,
    ServerConnection,
    end_to_end,
    without,
)

if TYPE_CHECKING:
    from edge.agent import FaultAgent

logger = logging.getLogger(__name__)

MAX_UPLOAD = 256 << 20
_DROP_HOLD_S = 3600.0
_REFUSED_POLL_S = 0.05
_BACKEND_TIMEOUT_S = 60.0

# A response before it goes on the wire: status, headers (with Content-Length), body.
_Answer = tuple[int, Headers, bytes]


@dataclass(slots=True)
class ProxyStats:
    """What the proxy did, by outcome."""

    requests: int = 0
    forwarded: int = 0
    faulted: dict[str, int] = field(default_factory=dict)
    backend_errors: int = 0
    connections: int = 0
    refusing: bool = False

    def as_json(self) -> dict[str, object]:
        """The counters as a JSON object."""
        return {
            "requests": self.requests,
            "forwarded": self.forwarded,
            "faulted": dict(self.faulted),
            "backend_errors": self.backend_errors,
            "connections": self.connections,
            "refusing": self.refusing,
        }


def request_id() -> str:
    """An S3-style request id (16 upper-case hex characters)."""
    return os.urandom(8).hex().upper()


def s3_error_body(code: str, message: str, resource: str, req_id: str) -> bytes:
    """S3's XML error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{req_id}</RequestId></Error>"
    ).encode()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN (SO_LINGER with a zero timeout)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """An HTTP/1.1 proxy for one region, applying the faults its agent holds."""

    def __init__(
        self,
        target: str,
        backend: tuple[str, int],
        agent: FaultAgent[S3Fault],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
    ) -> None:
        self.target = target
        self._backend = backend
        self._agent = agent
        self._host = host
        self._port = port
        self._random = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pool: deque[tuple[asyncio.StreamWriter, ClientConnection]] = deque()
        self._watch: asyncio.Task[None] | None = None
        self.stats = ProxyStats()

    @property
    def port(self) -> int:
        """The port the proxy listens on (kept while it refuses connections)."""
        return self._port

    async def start(self) -> None:
        """Bind the listener and start watching for ``refused`` faults."""
        await self._listen()
        self._watch = asyncio.get_running_loop().create_task(self._watch_refused())

    async def stop(self) -> None:
        """Close the listener, the open connections and the backend pool."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        await self._unlisten()
        for writer in list(self._writers):
            writer.transport.abort()
        while self._pool:
            writer, _ = self._pool.popleft()
            writer.transport.abort()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, reuse_address=True, limit=MAX_UPLOAD
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _refusing(self) -> bool:
        return any(
            f.kind is S3FaultKind.REFUSED and f.probability >= 1.0 and not f.path_prefix
            for f in self._agent.faults(self.target)
        )

    async def _watch_refused(self) -> None:
        while True:
            try:
                await self._apply_refused()
            except OSError:
                logger.exception("%s could not rebind its port; retrying", self.target)
            await asyncio.sleep(_REFUSED_POLL_S)

    async def _apply_refused(self) -> None:
        refusing = self._refusing()
        if refusing and self._server is not None:
            await self._unlisten()
            for writer in list(self._writers):
                _reset(writer)
            self.stats.refusing = True
            logger.info("%s refusing connections", self.target)
        elif not refusing and self._server is None:
            await self._listen()
            self.stats.refusing = False
            logger.info("%s accepting connections again", self.target)

    def _pick_fault(self, request: Request) -> S3Fault | None:
        key = _object_key(request)
        for fault in self._agent.faults(self.target):
            if fault.path_prefix and not key.startswith(fault.path_prefix):
                continue
            if self._random.random() < fault.probability:
                return fault
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        self.stats.connections += 1
        connection = ServerConnection(reader, MAX_UPLOAD)
        try:
            while True:
                try:
                    request = await connection.next_request(writer)
                except MalformedRequest as exc:
                    writer.write(connection.respond(*_plain_error(exc.status, exc.detail)))
                    await writer.drain()
                    return
                if request is None:
                    return
                self.stats.requests += 1
                if not await self._answer(request, connection, writer):
                    return
                if not connection.keep_alive:
                    return
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _answer(
        self, request: Request, connection: ServerConnection, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection must end."""
        fault = self._pick_fault(request)
        if fault is not None:
            self.stats.faulted[fault.kind.value] = self.stats.faulted.get(fault.kind.value, 0) + 1
            if fault.kind in S3_ERRORS:
                writer.write(connection.respond(*_s3_error(fault.kind, request)))
                await writer.drain()
                return True
            if fault.kind in (S3FaultKind.RESET, S3FaultKind.REFUSED):
                _reset(writer)
                return False
            if fault.kind is S3FaultKind.DROP:
                await self._hold(writer)
                return False
            await asyncio.sleep(fault.delay_ms / 1000.0)
        try:
            status, headers, body, reason = await self._forward(request)
        except (OSError, ProtocolError, TimeoutError) as exc:
            self.stats.backend_errors += 1
            logger.warning("%s backend failed: %s", self.target, exc)
            writer.write(connection.respond(*_s3_error(S3FaultKind.INTERNAL_ERROR, request)))
            await writer.drain()
            return True
        self.stats.forwarded += 1
        wire = connection.respond(status, headers, body, reason)
        if fault is not None and fault.kind is S3FaultKind.TRUNCATE:
            head, sent = _split_head(wire)
            writer.write(head + sent[: len(sent) // 2])
            await writer.drain()
            writer.close()
            return False
        if fault is not None and fault.bytes_per_s is not None:
            await self._trickle(wire, fault, fault.bytes_per_s, writer)
            return True
        writer.write(wire)
        await writer.drain()
        return True

    async def _trickle(
        self, wire: bytes, fault: S3Fault, rate: float, writer: asyncio.StreamWriter
    ) -> None:
        """Send the head at once, then the body at ``rate`` bytes/s while ``fault`` lasts."""
        head, body = _split_head(wire)
        writer.write(head)
        await writer.drain()
        # A twentieth of a second per write: smooth enough for a client, few wake-ups for us.
        chunk = max(1, int(rate / 20))
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        while sent < len(body):
            if fault not in self._agent.faults(self.target):
                break  # removed or expired mid-body: the rest goes at once
            piece = body[sent : sent + chunk]
            sent += len(piece)
            # Each piece leaves when the bytes so far are due: the whole body takes len/rate.
            await asyncio.sleep(max(0.0, started + sent / rate - loop.time()))
            writer.write(piece)
            await writer.drain()
        writer.write(body[sent:])
        await writer.drain()

    async def _hold(self, writer: asyncio.StreamWriter) -> None:
        deadline = time.monotonic() + _DROP_HOLD_S
        while time.monotonic() < deadline and not writer.is_closing():
            if not any(f.kind is S3FaultKind.DROP for f in self._agent.faults(self.target)):
                break
            await asyncio.sleep(0.1)
        writer.transport.abort()

    async def _forward(self, request: Request) -> tuple[int, Headers, bytes, str]:
        """The backend's answer to ``request``, dressed as S3's."""
        headers = end_to_end(request.headers, also=frozenset({"expect"}))
        headers.append(("Connection", "keep-alive"))
        headers = without(headers, "content-length")
        for attempt in range(2):
            reused = bool(self._pool)
            if reused:
                writer, backend = self._pool.pop()
            else:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self._backend, limit=1 << 20), _BACKEND_TIMEOUT_S
                )
                backend = ClientConnection(reader)
            try:
                writer.write(backend.request(request.method, request.target, headers, request.body))
                response = await asyncio.wait_for(backend.response(), _BACKEND_TIMEOUT_S)
            except (OSError, ProtocolError):
                writer.transport.abort()
                if reused and attempt == 0:
                    continue  # the pooled connection had been closed by the backend
                raise
            if response.reusable:
                self._pool.append((writer, backend))
            else:
                writer.close()
            break
        out = end_to_end(response.headers, also=frozenset({"server", "content-length", "date"}))
        amz_id = response.header("x-amzn-requestid")
        if response.header("x-amz-request-id") is None:
            out.append(("x-amz-request-id", (amz_id or request_id())[:16].upper()))
        if response.header("x-amz-id-2") is None:
            out.append(("x-amz-id-2", base64.b64encode(os.urandom(48)).decode()))
        out.append(("Date", _http_date()))
        out.append(("Server", "AmazonS3"))
        length = response.header("content-length") if request.method == "HEAD" else None
        out.append(("Content-Length", length if length is not None else str(len(response.body))))
        return response.status, out, response.body, response.reason


def _object_key(request: Request) -> str:
    path = request.target.split("?", 1)[0].lstrip("/")
    host = (request.header("host") or "").split(":", 1)[0]
    if ".s3." in host or host.endswith(".s3.amazonaws.com"):
        return path  # virtual-hosted style: the bucket is in the host
    return path.split("/", 1)[1] if "/" in path else ""


def _split_head(wire: bytes) -> tuple[bytes, bytes]:
    """A serialised response's head (through its blank line) and the body bytes after it."""
    end = wire.index(b"\r\n\r\n") + 4
    return wire[:end], wire[end:]


def _http_date() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


def _s3_error(kind: S3FaultKind, request: Request) -> _Answer:
    status, code, message = S3_ERRORS[kind]
    req_id = request_id()
    body = s3_error_body(code, message, request.target.split("?", 1)[0], req_id)
    headers = [
        ("x-amz-request-id", req_id),
        ("x-amz-id-2", base64.b64encode(os.urandom(48)).decode()),
        ("Content-Type", "application/xml"),
        ("Date", _http_date()),
        ("Server", "AmazonS3"),
        ("Content-Length", str(len(body))),
    ]
    return status, headers, b"" if request.method == "HEAD" else body


def _plain_error(status: int, message: str) -> _Answer:
    body = s3_error_body("InvalidRequest", message, "", request_id())
    headers = [
        ("Content-Type", "application/xml"),
        ("Server", "AmazonS3"),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
    ]
    return status, headers, body
