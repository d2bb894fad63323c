"""The origin client and the viewer side's idle sweep, against real sockets on loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import edge.server as server_module
from edge.lambda_runtime import FunctionSettings
from edge.origins import OriginClient, OriginFailure, OriginSettings
from edge.server import EdgeConfig, EdgeServer

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class _Origin:
    """An origin on 127.0.0.1: 'ok' answers every request, 'silent' never answers,
    'once' answers the first request on a connection, then closes it."""

    def __init__(self, server: asyncio.Server, requests: list[int]) -> None:
        self.server = server
        self.address = ("127.0.0.1", int(server.sockets[0].getsockname()[1]))
        self.requests = requests
        self.writers: list[asyncio.StreamWriter] = []

    async def close(self) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await asyncio.sleep(0.01)  # let the transports finish closing


async def _origin(answer: str) -> _Origin:
    requests: list[int] = []
    origin: _Origin | None = None

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert origin is not None
        origin.writers.append(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                requests.append(1)
                if answer == "silent":
                    continue
                writer.write(OK)
                await writer.drain()
                if answer == "once":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    origin = _Origin(await asyncio.start_server(serve, "127.0.0.1", 0), requests)
    return origin


def _client(timeout_s: float = 5.0) -> OriginClient:
    return OriginClient(OriginSettings(response_timeout_s=timeout_s, connection_timeout_s=2.0))


def test_fetch_reads_the_response_and_reuses_the_connection() -> None:
    async def run() -> tuple[list[bytes], int, int]:
        origin = await _origin("ok")
        address = origin.address
        client = _client(timeout_s=0.2)
        bodies = []
        for _ in range(3):
            response = await client.fetch(address, "GET", "/a", [("Host", "origin")])
            bodies.append(response.body)
        # The response timer of each fetch is cancelled: once it would have
        # fired, the pooled connection still carries the next request.
        await asyncio.sleep(0.3)
        bodies.append((await client.fetch(address, "GET", "/b", [("Host", "origin")])).body)
        client.close()
        await origin.close()
        return bodies, client.connects, client.reused

    bodies, connects, reused = asyncio.run(run())
    assert bodies == [b"hello"] * 4
    assert (connects, reused) == (1, 3)


def test_a_silent_origin_times_out_as_origin_read_error() -> None:
    async def run() -> tuple[OriginFailure, float, bool]:
        origin = await _origin("silent")
        address, requests = origin.address, origin.requests
        client = _client(timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(OriginFailure) as caught:
            await client.fetch(address, "GET", "/slow", [("Host", "origin")])
        elapsed = time.monotonic() - started
        client.close()
        await origin.close()
        return caught.value, elapsed, bool(requests)

    failure, elapsed, asked = asyncio.run(run())
    assert asked
    assert (failure.result, failure.status) == ("OriginReadError", 504)
    assert 0.25 <= elapsed < 2.0


def test_a_pooled_connection_the_origin_closed_is_retried_on_a_new_one() -> None:
    async def run() -> tuple[list[bytes], int]:
        origin = await _origin("once")
        address, requests = origin.address, origin.requests
        client = _client()
        first = await client.fetch(address, "GET", "/a", [("Host", "origin")])
        await asyncio.sleep(0.05)  # the origin has closed the pooled connection by now
        second = await client.fetch(address, "GET", "/b", [("Host", "origin")])
        client.close()
        await origin.close()
        return [first.body, second.body], len(requests)

    bodies, asked = asyncio.run(run())
    assert bodies == [b"hello", b"hello"]
    assert asked == 2


def test_idle_viewer_connections_are_closed_without_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "_VIEWER_IDLE_S", 0.3)
    monkeypatch.setattr(server_module, "_IDLE_SWEEP_S", 0.05)
    config = EdgeConfig(
        origins=(), dns=("127.0.0.1", 9), log_dir=tmp_path, function=FunctionSettings()
    )

    async def run() -> tuple[bytes, bytes, float, int]:
        edge = EdgeServer(config)
        port = await edge.start()
        started = time.monotonic()
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
        partial_reader, partial_writer = await asyncio.open_connection("127.0.0.1", port)
        partial_writer.write(b"GET / HTTP/1.1\r\nHost: a\r\n")  # a head that never ends
        idle = await asyncio.wait_for(idle_reader.read(), 5)
        partial = await asyncio.wait_for(partial_reader.read(), 5)
        elapsed = time.monotonic() - started
        idle_writer.close()
        partial_writer.close()
        await edge.stop()
        return idle, partial, elapsed, edge.stats.malformed

    idle, partial, elapsed, malformed = asyncio.run(run())
    # Closed, with no CloudFront error page: the viewer was too slow, not malformed.
    assert idle == b""
    assert partial == b""
    assert malformed == 0
    assert 0.3 <= elapsed < 3.0
