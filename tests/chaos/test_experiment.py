"""Experiments against a real local distribution: faults on time, journaled, always rolled back."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from chaos.control import ControlClient
from chaos.experiment import Experiment
from chaos.journal import JOURNAL_JSON, Status
from chaos.stop import StopCondition
from chaos.timeline import parse_timed_fault
from edgedrill_formats.run_folder import FAULTS_JSONL
from tests.chaos.conftest import get_object

if TYPE_CHECKING:
    from pathlib import Path

    from edge.stack import RunningStack, StackState

pytestmark = pytest.mark.slow

PRIMARY = "us-east-1"


def _wait_for(state: StackState, status: int, timeout: float = 10.0) -> float:
    """Poll until the region answers ``status``; when it first did."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if get_object(state, PRIMARY)[0] == status:
            return time.time()
        time.sleep(0.05)
    pytest.fail(f"the region never answered {status} within {timeout} s")


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / FAULTS_JSONL
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _journal(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / JOURNAL_JSON).read_text(encoding="utf-8")))


def test_a_fault_holds_for_its_window_then_is_gone(
    stack: RunningStack, control: ControlClient, tmp_path: Path
) -> None:
    state = stack.state
    assert get_object(state, PRIMARY)[0] == 200
    timed = parse_timed_fault("bucket:503,at=0.5s,for=1s")
    experiment = Experiment([timed], control, state, tmp_path)
    try:
        experiment.start()
        origin = experiment.origin
        seen = _wait_for(state, 503)
        back = _wait_for(state, 200)
        deadline = time.time() + 10
        while not _lines(tmp_path) and time.time() < deadline:
            time.sleep(0.05)
    finally:
        status = experiment.stop()
    assert status is Status.COMPLETED
    assert origin + 0.5 <= seen < back
    [line] = _lines(tmp_path)
    assert line["fault"] == "bucket:503"
    assert line["target"] == f"s3:{PRIMARY}"
    assert line["region"] == PRIMARY
    assert line["kind"] == "slowdown"
    assert line["probability"] == 1.0
    start, end = float(line["start"]), float(line["end"])
    # Not before its offset, held at least its duration, and gone well before the lease.
    assert origin + 0.5 <= start <= origin + 3.0
    assert start + 1.0 <= end <= start + 5.0
    assert control.list() == []
    journal = _journal(tmp_path)
    assert journal["schema"] == 1
    assert journal["status"] == "completed"
    assert journal["reason"] == ""
    assert journal["drill"] == "command line"
    assert journal["faults"] == [
        {"fault": "bucket:503", "at_s": 0.5, "for_s": 1.0, "region": None, "probability": None}
    ]
    assert journal["applied"] == [line]
    [rollback] = journal["rollbacks"]
    assert rollback["ok"] is True
    assert rollback["id"] == line["id"]


def test_stop_mid_fault_rolls_it_back_at_once(
    stack: RunningStack, control: ControlClient, tmp_path: Path
) -> None:
    state = stack.state
    timed = [
        parse_timed_fault("bucket:503,for=60s"),
        parse_timed_fault("lambda:error,for=60s"),
        parse_timed_fault("bucket:500,at=50s,for=5s"),  # never due
    ]
    experiment = Experiment(timed, control, state, tmp_path)
    experiment.start()
    try:
        _wait_for(state, 503)
        deadline = time.time() + 10
        while len(control.list()) < 2 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        experiment.stop(Status.ABORTED, "operator stopped it")
    assert get_object(state, PRIMARY)[0] == 200
    assert control.list() == []
    lines = _lines(tmp_path)
    assert [line["fault"] for line in lines] == ["lambda:error", "bucket:503"]  # newest first
    assert all(float(line["end"]) - float(line["start"]) < 30 for line in lines)
    journal = _journal(tmp_path)
    assert journal["status"] == "aborted"
    assert journal["reason"] == "operator stopped it"
    assert len(journal["faults"]) == 3
    assert len(journal["applied"]) == 2
    # Stopping twice changes nothing.
    assert experiment.stop() is Status.ABORTED
    assert _journal(tmp_path)["status"] == "aborted"


def test_an_exception_in_the_block_rolls_everything_back(
    stack: RunningStack, control: ControlClient, tmp_path: Path
) -> None:
    state = stack.state
    with pytest.raises(RuntimeError, match="the load broke"), Experiment(  # noqa: PT012
        [parse_timed_fault("bucket:503,for=60s")], control, state, tmp_path
    ):
        _wait_for(state, 503)
        raise RuntimeError("the load broke")
    assert get_object(state, PRIMARY)[0] == 200
    assert control.list() == []
    journal = _journal(tmp_path)
    assert journal["status"] == "aborted"
    assert "the load broke" in str(journal["reason"])
    assert len(_lines(tmp_path)) == 1


def test_a_failed_injection_is_journaled_and_the_rest_goes_on(
    stack: RunningStack, control: ControlClient, tmp_path: Path
) -> None:
    state = stack.state
    timed = [
        parse_timed_fault("bucket:503,for=0.3s,region=ap-south-1"),  # not a region of this stack
        parse_timed_fault("bucket:500,at=0.2s,for=0.3s"),
    ]
    experiment = Experiment(timed, control, state, tmp_path)
    experiment.start()
    deadline = time.time() + 10
    while not _lines(tmp_path) and time.time() < deadline:
        time.sleep(0.05)
    assert experiment.stop() is Status.COMPLETED
    journal = _journal(tmp_path)
    assert journal["status"] == "completed"
    [failure] = journal["injection_failures"]
    assert failure["fault"] == "bucket:503"
    assert "ap-south-1" in failure["detail"]
    assert [line["fault"] for line in _lines(tmp_path)] == ["bucket:500"]


def test_nothing_injected_is_a_failed_drill(
    stack: RunningStack, control: ControlClient, tmp_path: Path
) -> None:
    timed = [parse_timed_fault("bucket:503,for=1s,region=ap-south-1")]
    experiment = Experiment(timed, control, stack.state, tmp_path)
    experiment.start()
    deadline = time.time() + 10
    while not experiment.journal.failures and time.time() < deadline:
        time.sleep(0.05)
    assert experiment.stop() is Status.FAILED
    assert _journal(tmp_path)["status"] == "failed"
    assert _lines(tmp_path) == []


def test_a_sustained_breach_aborts_the_drill_and_rolls_back(
    stack: RunningStack, control: ControlClient, tmp_path: Path
) -> None:
    state = stack.state
    told: list[str] = []
    called = threading.Event()

    def on_abort(reason: str) -> None:
        told.append(reason)
        called.set()

    experiment = Experiment(
        [parse_timed_fault("bucket:503,for=60s")],
        control,
        state,
        tmp_path,
        stop_condition=StopCondition(for_s=2.0, error_rate=0.5),
        on_abort=on_abort,
    )
    experiment.start()
    try:
        _wait_for(state, 503)
        now = int(time.time())
        # Seconds long settled: one healthy, then three all failing.
        experiment.observe([(now - 9 + 0.5, False, 5.0)])
        experiment.observe([(float(s) + 0.5, True, 5.0) for s in range(now - 8, now - 5)])
        assert called.wait(10)
    finally:
        experiment.stop()
    assert told == ["stop condition: error rate 1 > 0.5 for 2 s in a row"]
    assert get_object(state, PRIMARY)[0] == 200
    assert control.list() == []
    journal = _journal(tmp_path)
    assert journal["status"] == "aborted"
    assert journal["reason"] == told[0]
