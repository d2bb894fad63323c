"""The control API and every agent answer only their bearer token, and never a browser."""

from __future__ import annotations

import http.client
import socket
import stat
import struct
import time
from pathlib import Path

import pytest

from edge.jsonapi import call
from edge.stack import RunningStack
from tests.edge.conftest import Control

pytestmark = pytest.mark.slow

ENDPOINTS = ["control", "dns", "edge", "s3:us-east-1", "s3:eu-west-1"]


def _url(stack: RunningStack, endpoint: str) -> str:
    if endpoint == "control":
        return stack.state.control_url
    return stack.state.agents[endpoint]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _raw(
    url: str, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly these headers (no Host added by http.client)."""
    connection = http.client.HTTPConnection("127.0.0.1", _port(url), timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _good_headers(stack: RunningStack, url: str) -> dict[str, str]:
    return {
        "Host": f"127.0.0.1:{_port(url)}",
        "Authorization": f"Bearer {stack.state.control_token}",
    }


def _up_stderr(stack: RunningStack) -> Path:
    return stack.state_path.with_name(stack.state_path.stem + ".up.stderr.log")


def _child_stderr(stack: RunningStack, name: str) -> Path:
    run_dir = Path(str(stack.state.extra["router_config"])).parent
    return run_dir / f"{name.replace(':', '-')}.stderr.log"


def test_state_file_is_owner_only_and_holds_a_long_token(stack: RunningStack) -> None:
    assert stat.S_IMODE(stack.state_path.stat().st_mode) == 0o600
    assert len(stack.state.control_token) >= 20
    assert set(stack.state.agents) == {"dns", "edge", "s3:us-east-1", "s3:eu-west-1"}
    # The children's config files carry the token too.
    run_dir = Path(str(stack.state.extra["router_config"])).parent
    configs = sorted(p for p in run_dir.glob("*.json") if p.name != "router-config.json")
    assert [p.name for p in configs] == [
        "dns.json",
        "edge.json",
        "s3-eu-west-1.json",
        "s3-us-east-1.json",
    ]
    for path in configs:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stack.state.control_token in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_without_the_token_401(stack: RunningStack, endpoint: str) -> None:
    url = _url(stack, endpoint)
    headers = {"Host": f"127.0.0.1:{_port(url)}"}
    status, reply_headers, body = _raw(url, "GET", "/faults", headers)
    assert status == 401, body
    assert reply_headers["www-authenticate"] == "Bearer"
    assert b"bearer token" in body
    assert call(url, "GET", "/health")[0] == 401


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("given", ["Bearer wrong-token-of-the-same-kind-0123456", "Basic abc"])
def test_with_a_wrong_token_401(stack: RunningStack, endpoint: str, given: str) -> None:
    url = _url(stack, endpoint)
    headers = {"Host": f"127.0.0.1:{_port(url)}", "Authorization": given}
    status, reply_headers, _ = _raw(url, "GET", "/faults", headers)
    assert status == 401
    assert reply_headers["www-authenticate"] == "Bearer"
    # The token of the state file with one character changed is as wrong.
    token = stack.state.control_token
    assert (
        call(url, "GET", "/faults", token=token[:-1] + ("a" if token[-1] != "a" else "b"))[0] == 401
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_with_the_token_200(stack: RunningStack, endpoint: str) -> None:
    url = _url(stack, endpoint)
    status, payload = call(url, "GET", "/faults", token=stack.state.control_token)
    assert status == 200, payload
    assert payload["faults"] == []
    assert call(url, "GET", "/health", token=stack.state.control_token) == (200, {"ok": True})
    # localhost names the same server.
    headers = {**_good_headers(stack, url), "Host": f"localhost:{_port(url)}"}
    assert _raw(url, "GET", "/health", headers)[0] == 200


def test_a_fault_needs_the_token_and_is_not_applied_without_it(
    stack: RunningStack, control: Control
) -> None:
    spec = {"target": "s3:eu-west-1", "kind": "slowdown", "lease_s": 30}
    assert call(stack.state.control_url, "POST", "/faults", spec)[0] == 401
    # Straight to the region's agent, around the control API: refused as well.
    agent = stack.state.agents["s3:eu-west-1"]
    assert call(agent, "PUT", "/faults/sneaky", spec)[0] == 401
    assert control("GET", "/faults") == (200, {"faults": []})


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_request_with_an_origin_header_403(stack: RunningStack, endpoint: str) -> None:
    url = _url(stack, endpoint)
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{_port(url)}"):
        headers = {**_good_headers(stack, url), "Origin": origin}
        status, _, body = _raw(url, "GET", "/faults", headers)
        assert status == 403, (origin, body)
        assert b"Origin" in body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:{other}", "127.0.0.1", "evil.example", ""]
)
def test_a_foreign_host_header_403(stack: RunningStack, endpoint: str, host: str) -> None:
    url = _url(stack, endpoint)
    port = _port(url)
    headers = {**_good_headers(stack, url), "Host": host.format(port=port, other=port + 1)}
    if not host:
        del headers["Host"]
    status, _, body = _raw(url, "GET", "/faults", headers)
    assert status == 403, body
    assert f"127.0.0.1:{port}".encode() in body


@pytest.mark.parametrize("endpoint", ["control", "dns", "s3:us-east-1"])
@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"target": "dns", "kind": "\xff\xfe"}', b"not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, b"nested too deeply"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, b"nested too deeply"),
        (b'{"target": "dns", "kind": "delay", "delay_ms": NaN}', b"NaN"),
        (b'{"target": "dns",', b"not valid JSON"),
    ],
)
def test_a_broken_body_400_with_a_clear_error(
    stack: RunningStack, endpoint: str, body: bytes, says: bytes
) -> None:
    url = _url(stack, endpoint)
    before = _up_stderr(stack).read_text(encoding="utf-8", errors="replace").count("Traceback")
    path = "/faults" if endpoint == "control" else "/faults/broken-body"
    method = "POST" if endpoint == "control" else "PUT"
    status, _, reply = _raw(url, method, path, _good_headers(stack, url), body)
    assert status == 400, reply
    assert says in reply
    assert call(url, "GET", "/health", token=stack.state.control_token) == (200, {"ok": True})
    after = _up_stderr(stack).read_text(encoding="utf-8", errors="replace").count("Traceback")
    assert after == before


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close sends RST, like a client that crashes mid-request.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("endpoint", ["control", "s3:us-east-1"])
def test_clients_that_hang_up_print_no_traceback(stack: RunningStack, endpoint: str) -> None:
    url = _url(stack, endpoint)
    log = _up_stderr(stack) if endpoint == "control" else _child_stderr(stack, endpoint)
    before = log.read_text(encoding="utf-8", errors="replace")
    auth = f"Host: 127.0.0.1:{_port(url)}\r\nAuthorization: Bearer {stack.state.control_token}"
    half = "Content-Length: 500\r\n\r\n{"
    for n in range(10):
        # Half a body, then gone.
        sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=5)
        sock.sendall(f"PUT /faults/x{n} HTTP/1.1\r\n{auth}\r\n{half}".encode())
        _reset(sock)
        # A whole request, gone before the response (it calls every agent first).
        sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=5)
        sock.sendall(f"GET /stats HTTP/1.1\r\n{auth}\r\n\r\n".encode())
        _reset(sock)
        # Half a body, then a clean close.
        sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=5)
        sock.sendall(f"PUT /faults/y{n} HTTP/1.1\r\n{auth}\r\n{half}".encode())
        sock.close()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        assert call(url, "GET", "/health", token=stack.state.control_token)[0] == 200
        time.sleep(0.1)
    new = log.read_text(encoding="utf-8", errors="replace")[len(before) :]
    assert "Traceback" not in new, new[-3000:]
    assert "Error" not in new, new[-3000:]


def test_viewers_that_hang_up_before_the_response_print_no_traceback(
    stack: RunningStack,
) -> None:
    # The origin answers late; the viewer resets its connection before the edge writes.
    control = Control.of(stack)
    control.inject(target="s3:us-east-1", kind="delay", delay_ms=300, lease_s=30)
    control.inject(target="s3:eu-west-1", kind="delay", delay_ms=300, lease_s=30)
    log = _child_stderr(stack, "edge")
    before = log.read_text(encoding="utf-8", errors="replace")
    port = _port(stack.state.edge_url)
    try:
        for n in range(5):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            key = stack.state.sample_keys[n % len(stack.state.sample_keys)]
            sock.sendall(f"GET /{key}?gone={n} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            time.sleep(0.05)
            _reset(sock)
        time.sleep(0.6)
    finally:
        control("DELETE", "/faults")
    status = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status.request("GET", f"/{stack.state.sample_keys[0]}?after=1")
    assert status.getresponse().status == 200
    status.close()
    new = log.read_text(encoding="utf-8", errors="replace")[len(before) :]
    assert "Traceback" not in new, new[-3000:]
