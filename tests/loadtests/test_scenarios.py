"""Real Locust runs of the scenarios, against the local distribution or a loopback target."""

from __future__ import annotations

import calendar
import collections
import csv
import json
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

import pytest

from loadtests._records import REQUESTS_HEADER

from .conftest import LOADTESTS, free_port, swarm, wait_for_page
from .logs import Line, render, write_log

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Running

pytestmark = pytest.mark.slow

SPIKE = str(LOADTESTS / "spike.py")
REPLAY = str(LOADTESTS / "replay.py")
T0 = calendar.timegm((2026, 11, 26, 17, 31, 48, 0, 0, 0))
RUN_JSON_KEYS = {
    "scenario",
    "args",
    "versions",
    "start",
    "end",
    "host",
    "local",
    "requests",
    "failures",
    "late_starts",
    "malformed_lines",
    "memory_mb",
    "billing_threshold_ms",
}


def only_run(base: Path) -> Path:
    runs = [p for p in base.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def read_rate(run: Path) -> list[dict[str, float]]:
    with (run / "rate.csv").open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def read_requests(run: Path) -> list[dict[str, str]]:
    with (run / "requests.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == REQUESTS_HEADER
        return list(reader)


def wait_for_requests(running: Running, runs: Path, more_than: int) -> None:
    """Wait (bounded) until the run under ``runs`` has recorded over ``more_than`` requests."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        requests = list(runs.glob("*/requests.csv"))
        # Its header line is not a request.
        if requests and len(requests[0].read_text().splitlines()) - 1 > more_than:
            return
        time.sleep(0.2)
    running.kill()
    pytest.fail(f"the run never started:\n{running.output()[-3000:]}")


def served(run: Path) -> int:
    """Requests the local edge served during the run (its access log, copied into the folder)."""
    access = (run / "logs" / "cloudfront" / "access.log").read_text().splitlines()
    return sum(not line.startswith("#") for line in access)


def assert_hold_follows_target(rate, first: int, last: int, tolerance: float = 0.10) -> None:
    for row in rate[first : last + 1]:
        assert row["target"] > 0
        error = abs(row["achieved"] - row["target"]) / row["target"]
        assert error <= tolerance, (row, rate)


def test_edgedrill_run_spikes_the_local_distribution_and_writes_the_run_folder(spawn, tmp_path):
    out = tmp_path / "runs"
    running = spawn(
        "-m", "edgedrill.cli", "run", "--duration", "8", "--out", str(out), "--", "--seed", "3"
    )
    finished = running.finish(timeout=120)
    assert finished.code == 0, finished.output[-3000:]
    run = only_run(out)
    lines = finished.output.strip().splitlines()
    assert str(run) in lines
    assert lines[-1] == f"report: {run / 'report.html'}"
    assert (run / "summary.json").is_file()
    assert run.name.endswith("-spike")
    assert len(run.name) == len("20261126T173148Z-spike")

    # 5 rps for 2 s, 100 rps for 4 s, 5 rps for 2 s.
    rate = read_rate(run)
    assert [row["target"] for row in rate[:8]] == [5, 5, 100, 100, 100, 100, 5, 5]
    assert_hold_follows_target(rate, 2, 5)

    document = json.loads((run / "run.json").read_text())
    assert set(document) >= RUN_JSON_KEYS
    assert document["scenario"] == "spike"
    assert document["local"] is True
    assert document["host"].startswith("http://127.0.0.1:")
    assert document["requests"] == 420
    assert document["complete"] is True
    assert document["malformed_lines"] == 0
    assert document["memory_mb"] == 128
    assert document["billing_threshold_ms"] == 50
    assert document["args"]["seed"] == 3
    assert set(document["versions"]) == {"edgedrill", "locust", "python"}
    assert document["start"] < document["end"]

    records = read_requests(run)
    assert len(records) == 420
    assert sum(r["status"] == "200" for r in records) == 420
    assert {r["pop"] for r in records} == {"IAD89-P1"}
    assert all(r["cf_id"] for r in records)
    caches = collections.Counter(r["x_cache"] for r in records)
    assert caches["Hit from cloudfront"] > caches["Miss from cloudfront"] > 0
    starts = [float(r["start"]) for r in records]
    assert min(starts) >= document["start"] - 0.05
    assert all(len(r["duration_ms"].split(".")[1]) == 3 for r in records)

    # The default drill is a chaos drill: its two faults, scaled into the 4 s
    # spike, were applied, rolled back, and reported; no viewer saw an error.
    summary = json.loads((run / "summary.json").read_text())
    faults = {f["fault"]: f for f in summary["faults"]}
    assert set(faults) == {"dns:servfail", "bucket:503"}
    assert faults["bucket:503"]["target"] == "s3:us-east-1"
    assert faults["bucket:503"]["window"]["errors"] == 0
    # No miss answered by the faulted region while the fault held for the whole
    # request. The summary counts misses by when they began, so one that began in
    # the window's last milliseconds may reach the region just after the rollback:
    # the bucket fault sits where misses are densest.
    bucket = next(
        json.loads(line)
        for line in (run / "faults.jsonl").read_text().splitlines()
        if json.loads(line)["fault"] == "bucket:503"
    )
    held = [
        r
        for r in records
        if bucket["start"] <= float(r["start"])
        and float(r["start"]) + float(r["duration_ms"]) / 1000 <= bucket["end"]
        and r["x_cache"] == "Miss from cloudfront"
    ]
    assert held
    assert not [r for r in held if r["origin_region"] == "us-east-1"]
    assert faults["bucket:503"]["served_region"]["misses_to_region"] <= 1
    assert faults["dns:servfail"]["router_dns"]["stale"] > 0
    for fault in faults.values():
        assert 2.0 <= fault["start_offset_s"] <= 6.0
        assert 1.0 <= fault["duration_s"] <= 2.0
    journal = json.loads((run / "journal.json").read_text())
    assert journal["status"] == "completed"
    assert all(rollback["ok"] for rollback in journal["rollbacks"])

    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv"):
        assert (run / name).is_file(), name
    assert (run / "locust_exceptions.csv").is_file()
    assert (run / "locust_report.html").is_file()
    access = (run / "logs" / "cloudfront" / "access.log").read_text().splitlines()
    assert sum(not line.startswith("#") for line in access) == 420
    assert list((run / "logs" / "lambda").glob("*.log"))
    assert finished.leftovers() == []


def test_processes_2_split_the_rate_between_workers(spawn, tmp_path):
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--headless", "--processes", "2", "--only-summary",
        "--results-dir", str(tmp_path / "runs"),
        "--baseline-rps", "10", "--spike-factor", "10",
        "--spike-at", "2", "--spike-hold", "3", "--cooldown", "1",
    )  # fmt: skip
    # Mid-run, every socket the run listens on (the master's, the local
    # distribution's) is on loopback, and the master is not on Locust's 5557.
    wait_for_requests(running, tmp_path / "runs", more_than=0)
    listening = running.listening()
    finished = running.finish(timeout=120)
    assert finished.code == 0, finished.output[-3000:]
    assert any("edge.server" in command for command, _, _ in listening), listening
    assert {address for _, address, _ in listening} == {"127.0.0.1"}, listening
    assert 5557 not in {port for _, _, port in listening}

    run = only_run(tmp_path / "runs")
    document = json.loads((run / "run.json").read_text())
    assert document["workers"] == 2
    assert document["requests"] == document["scheduled"] == 10 * 2 + 100 * 3 + 10
    assert document["complete"] is True
    released = [slot["released"] for slot in document["dispatch"]]
    assert released == [165, 165]
    assert len(read_requests(run)) == 330
    assert_hold_follows_target(read_rate(run), 2, 4)
    assert finished.leftovers() == []


@pytest.mark.parametrize("source", ["locust.conf", "LOCUST_PROCESSES"])
def test_processes_from_a_config_source_keep_the_master_on_loopback(spawn, tmp_path, source):
    # --processes that does not come from argv: Locust's own parse sees it,
    # and so must the loopback default.
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {}
    if source == "locust.conf":
        (workdir / "locust.conf").write_text("processes = 2\n")
    else:
        env["LOCUST_PROCESSES"] = "2"
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--headless", "--only-summary",
        "--results-dir", str(tmp_path / "runs"), "--baseline-rps", "10", "--spike-factor", "2",
        "--spike-at", "2", "--spike-hold", "1", "--cooldown", "1",
        cwd=workdir, env=env,
    )  # fmt: skip
    wait_for_requests(running, tmp_path / "runs", more_than=0)
    listening = running.listening()
    finished = running.finish(timeout=120)
    assert finished.code == 0, finished.output[-3000:]
    # The master forked two workers: three Locust processes.
    locusts = [cmd for cmd in finished.descendants.values() if "locust" in cmd]
    assert len(locusts) >= 2, finished.descendants
    assert any("edge.server" in command for command, _, _ in listening), listening
    assert {address for _, address, _ in listening} == {"127.0.0.1"}, listening
    assert 5557 not in {port for _, _, port in listening}
    document = json.loads((only_run(tmp_path / "runs") / "run.json").read_text())
    assert document["workers"] == 2
    assert finished.leftovers() == []


def test_a_master_and_two_workers_started_apart_split_the_rate(spawn, tmp_path):
    port = str(free_port())
    master = spawn(
        "-m", "locust", "-f", SPIKE, "--master", "--expect-workers", "2", "--headless",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--only-summary",
        "--results-dir", str(tmp_path / "runs"),
        "--baseline-rps", "10", "--spike-factor", "10",
        "--spike-at", "2", "--spike-hold", "3", "--cooldown", "1",
    )  # fmt: skip
    worker_args = ["-m", "locust", "-f", SPIKE, "--worker", "--master-host", "127.0.0.1"]
    workers = [spawn(*worker_args, "--master-port", port) for _ in range(2)]
    finished = master.finish(timeout=120)
    assert finished.code == 0, finished.output[-3000:]
    for worker in workers:
        done = worker.finish(timeout=30)
        assert done.code == 0, done.output[-3000:]
        # Workers take the master's distribution; they never start one.
        assert "starting the local distribution" not in done.output
        assert done.leftovers() == []

    run = only_run(tmp_path / "runs")
    document = json.loads((run / "run.json").read_text())
    assert document["workers"] == 2
    assert document["requests"] == document["scheduled"] == 330
    assert [slot["released"] for slot in document["dispatch"]] == [165, 165]
    assert len(read_requests(run)) == 330
    assert_hold_follows_target(read_rate(run), 2, 4)
    assert finished.leftovers() == []


def test_replay_of_a_generated_log_sends_its_valid_lines(run_locust, tmp_path):
    lines = [
        Line(
            T0 + i // 20,
            f"/media/replay{i % 40:03d}.jpg",
            method="HEAD" if i % 5 == 0 else "GET",
            query=f"v={i % 3}" if i % 4 == 0 else "",
            size=500 + 37 * (i % 40),
        )
        for i in range(120)
    ]
    folder = tmp_path / "cf-logs"
    write_log(folder / "E2.2026-11-26-17.a.gz", render(lines[:60]), gz=True)
    second = write_log(
        folder / "E2.2026-11-26-17.b",
        render(lines[60:][::-1]) + "not\ta\tlog\tline\n" + render(lines[:1], header=False)[:40],
    )
    finished = run_locust(
        "-f", REPLAY, "--headless", "--only-summary", "--log", str(folder),
        "--speedup", "2", "--results-dir", str(tmp_path / "runs"),
        timeout=120,
    )  # fmt: skip
    assert finished.code == 0, finished.output[-3000:]
    run = only_run(tmp_path / "runs")
    document = json.loads((run / "run.json").read_text())
    assert document["scenario"] == "replay"
    assert document["requests"] == 120
    assert document["malformed_lines"] == 2
    malformed = (run / "malformed_lines.txt").read_text().splitlines()
    assert [m.split(": ")[0] for m in malformed] == [f"{second}:63", f"{second}:64"]
    assert f"{second}:63" in finished.output
    records = read_requests(run)
    assert len(records) == 120
    assert collections.Counter(r["method"] for r in records) == {"GET": 96, "HEAD": 24}
    assert {r["status"] for r in records} == {"200"}  # the log's objects were seeded
    assert sum(read_rate(run)[s]["achieved"] for s in range(len(read_rate(run)))) == 120
    assert finished.leftovers() == []


def test_replay_sends_the_logs_paths_methods_and_queries(run_locust, target, tmp_path):
    lines = [
        Line(T0 + i / 10, f"/a%20b/{i}.jpg", method="HEAD" if i % 2 else "GET", query=q)
        for i, q in enumerate(["", "x=1&y=%2F", "sig=abc%3D%3D", "", "a=b"] * 4)
    ]
    log = write_log(tmp_path / "access.log", render(lines))
    config = tmp_path / "replay.conf"
    config.write_text(f"log = {log}\nmultiply = 2\nhost = {target.url}\n")
    finished = run_locust(
        "-f", REPLAY, "--config", str(config), "--headless", "--only-summary",
        "--results-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert finished.code == 0, finished.output[-3000:]
    expected: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in lines:
        uri = line.path + (f"?{line.query}" if line.query else "")
        expected[(line.method, uri)] += 2
    assert collections.Counter(target.requests) == expected
    run = only_run(tmp_path / "runs")
    document = json.loads((run / "run.json").read_text())
    assert document["local"] is False
    assert document["args"]["multiply"] == 2
    assert {r["origin_region"] for r in read_requests(run)} == {"eu-west-1"}
    assert not (run / "logs").exists()


def test_ctrl_c_mid_run_writes_the_run_folder_and_stops_the_distribution(spawn, tmp_path):
    runs = tmp_path / "runs"
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--headless", "--only-summary",
        "--results-dir", str(runs), "--baseline-rps", "150", "--spike-at", "60",
    )  # fmt: skip
    wait_for_requests(running, runs, more_than=40)
    running.signal(signal.SIGINT)
    finished = running.finish(timeout=60)
    assert finished.code in (0, 1), finished.output[-3000:]
    run = only_run(runs)
    document = json.loads((run / "run.json").read_text())
    assert document["complete"] is False
    assert document["requests"] == len(read_requests(run)) > 40
    # Every request the edge served is a record or counted in run.json.
    assert served(run) == (
        document["requests"] + document["in_flight_at_end"] + document["records_dropped"]
    ), document
    assert finished.leftovers() == []
    assert not list((tmp_path / "tmp0").glob("edgedrill-local-*"))


def test_sigterm_to_edgedrill_run_stops_locust_and_names_the_run(spawn, tmp_path):
    # A CI job's timeout: SIGTERM to edgedrill alone. Locust and the local
    # distribution stop with it, and the partial run is written and named.
    runs = tmp_path / "runs"
    running = spawn("-m", "edgedrill.cli", "run", "--duration", "60", "--out", str(runs), "--quiet")
    wait_for_requests(running, runs, more_than=20)
    assert any("locust" in cmd for cmd in running.descendants.values())
    running.signal(signal.SIGTERM)
    finished = running.finish(timeout=90)
    assert finished.code == 128 + signal.SIGTERM, finished.output[-3000:]
    run = only_run(runs)
    assert "edgedrill run: terminated" in finished.output
    assert f"the run so far (stopped early): {run}" in finished.output
    document = json.loads((run / "run.json").read_text())
    assert document["complete"] is False
    assert document["requests"] == len(read_requests(run)) > 20
    assert finished.leftovers() == []


def test_a_killed_locust_leaves_no_process_of_the_distribution(spawn, tmp_path):
    runs = tmp_path / "runs"
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--headless", "--only-summary",
        "--results-dir", str(runs), "--spike-at", "60",
    )  # fmt: skip
    wait_for_requests(running, runs, more_than=0)
    assert any("edge.server" in cmd for cmd in running.descendants.values())
    running.signal(signal.SIGKILL)
    finished = running.finish(timeout=30)
    assert finished.code == -signal.SIGKILL
    assert finished.leftovers() == []


def test_an_init_failure_after_the_distribution_started_stops_it(run_locust, tmp_path):
    huge = [Line(T0, "/media/huge.bin", size=3 * 1024**3)]
    log = write_log(tmp_path / "huge.log", render(huge))
    finished = run_locust(
        "-f", REPLAY, "--headless", "--log", str(log), "--results-dir", str(tmp_path / "runs")
    )
    assert finished.code == 2, finished.output[-3000:]
    assert "starting the local distribution" in finished.output
    assert "GiB" in finished.output
    assert "Traceback" not in finished.output
    assert finished.leftovers() == []
    assert any("edge.stack" in cmd for cmd in finished.descendants.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", SPIKE, "--host", "http://127.0.0.1:9"], "--keys FILE is required with --host"),
        # No scheme: every request of the run would fail; refused before anything starts.
        (["-f", SPIKE, "--host", "127.0.0.1:9", "--keys", "/dev/null"], "--host must be an http"),
        (["-f", REPLAY, "--host", "localhost:9", "--log", "x.log"], "--host must be an http"),
        (["-f", REPLAY, "--log", "/nonexistent/access.log"], "/nonexistent/access.log does not"),
        (
            ["-f", SPIKE, "--spike-factor", "0"],
            "argument --spike-factor: must be within (0, 10000], got '0'",
        ),
    ],
)
def test_bad_input_fails_before_anything_starts(run_locust, tmp_path, args, message):
    finished = run_locust(*args, "--headless", "--results-dir", str(tmp_path / "runs"))
    assert finished.code == 2
    assert message in finished.output
    assert "starting the local distribution" not in finished.output
    assert not (tmp_path / "runs").exists()
    assert finished.leftovers() == []


def test_scenario_options_are_in_help_and_the_web_ui(spawn, target, tmp_path):
    helped = spawn(str(LOADTESTS / "spike.py"), "--help").finish(timeout=30)
    assert helped.code == 0
    for flag in ("--baseline-rps", "--spike-factor", "--spike-at", "--spike-hold", "--ramp"):
        assert flag in helped.output
    assert "(default: results/runs)" in " ".join(helped.output.split())
    assert "%(" not in helped.output

    keys = tmp_path / "keys.txt"
    keys.write_text("a.jpg\nb.jpg\n")
    port = free_port()
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--host", target.url, "--keys", str(keys),
        "--web-host", "127.0.0.1", "--web-port", str(port),
        "--results-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", running)
        assert "baseline_rps" in page
        assert "spike_factor" in page
        # Locust's web UI shows an option's help as it is: no argparse placeholder.
        shown = web_ui_options(page)
        assert len(shown) >= 14, sorted(shown)
        assert [name for name, text in shown.items() if "%(" in text] == []
        assert "(default: 5.0;" in shown["baseline_rps"]
        assert "web UI's user count only raises it" in " ".join(shown["pool_latency"].split())
        form = {
            "user_count": "10",
            "spawn_rate": "10",
            "host": target.url,
            "baseline_rps": "7",
            "spike_factor": "2",
            "spike_at": "1",
            "spike_hold": "1",
            "cooldown": "1",
        }
        swarm(port, form, running, tmp_path / "runs")
        # A second test from the same web UI, with an option edited again, and a
        # user count below the pool the schedule needs (Locust's form fills in 1).
        form["baseline_rps"] = "3"
        form["user_count"] = "1"
        swarm(port, form, running, tmp_path / "runs", count=2)
    finally:
        running.signal(signal.SIGTERM)
    finished = running.finish(timeout=30)
    first, second = sorted((tmp_path / "runs").iterdir())
    document = json.loads((first / "run.json").read_text())
    assert document["args"]["baseline_rps"] == 7
    assert document["requests"] == 7 + 14 + 7
    # The form's 10 users are more than the 7 the 14 requests/s need: the pool is 10.
    assert document["users"] == 10
    assert [row["target"] for row in read_rate(first)] == [7, 14, 7]
    again = json.loads((second / "run.json").read_text())
    assert again["args"]["baseline_rps"] == 3
    assert [row["target"] for row in read_rate(second)] == [3, 6, 3]
    assert again["requests"] == 12
    # The form's 1 user would starve the schedule: the pool is the scenario's (4 at least).
    assert again["users"] == 4
    assert finished.leftovers() == []


def web_ui_options(page: str) -> dict[str, str]:
    """The scenario options Locust's web UI page lists, by name, with the help it shows."""
    marker = '"extra_options": '
    start = page.index(marker) + len(marker)
    options, _ = json.JSONDecoder().raw_decode(page[start:])
    return {name: str(option["help_text"]) for name, option in options.items()}


def test_up_seeded_from_a_log_serves_the_logs_objects(spawn, tmp_path):
    lines = [Line(T0 + i, f"/media/from-log-{i}.bin", size=1000 + i) for i in range(5)]
    lines.append(Line(T0 + 6, "/media/never-served.bin", status=404))
    log = write_log(tmp_path / "access.log", render(lines))
    state = tmp_path / "up" / "state.json"
    running = spawn(
        "-m", "edgedrill.cli", "up", "--state", str(state), "--objects", "3",
        "--seed-from-log", str(log),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "seeded 5 objects" not in running.output() and time.monotonic() < deadline:
        if running.process.poll() is not None:
            break
        time.sleep(0.2)
    try:
        assert "seeded 5 objects" in running.output(), running.output()[-3000:]
        edge = json.loads(state.read_text())["edge_url"]
        with urllib.request.urlopen(f"{edge}/media/from-log-3.bin", timeout=10) as response:
            assert response.status == 200
            assert len(response.read()) == 1003
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{edge}/media/never-served.bin", timeout=10)
        missing.value.close()
        assert missing.value.code in (403, 404)
        again = spawn("-m", "edgedrill.cli", "seed", "--log", str(log), "--state", str(state))
        seeded = again.finish(timeout=60)
        assert seeded.code == 0, seeded.output
        assert "seeded 5 objects (5010 bytes)" in seeded.output
    finally:
        down = spawn("-m", "edgedrill.cli", "down", "--state", str(state)).finish(timeout=60)
    assert down.code == 0, down.output
    finished = running.finish(timeout=60)
    assert finished.leftovers() == []


def test_run_time_cuts_the_schedule(run_locust, target, tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("a.jpg\n")
    finished = run_locust(
        "-f", SPIKE, "--headless", "--only-summary", "--host", target.url, "--keys", str(keys),
        "--baseline-rps", "20", "--run-time", "2", "--results-dir", str(tmp_path / "runs"),
        "--csv", str(tmp_path / "elsewhere" / "stats"),
    )  # fmt: skip
    assert finished.code == 0, finished.output[-3000:]
    run = only_run(tmp_path / "runs")
    document = json.loads((run / "run.json").read_text())
    assert document["requests"] == document["scheduled"] == 40
    assert [row["target"] for row in read_rate(run)] == [20, 20]
    assert len(target.requests) == 40
    # --csv elsewhere: Locust writes there, and the run folder still gets its copy.
    assert (tmp_path / "elsewhere" / "stats_stats.csv").is_file()
    assert "spike" in (run / "locust_stats.csv").read_text()


@pytest.mark.parametrize("group", [False, True], ids=["master-only", "process-group"])
def test_ctrl_c_on_a_distributed_run_keeps_the_workers_last_records(spawn, target, tmp_path, group):
    # SIGINT to the master alone (a supervisor): its test_stop comes before its
    # workers hear of it, so it must fetch their last records itself. To the
    # whole group (a terminal's Ctrl-C): each worker quits on its own and must
    # ship its records before it tells the master it is leaving.
    keys = tmp_path / "keys.txt"
    keys.write_text("a.jpg\n")
    runs = tmp_path / "runs"
    running = spawn(
        "-m", "locust", "-f", SPIKE, "--headless", "--only-summary", "--host", target.url,
        "--keys", str(keys), "--processes", "2", "--baseline-rps", "40", "--spike-at", "60",
        "--results-dir", str(runs),
    )  # fmt: skip
    wait_for_requests(running, runs, more_than=80)
    running.signal(signal.SIGINT, group=group)
    finished = running.finish(timeout=60)
    assert finished.code in (0, 1), finished.output[-3000:]
    run = only_run(runs)
    document = json.loads((run / "run.json").read_text())
    assert document["complete"] is False
    assert len(document["dispatch"]) == 2, document["dispatch"]
    unrecorded = sum(slot["in_flight"] + slot["abandoned"] for slot in document["dispatch"])
    assert unrecorded == document["in_flight_at_end"]
    shipped = sum(slot["released"] for slot in document["dispatch"]) - unrecorded
    assert document["requests"] == len(read_requests(run)) > 80
    assert document["requests"] == shipped
    assert document["records_dropped"] == 0
    # Every request the target served is a record or counted in run.json.
    assert len(target.requests) == document["requests"] + unrecorded, document
    assert finished.leftovers() == []
