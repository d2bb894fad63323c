"""``edgedrill run``/``check`` with ``--fault`` and ``--drill``: passed on, checked, exit codes."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from edgedrill.cli import build_parser, main
from edgedrill.commands.gate import _load_gate
from edgedrill.drill import aborted_by_stop_condition, add_drill_arguments, drill_args
from edgedrill_formats.run_folder import FAULTS_JSONL, REQUESTS_CSV, RUN_JSON
from tests.conftest import run_edgedrill

ROOT = Path(__file__).resolve().parents[2]
PRIMARY = "us-east-1"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_drill_arguments(p)
    return p


def test_faults_and_the_drill_file_are_passed_to_locust(tmp_path: Path) -> None:
    drill = tmp_path / "drill.toml"
    faults = ["--fault", "bucket:503,at=3s,for=4s", "--fault", "dns:servfail,for=2s"]
    args = parser().parse_args([*faults, "--drill", str(drill)])
    extra = drill_args(args)
    assert extra[-6:] == [
        "--fault",
        "bucket:503,at=3s,for=4s",
        "--fault",
        "dns:servfail,for=2s",
        "--drill",
        str(drill.resolve()),
    ]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--fault", "bucket:503,at=3s"], "'for' is missing"),
        (["--fault", "bucket:5O3,for=3s"], "unknown fault"),
        (["--fault", "bucket:503,for=3s", "--host", "https://d1.cloudfront.net"], "drop --host"),
    ],
)
def test_bad_faults_are_usage_errors_before_anything_starts(
    tmp_path: Path, argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--out", str(tmp_path), *argv])
    assert code == 2
    assert names in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no run folder: Locust never started


def test_a_bad_drill_file_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drill = tmp_path / "drill.toml"
    drill.write_bytes(b"\xff\xfe binary")
    assert main(["check", "--out", str(tmp_path / "runs"), "--drill", str(drill)]) == 2
    err = capsys.readouterr().err
    assert str(drill) in err
    assert "not UTF-8" in err


def test_check_takes_the_drill_files_gate_unless_one_is_given(tmp_path: Path) -> None:
    drill = tmp_path / "drill.toml"
    drill.write_text(
        '[[fault]]\nfault = "bucket:503"\nfor = "3s"\n\n[gate]\nerror_rate = { max = 0.5 }\n',
        encoding="utf-8",
    )
    other = tmp_path / "gate.toml"
    other.write_text("[gate]\np99_ms = { max = 100 }\n", encoding="utf-8")
    check = build_parser()
    gate = _load_gate(check.parse_args(["check", "--drill", str(drill)]))
    assert gate.source == str(drill)
    assert [t.key for t in gate.thresholds] == ["error_rate"]
    given = _load_gate(check.parse_args(["check", "--drill", str(drill), "--gate", str(other)]))
    assert [t.key for t in given.thresholds] == ["p99_ms"]


def test_check_without_a_drill_gate_keeps_the_projects(tmp_path: Path) -> None:
    drill = tmp_path / "drill.toml"
    drill.write_text('[[fault]]\nfault = "bucket:503"\nfor = "3s"\n', encoding="utf-8")
    gate = _load_gate(build_parser().parse_args(["check", "--drill", str(drill)]))
    assert "pyproject.toml" in gate.source


def test_aborted_is_read_from_run_json(tmp_path: Path) -> None:
    assert aborted_by_stop_condition(tmp_path) == ""
    (tmp_path / RUN_JSON).write_text(json.dumps({"scenario": "spike"}), encoding="utf-8")
    assert aborted_by_stop_condition(tmp_path) == ""
    (tmp_path / RUN_JSON).write_text(json.dumps({"aborted": "error rate"}), encoding="utf-8")
    assert aborted_by_stop_condition(tmp_path) == "error rate"


# -- end to end: Locust, the local distribution and the faults, for real -------------------


def _edgedrill(*args: str) -> subprocess.CompletedProcess[str]:
    return run_edgedrill(*args, timeout=400)


def _run_dir(out: Path) -> Path:
    [run_dir] = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


@pytest.mark.slow
def test_a_bucket_fault_on_the_timeline_moves_misses_off_the_primary(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = _edgedrill(
        "run", "--duration", "12", "--out", str(out), "--fault", "bucket:503,at=3s,for=4s",
        "--no-report", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = _run_dir(out)
    assert done.stdout.strip() == str(run_dir)
    [line] = [json.loads(text) for text in (run_dir / FAULTS_JSONL).read_text().splitlines()]
    assert line["fault"] == "bucket:503"
    assert (line["target"], line["kind"]) == (f"s3:{PRIMARY}", "slowdown")
    start, end = float(line["start"]), float(line["end"])
    assert end - start >= 4.0
    run = json.loads((run_dir / RUN_JSON).read_text())
    assert start >= run["start"] + 3.0
    assert "aborted" not in run
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "completed"
    with (run_dir / REQUESTS_CSV).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # A miss whose whole request (start to end) lies within the fault, before its
    # rollback began, was fetched while the primary answered 503: the other region served it.
    lifted = start + 4.0
    during = [
        r
        for r in rows
        if start <= float(r["start"])
        and float(r["start"]) + float(r["duration_ms"]) / 1000.0 <= lifted
        and r["status"] == "200"
        and r["origin_region"]
    ]
    served = Counter(r["origin_region"] for r in during)
    assert served, "no miss reached a region during the fault"
    assert set(served) == {"eu-west-1"}, [
        (round(float(r["start"]) - start, 3), r["duration_ms"])
        for r in during
        if r["origin_region"] == PRIMARY
    ]
    outside = {
        r["origin_region"]
        for r in rows
        if not start <= float(r["start"]) < end + 1.0 and r["status"] == "200"
    }
    assert PRIMARY in outside


@pytest.mark.slow
def test_a_stop_condition_aborts_the_drill_with_exit_3(tmp_path: Path) -> None:
    drill = tmp_path / "drill.toml"
    drill.write_text(
        '[[fault]]\nfault = "lambda:error"\nat = "2s"\nfor = "8s"\n\n'
        '[stop]\nerror_rate = 0.01\nfor = "1s"\n',
        encoding="utf-8",
    )
    out = tmp_path / "runs"
    done = _edgedrill(
        "run", "--duration", "12", "--out", str(out), "--drill", str(drill),
        "--no-report", "--quiet",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr[-3000:]
    run_dir = _run_dir(out)
    assert done.stdout.strip() == str(run_dir)  # the run folder is kept and named
    assert "the drill was aborted" in done.stderr
    journal = json.loads((run_dir / "journal.json").read_text())
    assert journal["status"] == "aborted"
    assert journal["reason"].startswith("stop condition: error rate")
    [line] = journal["applied"]
    assert line["fault"] == "lambda:error"
    assert all(r["ok"] for r in journal["rollbacks"])
    run = json.loads((run_dir / RUN_JSON).read_text())
    assert run["aborted"] == journal["reason"]
    # Stopped well before its 12 s schedule and the fault's 8 s.
    assert line["end"] - line["start"] < 8.0
