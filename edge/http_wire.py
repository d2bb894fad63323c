"""HTTP/1.1 on the wire (RFC 9112) for asyncio streams: parse, frame, serialise.

The edge server, its origin client and the S3 fault proxies all speak
HTTP/1.1 through these functions. Viewer requests are checked strictly, as a
CDN's front end does: anything malformed raises :class:`MalformedRequest`
with the status to answer, and never reaches the rest of the server.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from http import HTTPStatus

# CloudFront quotas: 20,480 bytes for the request line and headers together,
# 8,192 bytes for the URL.
MAX_REQUEST_HEAD = 20_480
MAX_URL = 8_192
MAX_RESPONSE_HEAD = 65_536
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VERSION = re.compile(rb"^HTTP/(\d)\.(\d)$")
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

_FRAMING = frozenset({"connection", "transfer-encoding", "content-length"})

REASONS: dict[int, str] = {status.value: status.phrase for status in HTTPStatus}
REASONS[494] = "Request Header Too Large"


class MalformedRequest(Exception):
    """A viewer request that cannot be served, with the status CloudFront answers."""

    def __init__(self, status: int, detail: str, result: str = "InvalidRequest") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.result = result


class ProtocolError(Exception):
    """An origin answered with something that is not HTTP/1.x."""


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


@dataclass(slots=True)
class Request:
    """One parsed request."""

    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""
    head_bytes: int = 0
    _first: dict[str, str] | None = None  # lower-cased name -> first value, built on first use

    def header(self, name: str) -> str | None:
        """The first value of ``name``."""
        first = self._first
        if first is None:
            first = self._first = {}
            for key, value in self.headers:
                first.setdefault(key.lower(), value)
        return first.get(name.lower())

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response."""
        tokens = {t.strip().lower() for t in (self.header("connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


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


async def read_request(
    reader: asyncio.StreamReader,
    max_body: int = 1 << 20,
    writer: asyncio.StreamWriter | None = None,
) -> Request | None:
    """Read one request; None on a clean end of stream before its first byte.

    With ``writer``, a request that sent ``Expect: 100-continue`` is told to
    go on before its body is read (RFC 9110 §10.1.1).
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise MalformedRequest(400, "connection closed inside the request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise MalformedRequest(494, "request line and headers exceed 20,480 bytes") from exc
    if len(head) > MAX_REQUEST_HEAD:
        raise MalformedRequest(494, "request line and headers exceed 20,480 bytes")
    request = parse_request_head(head)
    expect = (request.header("expect") or "").lower()
    if writer is not None and expect == "100-continue" and request.version == "HTTP/1.1":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.body = await _read_request_body(reader, request, max_body)
    return request


def parse_request_head(head: bytes) -> Request:
    """Parse a request line and headers (``head`` ends with the blank line)."""
    lines = head[:-4].split(b"\r\n")
    while lines and not lines[0]:
        lines.pop(0)  # RFC 9112 §2.2: ignore empty lines before the request line
    if not lines:
        raise MalformedRequest(400, "empty request")
    method, target, version = _request_line(lines[0])
    headers = [_header_line(line) for line in lines[1:]]
    if version == "HTTP/1.1" and header(headers, "host") is None:
        raise MalformedRequest(400, "HTTP/1.1 request without Host", "InvalidRequestHeader")
    return Request(method, target, version, headers, b"", len(head))


def _request_line(line: bytes) -> tuple[str, str, str]:
    parts = line.split(b" ")
    if len(parts) != 3:
        raise MalformedRequest(400, "request line is not 'METHOD target HTTP/x.y'")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise MalformedRequest(400, "method is not a token", "InvalidRequestMethod")
    version_match = _VERSION.match(version)
    if version_match is None:
        raise MalformedRequest(400, "malformed HTTP version")
    if version_match.group(1) != b"1":
        raise MalformedRequest(505, "only HTTP/1.0 and HTTP/1.1 are served over plain TCP")
    if len(target) > MAX_URL:
        raise MalformedRequest(414, "URL exceeds 8,192 bytes")
    if not target or any(c <= 0x20 or c == 0x7F for c in target):
        raise MalformedRequest(400, "request target is empty or holds control characters")
    return method.decode("ascii"), target.decode("latin-1"), version.decode("ascii")


def _header_line(line: bytes) -> tuple[str, str]:
    if line[:1] in (b" ", b"\t"):
        raise MalformedRequest(400, "obsolete line folding in headers", "InvalidRequestHeader")
    name, sep, value = line.partition(b":")
    if not sep or not _TOKEN.match(name):
        raise MalformedRequest(400, "malformed header line", "InvalidRequestHeader")
    if b"\0" in value or b"\r" in value or b"\n" in value:
        raise MalformedRequest(400, "header value holds control characters", "InvalidRequestHeader")
    return name.decode("ascii"), value.strip(b" \t").decode("latin-1")


async def _read_request_body(
    reader: asyncio.StreamReader, request: Request, max_body: int
) -> bytes:
    encodings = [v for k, v in request.headers if k.lower() == "transfer-encoding"]
    lengths = {v.strip() for k, v in request.headers if k.lower() == "content-length"}
    if encodings:
        if lengths:
            raise MalformedRequest(
                400, "both Transfer-Encoding and Content-Length", "InvalidRequestHeader"
            )
        if ",".join(encodings).strip().lower() != "chunked":
            raise MalformedRequest(501, "only the chunked transfer coding is accepted")
        try:
            return await read_chunked(reader, max_body)
        except ProtocolError as exc:
            raise MalformedRequest(400, f"bad chunked body: {exc}") from exc
    if not lengths:
        return b""
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise MalformedRequest(400, "invalid Content-Length", "InvalidRequestHeader")
    length = int(next(iter(lengths)))
    if length > max_body:
        raise MalformedRequest(413, "request body too large")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise MalformedRequest(400, "connection closed inside the request body") from exc


async def read_chunked(reader: asyncio.StreamReader, max_body: int) -> bytes:
    """Read a chunked body and its trailer section."""
    body = bytearray()
    try:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise ProtocolError(f"bad chunk size {size_text!r}") from exc
            if size < 0:
                raise ProtocolError("negative chunk size")
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(body)
            if len(body) + size > max_body:
                raise ProtocolError("body too large")
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise ProtocolError(f"stream ended inside a chunked body: {exc}") from exc


def _response_head(head: bytes) -> tuple[int, str, Headers, dict[str, str], bytes]:
    """Status, reason, headers, the framing headers' first values and the version."""
    lines = head[:-4].split(b"\r\n")
    status_parts = lines[0].split(b" ", 2)
    if (
        len(status_parts) < 2
        or not status_parts[0].startswith(b"HTTP/1.")
        or not status_parts[1].isdigit()
    ):
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    reason = status_parts[2].decode("latin-1") if len(status_parts) > 2 else ""
    headers: Headers = []
    framing: dict[str, str] = {}  # the first connection, transfer-encoding, content-length
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        key, text = name.strip().decode("latin-1"), value.strip().decode("latin-1")
        headers.append((key, text))
        lower = key.lower()
        if lower in _FRAMING and lower not in framing:
            framing[lower] = text
    return int(status_parts[1]), reason, headers, framing, status_parts[0]


async def read_response(
    reader: asyncio.StreamReader, method: str, max_body: int = 1 << 30
) -> Response:
    """Read one response to a ``method`` request from an origin."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("response head too large") from exc
    status, reason, headers, framing, version = _response_head(head)
    tokens = {t.strip().lower() for t in framing.get("connection", "").split(",")}
    reusable = version == b"HTTP/1.1" and "close" not in tokens
    if method == "HEAD" or status < 200 or status in (204, 304):
        return Response(status, headers, b"", reason, reusable)
    encoding = framing.get("transfer-encoding", "").lower()
    if "chunked" in encoding:
        return Response(status, headers, await read_chunked(reader, max_body), reason, reusable)
    length_text = framing.get("content-length")
    if length_text is not None:
        if not length_text.strip().isdigit():
            raise ProtocolError(f"bad Content-Length {length_text!r}")
        length = int(length_text)
        if length > max_body:
            raise ProtocolError("response body too large")
        return Response(status, headers, await reader.readexactly(length), reason, reusable)
    return Response(status, headers, await reader.read(max_body), reason, reusable=False)


def encode_response(status: int, headers: Headers, body: bytes = b"", reason: str = "") -> bytes:
    """Serialise a response; ``headers`` must already carry Content-Length."""
    phrase = reason or REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def encode_request(method: str, target: str, headers: Headers, body: bytes = b"") -> bytes:
    """Serialise a request; adds Content-Length when there is a body."""
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
