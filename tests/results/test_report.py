"""summary.json, summary.md, plots and a self-contained report.html."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import pytest
from jinja2 import UndefinedError

from edgedrill.cli import main
from results.analysis import analyse, load_run
from results.gate import evaluate, parse_gate
from results.plots import PLOTS
from results.report import write_report
from results.templates import render
from tests.results.chromium import Chromium, chromium_path
from tests.results.synthetic import T0, Row, minimal_run, write_faults, write_lambda_log

if TYPE_CHECKING:
    from pathlib import Path

    from tests.results.synthetic import Truth

PNG = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"  # no slash: it can name a run folder too


def _strict_json(text: str) -> dict[str, object]:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    document: dict[str, object] = json.loads(text, parse_constant=refuse)
    return document


@pytest.fixture(scope="module")
def reported(drill_run: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("reported") / drill_run[0].name
    shutil.copytree(drill_run[0], run_dir)
    write_report(run_dir)
    return run_dir


@pytest.mark.slow
def test_every_file_is_written(reported: Path, drill_run: tuple[Path, Truth]) -> None:
    _, truth = drill_run
    for spec in PLOTS:
        png = reported / "plots" / f"{spec.name}.png"
        assert png.read_bytes().startswith(PNG), spec.name
    summary = _strict_json((reported / "summary.json").read_text())
    assert summary["schema"] == 1
    requests = summary["requests"]
    assert isinstance(requests, dict)
    assert requests["total"] == truth.requests
    assert summary["plots"] == {spec.name: f"plots/{spec.name}.png" for spec in PLOTS}
    faults = summary["faults"]
    assert isinstance(faults, list)
    assert faults[0]["failover_s"] == 4.0
    billing = summary["billing"]
    assert isinstance(billing, dict)
    assert set(billing["rules"]) == {"1ms", "50ms"}


@pytest.mark.slow
def test_summary_md_fits_a_pull_request_comment(reported: Path) -> None:
    text = (reported / "summary.md").read_text()
    assert len(text.splitlines()) <= 40
    assert len(text) < 4000
    assert "| viewer latency | p50" in text
    assert "$" in text  # cost per million at both rules
    assert "s3:unavailable -> 4 s" in text


@pytest.mark.slow
def test_report_html_is_self_contained(reported: Path) -> None:
    html = (reported / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == len(PLOTS)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script" not in html
    assert "<link" not in html
    assert "@import" not in html


@pytest.mark.slow
def test_a_run_without_logs_says_what_it_lacks(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [Row(T0 + 0.5, 10.0), Row(T0 + 1.5, 20.0)])
    write_report(run_dir)
    drawn = {p.stem for p in (run_dir / "plots").iterdir()}
    assert drawn == {"latency", "rate", "errors"}
    html = (run_dir / "report.html").read_text()
    assert "No faults in this run." in html
    assert "Router duration against the billing threshold: not drawn, no runtime logs" in html
    summary = _strict_json((run_dir / "summary.json").read_text())
    assert summary["faults"] is None
    assert summary["faults_note"] == "no faults in this run"
    assert summary["router"] is None
    plots = summary["plots"]
    assert isinstance(plots, dict)
    assert plots["cold_starts"] is None


@pytest.mark.slow
def test_an_empty_run_still_reports(tmp_path: Path) -> None:
    run_dir = minimal_run(tmp_path / "run", [])
    write_report(run_dir)
    summary = _strict_json((run_dir / "summary.json").read_text())
    requests = summary["requests"]
    assert isinstance(requests, dict)
    assert requests["total"] == 0
    assert requests["error_rate"] is None  # NaN is not JSON
    assert not (run_dir / "plots" / "latency.png").exists()


@pytest.mark.slow
def test_report_command_prints_the_path_or_the_markdown(
    reported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(reported), "--window", "5", "--percentiles", "50,99"]) == 0
    assert capsys.readouterr().out.strip() == str(reported / "report.html")
    summary = _strict_json((reported / "summary.json").read_text())
    latency = summary["latency_ms"]
    assert isinstance(latency, dict)
    assert latency["window_s"] == 5
    assert list(latency["overall"]) == ["p50", "p99"]
    assert main(["report", str(reported), "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("### edgedrill `spike` drill")


def test_report_command_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["report", str(tmp_path), "--percentiles", "50,abc"])
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("command", "flag", "value"),
    [
        ("report", "--window", "0"),
        ("check", "--window", "0"),
        ("report", "--memory-mb", "64"),
        ("report", "--threshold-ms", "0"),
        ("compare", "--price-requests", "-1"),
        ("report", "--price-gb-s", "nan"),
        ("check", "--failover-error-rate", "1"),
    ],
)
def test_analysis_option_out_of_range_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, flag: str, value: str
) -> None:
    runs = [] if command == "check" else [str(tmp_path)] * (2 if command == "compare" else 1)
    extra = ["--run", str(tmp_path)] if command == "check" else []
    with pytest.raises(SystemExit) as caught:
        main([command, *runs, *extra, flag, value])
    assert caught.value.code == 2
    assert f"argument {flag}: must be" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_report_opens_in_headless_chromium(reported: Path) -> None:
    with Chromium() as browser:
        load = browser.open(
            (reported / "report.html").as_uri(),
            "{images: document.images.length,"
            " decoded: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0)"
            ".length, title: document.title, tables: document.querySelectorAll('table').length}",
        )
    assert load.errors == []
    assert load.checks["images"] == len(PLOTS)
    assert load.checks["decoded"] == len(PLOTS)
    assert str(load.checks["title"]).startswith("edgedrill spike")
    assert all(url.startswith(("file:", "data:")) for url in load.requests), load.requests
    assert load.screenshot.startswith(PNG)
    (reported / "screenshot.png").write_bytes(load.screenshot)


def test_a_value_the_page_lacks_fails_loudly() -> None:
    with pytest.raises(UndefinedError, match="'page' is undefined"):
        render("report.html.j2")


class _Page(HTMLParser):
    """The tags of a page and the text inside each element, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.texts: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in {"br", "meta", "img"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open:
            self.texts.setdefault(self.open[-1], []).append(data)


@pytest.mark.slow
def test_hostile_strings_from_a_run_folder_are_escaped(tmp_path: Path) -> None:
    run_dir = minimal_run(
        tmp_path / IMG,
        [Row(T0 + 0.5, 10.0), Row(T0 + 1.5, 20.0, status=503, error=SCRIPT)],
        scenario=SCRIPT,
        host=SCRIPT,
        versions={SCRIPT: IMG},
    )
    write_faults(run_dir / "faults.jsonl", [(SCRIPT, IMG, T0 + 1, T0 + 2)])
    write_lambda_log(run_dir, [json.dumps({SCRIPT: SCRIPT}), SCRIPT])  # malformed lines
    gate = evaluate(parse_gate({"p99_ms": {"max": 1}}, SCRIPT), analyse(load_run(run_dir)))
    write_report(run_dir, gate=gate)
    html = (run_dir / "report.html").read_text()
    assert "<script" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = _Page()
    page.feed(html)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 3  # latency, rate, errors: the plots drawn, nothing injected
    assert all(str(attrs["src"]).startswith("data:image/png;base64,") for attrs in images)
    assert {tag for tag, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "p", "br",
        "b", "code", "div", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "figure",
        "img", "figcaption",
    }  # fmt: skip
    assert "".join(page.texts["title"]).startswith(f"edgedrill {SCRIPT} ")
    assert "".join(page.texts["h1"]) == f"edgedrill run report: {SCRIPT}"
    assert str(run_dir) in page.texts["code"]  # the run folder's path, named by IMG
    paragraphs = "".join(page.texts["p"])
    assert f"target {SCRIPT} (local distribution)" in paragraphs
    assert f"{SCRIPT} {IMG}" in paragraphs  # versions
    assert f"Thresholds from {SCRIPT}." in paragraphs  # the gate file's name
    cells = page.texts["td"]
    assert SCRIPT in cells  # the fault
    assert IMG in cells  # its target
