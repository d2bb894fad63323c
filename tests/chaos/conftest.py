"""A real local distribution per test module, and a control client that clears after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaos.control import ControlClient
from edge.stack import RunningStack, launch


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
