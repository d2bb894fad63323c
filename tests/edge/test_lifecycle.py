"""No process outlives the local distribution: `down`, SIGTERM and SIGKILL of `up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edge.process import create_time
from edge.stack import StackError, StackState, launch
from tests.conftest import run_edgedrill
from tests.edge.conftest import Client, Control, lambda_log, wait_for_state, wait_gone

pytestmark = pytest.mark.slow


def _children(state: StackState) -> list[int]:
    return [pid for name, pid in state.pids.items() if name != "up"]


def _sleeper() -> subprocess.Popen[bytes]:
    # "edge." on its command line: matching command lines took it for ours.
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "edge.knowledge.txt"],
        stdin=subprocess.DEVNULL,
    )


def _state_naming(path: Path, pid: int, create_times: dict[str, float]) -> None:
    StackState(
        edge_url="http://127.0.0.1:9",
        dns="127.0.0.1:9",
        routing_name="origins.edgedrill.test",
        regions={"us-east-1": "http://127.0.0.1:9"},
        sample_keys=["media/0001.jpg"],
        log_dir=str(path.parent / "logs"),
        pids={"up": pid, "edge": pid},
        control_url="http://127.0.0.1:9",
        bucket="edgedrill-media",
        function="edgedrill-router",
        pop="IAD89-P1",
        control_token="stale-stack-token-0123456789",
        create_times=create_times,
    ).write(path)


def _down(state_path: Path) -> subprocess.CompletedProcess[str]:
    return run_edgedrill("down", "--state", str(state_path))


@pytest.mark.parametrize("recorded", ["another start time", "no start time"])
def test_down_leaves_a_reused_pid_alone(tmp_path: Path, recorded: str) -> None:
    stranger = _sleeper()
    try:
        started = create_time(stranger.pid)
        # A stale state file: its stack is gone and the PID now names a stranger.
        times = {"up": started - 3600.0, "edge": started - 3600.0}
        state_path = tmp_path / "state.json"
        _state_naming(state_path, stranger.pid, times if recorded == "another start time" else {})
        result = _down(state_path)
        assert result.returncode == 0, result.stderr
        assert "stopped" not in result.stdout
        assert f"pid {stranger.pid} (up) is not the process it recorded" in result.stderr
        assert stranger.poll() is None
        assert not state_path.exists()
    finally:
        stranger.kill()
        stranger.wait(timeout=10)


def test_down_stops_the_process_it_recorded(tmp_path: Path) -> None:
    recorded = _sleeper()
    try:
        started = create_time(recorded.pid)
        state_path = tmp_path / "state.json"
        _state_naming(state_path, recorded.pid, {"up": started, "edge": started})
        result = _down(state_path)
        assert result.returncode == 0, result.stderr
        assert f"up ({recorded.pid})" in result.stdout
        assert recorded.wait(timeout=10) == -signal.SIGTERM
    finally:
        if recorded.poll() is None:
            recorded.kill()
        recorded.wait(timeout=10)


def test_edgedrill_up_then_down_leaves_nothing(tmp_path: Path) -> None:
    state_path = tmp_path / "state.json"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgedrill.cli",
            "up",
            "--state",
            str(state_path),
            "--objects",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = wait_for_state(up, state_path, time.monotonic() + 90)
        assert set(state.create_times) == set(state.pids)
        assert state.create_times["up"] == pytest.approx(create_time(up.pid), abs=1.5)
        down = _down(state_path)
        assert down.returncode == 0, down.stderr
        assert "stopped up" in down.stdout
        banner, _ = up.communicate(timeout=30)
        assert up.returncode == 0
        assert state.edge_url in banner
        assert wait_gone([up.pid, *_children(state)]) == []
        assert not state_path.exists()
    finally:
        if up.poll() is None:
            up.kill()
        up.communicate()


def test_down_without_a_state_file_is_a_clear_error(tmp_path: Path) -> None:
    result = _down(tmp_path / "none.json")
    assert result.returncode == 2
    assert "none.json" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_signal_to_up_leaves_no_child(tmp_path: Path, sig: signal.Signals) -> None:
    stack = launch(tmp_path / "state.json", objects=5)
    try:
        pids = _children(stack.state)
        assert all(pid > 0 for pid in pids)
        os.kill(stack.state.pids["up"], sig)
        assert wait_gone([stack.state.pids["up"], *pids]) == []
    finally:
        stack.stop()
    stack.stop()  # idempotent


def test_launch_refuses_a_second_stack_on_the_same_state(tmp_path: Path) -> None:
    with launch(tmp_path / "state.json", objects=5) as stack:
        with pytest.raises(StackError, match="already running"):
            launch(tmp_path / "state.json", objects=5)
        assert stack.process.poll() is None
    assert wait_gone(list(stack.state.pids.values())) == []


def test_bad_options_fail_fast_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="--objects"):
        launch(tmp_path / "state.json", objects=0)


def test_cold_start_then_warm_reuse_over_http(tmp_path: Path) -> None:
    with launch(tmp_path / "state.json", objects=10) as stack:
        edge = Client(stack.state.edge_url)
        control = Control.of(stack)
        try:
            for n in range(5):
                assert edge.get(f"/{stack.state.sample_keys[n]}?seq={n}").status == 200
            reports = [line for line in lambda_log(stack) if "\tREPORT RequestId: " in line]
            assert len(reports) == 5
            assert sum("Init Duration: " in line for line in reports) == 1
            assert "Init Duration: " in reports[0]
            # Three at once, each slowed down: two more environments start cold.
            control.inject(target="lambda", kind="delay", delay_ms=300, lease_s=30)
            paths = [f"/{stack.state.sample_keys[n]}?burst={n}" for n in range(3)]

            def fetch(path: str) -> int:
                client = Client(stack.state.edge_url)
                try:
                    return client.get(path).status
                finally:
                    client.close()

            with ThreadPoolExecutor(max_workers=3) as pool:
                statuses = list(pool.map(fetch, paths))
            assert statuses == [200, 200, 200]
            stats = control.stats()["edge"]["lambda"]
            reports = [line for line in lambda_log(stack) if "\tREPORT RequestId: " in line]
            assert len(reports) == 8
            assert stats["cold_starts"] == 3
            assert stats["environments"] == 3
            assert sum("Init Duration: " in line for line in reports) == stats["cold_starts"]
        finally:
            edge.close()
