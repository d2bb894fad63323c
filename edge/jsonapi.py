"""JSON over HTTP on loopback: the control plane's server and client.

The control API and each process's agent are small HTTP/1.1 servers that take
and return JSON objects. Routes are ``(METHOD, pattern)`` pairs where a
pattern segment ``{name}`` captures one path segment. A handler raises
:class:`ApiError` for a client error; anything else is a 500 with the
exception named.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Handler = Callable[[Json, dict[str, str]], tuple[int, Json]]

_MAX_BODY = 1 << 20


class ApiError(Exception):
    """A request the API refuses, with the status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
                captured[want[1:-1]] = got
            elif want != got:
                return None
        return captured


def route(method: str, path: str, handler: Handler) -> Route:
    """Build a :class:`Route` from ``"/faults/{id}"``-style paths."""
    return Route(method, tuple(part for part in path.split("/") if part), handler)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: tuple[Route, ...] = ()


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("control %s: %s", self.client_address[0], format % args)

    def _dispatch(self) -> None:
        parts = tuple(part for part in urlsplit(self.path).path.split("/") if part)
        try:
            body = self._read_json()
            for candidate in self.server.routes:
                captured = candidate.match(self.command, parts)
                if captured is not None:
                    status, payload = candidate.handler(body, captured)
                    break
            else:
                known = any(r.match(r.method, parts) is not None for r in self.server.routes)
                raise ApiError(405 if known else 404, f"no route for {self.command} {self.path}")
        except ApiError as exc:
            status, payload = exc.status, {"error": exc.message}
        except Exception as exc:
            logger.exception("control handler failed")
            status, payload = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> Json:
        length_text = self.headers.get("Content-Length", "0")
        if not length_text.isdigit():
            raise ApiError(400, "Content-Length must be a number")
        length = int(length_text)
        if length > _MAX_BODY:
            raise ApiError(413, "request body too large")
        if not length:
            return {}
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"body is not valid JSON: {exc.msg} at column {exc.colno}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        return body

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch


class JsonServer:
    """A threaded JSON API bound to 127.0.0.1."""

    def __init__(self, routes: list[Route], host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _RequestHandler)
        self._server.routes = tuple(routes)
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
    url: str, method: str, path: str, body: Mapping[str, Any] | None = None, timeout: float = 10.0
) -> tuple[int, Json]:
    """Send one JSON request and return ``(status, decoded body)``."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        payload = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        payload = {"error": raw.decode("utf-8", "replace")}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    return response.status, payload
