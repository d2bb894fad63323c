"""Bad state files, a second `up` on one state file, and refused ports: clear errors, no orphan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from edge.stack import StackError, StackState, StateLock, launch, lock_path
from tests.conftest import run_edgedrill
from tests.edge.conftest import wait_for_state, wait_gone

pytestmark = pytest.mark.slow


def _mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line mentions ``text``."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.pid != os.getpid() and any(
                text in part for part in process.info["cmdline"] or ()
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (bytes(range(256)) * 4, "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b"edge_url = http://127.0.0.1:9\n", "not valid JSON at line 1"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (b"[1, 2, 3]", "must hold a JSON object"),
        (b'{"edge_url": "x"}', "'dns' is missing"),
    ],
)
def test_down_on_a_file_that_is_no_state_file(
    tmp_path: Path, content: bytes, says: str
) -> None:
    state_path = tmp_path / "not-a-state.json"
    state_path.write_bytes(content)
    result = run_edgedrill("down", "--state", str(state_path))
    assert result.returncode == 2, result.stderr
    assert str(state_path) in result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert state_path.read_bytes() == content  # a file that is not ours is left as it was


def _state_document(**changes: object) -> dict[str, object]:
    document: dict[str, object] = {
        "edge_url": "http://127.0.0.1:9",
        "dns": "127.0.0.1:9",
        "routing_name": "origins.edgedrill.test",
        "regions": {},
        "sample_keys": [],
        "log_dir": "/nonexistent",
        "pids": {"up": 2**22 + 1},
        "control_url": "http://127.0.0.1:9",
        "bucket": "b",
        "function": "f",
        "pop": "p",
        "control_token": "t" * 43,
    }
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"pids": {"up": "1234; rm -rf /"}}, "'pids': 'up' must be a number"),
        ({"pids": {"up": True}}, "'pids': 'up' must be a number"),
        ({"create_times": {"up": "yesterday"}}, "'create_times': 'up' must be a number"),
        ({"pids": [1, 2]}, "'pids' must be an object"),
        ({"control_token": 42}, "'control_token' must be a non-empty string"),
    ],
)
def test_down_on_a_state_file_with_wrong_types(
    tmp_path: Path, changes: dict[str, object], says: str
) -> None:
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(_state_document(**changes)), encoding="utf-8")
    result = run_edgedrill("down", "--state", str(state_path))
    assert result.returncode == 2, result.stderr
    assert f"{state_path}: state field {says}" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_reads_a_good_document(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(_state_document()), encoding="utf-8")
    state = StackState.load(state_path)
    assert state.control_token == "t" * 43
    assert state.pids == {"up": 2**22 + 1}


def test_two_ups_on_one_state_file_only_one_runs(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    command = [sys.executable, "-m", "edgedrill.cli", "up", "--state", str(state_path)]
    command += ["--objects", "3"]
    ups = []
    try:
        for _ in range(2):
            ups.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
            time.sleep(0.3)
        deadline = time.monotonic() + 90
        while all(up.poll() is None for up in ups):
            assert time.monotonic() < deadline, "neither up exited"
            time.sleep(0.05)
        loser = next(up for up in ups if up.poll() is not None)
        winner = next(up for up in ups if up is not loser)
        _, complaint = loser.communicate(timeout=10)
        assert loser.returncode == 2, complaint
        assert str(state_path) in complaint
        assert f"pid {winner.pid} holds" in complaint
        assert "Traceback" not in complaint
        # The loser started nothing: no run folder, no process naming it.
        assert not (tmp_path / f"run-{loser.pid}").exists()
        assert _mentioning(f"run-{loser.pid}") == []
        state = wait_for_state(winner, state_path, deadline)
        assert len(state.pids) == 5
        down = run_edgedrill("down", "--state", str(state_path))
        assert down.returncode == 0, down.stderr
        winner.communicate(timeout=30)
        assert wait_gone(list(state.pids.values())) == []
        assert _mentioning(str(tmp_path)) == []
        # The lock went with its holder: the next up may start.
        StateLock(state_path).check_free()
    finally:
        for up in ups:
            if up.poll() is None:
                up.kill()
            up.communicate()


def test_launch_refuses_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    holder = StateLock(state_path).acquire()
    try:
        assert lock_path(state_path).read_text(encoding="ascii").strip() == str(os.getpid())
        # No state file yet (an `up` still starting): the lock alone refuses.
        with pytest.raises(StackError, match=rf"pid {os.getpid()} holds .*state\.json\.lock"):
            launch(state_path, objects=3)
        assert list(tmp_path.iterdir()) == [lock_path(state_path)]
    finally:
        holder.release()
    StateLock(state_path).check_free()


@pytest.mark.parametrize("port", ["99999", "-1", "65536", "http"])
def test_up_refuses_an_edge_port_out_of_range(tmp_path: Path, port: str) -> None:
    state_path = tmp_path / "state" / "state.json"
    result = run_edgedrill("up", "--state", str(state_path), "--objects", "3", "--edge-port", port)
    assert result.returncode == 2
    assert "--edge-port" in result.stderr
    assert result.stdout == ""
    # Refused by the parser: not even the state folder or its lock was made.
    assert not state_path.parent.exists()
    assert _mentioning(str(tmp_path)) == []
