"""Two runs side by side."""

from __future__ import annotations

import math
import shutil
from typing import TYPE_CHECKING

import pytest

from edgedrill.cli import main
from results.analysis import analyse, load_run
from results.compare import Row, compare, markdown, render_html
from tests.results.synthetic import T0, Drill, generate, minimal_run
from tests.results.synthetic import Row as Record

if TYPE_CHECKING:
    from pathlib import Path

    from tests.results.synthetic import Truth


@pytest.mark.parametrize(
    ("row", "verdict"),
    [
        (Row("p99", 100.0, 80.0, "ms", True), "better"),
        (Row("p99", 100.0, 120.0, "ms", True), "worse"),
        (Row("hit ratio", 60.0, 70.0, "%", False), "better"),
        (Row("p99", 100.0, 100.5, "ms", True), "same"),  # under 1 %
        (Row("requests", 100.0, 200.0, "", None), "changed"),
        (Row("router p99", None, 1.0, "ms", True), "n/a"),
    ],
)
def test_verdicts(row: Row, verdict: str) -> None:
    assert row.verdict == verdict


@pytest.fixture(scope="module")
def after_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same drill with a slower router and no fault."""
    run_dir = tmp_path_factory.mktemp("after") / "20261127T090000Z-spike"
    generate(run_dir, Drill(slow_share=0.05, seed=8))
    return run_dir


def test_rows_of_two_runs(drill_run: tuple[Path, Truth], after_run: Path) -> None:
    before = analyse(load_run(drill_run[0]))
    after = analyse(load_run(after_run))
    rows = {row.label: row for row in compare(before, after)}
    assert rows["invocations over the billing threshold"].verdict == "worse"
    assert rows["error rate"].verdict == "better"  # no fault after
    assert rows["slowest failover"].after is None
    assert rows["slowest failover"].before == 4.0
    assert rows["requests"].verdict == "same"
    text = markdown(before, after, list(rows.values()))
    assert "| invocations over the billing threshold |" in text
    assert "Worse after:" in text
    assert not any(math.isnan(r.before or 0.0) for r in rows.values())


@pytest.mark.slow
def test_compare_command(
    drill_run: tuple[Path, Truth],
    after_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = tmp_path / "before"
    shutil.copytree(drill_run[0], before)
    page = tmp_path / "compare.html"
    assert main(["compare", str(before), str(after_run), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### edgedrill: before vs after")
    assert "| viewer p99 |" in out
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 14  # seven plots, both runs
    assert main(["compare", str(before), str(tmp_path / "missing")]) == 2


@pytest.mark.slow
def test_compare_html_escapes_what_run_folders_hold(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    records = [Record(T0 + 0.5, 10.0), Record(T0 + 1.5, 20.0)]
    before = analyse(load_run(minimal_run(tmp_path / "<b>before", records, scenario=hostile)))
    after = analyse(load_run(minimal_run(tmp_path / "after", records, scenario="spike")))
    page = render_html(before, after, compare(before, after))
    assert "<script" not in page
    assert "<b>" not in page
    assert "<code>&lt;b&gt;before (&lt;script&gt;alert(1)&lt;/script&gt;, " in page
    assert page.count("data:image/png;base64,") == 6  # latency, rate, errors of both runs
    assert page.count(": not drawn, ") == 8  # the other four of both
