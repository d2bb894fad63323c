"""HTTP/1.1 on the wire (RFC 9112) for asyncio streams, parsed and framed by h11.

The edge server, its origin client and the S3 fault proxies all speak
HTTP/1.1 through one :class:`ServerConnection` or :class:`ClientConnection`
per TCP connection, each wrapping an ``h11.Connection`` that is reused
request after request (``start_next_cycle``). h11 parses request and status
lines, headers and bodies (Content-Length, chunked, close-delimited), and
decides keep-alive. On top of it sits what CloudFront does to viewer
requests: its quotas (20,480 bytes of request line and headers, 8,192 bytes
of URL), its status codes, and a few checks h11 leaves out (obsolete line
folding, Content-Length together with Transfer-Encoding, HTTP versions
other than 1.x). Anything malformed raises :class:`MalformedRequest` with
the status to answer, and never reaches the rest of the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING

import h11

if TYPE_CHECKING:
    import asyncio

# CloudFront quotas: 20,480 bytes for the request line and headers together,
# 8,192 bytes for the URL.
MAX_REQUEST_HEAD = 20_480
MAX_URL = 8_192
MAX_RESPONSE_HEAD = 65_536
_READ_SIZE = 65_536
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)

REASONS: dict[int, bytes] = {status.value: status.phrase.encode() for status in HTTPStatus}
REASONS[494] = b"Request Header Too Large"


class MalformedRequest(Exception):
    """A viewer request that cannot be served, with the status CloudFront answers."""

    def __init__(self, status: int, detail: str, result: str = "InvalidRequest") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.result = result


class ProtocolError(Exception):
    """An origin answered with something that is not HTTP/1.x."""


class NoResponse(ProtocolError):
    """The origin closed the connection before the first byte of its response."""


Headers = list[tuple[str, str]]


def header(headers: Headers, name: str) -> str | None:
    """The first value of ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def without(headers: Headers, *names: str) -> Headers:
    """``headers`` minus every ``names`` (case-insensitive)."""
    drop = {name.lower() for name in names}
    return [(k, v) for k, v in headers if k.lower() not in drop]


def end_to_end(headers: Headers, also: frozenset[str] = frozenset()) -> Headers:
    """``headers`` minus hop-by-hop headers and those ``Connection`` names (RFC 9110 §7.6.1).

    ``also``: lower-case names to drop as well.
    """
    lowered = [(key.lower(), key, value) for key, value in headers]
    listed = {
        token.strip().lower()
        for name, _, value in lowered
        if name == "connection"
        for token in value.split(",")
    }
    drop = _HOP_BY_HOP | listed | also
    return [(key, value) for name, key, value in lowered if name not in drop]


def header_problem(headers: Headers) -> str | None:
    """Why ``headers`` cannot go on the wire as they are, or None when they can."""
    try:
        h11.Response(status_code=200, headers=_encoded(headers))
    except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
        return str(exc)
    return None


@dataclass(slots=True)
class Request:
    """One parsed request."""

    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""
    head_bytes: int = 0
    keep_alive: bool = True  # h11's verdict: the connection stays open after the response
    _first: dict[str, str] | None = None  # lower-cased name -> first value, built on first use

    def header(self, name: str) -> str | None:
        """The first value of ``name``."""
        first = self._first
        if first is None:
            first = self._first = {}
            for key, value in self.headers:
                first.setdefault(key.lower(), value)
        return first.get(name.lower())


@dataclass(slots=True)
class Response:
    """One response, body read in full."""

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    reason: str = ""
    reusable: bool = True  # the connection may carry another request

    def header(self, name: str) -> str | None:
        """The first value of ``name``."""
        return header(self.headers, name)


def _encoded(headers: Headers) -> list[tuple[bytes, bytes]]:
    # latin-1, not h11's ASCII: header values may carry obs-text (RFC 9110 §5.5).
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _decoded(event: h11.Request | h11.Response) -> Headers:
    # raw_items(): the names as the peer cased them, not h11's lower-cased ones.
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in event.headers.raw_items()
    ]


class _BodyTooLarge(Exception):
    """The peer's body went over the size the reader allows."""


class _UnexpectedEvent(Exception):
    """h11 framed something other than body data where a body stands."""


async def _read_body(
    conn: h11.Connection, reader: asyncio.StreamReader, max_body: int, kind: str
) -> bytes:
    """The body of the ``kind`` (request, response) message ``conn`` is reading.

    Raises:
        h11.RemoteProtocolError: the peer broke HTTP/1.1 framing.
        _BodyTooLarge: the body went over ``max_body`` bytes.
        _UnexpectedEvent: something other than data came before the end.
    """
    parts: list[bytes] = []
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(_READ_SIZE))
        elif type(event) is h11.Data:
            size += len(event.data)
            if size > max_body:
                raise _BodyTooLarge(f"{kind} body too large")
            parts.append(event.data)
        elif type(event) is h11.EndOfMessage:
            return b"".join(parts)
        else:
            raise _UnexpectedEvent(f"unexpected {type(event).__name__} in a {kind} body")


class ServerConnection:
    """The server side of one viewer connection: h11.SERVER with CloudFront's rules on top."""

    __slots__ = ("_bodiless", "_h11", "_max_body", "_reader")

    def __init__(self, reader: asyncio.StreamReader, max_body: int = 1 << 20) -> None:
        self._reader = reader
        self._max_body = max_body
        self._h11 = _server()
        self._bodiless = False  # the current request is a HEAD: its response has no body

    @property
    def keep_alive(self) -> bool:
        """Whether the connection carries another request after the last response."""
        return self._h11.our_state is h11.IDLE

    async def next_request(self, writer: asyncio.StreamWriter | None = None) -> Request | None:
        """Read one request; None on a clean end of stream before its first byte.

        With ``writer``, a request that sent ``Expect: 100-continue`` is told to
        go on before its body is read (RFC 9110 §10.1.1).
        """
        self._bodiless = False
        event, head = await self._read_head()
        if event is None:
            return None
        self._bodiless = event.method == b"HEAD"
        version = _VERSIONS.get(event.http_version)
        if version is None:
            if event.http_version[:2] != b"1.":
                raise MalformedRequest(505, "only HTTP/1.0 and HTTP/1.1 are served over plain TCP")
            version = "HTTP/" + event.http_version.decode("ascii")
        if len(event.target) > MAX_URL:
            raise MalformedRequest(414, "URL exceeds 8,192 bytes")
        request = Request(
            event.method.decode("ascii"),
            event.target.decode("ascii"),
            version,
            _decoded(event),
            b"",
            head,
        )
        length = request.header("content-length")
        if length is not None:
            if request.header("transfer-encoding") is not None:
                # A request smuggling vector (RFC 9112 §6.3): refused outright.
                raise MalformedRequest(
                    400, "both Transfer-Encoding and Content-Length", "InvalidRequestHeader"
                )
            if int(length) > self._max_body:
                raise MalformedRequest(413, "request body too large")
        if writer is not None and self._h11.they_are_waiting_for_100_continue:
            go_on = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
            writer.write(self._h11.send(go_on))
        request.body = await self._read_body()
        request.keep_alive = self._h11.their_state is h11.DONE
        return request

    async def _read_head(self) -> tuple[h11.Request | None, int]:
        """The next request's head event and its size on the wire (None at a clean end)."""
        chunks = self._pipelined()
        if not chunks:  # nothing buffered: wait for bytes before asking h11
            await self._feed_head(chunks)
        conn = self._h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise _refused(exc, b"".join(chunks)) from exc
            if type(event) is h11.Request:
                break
            if event is not h11.NEED_DATA:  # ConnectionClosed before a request began
                return None, 0
            await self._feed_head(chunks)
        raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        head = len(raw) - len(conn.trailing_data[0])
        if head > MAX_REQUEST_HEAD:
            raise MalformedRequest(494, "request line and headers exceed 20,480 bytes")
        if raw.find(b"\n ", 0, head) >= 0 or raw.find(b"\n\t", 0, head) >= 0:
            # h11 unfolds obs-fold; CloudFront refuses it (RFC 9112 §5.2 allows either).
            raise MalformedRequest(400, "obsolete line folding in headers", "InvalidRequestHeader")
        return event, head

    def _pipelined(self) -> list[bytes]:
        """The bytes already received for the next request: what followed the last one."""
        leftover = self._h11.trailing_data[0]
        if leftover[:1] in (b"\r", b"\n"):
            # RFC 9112 §2.2: empty lines before a request line are ignored; h11
            # refuses them, so this cycle starts on a fresh connection state.
            self._h11 = _server()
            leftover = leftover.lstrip(b"\r\n")
            self._h11.receive_data(leftover)
        return [leftover] if leftover else []

    async def _feed_head(self, chunks: list[bytes]) -> None:
        """Read more of a request head into h11 and ``chunks`` (b"" at the end of stream)."""
        while True:
            data = await self._reader.read(_READ_SIZE)
            if chunks or not data:
                break
            data = data.lstrip(b"\r\n")  # empty lines before the request line
            if data:
                break
        self._h11.receive_data(data)
        if data:
            chunks.append(data)

    async def _read_body(self) -> bytes:
        try:
            return await _read_body(self._h11, self._reader, self._max_body, "request")
        except h11.RemoteProtocolError as exc:
            raise MalformedRequest(400, f"bad request body: {exc}") from exc
        except _BodyTooLarge as exc:
            raise MalformedRequest(413, str(exc)) from None
        except _UnexpectedEvent as exc:
            raise MalformedRequest(400, str(exc)) from None

    def respond(self, status: int, headers: Headers, body: bytes = b"", reason: str = "") -> bytes:
        """Serialise the response to the current request; ``headers`` carry Content-Length.

        A response to HEAD, 204 or 304 goes without ``body``; h11 closes the
        connection after it when either side asked to.
        """
        conn = self._h11
        phrase = reason.encode("latin-1") if reason else REASONS.get(status, b"Unknown")
        head = h11.Response(status_code=status, headers=_encoded(headers), reason=phrase)
        parts = [conn.send(head)]
        if body and not self._bodiless and status not in (204, 304):
            parts.append(conn.send(h11.Data(data=body)))
        parts.append(conn.send(h11.EndOfMessage()))
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        return b"".join(parts)


def _server() -> h11.Connection:
    # h11 counts only a head still incomplete against the limit; a complete
    # head that arrived in one read is measured in _read_head.
    return h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)


def _refused(exc: h11.RemoteProtocolError, raw: bytes) -> MalformedRequest:
    """The MalformedRequest for h11's objection to a request head."""
    message = str(exc)
    if exc.error_status_hint == 431:
        return MalformedRequest(494, "request line and headers exceed 20,480 bytes")
    if exc.error_status_hint == 501:
        return MalformedRequest(501, "only the chunked transfer coding is accepted")
    if message == "peer unexpectedly closed connection":
        return MalformedRequest(400, "connection closed inside the request head")
    if message.startswith(("illegal request line", "no request line")):
        parts = raw.split(b"\r\n", 1)[0].split(b" ")
        if len(parts) == 3 and not _TOKEN.fullmatch(parts[0]):
            return MalformedRequest(400, "method is not a token", "InvalidRequestMethod")
        return MalformedRequest(400, "request line is not 'METHOD target HTTP/x.y'")
    return MalformedRequest(400, message, "InvalidRequestHeader")


class ClientConnection:
    """The client side of one origin connection: h11.CLIENT, reused while keep-alive holds."""

    __slots__ = ("_h11", "_reader")

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_RESPONSE_HEAD)

    def request(self, method: str, target: str, headers: Headers, body: bytes = b"") -> bytes:
        """Serialise one request; adds Content-Length when there is a body.

        Raises :class:`ProtocolError` for a request h11 will not send (no Host,
        a target with spaces or control characters).
        """
        conn = self._h11
        fields = _encoded(headers)
        if body or method in ("POST", "PUT", "PATCH"):
            fields.append((b"Content-Length", b"%d" % len(body)))
        try:
            parts = [conn.send(h11.Request(method=method, target=target, headers=fields))]
            if body:
                parts.append(conn.send(h11.Data(data=body)))
            parts.append(conn.send(h11.EndOfMessage()))
        except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
            raise ProtocolError(f"cannot send the request: {exc}") from exc
        return b"".join(parts)

    async def response(self, max_body: int = 1 << 30) -> Response:
        """Read the response to the request last serialised."""
        conn = self._h11
        head = await self._response_head()
        try:
            body = await _read_body(conn, self._reader, max_body, "response")
        except (h11.RemoteProtocolError, _BodyTooLarge, _UnexpectedEvent) as exc:
            raise ProtocolError(str(exc)) from exc
        # A body delimited by the end of the stream leaves h11 DONE on a closed connection.
        reusable = (
            conn.our_state is h11.DONE
            and conn.their_state is h11.DONE
            and not conn.trailing_data[1]
        )
        if reusable:
            conn.start_next_cycle()
        return Response(
            head.status_code,
            _decoded(head),
            body,
            head.reason.decode("latin-1"),
            reusable,
        )

    async def _response_head(self) -> h11.Response:
        """The final response's head; 1xx responses before it are skipped."""
        conn = self._h11
        waiting = not conn.trailing_data[0]  # nothing buffered: read before asking h11
        received = not waiting
        while True:
            if waiting:
                data = await self._reader.read(_READ_SIZE)
                if not data and not received:
                    raise NoResponse("the origin closed the connection without answering")
                received = True
                conn.receive_data(data)
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise ProtocolError(str(exc)) from exc
            if type(event) is h11.Response:
                return event
            waiting = event is h11.NEED_DATA
            if not waiting and type(event) is not h11.InformationalResponse:
                raise ProtocolError(f"unexpected {type(event).__name__} before a response")
