"""The capacity gate: its table, its verdicts, JUnit XML, and ``edgedrill check --run``."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import numpy as np
import pytest

import results.gate
from edgedrill.cli import main
from results.analysis import analyse, load_run
from results.errors import GateConfigError
from results.gate import Outcome, evaluate, junit_xml, load_gate, parse_gate, worst_error_window
from tests.results.synthetic import T0, Row, minimal_run

if TYPE_CHECKING:
    from pathlib import Path

    from tests.results.synthetic import Truth


def _documented_gate() -> str:
    """The example table of results.gate's docstring (the issue's table), as TOML."""
    lines = results.gate.__doc__.splitlines()
    first = lines.index("    [tool.edgedrill.gate]")
    last = lines.index("", first)
    return textwrap.dedent("\n".join(lines[first:last])) + "\n"


ISSUE_GATE = _documented_gate()


def test_the_issues_table_parses(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(ISSUE_GATE)
    gate = load_gate(pyproject=pyproject)
    keys = [t.key for t in gate.thresholds]
    assert keys == [
        "p99_ms",
        "error_rate",
        "achieved_ratio",
        "router_p99_ms",
        "failover_s",
        "dns_queries_per_1k",
        "cold_starts",
    ]
    p99 = gate.thresholds[0]
    assert (p99.percentile, p99.limit, p99.window_s) == (99.0, 800.0, 10)
    assert gate.thresholds[2].bound.value == "min"
    assert gate.thresholds[3].percentile == 99.0


def test_a_gate_file_uses_a_plain_gate_table(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(
        '[gate]\n"p99.9_ms" = { max = 2000 }\np50_ms = { max = 40 }\nabort_after_s = 15\n'
    )
    gate = load_gate(path)
    assert [t.percentile for t in gate.thresholds] == [99.9, 50.0]
    assert gate.abort_after_s == 15


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ({"p99_ms": {"min": 3}}, "p99_ms", "unknown field(s) min"),
        ({"p99_ms": {"max": 3, "windows": 10}}, "p99_ms", "unknown field(s) windows"),
        ({"p99_ms": {"window_s": 10}}, "p99_ms", "needs 'max'"),
        ({"p99_ms": 800}, "p99_ms", "expected a table"),
        ({"p99_ms": {"max": "fast"}}, "p99_ms.max", "expected a number"),
        ({"p99_ms": {"max": 1, "window_s": 0}}, "p99_ms.window_s", "whole number >= 1"),
        ({"p0_ms": {"max": 1}}, "p0_ms", "percentile must be in"),
        ({"latency": {"max": 1}}, "latency", "unknown threshold"),
        ({"error_ratio": {"max": 1}}, "error_ratio", "unknown threshold (known: p<N>_ms"),
        ({"achieved_ratio": {"max": 1}}, "achieved_ratio", "unknown field(s) max (allowed: min)"),
        ({"achieved_ratio": {}}, "achieved_ratio", "needs 'min'"),
        ({"abort_after_s": 0, "cold_starts": {"max": 1}}, "abort_after_s", "must be positive"),
        ({}, "(table)", "no thresholds"),
    ],
)
def test_a_bad_table_names_the_key(table: dict[str, object], key: str, reason: str) -> None:
    with pytest.raises(GateConfigError) as caught:
        parse_gate(table, "gate.toml")
    assert caught.value.key == key
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"gate.toml: gate key {key!r}")


def test_no_gate_anywhere(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(GateConfigError, match=r"no \[tool.edgedrill.gate\] table"):
        load_gate(pyproject=tmp_path / "pyproject.toml")
    (tmp_path / "bad.toml").write_text("[gate\n")
    with pytest.raises(GateConfigError, match="invalid TOML"):
        load_gate(tmp_path / "bad.toml")


def test_verdicts_on_the_generated_drill(drill_run: tuple[Path, Truth]) -> None:
    run_dir, truth = drill_run
    analysis = analyse(load_run(run_dir))
    gate = parse_gate(
        {
            "p50_ms": {"max": 100},
            "p99_ms": {"max": 100, "window_s": 10},  # cold starts push a window over
            "error_rate": {"max": 0.5},
            "achieved_ratio": {"min": 0.95},
            "router_p99_ms": {"max": 50},
            "failover_s": {"max": 3, "error_rate": 0.01},  # the fault took 4 s
            "dns_queries_per_1k": {"max": 1000},
            "cold_starts": {"max": truth.cold_starts - 1},
            "late_starts": {"max": truth.late},
            "edge_hit_ratio": {"min": 0.5},
            "malformed_lines": {"max": 0},
        },
        "test",
    )
    result = evaluate(gate, analysis)
    outcome = {v.threshold.key: v.outcome for v in result.verdicts}
    assert outcome == {
        "p50_ms": Outcome.PASS,
        "p99_ms": Outcome.FAIL,
        "error_rate": Outcome.PASS,
        "achieved_ratio": Outcome.PASS,
        "router_p99_ms": Outcome.PASS,
        "failover_s": Outcome.FAIL,
        "dns_queries_per_1k": Outcome.PASS,
        "cold_starts": Outcome.FAIL,
        "late_starts": Outcome.PASS,
        "edge_hit_ratio": Outcome.PASS,
        "malformed_lines": Outcome.PASS,
    }
    assert not result.passed
    failover = next(v for v in result.verdicts if v.threshold.key == "failover_s")
    assert failover.value == 4.0
    # Without its own error_rate, failover uses the error_rate threshold's max (0.5 here),
    # which this fault's errors never reached.
    loose = parse_gate({"error_rate": {"max": 0.5}, "failover_s": {"max": 3}}, "test")
    assert [v.value for v in evaluate(loose, analysis).verdicts][1] == 0.0


def test_missing_inputs_are_skipped_not_passed(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [Row(T0 + 0.5, 10.0), Row(T0 + 1.5, 20.0)])
    gate = parse_gate(
        {
            "failover_s": {"max": 30},
            "router_p99_ms": {"max": 50},
            "achieved_ratio": {"min": 0.9},
            "dns_queries_per_1k": {"max": 5},
            "cold_starts": {"max": 1},
            "p99_ms": {"max": 50},
        },
        "test",
    )
    result = evaluate(gate, analyse(load_run(run_dir)))
    skipped = {v.threshold.key: v.detail for v in result.verdicts if v.outcome is Outcome.SKIP}
    assert skipped["failover_s"] == "no faults in this run"
    assert set(skipped) == {
        "failover_s",
        "router_p99_ms",
        "achieved_ratio",
        "dns_queries_per_1k",
        "cold_starts",
    }
    assert result.passed
    assert result.counts() == {"pass": 1, "fail": 0, "skip": 5}


def test_no_requests_fails_rather_than_passes(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [])
    gate = parse_gate({"p99_ms": {"max": 50}, "error_rate": {"max": 0.01}}, "test")
    result = evaluate(gate, analyse(load_run(run_dir)))
    assert [v.outcome for v in result.verdicts] == [Outcome.FAIL, Outcome.FAIL]


def test_router_logs_fetched_alone_skip_the_viewer_thresholds(tmp_path: Path) -> None:
    # edgedrill fetch-logs --since writes such a folder: no viewer requests to judge.
    run_dir = minimal_run(tmp_path / "run", [], scenario="fetched", logs_only=True)
    gate = parse_gate({"p99_ms": {"max": 50}, "error_rate": {"max": 0.01}}, "test")
    result = evaluate(gate, analyse(load_run(run_dir)))
    assert [v.outcome for v in result.verdicts] == [Outcome.SKIP, Outcome.SKIP]
    assert all("router logs only" in v.detail for v in result.verdicts)


def test_error_rate_over_a_window() -> None:
    requests = np.array([10, 10, 10, 10, 10])
    failures = np.array([0, 5, 5, 0, 0])
    assert worst_error_window(requests, failures, 2, 1) == (0.5, 2, 20)
    assert worst_error_window(requests, failures, 5, 1) == (0.2, 4, 50)
    assert worst_error_window(requests, failures, 2, 21) is None


def test_junit_has_one_case_per_threshold(drill_run: tuple[Path, Truth]) -> None:
    run_dir, _ = drill_run
    gate = parse_gate(
        {"p99_ms": {"max": 1}, "error_rate": {"max": 1}, "router_p99_ms": {"max": 50}}, "gate.toml"
    )
    result = evaluate(gate, analyse(load_run(run_dir)))
    root = ET.fromstring(junit_xml(result, summary_text="summary"))
    suite = root.find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["p99_ms", "error_rate", "router_p99_ms"]
    failure = cases["p99_ms"].find("failure")
    assert failure is not None
    assert "breaches max 1 ms" in (failure.get("message") or "")
    assert cases["error_rate"].find("failure") is None
    assert suite.get("failures") == "1"
    assert suite.get("tests") == "3"


def _gate_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_check_run_that_must_fail_exits_1_with_a_failing_junit_case(
    drill_run: tuple[Path, Truth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = drill_run
    gate = _gate_file(
        tmp_path, "[gate]\np99_ms = { max = 5, window_s = 10 }\nerror_rate = { max = 0.5 }\n"
    )
    junit = tmp_path / "junit" / "gate.xml"
    code = main(["check", "--run", str(run_dir), "--gate", str(gate), "--junit", str(junit)])
    assert code == 1
    out, err = capsys.readouterr()
    assert "**FAIL**" in out
    assert "edgedrill check: error: gate failed: p99_ms:" in err
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == ["p99_ms"]
    assert (run_dir / "report.html").exists()
    assert '"passed": false' in (run_dir / "summary.json").read_text()


@pytest.mark.slow
def test_check_run_that_passes_exits_0(
    drill_run: tuple[Path, Truth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _ = drill_run
    gate = _gate_file(
        tmp_path,
        "[gate]\np99_ms = { max = 1000, window_s = 10 }\n"
        "failover_s = { max = 30, error_rate = 0.05 }\n",
    )
    assert main(["check", "--run", str(run_dir), "--gate", str(gate)]) == 0
    assert "**PASS**" in capsys.readouterr().out


@pytest.mark.slow
def test_check_uses_the_nearest_pyproject(
    drill_run: tuple[Path, Truth],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir, _ = drill_run
    (tmp_path / "pyproject.toml").write_text(ISSUE_GATE)
    (tmp_path / "deeper").mkdir()
    monkeypatch.chdir(tmp_path / "deeper")
    code = main(["check", "--run", str(run_dir)])
    out = capsys.readouterr().out
    assert f"{tmp_path / 'pyproject.toml'} [tool.edgedrill.gate]" in out
    assert code == 1  # the generated drill has 3.9 % errors against max 0.001


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gate", "{gate}", "--run", "{missing}"], "not a directory"),
        (["--gate", "{bad_gate}", "--run", "{run}"], "gate key 'p99_ms.max'"),
        (["--gate", "{gate}", "--run", "{run}", "--duration", "5"], "drill options do not apply"),
    ],
)
def test_check_usage_and_input_errors_exit_2(
    drill_run: tuple[Path, Truth],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    run_dir, _ = drill_run
    gate = _gate_file(tmp_path, "[gate]\ncold_starts = { max = 1000 }\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[gate]\np99_ms = { max = -1 }\n")
    values = {"gate": gate, "bad_gate": bad, "missing": tmp_path / "nope", "run": run_dir}
    argv = ["check", *(a.format(**values) for a in args)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_check_names_a_malformed_log_line(
    drill_run: tuple[Path, Truth], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run_dir, _ = drill_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    log = next((copy / "logs" / "lambda").iterdir())
    lines = log.read_text().splitlines(keepends=True)
    lines[6] = lines[6].replace("Duration:", "Duration=", 1) if "REPORT" in lines[6] else lines[6]
    lines[6] = "2026-11-26T17:31:49.000Z\tREPORT RequestId: x\tDuration: soon\n"
    log.write_text("".join(lines))
    gate = _gate_file(tmp_path, "[gate]\ncold_starts = { max = 1000 }\n")
    assert main(["check", "--run", str(copy), "--gate", str(gate)]) == 2
    assert f"{log}:7: REPORT" in capsys.readouterr().err
    # --lenient skips it, counts it and judges the rest.
    assert main(["check", "--run", str(copy), "--gate", str(gate), "--lenient"]) == 0
    assert f"{log}:7" in (copy / "report.html").read_text()
