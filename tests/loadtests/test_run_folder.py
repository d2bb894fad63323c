from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loadtests._run_folder import (
    claim_run_dir,
    copy_logs,
    create_run_dir,
    jsonable,
    run_dir_name,
    versions,
    write_run_json,
)
from results.run_folder import REQUESTS_CSV as RESULTS_REQUESTS_CSV
from results.run_folder import RUN_JSON as RESULTS_RUN_JSON
from results.run_folder import read_run_info

MOMENT = datetime(2026, 11, 26, 17, 31, 48, 500_000, tzinfo=UTC)


def test_name_is_utc_stamp_and_scenario():
    assert run_dir_name("spike", MOMENT) == "20261126T173148Z-spike"


def test_runs_in_the_same_second_get_distinct_folders(tmp_path):
    first = create_run_dir(tmp_path, "spike", MOMENT)
    second = create_run_dir(tmp_path, "spike", MOMENT)
    assert first.name == "20261126T173148Z-spike"
    assert second.name == "20261126T173149Z-spike"
    assert first.is_dir()
    assert second.is_dir()


def test_a_given_run_dir_is_used_unless_it_holds_a_run(tmp_path):
    target = claim_run_dir(tmp_path / "a" / "b")
    assert target.is_dir()
    (target / "run.json").write_text("{}")
    with pytest.raises(FileExistsError, match="already holds a run"):
        claim_run_dir(target)


def test_run_json_is_written_whole_and_json_safe(tmp_path):
    write_run_json(tmp_path, {"start": 1.5, "nan": math.nan, "path": Path("/x"), "t": (1, 2)})
    document = json.loads((tmp_path / "run.json").read_text())
    assert document == {"start": 1.5, "nan": None, "path": "/x", "t": [1, 2]}
    assert not list(tmp_path.glob("*.partial"))


def test_jsonable_keeps_plain_values():
    assert jsonable({"a": [1, "b", None, True]}) == {"a": [1, "b", None, True]}


def test_versions_name_edgedrill_locust_and_python():
    found = versions()
    assert set(found) == {"edgedrill", "locust", "python"}
    assert found["python"].count(".") == 2


def test_logs_are_copied_and_replaced(tmp_path):
    source = tmp_path / "src"
    (source / "cloudfront").mkdir(parents=True)
    (source / "cloudfront" / "access.log").write_text("x\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "logs").mkdir()
    (run / "logs" / "stale").write_text("old")
    copied = copy_logs(source, run)
    assert copied == run / "logs"
    assert (run / "logs" / "cloudfront" / "access.log").read_text() == "x\n"
    assert not (run / "logs" / "stale").exists()
    assert copy_logs(tmp_path / "missing", run) is None


def test_the_analysis_reads_the_run_json_written_here(tmp_path):
    run = create_run_dir(tmp_path, "spike", MOMENT)
    document = {
        "scenario": "spike",
        "start": 1_795_714_308.25,
        "end": 1_795_714_368.5,
        "host": "http://127.0.0.1:41234",
        "local": True,
        "versions": versions(),
        "requests": 1200,
        "failures": 3,
        "late_starts": 7,
        "malformed_lines": 0,
        "memory_mb": 128,
        "billing_threshold_ms": math.nan,  # written as null: the analysis' default applies
        "args": {"out": tmp_path},
    }
    write_run_json(run, document)
    info = read_run_info(run / RESULTS_RUN_JSON)
    assert (info.scenario, info.start, info.end) == ("spike", 1_795_714_308.25, 1_795_714_368.5)
    assert info.duration_s == 60.25
    assert (info.host, info.local) == ("http://127.0.0.1:41234", True)
    assert (info.requests, info.failures, info.late_starts, info.malformed_lines) == (1200, 3, 7, 0)
    assert info.memory_mb == 128
    assert info.billing_threshold_ms is None
    assert info.args == {"out": str(tmp_path)}
    assert set(info.versions) == {"edgedrill", "locust", "python"}


def test_a_claimed_folder_is_refused_once_the_analysis_would_read_a_run_in_it(tmp_path):
    target = claim_run_dir(tmp_path / "run")
    (target / RESULTS_REQUESTS_CSV).write_text("")
    with pytest.raises(FileExistsError, match="already holds a run"):
        claim_run_dir(target)
