"""A whole generated run analysed: every measure against the generator's known answers."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import numpy as np
import pytest

from results.analysis import Options, analyse, error_kind, load_run
from results.errors import FormatError, RunFolderError
from tests.results.synthetic import T0, Row, minimal_run, write_rate

if TYPE_CHECKING:
    from pathlib import Path

    from tests.results.synthetic import Truth


def test_counts_match_the_generator(drill_run: tuple[Path, Truth]) -> None:
    run_dir, truth = drill_run
    analysis = analyse(load_run(run_dir, strict=True))
    assert analysis.requests.total == truth.requests
    assert analysis.requests.failures == truth.failures
    assert analysis.requests.late_starts == truth.late
    assert analysis.edge.hits == truth.hits
    assert analysis.rate is not None
    assert analysis.rate.achieved_ratio == 1.0
    assert analysis.rate.target_total == truth.target_total
    assert analysis.router is not None
    assert analysis.router.invocations == truth.invocations
    assert analysis.router.above_threshold == truth.above_threshold
    assert analysis.environments is not None
    assert analysis.environments.cold_starts == truth.cold_starts
    assert analysis.dns is not None
    assert analysis.dns.queries == truth.dns_queries
    assert analysis.dns.queries_per_1k_invocations == pytest.approx(
        truth.dns_queries / truth.invocations * 1000
    )
    for state, count in truth.states.items():
        assert analysis.dns.states[state] == count
    assert analysis.malformed_lines == 0
    assert all(check.ok for check in analysis.checks), analysis.checks
    assert analysis.notes == []


def test_per_second_series_add_up(drill_run: tuple[Path, Truth]) -> None:
    run_dir, truth = drill_run
    analysis = analyse(load_run(run_dir))
    assert analysis.timeline.seconds >= 40
    assert int(analysis.requests.per_second.sum()) == truth.requests
    assert int(analysis.requests.failures_per_second.sum()) == truth.failures
    assert sum(int(s.sum()) for s in analysis.requests.error_classes_per_second.values()) == (
        truth.failures
    )
    assert analysis.dns is not None
    assert sum(int(s.sum()) for s in analysis.dns.states_per_second.values()) == truth.invocations
    assert analysis.environments is not None
    assert int(analysis.environments.cold_per_second.sum()) == truth.cold_starts
    # Spike: 20 req/s for 10 s, then 100 req/s.
    assert analysis.requests.per_second[:10].tolist() == [20] * 10
    assert analysis.requests.per_second[10:25].tolist() == [100] * 15
    assert analysis.requests.peak_rps == 100


def test_the_fault_is_measured(drill_run: tuple[Path, Truth]) -> None:
    run_dir, _ = drill_run
    analysis = analyse(load_run(run_dir))
    assert analysis.failovers is not None
    (item,) = analysis.failovers
    assert item.fault.fault == "s3:unavailable"
    # Errors for 4 s from the fault's start (FaultSpec.impact_s), then clean.
    assert item.failover_s == 4.0
    assert item.peak_error_rate > 0.1
    # A looser threshold (the gate's) is computed on demand.
    loose = analysis.failovers_with(0.9, 5)
    assert loose is not None
    assert loose[0].failover_s == 0.0


def test_billing_uses_run_json_memory_and_threshold(drill_run: tuple[Path, Truth]) -> None:
    run_dir, _ = drill_run
    analysis = analyse(load_run(run_dir), Options(memory_mb=1024))
    assert analysis.billing is not None
    assert analysis.billing.memory_mb == 1024
    assert analysis.billing.memory_source == "option"
    assert analysis.billing.threshold_source == "run.json"
    assert analysis.billing.rule(50).mean_billed_ms >= 50
    assert analysis.billing.reported_mismatches == 0


def test_a_run_with_only_records(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [Row(T0 + 0.5, 10.0), Row(T0 + 1.5, 20.0, status=503)])
    analysis = analyse(load_run(run_dir))
    assert analysis.requests.total == 2
    assert analysis.requests.error_rate == 0.5
    assert analysis.router is None
    assert analysis.billing is None
    assert analysis.dns is None
    assert analysis.environments is None
    assert analysis.rate is None
    assert analysis.failovers is None
    notes = " ".join(analysis.notes)
    assert "no rate.csv" in notes
    assert "no runtime logs" in notes
    assert "no access log" in notes


def test_late_starts_from_both_files(tmp_path: Path) -> None:
    rows = [Row(T0 + 0.1, 1.0, late_ms=12.0), Row(T0 + 0.6, 1.0), Row(T0 + 1.2, 1.0, late_ms=0.5)]
    run_dir = minimal_run(tmp_path / "run", rows, late_starts=2)
    write_rate(run_dir / "rate.csv", [(0, 2, 2, 1), (1, 2, 1, 1)])
    analysis = analyse(load_run(run_dir))
    assert analysis.requests.late_starts == 2
    assert analysis.requests.late_ms[100.0] == 12.0
    assert analysis.rate is not None
    assert analysis.rate.late_total == 2
    assert analysis.rate.achieved_ratio == 0.75
    assert analysis.rate.short_seconds == 1  # second 1 made 1 of 2
    assert np.array_equal(analysis.rate.late_per_second[:2], [1, 1])


def test_errors_by_kind() -> None:
    assert error_kind("ConnectionRefusedError(111, 'refused')", 0) == "ConnectionRefusedError"
    assert error_kind("HTTPError('503 Server Error')", 503) == "HTTPError"
    assert error_kind("", 0) == "no response"
    assert error_kind("", 404) == "HTTP 404"
    assert error_kind("503 slow down, please", 200) == "503 slow down, please"


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="not a directory"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunFolderError, match=r"run\.json: missing"):
        load_run(tmp_path / "empty")


def test_run_json_errors_name_the_field(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [Row(T0, 1.0)])
    (run_dir / "run.json").write_text(json.dumps({"start": T0, "end": "later"}))
    with pytest.raises(RunFolderError, match="field 'end' is not a number"):
        load_run(run_dir)
    (run_dir / "run.json").write_text('{"start": 1,\n "end": }')
    with pytest.raises(FormatError, match=r"run\.json:2: invalid JSON"):
        load_run(run_dir)


def test_a_malformed_fault_line(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [Row(T0, 1.0)])
    (run_dir / "faults.jsonl").write_text(
        json.dumps({"fault": "dns:servfail", "target": "z", "start": T0 + 1, "end": T0 + 2})
        + '\n{"fault": "s3:down", "start": "soon"}\n'
    )
    data = load_run(run_dir)
    assert data.faults is not None
    assert len(data.faults) == 1
    assert data.folder_malformed.messages()[0].startswith(
        f"{run_dir / 'faults.jsonl'}:2: field 'start'"
    )
    with pytest.raises(FormatError) as caught:
        load_run(run_dir, strict=True)
    assert caught.value.line == 2


def test_log_lines_after_the_grace_period_are_left_out(
    drill_run: tuple[Path, Truth], tmp_path: Path
) -> None:
    run_dir, _ = drill_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    log = next((copy / "logs" / "lambda").iterdir())
    with log.open("a") as handle:
        handle.write("2027-01-01T00:00:00.000Z\tSTART RequestId: late Version: 1\n")
    analysis = analyse(load_run(copy))
    assert analysis.timeline.seconds < 100
