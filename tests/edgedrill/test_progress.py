"""Progress while a drill runs: the lines ``edgedrill run`` prints, and Locust's own stats."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from edgedrill.cli import main
from edgedrill.progress import (
    SETTLE_S,
    WINDOW_S,
    DrillProgress,
    PlannedRun,
    ProgressTally,
    progress_interval,
)
from edgedrill_formats.records import REQUESTS_COLUMNS
from edgedrill_formats.run_folder import PLAN_JSON, REQUESTS_CSV, RUN_JSON
from tests.conftest import run_edgedrill

if TYPE_CHECKING:
    from tests.loadtests.conftest import Target

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0
LINE = re.compile(
    r"^edgedrill: (?P<elapsed>\d+)/(?P<planned>\d+) s(?: \(draining (?P<drain>\d+) s\))?"
    r" \| target (?P<target>[\d.]+)/s \| achieved (?P<achieved>-|[\d.]+/s)"
    r" \| p99 (?P<p99>-|[\d.]+ ms) \| errors (?P<errors>\d+) of (?P<requests>\d+)"
    r" \| faults: (?P<faults>.+)$"
)
# The header of Locust's stats table: once at the end with --only-summary.
STATS_HEADER = re.compile(r"^Type\s+Name\s+# reqs\s+# fails", re.MULTILINE)


def progress_lines(text: str) -> list[dict[str, str]]:
    """The progress lines of ``text``, parsed; any other line that starts like one fails."""
    found = []
    for line in text.splitlines():
        if re.match(r"^edgedrill: \d+/", line):
            match = LINE.match(line)
            assert match, line
            found.append(match.groupdict(default=""))
    return found


def number(field: str) -> float | None:
    return None if field == "-" else float(field.split("/")[0].split()[0])


def plan(**changes: object) -> PlannedRun:
    document: dict[str, object] = {
        "t0": T0,
        "duration_s": 20.0,
        "targets": [5] * 5 + [100] * 10 + [5] * 5,
        "faults": [
            {"fault": "dns:servfail", "at_s": 5, "for_s": 4, "region": None},
            {"fault": "bucket:503", "at_s": 10, "for_s": 5, "region": "us-east-1"},
        ],
    }
    document.update(changes)
    return PlannedRun.from_document(document)


def rows(planned: PlannedRun, upto: int) -> list[tuple[float, float, bool]]:
    """Records as asked for: second s's requests take s ms, every 10th of the hold fails."""
    made = []
    for second in range(upto):
        count = int(planned.targets[second])
        for i in range(count):
            failed = planned.targets[second] == 100 and i % 10 == 0
            made.append((T0 + second + i / count, float(second + 1), failed))
    return made


# -- the figures ----------------------------------------------------------------------


def test_about_ten_lines_a_drill_every_2_to_10_seconds() -> None:
    assert progress_interval(8) == 2
    assert progress_interval(55) == 6
    assert progress_interval(3600) == 10


def test_a_line_reads_the_settled_window_and_the_faults_planned_now() -> None:
    planned = plan()
    tally = ProgressTally()
    tally.add(planned, rows(planned, 12))
    line = tally.line(planned, T0 + 12.3)
    # Seconds 5..9 have settled (10 and 11 are still filling): the hold.
    assert line.target_rps == 100
    assert line.achieved_rps == 100
    assert line.p99_ms == 10  # the slowest second of the window, 10 ms
    assert (line.errors, line.requests) == (70, 25 + 700)
    assert line.faults == ("bucket:503@us-east-1",)
    [parsed] = progress_lines(line.render())
    assert (parsed["elapsed"], parsed["planned"]) == ("12", "20")
    assert parsed["drain"] == ""
    assert (number(parsed["target"]), number(parsed["achieved"])) == (100, 100)
    assert number(parsed["p99"]) == 10
    assert parsed["faults"] == "bucket:503@us-east-1"


def test_before_a_second_settles_the_target_is_the_current_one() -> None:
    planned = plan(targets=[3, 7] + [100] * 18)
    tally = ProgressTally()
    line = tally.line(planned, T0 + 1.5)
    assert line.target_rps == 7
    assert (line.achieved_rps, line.p99_ms) == (None, None)
    assert line.faults == ()
    assert ProgressTally().line(planned, T0 + 5.5).faults == ("dns:servfail",)
    [parsed] = progress_lines(line.render())
    assert (parsed["achieved"], parsed["p99"]) == ("-", "-")


def test_while_draining_the_window_is_the_schedules_end() -> None:
    planned = plan()
    tally = ProgressTally()
    tally.add(planned, rows(planned, 20))
    line = tally.line(planned, T0 + 24.2)
    assert line.target_rps == 5  # seconds 15..19, the cooldown
    assert line.achieved_rps == 5
    assert line.faults == ()
    [parsed] = progress_lines(line.render())
    assert (parsed["elapsed"], parsed["drain"], parsed["faults"]) == ("20", "4", "none")


def test_only_the_window_is_kept_however_long_the_drill() -> None:
    long = plan(duration_s=3600.0, targets=[3] * 3600, faults=[])
    tally = ProgressTally()
    for second in range(0, 3600, 60):
        batch = [(T0 + s + 0.5, 1.0, False) for s in range(second, second + 60) for _ in range(3)]
        tally.add(long, batch)
        tally.line(long, T0 + second + 60)
        assert len(tally._durations) <= WINDOW_S + SETTLE_S + 1
    assert tally.requests == 3 * 3600


def test_the_plan_is_none_until_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / PLAN_JSON
    assert PlannedRun.load(path) is None
    path.write_text('{"t0": 1', encoding="utf-8")
    assert PlannedRun.load(path) is None
    path.write_text(
        json.dumps({"t0": T0, "duration_s": 8, "targets": [5, 5], "faults": []}), encoding="utf-8"
    )
    loaded = PlannedRun.load(path)
    assert loaded is not None
    assert (loaded.t0, loaded.duration_s, loaded.targets) == (T0, 8.0, (5.0, 5.0))


def test_the_thread_follows_a_run_folder_and_ends_with_its_run_json(tmp_path: Path) -> None:
    started = time.time() - 6
    (tmp_path / PLAN_JSON).write_text(
        json.dumps(
            {
                "t0": started,
                "duration_s": 30,
                "targets": [4] * 30,
                "faults": [{"fault": "lambda:error", "at_s": 0, "for_s": 60}],
            }
        ),
        encoding="utf-8",
    )
    assert REQUESTS_COLUMNS[:5] == ("start", "duration_ms", "method", "name", "status")
    assert REQUESTS_COLUMNS[-1] == "error"
    body = [",".join(REQUESTS_COLUMNS)] + [
        f"{started + s + i / 4:.6f},12.5,GET,/k,{500 if i == 0 else 200},1,,,,,0,"
        for s in range(6)
        for i in range(4)
    ]
    (tmp_path / REQUESTS_CSV).write_text("\n".join(body) + "\n", encoding="utf-8")
    stream = io.StringIO()
    progress = DrillProgress(stream, interval_s=0.5)
    progress.start(tmp_path)
    try:
        deadline = time.monotonic() + 20
        while progress.lines < 2:
            assert time.monotonic() < deadline, stream.getvalue()
            time.sleep(0.1)
        (tmp_path / RUN_JSON).write_text("{}", encoding="utf-8")
        time.sleep(1.0)
        printed = progress.lines
        time.sleep(1.0)
        assert progress.lines == printed  # the run is written: no more lines
    finally:
        progress.stop()
    parsed = progress_lines(stream.getvalue())
    assert len(parsed) == printed
    last = parsed[-1]
    assert last["planned"] == "30"
    assert (number(last["target"]), number(last["achieved"])) == (4, 4)
    assert number(last["p99"]) == 12.5
    assert (last["errors"], last["requests"]) == ("6", "24")
    assert last["faults"] == "lambda:error"


# -- the options -----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize("host", ["127.0.0.1:8080", "d1234.cloudfront.net"])
def test_a_host_without_a_scheme_is_a_usage_error_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, host: str
) -> None:
    out = tmp_path / "runs"
    started = time.monotonic()
    assert main([command, "--host", host, "--keys", "k.txt", "--out", str(out)]) == 2
    assert time.monotonic() - started < 10  # nothing was started (no timing claim: a bound)
    err = capsys.readouterr().err
    assert "--host must be an http:// or https:// URL" in err
    assert host in err
    assert not out.exists()


# -- end to end ---------------------------------------------------------------------


def _edgedrill(*args: str) -> subprocess.CompletedProcess[str]:
    return run_edgedrill(*args, timeout=300)


@pytest.mark.slow
def test_a_drill_prints_progress_with_its_active_fault(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = _edgedrill(
        "run", "--duration", "8", "--no-report", "--out", str(out),
        "--fault", "lambda:error,at=2s,for=3s",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = progress_lines(done.stderr)
    assert len(lines) >= 3, done.stderr[-3000:]
    assert {line["planned"] for line in lines} == {"8"}
    elapsed = [int(line["elapsed"]) for line in lines]
    assert elapsed == sorted(elapsed)
    assert any("lambda:error" in line["faults"] for line in lines), lines
    assert any(line["faults"] == "none" for line in lines), lines
    measured = [line for line in lines if line["achieved"] != "-"]
    assert measured, lines
    # The default spike asks for 5/s, then 100/s: a window's mean lies between.
    assert all(5 <= (number(line["target"]) or 0) <= 100 for line in lines), lines
    assert all(number(line["p99"]) is not None for line in measured), lines
    # Lambda errors answer 5xx: the lines count them as they come.
    assert int(lines[-1]["errors"]) > 0
    assert int(lines[-1]["requests"]) >= int(lines[-1]["errors"])
    # Locust's stats table once, in its summary at the end (--only-summary).
    assert len(STATS_HEADER.findall(done.stderr)) == 1


def _keys(tmp_path: Path) -> str:
    keys = tmp_path / "keys.txt"
    keys.write_text("a.jpg\nb.jpg\n", encoding="utf-8")
    return str(keys)


@pytest.mark.slow
def test_quiet_prints_no_progress(tmp_path: Path, target: Target) -> None:
    out = tmp_path / "runs"
    done = _edgedrill(
        "run", "--duration", "4", "--no-report", "--out", str(out), "--quiet",
        "--host", target.url, "--keys", _keys(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert progress_lines(done.stderr) == []
    assert STATS_HEADER.findall(done.stderr) == []
    [run_dir] = list(out.iterdir())
    assert done.stdout.strip() == str(run_dir)
    assert json.loads((run_dir / PLAN_JSON).read_text())["duration_s"] == 4


@pytest.mark.slow
def test_print_stats_brings_locusts_periodic_stats_back(tmp_path: Path, target: Target) -> None:
    done = _edgedrill(
        "run", "--duration", "4", "--no-report", "--out", str(tmp_path / "runs"),
        "--host", target.url, "--keys", _keys(tmp_path), "--", "--print-stats",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # Every couple of seconds while it runs, and the summary at the end.
    assert len(STATS_HEADER.findall(done.stderr)) >= 3, done.stderr[-3000:]
    assert progress_lines(done.stderr)
