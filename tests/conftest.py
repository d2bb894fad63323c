"""Fixtures shared by every test package."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

EVENTS_DIR = Path(__file__).parent / "events"
REPO = Path(__file__).resolve().parents[1]


def run_python(
    *args: str | Path, cwd: Path = REPO, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (this interpreter) in ``cwd``, its output captured as text."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_edgedrill(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the ``edgedrill`` CLI in its own process from the repository's root."""
    return run_python("-m", "edgedrill.cli", *args, timeout=timeout)


def run_json_script(script: Path, *args: str | Path) -> Any:
    """Run a check script that prints one JSON document; that document."""
    done = run_python(script, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def load_event() -> Callable[[str], Any]:
    """Load ``tests/events/<name>.json`` as a fresh deep copy."""
    cache: dict[str, Any] = {}

    def load(name: str) -> Any:
        if name not in cache:
            cache[name] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        return copy.deepcopy(cache[name])

    return load


@pytest.fixture(scope="session")
def _moto_server_url() -> Iterator[str]:
    """One moto server for the session (stopping one costs about 0.4 s): its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's server (S3, CloudWatch Logs, Lambda, ...) on loopback, emptied for this test."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    # moto's backends are per process: every test starts with none of another's resources.
    reset = urllib.request.Request(f"{_moto_server_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as response:
        assert response.status == 200
    return _moto_server_url
