"""Fixtures for the scenario tests: Locust in a subprocess, and a recording HTTP target.

Locust monkey-patches the process that imports it, so the tests never import
it: every Locust run is a subprocess, watched for the processes it starts
(the local distribution's among them) so that a test can check none outlives
it, and stopped by its PID whatever happens.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

REPO = Path(__file__).resolve().parents[2]
LOADTESTS = REPO / "loadtests"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Finished:
    """A finished subprocess: exit code, output, and every process seen under it."""

    code: int
    output: str
    descendants: dict[int, str] = field(default_factory=dict)
    tmpdir: Path | None = None

    def leftovers(self) -> list[str]:
        """Processes started under the run that are still alive."""
        alive = []
        for pid, cmdline in self.descendants.items():
            with contextlib.suppress(psutil.NoSuchProcess):
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE and process.cmdline():
                    alive.append(f"{pid}: {cmdline}")
        if self.tmpdir is not None:
            marker = str(self.tmpdir)
            for process in psutil.process_iter(["pid", "cmdline"]):
                cmdline = " ".join(process.info["cmdline"] or [])
                if marker in cmdline and process.info["pid"] != os.getpid():
                    alive.append(f"{process.info['pid']}: {cmdline}")
        return alive


class Running:
    """A subprocess being watched; :meth:`finish` waits for it, bounded."""

    def __init__(self, command: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.tmpdir = Path(env["TMPDIR"])
        self.log = cwd / f"output-{time.monotonic_ns()}.txt"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.descendants: dict[int, str] = {}
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.process.pid)
            while not self._stop.is_set() and self.process.poll() is None:
                for child in root.children(recursive=True):
                    # Read again every time: a child seen between its fork and its
                    # exec still shows its parent's command line.
                    with contextlib.suppress(psutil.Error):
                        cmdline = " ".join(child.cmdline())
                        if cmdline or child.pid not in self.descendants:
                            self.descendants[child.pid] = cmdline
                time.sleep(0.1)

    def listening(self) -> list[tuple[str, str, int]]:
        """(command, address, port) of every TCP listener and UDP socket of the run, now."""
        found = []
        for pid in [self.process.pid, *self.descendants]:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                command = " ".join(process.cmdline())
                for connection in process.net_connections(kind="inet"):
                    listens = connection.status == psutil.CONN_LISTEN
                    if (listens or connection.type == socket.SOCK_DGRAM) and connection.laddr:
                        found.append((command, connection.laddr.ip, connection.laddr.port))
        return found

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def signal(self, sig: int, *, group: bool = False) -> None:
        """Signal the run's first process, or (``group``) its whole process group, as a terminal's
        Ctrl-C does (each run is a session of its own: nothing else is in that group)."""
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.process.pid, sig)
            else:
                os.kill(self.process.pid, sig)

    def finish(self, timeout: float) -> Finished:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"timed out after {timeout} s:\n{self.output()[-4000:]}")
        self._stop.set()
        self._watcher.join(timeout=5)
        self._log_file.close()
        # The local distribution stops its children after its own exit: give it a moment.
        deadline = time.monotonic() + 10
        finished = Finished(code, self.output(), dict(self.descendants), self.tmpdir)
        while finished.leftovers() and time.monotonic() < deadline:
            time.sleep(0.2)
        return finished

    def kill(self) -> None:
        """Stop the run and everything seen under it, by PID."""
        self._stop.set()
        pids = [self.process.pid, *self.descendants]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if psutil.pid_exists(pid):
                        os.kill(pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        if not self._log_file.closed:
            self._log_file.close()



def wait_for_page(url: str, running: Running) -> str:
    """The page at ``url`` once Locust's web UI serves it (the test fails if Locust exits)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                page: str = response.read().decode()
                return page
        except OSError:
            if running.process.poll() is not None:
                pytest.fail(running.output()[-3000:])
            time.sleep(0.2)
    pytest.fail("the web UI did not come up")


def swarm(
    port: int,
    form: dict[str, str],
    running: Running,
    runs: Path,
    *,
    count: int = 1,
    timeout: float = 30,
) -> None:
    """Start a test from the web UI on ``port``; wait for the ``count``-th run.json in ``runs``."""
    body = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/swarm", data=body, timeout=10) as r:
        assert json.loads(r.read())["success"] is True
    deadline = time.monotonic() + timeout
    while len(list(runs.glob("*/run.json"))) < count:
        assert time.monotonic() < deadline, running.output()[-3000:]
        time.sleep(0.2)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start a Python subprocess (``-m locust ...``, a script, the CLI) under watch."""
    started: list[Running] = []

    def start(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Running:
        tmpdir = tmp_path / f"tmp{len(started)}"
        tmpdir.mkdir()
        env = {**os.environ, **(env or {})}
        env["TMPDIR"] = str(tmpdir)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        running = Running([sys.executable, *args], cwd or tmp_path, env)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            if running.process.poll() is None or running.descendants:
                running.kill()


@pytest.fixture
def run_locust(spawn: Callable[..., Running]) -> Callable[..., Finished]:
    """Run ``python -m locust ARGS`` to the end (bounded) and return how it went."""

    def run(*args: str, timeout: float = 90.0, cwd: Path | None = None) -> Finished:
        return spawn("-m", "locust", *args, cwd=cwd).finish(timeout)

    return run


@dataclass
class Target:
    """A loopback HTTP server that answers every GET/HEAD and records what it was asked."""

    url: str
    requests: list[tuple[str, str]]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _answer(self, body: bool) -> None:
        self.server.requests.append((self.command, self.path))
        payload = b"x" * 512
        status = 404 if self.path.startswith("/missing") else 200
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Length: {len(payload)}\r\n"
            "x-cache: Miss from cloudfront\r\nx-amz-cf-pop: TST1-P1\r\n"
            "x-amz-cf-id: test-id==\r\nx-edgedrill-origin-region: eu-west-1\r\n\r\n"
        ).encode()
        # One write: headers and body in one segment (no delayed-ACK stall).
        self.wfile.write(head + (payload if body else b""))

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, *_: object) -> None:
        return


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    requests: list[tuple[str, str]]


@pytest.fixture
def target() -> Iterator[Target]:
    """A recording HTTP server on 127.0.0.1, shut down after the test."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Target(f"http://127.0.0.1:{server.server_address[1]}", server.requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
