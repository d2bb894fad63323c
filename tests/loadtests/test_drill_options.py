"""The scenarios' chaos options (--fault, --drill, --state), from parser to run folder."""

from __future__ import annotations

import argparse
import csv
import json
import signal
import time
from typing import TYPE_CHECKING

import pytest

from edge.stack import launch
from loadtests._options import ScenarioError, add_common_arguments, fault_plan

from .conftest import LOADTESTS, free_port, swarm, wait_for_page

if TYPE_CHECKING:
    from pathlib import Path

SPIKE = str(LOADTESTS / "spike.py")
SHORT_SPIKE = ("--baseline-rps", "5", "--spike-factor", "2", "--spike-at", "1")
SHORT_SPIKE_REST = ("--spike-hold", "2", "--cooldown", "1", "--drain-timeout", "5")


def parse(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    return parser.parse_args(list(args))


def test_fault_is_repeatable_into_one_string_the_web_ui_keeps() -> None:
    assert parse().fault == ""
    assert parse().drill == ""
    options = parse("--fault", "bucket:503,at=1s,for=2s", "--fault", "dns:servfail,for=3s")
    # A string, not a list: Locust's web UI splits an edited list at its commas.
    assert options.fault == "bucket:503,at=1s,for=2s dns:servfail,for=3s"
    plan = fault_plan(options)
    assert [(t.spelling, t.at_s, t.for_s) for t in plan.timeline] == [
        ("bucket:503", 1.0, 2.0),
        ("dns:servfail", 0.0, 3.0),
    ]
    assert plan.stop is None
    assert plan.drill == "command line"
    assert not fault_plan(parse())


def test_a_drill_file_adds_its_faults_and_stop_condition(tmp_path: Path) -> None:
    drill = tmp_path / "drill.toml"
    drill.write_text(
        '[[fault]]\nfault = "lambda:error"\nat = 2\nfor = 1\n\n[stop]\np99_ms = 900\nfor = 5\n',
        encoding="utf-8",
    )
    plan = fault_plan(parse("--fault", "bucket:500,for=1s", "--drill", str(drill)))
    assert [t.spelling for t in plan.timeline] == ["bucket:500", "lambda:error"]
    assert plan.stop is not None
    assert plan.stop.p99_ms == 900
    assert plan.drill == str(drill)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fault", "bucket:503"), "'for' is missing"),
        (("--fault", "bucket:503,for=1s;dns:nope,for=1s"), "unknown fault"),
        (("--drill", "/nonexistent/drill.toml"), "/nonexistent/drill.toml"),
    ],
)
def test_bad_faults_are_scenario_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        fault_plan(parse(*args))


def test_faults_with_host_and_no_state_fail_before_anything_starts(run_locust, target, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("a.jpg\n")
    finished = run_locust(
        "-f", SPIKE, "--headless", "--host", target.url, "--keys", str(keys),
        "--fault", "bucket:503,for=1s", "--results-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert finished.code == 2
    assert "drop --host" in finished.output
    assert not (tmp_path / "runs").exists()


def _faults(run: Path) -> list[dict[str, object]]:
    lines = (run / "faults.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow
def test_faults_given_in_the_web_ui_run_on_the_timeline(spawn, tmp_path):
    port = free_port()
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--web-host", "127.0.0.1", "--web-port", str(port),
        "--results-dir", str(tmp_path / "runs"), "--objects", "50",
    )  # fmt: skip
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", running)
        assert '"fault"' in page
        assert '"drill"' in page
        assert "control API http://127.0.0.1:" in running.output()
        assert "edgedrill chaos inject FAULT --state " in running.output()
        form = {
            "user_count": "10",
            "spawn_rate": "10",
            "baseline_rps": "5",
            "spike_factor": "2",
            "spike_at": "1",
            "spike_hold": "2",
            "cooldown": "1",
            "drain_timeout": "5",
            "fault": "bucket:503,at=0.5s,for=1s lambda:error,at=1s,for=1s",
        }
        swarm(port, form, running, tmp_path / "runs", timeout=60)
    finally:
        running.signal(signal.SIGTERM)
    finished = running.finish(timeout=30)
    [run] = list((tmp_path / "runs").iterdir())
    assert [f["fault"] for f in _faults(run)] == ["bucket:503", "lambda:error"]
    journal = json.loads((run / "journal.json").read_text())
    assert journal["status"] == "completed"
    assert finished.leftovers() == []


@pytest.mark.slow
def test_state_drives_a_distribution_started_elsewhere(run_locust, tmp_path):
    stack = launch(tmp_path / "up" / "state.json", objects=20)
    try:
        finished = run_locust(
            "-f", SPIKE, "--headless", "--state", str(tmp_path / "up" / "state.json"),
            "--fault", "bucket:503,at=0.5s,for=1s", *SHORT_SPIKE, *SHORT_SPIKE_REST,
            "--results-dir", str(tmp_path / "runs"),
        )  # fmt: skip
        assert finished.code == 0, finished.output[-3000:]
        assert "starting the local distribution" not in finished.output
        [run] = list((tmp_path / "runs").iterdir())
        document = json.loads((run / "run.json").read_text())
        assert document["host"] == stack.state.edge_url
        assert document["requests"] > 0
        [fault] = _faults(run)
        assert fault["target"] == "s3:us-east-1"
        from chaos.control import ControlClient

        assert ControlClient.from_state(stack.state).list() == []

        # --host naming that same distribution needs no --keys: the state lists them.
        again = run_locust(
            "-f", SPIKE, "--headless", "--host", stack.state.edge_url + "/",
            "--state", str(tmp_path / "up" / "state.json"), *SHORT_SPIKE, *SHORT_SPIKE_REST,
            "--results-dir", str(tmp_path / "again"),
        )  # fmt: skip
        assert again.code == 0, again.output[-3000:]
        assert "starting the local distribution" not in again.output
        [run] = list((tmp_path / "again").iterdir())
        document = json.loads((run / "run.json").read_text())
        assert document["host"] == stack.state.edge_url  # the trailing / taken off
        assert document["requests"] > 0
        # Every request found its object: the keys are the distribution's own.
        assert document["failures"] == 0
        assert document["plan"]["keys"] == len(stack.state.sample_keys)
        with (run / "requests.csv").open(newline="") as handle:
            statuses = {row["status"] for row in csv.DictReader(handle)}
        assert statuses == {"200"}
    finally:
        stack.stop()


@pytest.mark.slow
def test_ctrl_c_mid_fault_rolls_it_back_and_the_journal_says_aborted(spawn, tmp_path):
    runs = tmp_path / "runs"
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--headless", "--only-summary", "--objects", "50",
        "--results-dir", str(runs), "--fault", "bucket:503,at=0.5s,for=60s",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "fault bucket:503 injected" not in running.output():
        assert time.monotonic() < deadline, running.output()[-3000:]
        time.sleep(0.2)
    running.signal(signal.SIGINT)
    finished = running.finish(timeout=60)
    assert finished.code in (0, 1), finished.output[-3000:]
    [run] = list(runs.iterdir())
    [fault] = _faults(run)
    assert float(fault["end"]) - float(fault["start"]) < 30  # type: ignore[arg-type]
    journal = json.loads((run / "journal.json").read_text())
    assert journal["status"] == "aborted"
    assert [r["ok"] for r in journal["rollbacks"]] == [True]
    assert "aborted" not in json.loads((run / "run.json").read_text())  # not its stop condition
    assert finished.leftovers() == []
