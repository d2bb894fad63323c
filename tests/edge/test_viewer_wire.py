"""End to end on raw sockets: pipelining, keep-alive, chunked uploads, 100-continue, head limits."""

from __future__ import annotations

import re
import socket
import time

import pytest

from edge.stack import RunningStack
from tests.edge.conftest import Client, access_record

pytestmark = pytest.mark.slow


def _address(url: str) -> tuple[str, int]:
    host, port = url.split("//", 1)[1].split(":")
    return host, int(port)


def _responses(data: bytes) -> list[tuple[bytes, dict[str, str], bytes]]:
    """Split a stream of Content-Length framed responses: (status line, headers, body)."""
    out = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, "a response head without its blank line"
        status, *lines = head.split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        out.append((status, headers, data[:length]))
        data = data[length:]
    return out


def _exchange(address: tuple[str, int], data: bytes, pause_after: bytes = b"") -> bytes:
    """Send ``data`` and read until the server closes (``pause_after``: wait for it first)."""
    with socket.create_connection(address, 10) as sock:
        if pause_after:
            head, _, rest = data.partition(pause_after)
            sock.sendall(head + pause_after)
            seen = b""
            while b"\r\n\r\n" not in seen:
                chunk = sock.recv(65536)
                assert chunk, "closed before the interim response"
                seen += chunk
            data = rest
        else:
            seen = b""
        sock.sendall(data)
        chunks = [seen]
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_pipelined_requests_are_answered_in_order_on_one_connection(
    stack: RunningStack, edge: Client
) -> None:
    keys = stack.state.sample_keys[:3]
    expected = [edge.get(f"/{key}").body for key in keys]
    host = stack.state.edge_url.split("//", 1)[1]
    requests = [f"GET /{key} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for key in keys]
    requests[-1] = requests[-1].replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    # All three in one write: the edge reads the second and third from its buffer.
    answers = _responses(_exchange(_address(stack.state.edge_url), b"".join(requests)))
    assert [status for status, _, _ in answers] == [b"HTTP/1.1 200 OK"] * 3
    assert [body for _, _, body in answers] == expected
    assert [headers["connection"] for _, headers, _ in answers] == ["keep-alive"] * 2 + ["close"]
    assert len({headers["x-amz-cf-id"] for _, headers, _ in answers}) == 3


def test_the_access_log_counts_the_request_head_as_sent(stack: RunningStack) -> None:
    host = stack.state.edge_url.split("//", 1)[1]
    request = (
        f"GET /{stack.state.sample_keys[0]} HTTP/1.1\r\nHost: {host}\r\n"
        "X-Padding: 0123456789\r\nConnection: close\r\n\r\n"
    ).encode()
    ((_, headers, _),) = _responses(_exchange(_address(stack.state.edge_url), request))
    record = access_record(stack, headers["x-amz-cf-id"])
    assert record["cs-bytes"] == str(len(request))


def test_a_head_over_20480_bytes_sent_in_pieces_is_494(stack: RunningStack) -> None:
    host = stack.state.edge_url.split("//", 1)[1]
    start = f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode()
    with socket.create_connection(_address(stack.state.edge_url), 10) as sock:
        sock.sendall(start)
        sent = len(start)
        # 1,000-byte header lines, the head never finished; sending stops once
        # past the limit, so the edge has read every byte when it answers.
        while sent <= 20_480:
            sock.sendall(b"X-Pad: " + b"p" * 991 + b"\r\n")
            sent += 1_000
            time.sleep(0.002)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    ((status, headers, body),) = _responses(answer)
    assert status == b"HTTP/1.1 494 Request Header Too Large"
    assert headers["connection"] == "close"
    assert b"<H1>494 ERROR</H1>" in body


def test_a_chunked_upload_reaches_the_region_and_reads_back(stack: RunningStack) -> None:
    region = stack.state.regions["eu-west-1"]
    key = f"wire-test/chunked-{time.monotonic_ns()}"
    request = (
        f"PUT /{stack.state.bucket}/{key} HTTP/1.1\r\nHost: {region.split('//', 1)[1]}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"
    ).encode()
    ((status, _, _),) = _responses(_exchange(_address(region), request))
    assert status == b"HTTP/1.1 200 OK"
    client = Client(region)
    try:
        assert client.get(f"/{stack.state.bucket}/{key}").body == b"hello, world"
    finally:
        client.close()


def test_expect_100_continue_is_answered_before_the_body(stack: RunningStack) -> None:
    region = stack.state.regions["us-east-1"]
    key = f"wire-test/continue-{time.monotonic_ns()}"
    head = (
        f"PUT /{stack.state.bucket}/{key} HTTP/1.1\r\nHost: {region.split('//', 1)[1]}\r\n"
        "Content-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = _exchange(_address(region), head + b"body", pause_after=head)
    interim, final = answer.split(b"\r\n\r\n", 1)
    assert interim == b"HTTP/1.1 100 Continue"
    assert re.match(rb"HTTP/1\.1 200 OK\r\n", final)
    client = Client(region)
    try:
        assert client.get(f"/{stack.state.bucket}/{key}").body == b"body"
    finally:
        client.close()
