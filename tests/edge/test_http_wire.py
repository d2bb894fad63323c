"""HTTP/1.1 parsing for viewers and origins."""

from __future__ import annotations

import asyncio

import pytest

from edge.http_wire import (
    MalformedRequest,
    ProtocolError,
    Request,
    Response,
    end_to_end,
    read_request,
    read_response,
)


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=32_768)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def request(data: bytes) -> Request | None:
    async def run() -> Request | None:
        return await read_request(_reader(data))

    return asyncio.run(run())


def response(data: bytes, method: str = "GET") -> Response:
    async def run() -> Response:
        return await read_response(_reader(data), method)

    return asyncio.run(run())


def test_a_plain_request() -> None:
    parsed = request(b"\r\nGET /a/b?x=1 HTTP/1.1\r\nHost: edge\r\nX-Two:  spaced \r\n\r\n")
    assert parsed is not None
    assert (parsed.method, parsed.target, parsed.version) == ("GET", "/a/b?x=1", "HTTP/1.1")
    assert parsed.header("x-two") == "spaced"
    assert parsed.keep_alive


def test_keep_alive_rules() -> None:
    old = request(b"GET / HTTP/1.0\r\n\r\n")
    closing = request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert old is not None
    assert closing is not None
    assert not old.keep_alive
    assert not closing.keep_alive


def test_bodies_by_length_and_chunks() -> None:
    sized = request(b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
    chunked = request(
        b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n"
    )
    assert sized is not None
    assert chunked is not None
    assert sized.body == b"abc"
    assert chunked.body == b"abcde"


def test_end_of_stream_before_a_request_is_not_an_error() -> None:
    assert request(b"") is None


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nNo-Colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400),
        (b"GET /" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc", 400),
        (b"GET / HTTP/1.1\r\nHost: a", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 40_000 + b"\r\n\r\n", 494),
    ],
)
def test_malformed_requests(data: bytes, status: int) -> None:
    with pytest.raises(MalformedRequest) as caught:
        request(data)
    assert caught.value.status == status


def test_responses_by_length_chunks_and_close() -> None:
    sized = response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
    chunked = response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
    closed = response(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
    head = response(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", method="HEAD")
    assert (sized.body, sized.reusable) == (b"hi", True)
    assert chunked.body == b"hi"
    assert (closed.body, closed.reusable) == (b"until the end", False)
    assert (head.body, head.header("content-length")) == (b"", "99")
    assert not response(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").reusable


def test_a_bad_status_line_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        response(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_hop_by_hop_headers_are_dropped() -> None:
    headers = [
        ("Connection", "close, X-Private"),
        ("X-Private", "1"),
        ("Keep-Alive", "5"),
        ("ETag", "e"),
    ]
    assert end_to_end(headers) == [("ETag", "e")]
    assert end_to_end([*headers, ("Via", "1.1 x"), ("Age", "3")], also=frozenset({"via"})) == [
        ("ETag", "e"),
        ("Age", "3"),
    ]


def test_framing_headers_count_once_whatever_their_case() -> None:
    reused = response(
        b"HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\nCONNECTION: keep-alive\r\n"
        b"Connection: close\r\n\r\nhi"
    )
    # the first Connection header decides, as header() reads it
    assert (reused.body, reused.reusable) == (b"hi", True)
    closing = response(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx")
    assert (closing.body, closing.reusable) == (b"x", False)
    with pytest.raises(ProtocolError, match="bad Content-Length"):
        response(b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nhi")


def test_request_headers_are_found_by_any_case_first_value_first() -> None:
    request = Request("GET", "/", "HTTP/1.1", [("Host", "a"), ("X-Twice", "1"), ("x-twice", "2")])
    assert request.header("HOST") == "a"
    assert request.header("x-twice") == "1"
    assert request.header("missing") is None
