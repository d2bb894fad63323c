"""The Chaos Toolkit provider: ``chaos run`` of the example against a real local distribution."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos import toolkit
from chaos.control import ControlClient
from chaos.errors import ChaosError
from edge.stack import DEFAULT_STATE, RunningStack
from tests.chaos.conftest import get_object

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "chaos" / "examples" / "bucket-outage.json"


@pytest.fixture
def configuration(stack: RunningStack) -> Iterator[dict[str, str]]:
    try:
        yield {toolkit.STATE_KEY: str(stack.state_path)}
    finally:
        toolkit.reset_held()
        ControlClient.from_state(stack.state).clear()


def test_the_state_file_comes_from_configuration_then_env_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(toolkit.STATE_ENV, raising=False)
    assert toolkit.state_path(None) == Path(DEFAULT_STATE)
    monkeypatch.setenv(toolkit.STATE_ENV, "/tmp/from-env.json")
    assert toolkit.state_path({}) == Path("/tmp/from-env.json")
    assert toolkit.state_path({toolkit.STATE_KEY: "/tmp/configured.json"}) == Path(
        "/tmp/configured.json"
    )


def test_a_missing_state_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(ChaosError, match=str(missing)):
        toolkit.active_faults({toolkit.STATE_KEY: str(missing)})


def test_inject_and_rollback_actions(stack: RunningStack, configuration: dict[str, str]) -> None:
    primary = next(iter(stack.state.regions))
    assert get_object(stack.state, primary)[0] == 200
    held = toolkit.inject_fault("bucket:503", configuration=configuration)
    assert held["fault"] == "bucket:503"
    assert get_object(stack.state, primary)[0] == 503
    assert [f["id"] for f in toolkit.active_faults(configuration)] == held["ids"]
    # Misses still succeed: the edge fails over to the other region.
    assert toolkit.edge_error_rate(10, configuration) == 0.0
    assert set(toolkit.served_regions(10, configuration)) == set(stack.state.regions) - {primary}
    assert toolkit.rollback_faults(configuration) == {"removed": held["ids"]}
    assert get_object(stack.state, primary)[0] == 200
    assert toolkit.active_faults(configuration) == []
    assert toolkit.rollback_faults(configuration) == {"removed": []}


def test_chaos_run_completes_the_example(
    stack: RunningStack, configuration: dict[str, str], tmp_path: Path
) -> None:
    chaos = shutil.which("chaos")
    assert chaos is not None, "chaostoolkit's `chaos` command is not installed"
    journal_path = tmp_path / "journal.json"
    done = subprocess.run(
        [chaos, "--no-version-check", "run", "--journal-path", str(journal_path), str(EXAMPLE)],
        cwd=tmp_path,
        env={**os.environ, toolkit.STATE_ENV: configuration[toolkit.STATE_KEY]},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed"
    assert journal["deviated"] is False
    runs = {run["activity"]["name"]: run for run in journal["run"]}
    injected = runs["primary-bucket-answers-503"]
    assert injected["status"] == "succeeded"
    assert injected["output"]["fault"] == "bucket:503"
    primary = next(iter(stack.state.regions))
    # While the bucket failed, every miss was answered by the other region.
    served = runs["regions-serving-misses-during-the-outage"]["output"]
    assert primary not in served
    assert sum(served.values()) == 20
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    # The rollback ran: nothing is left on the distribution.
    assert ControlClient.from_state(stack.state).list() == []
    assert get_object(stack.state, primary)[0] == 200
