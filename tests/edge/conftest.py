"""Fixtures for the local distribution: running stacks, an HTTP client, the control API."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge.jsonapi import call
from edge.process import pid_alive
from edge.stack import RunningStack, StackState, launch

OBJECTS = 30


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Client:
    """A plain HTTP/1.1 client for the edge or a region (one keep-alive connection)."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//", 1)[1].split(":")
        self.host, self.port = host, int(port)
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
        for attempt in range(2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self._conn.request(method, path, headers=headers or {})
                response = self._conn.getresponse()
                body = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
                continue
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        raise AssertionError("unreachable")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Control:
    """The control API of a running stack, called with its bearer token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token

    @classmethod
    def of(cls, stack: RunningStack) -> Control:
        return cls(stack.state.control_url, stack.state.control_token)

    def __call__(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        return call(self.url, method, path, body, token=self.token)

    def inject(self, **spec: Any) -> str:
        status, payload = self("POST", "/faults", spec)
        assert status == 201, payload
        return str(payload["id"])

    def stats(self) -> dict[str, Any]:
        status, payload = self("GET", "/stats")
        assert status == 200, payload
        return dict(payload)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout} s: {json.dumps(stats)[:800]}")
            time.sleep(0.05)


def lambda_log(stack: RunningStack) -> list[str]:
    path = Path(stack.state.log_dir) / "lambda" / f"us-east-1.{stack.state.function}.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def access_log(stack: RunningStack) -> list[str]:
    path = Path(stack.state.log_dir) / "cloudfront" / "access.log"
    return path.read_text(encoding="utf-8").splitlines()


def access_record(
    stack: RunningStack, request_id: str | None, timeout: float = 5.0
) -> dict[str, str]:
    """The access-log record of one request (waiting for the line, bounded)."""
    from edge.access_log import parse_line

    deadline = time.monotonic() + timeout
    while True:
        for line in access_log(stack)[2:]:
            if f"\t{request_id}\t" in line:
                return parse_line(line)
        if time.monotonic() > deadline:
            raise AssertionError(f"no access-log line for {request_id}")
        time.sleep(0.02)


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """PIDs still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if pid_alive(pid)]
        if not alive:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if pid_alive(pid)]


def wait_for_state(
    up: subprocess.Popen[str], state_path: Path, deadline: float
) -> StackState:
    """The state ``edgedrill up`` (``up``, still running) writes, once it is there."""
    while not state_path.exists():
        assert up.poll() is None, "edgedrill up exited before writing its state"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    state = StackState.load(state_path)
    assert state.pids["up"] == up.pid
    return state


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One local distribution shared by the end-to-end tests (faults are cleared per test)."""
    folder = tmp_path_factory.mktemp("stack")
    running = launch(
        folder / "state.json",
        objects=OBJECTS,
        extra_args=["--a-ttl", "0", "--connection-timeout-s", "2", "--response-timeout-s", "3"],
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def control(stack: RunningStack) -> Iterator[Control]:
    api = Control.of(stack)
    try:
        yield api
    finally:
        api("DELETE", "/faults")
        api("PUT", "/edge/settings", {"concurrency_limit": 1000})


@pytest.fixture
def edge(stack: RunningStack) -> Iterator[Client]:
    client = Client(stack.state.edge_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def fresh_key(stack: RunningStack) -> Callable[[], str]:
    """Distinct never-requested URLs of sample objects (a new query string makes a cache miss)."""
    counter = iter(range(1_000_000))

    def make() -> str:
        n = next(counter)
        key = stack.state.sample_keys[n % len(stack.state.sample_keys)]
        return f"/{key}?t={time.monotonic_ns()}-{n}"

    return make
