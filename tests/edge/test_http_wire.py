"""HTTP/1.1 parsing for viewers and origins."""

from __future__ import annotations

import asyncio

import pytest

from edge.http_wire import (
    ClientConnection,
    MalformedRequest,
    NoResponse,
    ProtocolError,
    Request,
    Response,
    ServerConnection,
    end_to_end,
    header_problem,
)


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=32_768)
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def request(data: bytes) -> Request | None:
    async def run() -> Request | None:
        return await ServerConnection(_reader(data)).next_request()

    return asyncio.run(run())


def response(data: bytes, method: str = "GET") -> Response:
    async def run() -> Response:
        client = ClientConnection(_reader(data))
        client.request(method, "/", [("Host", "origin")])
        return await client.response()

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
    closed_late = response(
        b"HTTP/1.1 200 OK\r\ncontent-LENGTH: 2\r\nCONNECTION: keep-alive\r\n"
        b"Connection: close\r\n\r\nhi"
    )
    # every Connection field line counts (RFC 9110 §5.3): a close in any of them closes
    assert (closed_late.body, closed_late.reusable) == (b"hi", False)
    closing = response(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 1\r\n\r\nx")
    assert (closing.body, closing.reusable) == (b"x", False)
    with pytest.raises(ProtocolError, match="bad Content-Length"):
        response(b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nhi")


def test_request_headers_are_found_by_any_case_first_value_first() -> None:
    request = Request("GET", "/", "HTTP/1.1", [("Host", "a"), ("X-Twice", "1"), ("x-twice", "2")])
    assert request.header("HOST") == "a"
    assert request.header("x-twice") == "1"
    assert request.header("missing") is None


def _served(data: bytes, count: int) -> tuple[list[Request], list[bytes], bool]:
    """``count`` requests read from one connection, each answered with an empty 200."""

    async def run() -> tuple[list[Request], list[bytes], bool]:
        connection = ServerConnection(_reader(data))
        requests, answers = [], []
        for _ in range(count):
            parsed = await connection.next_request()
            assert parsed is not None
            requests.append(parsed)
            answers.append(connection.respond(200, [("Content-Length", "0")]))
        return requests, answers, connection.keep_alive

    return asyncio.run(run())


def test_pipelined_requests_are_read_in_turn_on_one_connection() -> None:
    first = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
    second = b"PUT /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy"
    third = b"GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    # an empty line between requests is ignored (RFC 9112 §2.2)
    requests, answers, keep_alive = _served(first + b"\r\n" + second + third, 3)
    assert [(r.method, r.target, r.body) for r in requests] == [
        ("GET", "/a", b""),
        ("PUT", "/b", b"xy"),
        ("GET", "/c", b""),
    ]
    assert [r.head_bytes for r in requests] == [len(first), len(second) - 2, len(third)]
    assert [r.keep_alive for r in requests] == [True, True, False]
    assert all(answer.startswith(b"HTTP/1.1 200 OK\r\n") for answer in answers)
    assert b"connection: close" in answers[2].lower()
    assert not keep_alive


def test_an_http_1_0_request_closes_even_when_it_asks_for_keep_alive() -> None:
    # h11 does not keep HTTP/1.0 connections open (its documented rule).
    requests, answers, keep_alive = _served(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1)
    assert not requests[0].keep_alive
    assert b"connection: close" in answers[0].lower()
    assert not keep_alive


def test_a_chunked_request_body_is_reassembled() -> None:
    requests, _, keep_alive = _served(
        b"PUT /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"4\r\nwiki\r\n5;name=value\r\npedia\r\n0\r\nExpires: never\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        2,
    )
    assert requests[0].body == b"wikipedia"
    assert requests[1].target == "/next"
    assert keep_alive


@pytest.mark.parametrize(
    ("data", "status", "result"),
    [
        (b"GARBAGE\r\n\r\n", 400, "InvalidRequest"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "InvalidRequest"),  # TLS hello
        (b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "InvalidRequestMethod"),
        (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "InvalidRequest"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", 400, "InvalidRequestHeader"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "InvalidRequestHeader"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "InvalidRequestHeader"),
        (b"PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413, "InvalidRequest"),
        (
            b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
            400,
            "InvalidRequest",
        ),
        (
            b"PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"100000\r\n"
            + b"x" * 0x100000
            + b"\r\n1\r\nx\r\n0\r\n\r\n",
            413,
            "InvalidRequest",
        ),
    ],
)
def test_what_h11_refuses_gets_cloudfronts_status_and_result(
    data: bytes, status: int, result: str
) -> None:
    with pytest.raises(MalformedRequest) as caught:
        request(data)
    assert (caught.value.status, caught.value.result) == (status, result)


def _head_of(size: int) -> bytes:
    """A GET whose request line and headers are exactly ``size`` bytes."""
    start = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: "
    return start + b"p" * (size - len(start) - 4) + b"\r\n\r\n"


def test_the_head_limit_is_20480_bytes() -> None:
    at_limit = request(_head_of(20_480))
    assert at_limit is not None
    assert at_limit.head_bytes == 20_480
    with pytest.raises(MalformedRequest) as caught:
        request(_head_of(20_481))
    assert caught.value.status == 494


def test_an_unfinished_head_over_the_limit_is_494_before_it_ends() -> None:
    # h11 measures a head still incomplete; the stream's end comes after it.
    with pytest.raises(MalformedRequest) as caught:
        request(_head_of(20_485)[:-4])  # 20,481 bytes, no blank line
    assert caught.value.status == 494
    with pytest.raises(MalformedRequest) as caught:
        request(_head_of(20_484)[:-4])  # 20,480 bytes: within the limit, then cut
    assert (caught.value.status, caught.value.detail) == (
        400,
        "connection closed inside the request head",
    )


def test_a_long_url_is_414_before_the_head_limit() -> None:
    assert request(b"GET /" + b"u" * 8_191 + b" HTTP/1.1\r\nHost: a\r\n\r\n") is not None
    with pytest.raises(MalformedRequest) as caught:
        request(b"GET /" + b"u" * 8_192 + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert caught.value.status == 414


def test_a_response_to_head_carries_the_length_and_no_body() -> None:
    async def run() -> bytes:
        connection = ServerConnection(_reader(b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n"))
        assert await connection.next_request() is not None
        return connection.respond(200, [("Content-Length", "5")], b"hello")

    answer = asyncio.run(run())
    assert answer.endswith(b"Content-Length: 5\r\n\r\n")


def test_an_error_can_be_answered_after_a_malformed_request() -> None:
    async def run() -> tuple[bytes, bool]:
        connection = ServerConnection(_reader(b"GARBAGE\r\n\r\n"))
        with pytest.raises(MalformedRequest):
            await connection.next_request()
        answer = connection.respond(400, [("Content-Length", "3"), ("Connection", "close")], b"bad")
        return answer, connection.keep_alive

    answer, keep_alive = asyncio.run(run())
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert answer.endswith(b"\r\n\r\nbad")
    assert not keep_alive


def test_cloudfronts_own_status_has_its_reason_phrase() -> None:
    async def run() -> bytes:
        connection = ServerConnection(_reader(b""))
        return connection.respond(494, [("Content-Length", "0")])

    assert asyncio.run(run()).startswith(b"HTTP/1.1 494 Request Header Too Large\r\n")


def test_a_client_connection_is_reused_across_responses() -> None:
    async def run() -> list[Response]:
        client = ClientConnection(
            _reader(
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
                b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
            )
        )
        answers = []
        for target in ("/a", "/b"):
            client.request("GET", target, [("Host", "origin")])
            answers.append(await client.response())
        return answers

    first, second = asyncio.run(run())
    assert (first.status, first.reason, first.body, first.reusable) == (200, "OK", b"a", True)
    assert (second.status, second.body, second.reusable) == (404, b"b", True)


def test_an_origin_closing_before_any_byte_is_no_response() -> None:
    with pytest.raises(NoResponse):
        response(b"")
    with pytest.raises(ProtocolError) as caught:
        response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    assert not isinstance(caught.value, NoResponse)


def test_an_oversize_response_body_is_refused() -> None:
    async def run() -> Response:
        client = ClientConnection(
            _reader(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
        )
        client.request("GET", "/", [("Host", "origin")])
        return await client.response(max_body=9)

    with pytest.raises(ProtocolError, match="too large"):
        asyncio.run(run())


def test_requests_h11_will_not_send_are_protocol_errors() -> None:
    async def run() -> bytes:
        with pytest.raises(ProtocolError, match="Host"):
            ClientConnection(_reader(b"")).request("GET", "/", [])
        other = ClientConnection(_reader(b""))
        return other.request("PUT", "/k", [("Host", "o"), ("X-Latin", "caf\xe9")], b"body")

    data = asyncio.run(run())
    assert data == (
        b"PUT /k HTTP/1.1\r\nHost: o\r\nX-Latin: caf\xe9\r\nContent-Length: 4\r\n\r\nbody"
    )


def test_header_problem_names_what_cannot_go_on_the_wire() -> None:
    assert header_problem([("X-Ok", "fine value"), ("X-Latin", "caf\xe9")]) is None
    assert header_problem([("X-Bad", "two\r\nlines")]) is not None
    assert header_problem([("Bad Name", "v")]) is not None
    assert header_problem([("X-Snowman", "\u2603")]) is not None
