"""A real local distribution per test module, a control client that clears after each test,
and a GET straight to a region."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from chaos.control import ControlClient
from edge.stack import RunningStack, StackState, launch


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = launch(tmp_path_factory.mktemp("stack") / "state.json", objects=20)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def control(stack: RunningStack) -> Iterator[ControlClient]:
    client = ControlClient.from_state(stack.state)
    try:
        yield client
    finally:
        client.clear()


def get_object(state: StackState, region: str) -> tuple[int, bytes]:
    """A real GET of the sample object from a region's fault proxy, past the edge and its cache."""
    parts = urlsplit(state.regions[region])
    key = quote(state.sample_keys[0])
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", f"/{state.bucket}/{key}")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
