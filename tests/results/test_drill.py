"""A real short drill on the local distribution: every plot, a report Chromium opens, the gate.

These run Locust through ``edgedrill.drill.run_drill`` (a Locust subprocess
that starts and stops the local distribution itself), so they are slow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edgedrill.cli import main
from edgedrill.drill import run_drill
from results.analysis import analyse, load_run
from results.plots import PLOTS
from results.report import write_report
from tests.results.chromium import Chromium, chromium_path

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8 s spike (5 -> 100 requests/s) on the embedded local distribution."""
    return run_drill(scenario="spike", duration=8, out=tmp_path_factory.mktemp("runs"), quiet=True)


@pytest.mark.slow
def test_a_real_drill_produces_every_plot(real_run: Path) -> None:
    analysis = analyse(load_run(real_run, strict=True))
    assert analysis.requests.total > 100
    assert analysis.router is not None
    assert analysis.environments is not None
    assert analysis.environments.cold_starts >= 1
    assert analysis.dns is not None
    assert analysis.dns.invocations == analysis.router.invocations
    assert analysis.failovers is None
    assert analysis.malformed_lines == 0
    assert [c.name for c in analysis.checks if not c.ok] == []
    report = write_report(real_run, analysis=analysis)
    for spec in PLOTS:
        assert (real_run / "plots" / f"{spec.name}.png").read_bytes().startswith(PNG), spec.name
    html = report.read_text()
    assert html.count('src="data:image/png;base64,') == len(PLOTS)
    assert "No faults in this run." in html


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed")
def test_the_real_report_opens_in_headless_chromium(real_run: Path) -> None:
    report = real_run / "report.html"
    if not report.exists():
        write_report(real_run)
    with Chromium() as browser:
        load = browser.open(
            report.as_uri(),
            "{images: document.images.length,"
            " decoded: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0)"
            ".length, height: document.body.scrollHeight}",
        )
    (real_run / "screenshot.png").write_bytes(load.screenshot)
    assert load.errors == []
    assert load.checks["images"] == len(PLOTS)
    assert load.checks["decoded"] == len(PLOTS)
    assert all(url.startswith(("file:", "data:")) for url in load.requests), load.requests
    assert load.screenshot.startswith(PNG)
    assert len(load.screenshot) > 50_000  # a page of tables and seven plots, not a blank


@pytest.mark.slow
def test_check_judges_the_real_run(
    real_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = tmp_path / "gate.toml"
    gate.write_text(
        "[gate]\np99_ms = { max = 5000, window_s = 5 }\nerror_rate = { max = 0.01 }\n"
        "achieved_ratio = { min = 0.9 }\nrouter_p99_ms = { max = 50 }\nfailover_s = { max = 30 }\n"
    )
    junit = tmp_path / "junit.xml"
    assert main(["check", "--run", str(real_run), "--gate", str(gate), "--junit", str(junit)]) == 0
    assert "**PASS**" in capsys.readouterr().out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert skipped == ["failover_s"]


@pytest.mark.slow
def test_check_stops_a_drill_on_a_sustained_breach(tmp_path: Path) -> None:
    gate = tmp_path / "gate.toml"
    gate.write_text("[gate]\np50_ms = { max = 0.001 }\nabort_after_s = 2\n")
    junit = tmp_path / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "edgedrill.cli",
        "check",
        "--gate",
        str(gate),
        "--junit",
        str(junit),
        "--out",
        str(tmp_path / "runs"),
        "--duration",
        "120",
        "--quiet",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == 1, err
    assert "stopping the drill: p50_ms" in err
    assert "**ABORTED**" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["abort_after_s"].find("failure") is not None
    (run_dir,) = (tmp_path / "runs").iterdir()
    analysis = analyse(load_run(run_dir))
    # Stopped long before the 120 s schedule ran out.
    assert analysis.data.info.duration_s < 60
