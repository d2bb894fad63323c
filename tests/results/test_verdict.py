"""Every report's verdict, the gate's thresholds and the load's phases on the plots,
low-count windows left out of "worst", a cut plan, bytes per second, Locust's report."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from edgedrill.cli import main
from edgedrill_formats.run_folder import LOCUST_HTML
from results.analysis import analyse, load_run
from results.gate import EXAMPLE_SOURCE, evaluate, example_gate, parse_gate
from results.plan import run_plan, target_phases
from results.plots import PLOTS, marks_for, render
from results.report import write_report
from results.summary import MIN_WINDOW_REQUESTS, headline
from tests.results.synthetic import T0, Drill, Row, generate, minimal_run

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.figure import Figure

    from results.analysis import Analysis

# Drill(): 20 req/s, 100 req/s from 10 s to 25 s, 20 req/s to 40 s; p99 about 10 ms,
# no failures, router p99 about 3 ms.
PASSING = {
    "p99_ms": {"max": 800, "window_s": 10},
    "error_rate": {"max": 0.001},
    "router_p99_ms": {"max": 50},
}
FAILING = {"p99_ms": {"max": 1, "window_s": 10}, "error_rate": {"max": 0.001}}


@pytest.fixture(scope="module")
def spike(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _spike(tmp_path_factory.mktemp("spike") / "run")


def _spike(run_dir: Path, **run_json: object) -> Path:
    generate(run_dir, Drill())
    if run_json:
        path = run_dir / "run.json"
        document = json.loads(path.read_text())
        document.update(run_json)
        path.write_text(json.dumps(document))
    return run_dir


def _summary(run_dir: Path) -> dict[str, object]:
    document: dict[str, object] = json.loads((run_dir / "summary.json").read_text())
    return document


def _judged(run_dir: Path, table: dict[str, object]) -> Analysis:
    analysis = analyse(load_run(run_dir))
    gate = evaluate(parse_gate(table, "test gate"), analysis)
    write_report(run_dir, gate=gate, analysis=analysis)
    return analysis


@pytest.mark.slow
@pytest.mark.parametrize(("table", "word"), [(PASSING, "PASS"), (FAILING, "FAIL")])
def test_the_verdict_opens_the_report_and_the_summary(
    tmp_path: Path, table: dict[str, object], word: str
) -> None:
    run_dir = _spike(tmp_path / "run")
    _judged(run_dir, table)
    markdown = (run_dir / "summary.md").read_text().splitlines()
    assert markdown[0].endswith(f": **{word}**")
    assert markdown[2].startswith(f"**{word}**: ")
    if word == "FAIL":
        assert markdown[2] == "**FAIL**: 1 of 2 thresholds breached: p99_ms."
    else:
        assert markdown[2] == "**PASS**: 3 of 3 thresholds passed."
    html = (run_dir / "report.html").read_text()
    verdict = html.index(f'<div id="verdict" class="verdict {word.lower()}">{word}</div>')
    assert html.index("<h1>") < verdict < html.index("<h2>")
    summary = _summary(run_dir)
    assert summary["schema"] == 1
    assert summary["verdict"] == word
    gate = summary["gate"]
    assert isinstance(gate, dict)
    assert gate["passed"] is (word == "PASS")


@pytest.mark.slow
def test_report_judges_by_the_nearest_pyproject_else_the_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _spike(tmp_path / "run")
    monkeypatch.chdir(tmp_path)  # no pyproject.toml at or above a pytest tmp_path
    assert main(["report", str(run_dir)]) == 0  # a FAIL is check's exit status, not report's
    assert "verdict: FAIL, 1 of 7 thresholds breached: dns_queries_per_1k" in (
        capsys.readouterr().err
    )
    gate = _summary(run_dir)["gate"]
    assert isinstance(gate, dict)
    assert gate["source"] == EXAMPLE_SOURCE
    assert len(gate["thresholds"]) == len(example_gate().thresholds) == 7

    (tmp_path / "pyproject.toml").write_text("[tool.edgedrill.gate]\np99_ms = { max = 1 }\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["report", str(run_dir)]) == 0
    summary = _summary(run_dir)
    assert summary["verdict"] == "FAIL"
    gate = summary["gate"]
    assert isinstance(gate, dict)
    assert gate["source"].endswith("pyproject.toml [tool.edgedrill.gate]")
    assert [t["key"] for t in gate["thresholds"]] == ["p99_ms"]

    (tmp_path / "pyproject.toml").write_text("[tool.edgedrill.gate]\np99_ms = 800\n")
    assert main(["report", str(run_dir)]) == 2  # a broken table is not replaced
    assert "p99_ms" in capsys.readouterr().err


def _gid(figure: Figure, gid: str) -> list[Line2D]:
    return [
        line
        for line in figure.findobj(lambda artist: artist.get_gid() == gid)
        if isinstance(line, Line2D)
    ]


@pytest.mark.slow
def test_the_gate_thresholds_are_drawn(spike: Path) -> None:
    analysis = analyse(load_run(spike))
    marks = marks_for(analysis, parse_gate(PASSING, "test gate"))
    plots = {spec.name: spec for spec in PLOTS}

    latency, _ = render(plots["latency"], analysis, marks)
    (line,) = _gid(latency, "gate-p99_ms")
    assert _y(line) == [800, 800]
    assert line.get_label() == "gate p99_ms: max 800 ms, worst 10 s window"
    assert _axes(line).get_ylim()[1] >= 800  # within sight on the log axis

    errors, _ = render(plots["errors"], analysis, marks)
    (line,) = _gid(errors, "gate-error_rate")
    assert _y(line) == pytest.approx([0.1, 0.1])  # per cent
    assert _axes(line).get_ylim()[1] >= 0.1

    router, _ = render(plots["router_cdf"], analysis, marks)
    (line,) = _gid(router, "gate-router_p99_ms")
    assert _x(line)[:2] == [50, 50]
    assert _y(line) == [0.0, 0.99, 0.99]

    bare, _ = render(plots["latency"], analysis)  # no gate, no threshold
    assert _gid(bare, "gate-p99_ms") == []


def _x(line: Line2D) -> list[float]:
    return [float(v) for v in np.asarray(line.get_xdata(), dtype=float)]


def _y(line: Line2D) -> list[float]:
    return [float(v) for v in np.asarray(line.get_ydata(), dtype=float)]


def _axes(line: Line2D) -> Axes:
    axes = line.axes
    assert isinstance(axes, Axes)
    return axes


def _phase_labels(figure: Figure) -> dict[str, float]:
    return {
        text.get_text(): text.get_position()[0]
        for axes in figure.axes
        for text in axes.texts
        if str(text.get_gid()).startswith("phase-label-")
    }


def _phase_starts(figure: Figure) -> dict[str, float]:
    return {
        str(line.get_gid()).removeprefix("phase-start-"): float(np.asarray(line.get_xdata())[0])
        for axes in figure.axes
        for line in axes.lines
        if str(line.get_gid()).startswith("phase-start-")
    }


@pytest.mark.slow
def test_phases_are_marked_from_the_target(spike: Path) -> None:
    analysis = analyse(load_run(spike))
    plan = run_plan(analysis)
    assert plan.phase_source == "rate.csv target"
    for spec in PLOTS:
        figure, missing = render(spec, analysis)
        assert missing is None, spec.name
        if spec.name == "router_cdf":  # no time axis
            assert _phase_labels(figure) == {}
            continue
        assert _phase_labels(figure) == {"baseline": 5.0, "spike": 17.5, "cooldown": 32.5}
        assert _phase_starts(figure) == {"spike": 10, "cooldown": 25}


@pytest.mark.slow
def test_phases_follow_the_plan_when_run_json_has_one(tmp_path: Path) -> None:
    profile = [
        {"start": 0, "end": 8, "rate_start": 20, "rate_end": 20},
        {"start": 8, "end": 12, "rate_start": 20, "rate_end": 100},  # the ramp is the spike's
        {"start": 12, "end": 25, "rate_start": 100, "rate_end": 100},
        {"start": 25, "end": 40, "rate_start": 20, "rate_end": 20},
    ]
    run_dir = _spike(tmp_path / "run", plan={"profile": profile, "scheduled": 2000})
    analysis = analyse(load_run(run_dir))
    plan = run_plan(analysis)
    assert plan.phase_source == "run.json plan"
    assert [(p.name, p.start_s, p.end_s) for p in plan.phases] == [
        ("baseline", 0.0, 8.0),
        ("spike", 8.0, 25.0),
        ("cooldown", 25.0, 40.0),
    ]
    rate, _ = render(next(spec for spec in PLOTS if spec.name == "rate"), analysis)
    assert _phase_starts(rate) == {"spike": 8, "cooldown": 25}


def test_a_flat_or_noisy_target_has_no_spike_and_a_step_keeps_its_place() -> None:
    rng = np.random.default_rng(3)
    assert target_phases(rng.poisson(20, 60).astype(float)) == ()
    noisy = np.concatenate([rng.poisson(5, 10), rng.poisson(100, 15), rng.poisson(5, 10)])
    assert [(p.name, p.start_s, p.end_s) for p in target_phases(noisy.astype(float))] == [
        ("baseline", 0.0, 10.0),
        ("spike", 10.0, 25.0),
        ("cooldown", 25.0, 35.0),
    ]


@pytest.mark.slow
def test_the_target_rate_is_drawn_over_the_achieved_rate(spike: Path) -> None:
    analysis = analyse(load_run(spike))
    figure, _ = render(next(spec for spec in PLOTS if spec.name == "rate"), analysis)
    (target,) = _gid(figure, "target-rate")
    axes = _axes(target)
    achieved = [c for c in axes.collections if c.get_label() == "achieved req/s (rate.csv)"]
    assert len(achieved) == 1
    assert target.get_zorder() > achieved[0].get_zorder()
    assert max(_y(target)) == 100


@pytest.mark.slow
def test_a_window_of_too_few_requests_is_skipped_not_worst(tmp_path: Path) -> None:
    # The cold start alone in the first whole window, then 30 requests a second at 10 ms.
    rows = [Row(T0 + 0.5, 900.0)]
    rows += [Row(T0 + 12 + k / 30, 10.0) for k in range(30 * 18)]
    run_dir = minimal_run(tmp_path / "run", rows, seconds=30.0)
    analysis = analyse(load_run(run_dir))
    before = analysis.latency.window.worst(99.0)
    assert before is not None
    assert before[:2] == (900.0, 9)  # what the report called worst: one request
    write_report(run_dir)
    latency = _summary(run_dir)["latency_ms"]
    assert isinstance(latency, dict)
    assert latency["windows_skipped"] == 1  # 10 and 11 s hold nothing: not skipped, empty
    assert latency["worst_window_min_requests"] == MIN_WINDOW_REQUESTS
    assert latency["worst_window"]["p99"]["value"] == 10.0
    assert dict(headline(analysis))["worst 10 s p99"] == (
        "10.0 ms (ending at 12 s, 30 requests; 1 window(s) under 20 requests skipped)"
    )
    assert "1 window(s) under 20 requests skipped" in (run_dir / "summary.md").read_text()
    assert "(1 whole window(s) with fewer skipped)" in (run_dir / "report.html").read_text()

    # A gate's own min_requests for p99_ms sets the report's minimum too.
    gate = parse_gate({"p99_ms": {"max": 800, "window_s": 10, "min_requests": 500}}, "g")
    write_report(run_dir, gate=evaluate(gate, analysis), analysis=analysis)
    latency = _summary(run_dir)["latency_ms"]
    assert isinstance(latency, dict)
    assert latency["worst_window_min_requests"] == 500
    assert latency["worst_window"]["p99"] is None  # no window of the run holds 500
    assert latency["windows_skipped"] == 1 + 18  # every whole window with a request


@pytest.mark.slow
def test_a_cut_plan_is_reported_as_cut(tmp_path: Path) -> None:
    profile = [
        {"start": 0, "end": 10, "rate_start": 20, "rate_end": 20},
        {"start": 10, "end": 45, "rate_start": 100, "rate_end": 100},
        {"start": 45, "end": 55, "rate_start": 20, "rate_end": 20},
    ]
    run_dir = _spike(
        tmp_path / "run",
        scheduled=2000,
        unsent=0,
        duration_s=55.0,
        plan={"scheduled": 2650, "profile": profile},
    )
    write_report(run_dir)
    # The plots mark the phases the run reached, up to where its data ends.
    marks = marks_for(analyse(load_run(run_dir)))
    assert [(p.name, p.start_s, p.end_s) for p in marks.phases] == [
        ("baseline", 0.0, 10.0),
        ("spike", 10.0, 40.0),
    ]
    plan = _summary(run_dir)["plan"]
    assert isinstance(plan, dict)
    assert plan["cut"] is True
    assert (plan["planned"], plan["scheduled"], plan["sent"]) == (2650, 2000, 2000)
    text = "sent 2,000 of 2,650 planned (the plan was cut: the run stopped at 40 s of 55 s)"
    assert plan["text"] == text
    markdown = (run_dir / "summary.md").read_text()
    assert f"| planned / sent | {text} |" in markdown
    assert "| achieved / target | 100.0 % of the schedule up to the stop, not of the plan |" in (
        markdown
    )
    assert text in (run_dir / "report.html").read_text()


@pytest.mark.slow
def test_a_whole_plan_is_not_cut(tmp_path: Path) -> None:
    run_dir = _spike(
        tmp_path / "run", scheduled=2000, unsent=0, duration_s=40.0, plan={"scheduled": 2000}
    )
    write_report(run_dir)
    plan = _summary(run_dir)["plan"]
    assert isinstance(plan, dict)
    assert plan["cut"] is False
    assert plan["text"] == "sent 2,000 of 2,000 planned"
    assert "not of the plan" not in (run_dir / "summary.md").read_text()


@pytest.mark.slow
def test_bytes_per_second_and_the_link_to_locusts_report(tmp_path: Path) -> None:
    rows = [Row(T0 + k / 10, 5.0, bytes=2500) for k in range(100)]  # 250 kB over 10 s
    run_dir = minimal_run(tmp_path / "run", rows, seconds=10.0)
    write_report(run_dir)
    requests = _summary(run_dir)["requests"]
    assert isinstance(requests, dict)
    assert requests["bytes"] == 250_000
    assert requests["bytes_per_s"] == 25_000.0
    assert "| data received | 250.0 kB (25.0 kB/s mean) |" in (run_dir / "summary.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert "25.0 kB/s mean" in html
    assert LOCUST_HTML not in html

    (run_dir / LOCUST_HTML).write_text("<html></html>")
    write_report(run_dir)
    html = (run_dir / "report.html").read_text()
    assert f'<a id="locust-report" href="{LOCUST_HTML}">{LOCUST_HTML}</a>' in html
