"""JSON over HTTP on loopback: the control plane's server and client.

The control API and each process's agent are small HTTP/1.1 servers that take
and return JSON objects. Routes are ``(METHOD, pattern)`` pairs where a
pattern segment ``{name}`` captures one path segment. A handler raises
:class:`ApiError` for a client error; anything else is a 500 with the
exception named.

Every request must carry ``Authorization: Bearer <token>`` (the state file's
``control_token``), else 401. Two refusals (403) come first, because a web
page in a browser can reach a loopback port: a request with an ``Origin``
header (browsers add it to cross-origin requests, scripts on this machine do
not), and a ``Host`` other than ``127.0.0.1:<port>`` or ``localhost:<port>``
(DNS rebinding: a hostile name resolving to 127.0.0.1 keeps its own name in
``Host``).
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Handler = Callable[[Json, dict[str, str]], tuple[int, Json]]

_MAX_BODY = 1 << 20
# An idle or trickling client holds one thread; it gets this long per read.
_CLIENT_TIMEOUT_S = 30.0


class ApiError(Exception):
    """A request the API refuses, with the status to answer."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class _ClientGone(Exception):
    """The client closed or reset the connection while we were reading its request."""


@dataclass(frozen=True, slots=True)
class Route:
    """One method and path pattern, and its handler."""

    method: str
    pattern: tuple[str, ...]
    handler: Handler

    def match(self, method: str, parts: tuple[str, ...]) -> dict[str, str] | None:
        """The captured segments if this route serves ``method parts``."""
        if method != self.method or len(parts) != len(self.pattern):
            return None
        captured: dict[str, str] = {}
        for want, got in zip(self.pattern, parts, strict=True):
            if want.startswith("{") and want.endswith("}"):
                # The sender percent-encodes a segment (an id may hold ':' or '/'):
                # the handler sees the value it was given.
                captured[want[1:-1]] = unquote(got)
            elif want != got:
                return None
        return captured


def route(method: str, path: str, handler: Handler) -> Route:
    """Build a :class:`Route` from ``"/faults/{id}"``-style paths."""
    return Route(method, tuple(part for part in path.split("/") if part), handler)


def _refuse_constant(name: str) -> Any:
    raise ApiError(400, f"body is not valid JSON: {name} is not a JSON number")


def _decode_body(raw: bytes) -> Json:
    """The JSON object in a request body, or :class:`ApiError` 400 saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"body is not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        raise ApiError(400, msg) from exc
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"body is not valid JSON: {exc.msg} at column {exc.colno}") from exc
    except RecursionError as exc:
        raise ApiError(400, "body is not usable JSON: nested too deeply") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: tuple[Route, ...] = ()
    token: bytes = b""

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr by default: a client that
        # hangs up is routine, anything else is logged once.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            logger.debug("control client %s went away: %s", client_address[0], exc)
        else:
            logger.error("control connection from %s failed", client_address[0], exc_info=exc)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = _CLIENT_TIMEOUT_S
    _body_read = False

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("control %s: %s", self.client_address[0], format % args)

    def _dispatch(self) -> None:
        try:
            status, payload, headers = self._answer()
        except _ClientGone as exc:
            logger.debug("control client %s went away: %s", self.client_address[0], exc)
            self.close_connection = True
            return
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError as exc:
            logger.debug("control client %s went away: %s", self.client_address[0], exc)
            self.close_connection = True

    def _answer(self) -> tuple[int, Json, dict[str, str]]:
        parts = tuple(part for part in urlsplit(self.path).path.split("/") if part)
        try:
            self._admit()
            body = self._read_json()
            for candidate in self.server.routes:
                captured = candidate.match(self.command, parts)
                if captured is not None:
                    status, payload = candidate.handler(body, captured)
                    return status, payload, {}
            known = any(r.match(r.method, parts) is not None for r in self.server.routes)
            raise ApiError(405 if known else 404, f"no route for {self.command} {self.path}")
        except ApiError as exc:
            if not self._body_read:
                # The unread body must not be taken for the next request.
                self.close_connection = True
                exc.headers.setdefault("Connection", "close")
            return exc.status, {"error": exc.message}, exc.headers
        except _ClientGone:
            raise
        except Exception as exc:
            logger.exception("control handler failed")
            return 500, {"error": f"{type(exc).__name__}: {exc}"}, {}

    def _admit(self) -> None:
        """Refuse browsers, rebound host names and requests without the token."""
        self._body_read = False
        if self.headers.get("Origin") is not None:
            raise ApiError(403, "requests with an Origin header are refused (browsers)")
        port = self.server.server_address[1]
        allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if port == 80:
            allowed |= {"127.0.0.1", "localhost"}
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in allowed:
            raise ApiError(403, f"Host must be 127.0.0.1:{port} or localhost:{port}")
        given = self.headers.get("Authorization") or ""
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.strip().encode("utf-8", "surrogateescape"), self.server.token
        ):
            what = "a wrong" if given else "no"
            raise ApiError(
                401,
                f"{what} bearer token: send 'Authorization: Bearer <control_token of the state "
                "file>'",
                {"WWW-Authenticate": "Bearer"},
            )

    def _read_json(self) -> Json:
        if self.headers.get("Transfer-Encoding") is not None:
            raise ApiError(411, "send the body with a Content-Length, not a Transfer-Encoding")
        length_text = self.headers.get("Content-Length", "0").strip()
        if not length_text.isdigit() or not length_text.isascii():
            raise ApiError(400, "Content-Length must be a number")
        length = int(length_text)
        if length > _MAX_BODY:
            raise ApiError(413, "request body too large")
        try:
            raw = self.rfile.read(length) if length else b""
        except OSError as exc:
            raise _ClientGone(str(exc)) from exc
        if len(raw) < length:
            raise _ClientGone(f"body ended after {len(raw)} of {length} bytes")
        self._body_read = True
        return _decode_body(raw) if raw else {}

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch


class JsonServer:
    """A threaded JSON API bound to 127.0.0.1, answering only requests bearing ``token``."""

    def __init__(
        self, routes: list[Route], host: str = "127.0.0.1", port: int = 0, *, token: str
    ) -> None:
        if not token:
            msg = "a JSON API needs a bearer token"
            raise ValueError(msg)
        self._server = _Server((host, port), _RequestHandler)
        self._server.routes = tuple(routes)
        self._server.token = token.encode("utf-8")
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> JsonServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def call(
    url: str,
    method: str,
    path: str,
    body: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
    *,
    token: str | None = None,
) -> tuple[int, Json]:
    """Send one JSON request, bearing ``token`` if given; returns ``(status, decoded body)``."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        payload = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        payload = {"error": raw.decode("utf-8", "replace")}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    return response.status, payload
