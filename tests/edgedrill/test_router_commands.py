"""``edgedrill package`` and ``edgedrill invoke``, run as the console script."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from edgedrill.cli import main
from router.config import OriginConfig
from router.routing import ranked
from tests.conftest import run_edgedrill, run_python
from tests.router.conftest import EUW1, ROUTING_NAME, USE1

if TYPE_CHECKING:
    from edge.dns_zone import DnsZoneServer

EVENTS = Path(__file__).parent.parent / "events"
SUMMARY = re.compile(
    r"^invocations=(\d+) p50_us=([\d.]+) p99_us=([\d.]+) max_us=([\d.]+) dns_queries=(\d+)$"
)


def write_config(path: Path, dns: DnsZoneServer, **changes: object) -> Path:
    document = {
        "routing_name": ROUTING_NAME,
        "nameservers": [dns.address],
        "origins": [
            {"region": "us-east-1", "domain": USE1, "weight": 1},
            {"region": "eu-west-1", "domain": EUW1, "weight": 1},
        ],
        "lookup_timeout_ms": 40,
    }
    document.update(changes)
    path.write_text(json.dumps(document, indent=2))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_edgedrill(*args, timeout=120)


def test_invoke_prints_request_logs_and_summary(tmp_path: Path, zone_server: DnsZoneServer) -> None:
    config = write_config(tmp_path / "config.json", zone_server)
    done = run_cli(
        "invoke", str(EVENTS / "s3-origin.json"), "--config", str(config), "--repeat", "50"
    )
    assert done.returncode == 0, done.stderr
    request = json.loads(done.stdout)
    assert request["origin"]["s3"]["domainName"] in (USE1, EUW1)
    lines = done.stderr.strip().splitlines()
    match = SUMMARY.match(lines[-1])
    assert match, lines[-1]
    assert int(match.group(1)) == 51
    assert float(match.group(2)) <= float(match.group(3)) <= float(match.group(4))
    assert int(match.group(5)) == 1
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(logs) == 51
    assert [log["cache_state"] for log in logs[:2]] == ["miss", "hit"]
    assert zone_server.zone.stats.queries == 1


def test_invoke_routes_by_the_viewer_request_id(tmp_path: Path, zone_server: DnsZoneServer) -> None:
    config = write_config(tmp_path / "config.json", zone_server)
    origins = (OriginConfig("us-east-1", USE1), OriginConfig("eu-west-1", EUW1))
    # One id whose order puts each region first: every repeat of a viewer
    # request goes to the same region, and different requests spread.
    ids = {ranked(origins, f"viewer-{n}")[0].region: f"viewer-{n}" for n in range(20)}
    assert set(ids) == {"us-east-1", "eu-west-1"}
    for region, request_id in ids.items():
        event = json.loads((EVENTS / "custom-origin.json").read_text())
        event["Records"][0]["cf"]["config"]["requestId"] = request_id
        path = tmp_path / f"{region}.json"
        path.write_text(json.dumps(event))
        done = run_cli("invoke", str(path), "--config", str(config), "--repeat", "4")
        assert done.returncode == 0, done.stderr
        logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        assert [log["region"] for log in logs] == [region] * 5


def test_invoke_malformed_event_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"Records": [\n  {"cf": }\n]}')
    done = run_cli("invoke", str(bad))
    assert done.returncode == 2
    assert f"{bad}:2:" in done.stderr
    assert "malformed event JSON" in done.stderr
    assert done.stdout == ""


def test_invoke_non_origin_request_event_exits_2() -> None:
    assert main(["invoke", str(EVENTS / "viewer-request.json")]) == 2


def test_invoke_bad_config_names_the_key(
    tmp_path: Path, zone_server: DnsZoneServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.json", zone_server, min_ttl="5")
    assert main(["invoke", str(EVENTS / "s3-origin.json"), "--config", str(config)]) == 2
    assert "'min_ttl'" in capsys.readouterr().err


def test_package_rejects_a_bad_config(
    tmp_path: Path, zone_server: DnsZoneServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "config.json",
        zone_server,
        origins=[{"region": "us-east-1", "domain": "Media.example.com", "weight": 1}],
    )
    assert main(["package", "--config", str(config), "--out", str(tmp_path / "dist")]) == 2
    assert "origins[0].domain" in capsys.readouterr().err
    assert not (tmp_path / "dist" / "edgedrill-router.zip").exists()


def test_package_is_deterministic(tmp_path: Path, zone_server: DnsZoneServer) -> None:
    config = write_config(tmp_path / "config.json", zone_server)
    first = run_cli("package", "--config", str(config), "--out", str(tmp_path / "a"))
    second = run_cli("package", "--config", str(config), "--out", str(tmp_path / "b"))
    assert first.returncode == second.returncode == 0
    assert Path(first.stdout.strip()).read_bytes() == Path(second.stdout.strip()).read_bytes()


RUNNER = """
import json, sys
task = sys.argv[1]
stdlib = [p for p in sys.path if p and "site-packages" not in p and "dist-packages" not in p]
sys.path[:] = [task] + stdlib
import dns, router.handler
assert dns.__file__.startswith(task), dns.__file__
assert router.handler.__file__.startswith(task), router.handler.__file__
event = json.load(open(sys.argv[2]))
first = router.handler.handler(event, None)
second = router.handler.handler(json.load(open(sys.argv[2])), None)
print(json.dumps({"first": first, "second": second, "path": sys.path}))
"""


def test_package_runs_alone_in_an_isolated_interpreter(
    tmp_path: Path, zone_server: DnsZoneServer
) -> None:
    config = write_config(tmp_path / "config.json", zone_server)
    built = run_cli("package", "--config", str(config), "--out", str(tmp_path / "dist"))
    assert built.returncode == 0, built.stderr
    zip_path = Path(built.stdout.strip())
    task = tmp_path / "task"
    task.mkdir()
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        archive.extractall(task)
    assert "router/handler.py" in names
    assert "router/config.json" in names
    assert "dns/query.py" in names
    assert "router/packaging.py" not in names
    assert not any(name.startswith(("edge/", "loadtests/", "results/", "chaos/")) for name in names)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    done = run_python("-I", "-S", runner, task, EVENTS / "s3-origin.json", cwd=task)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout.splitlines()[-1])
    assert not any("site-packages" in entry for entry in output["path"])
    domains = {
        output["first"]["origin"]["s3"]["domainName"],
        output["second"]["origin"]["s3"]["domainName"],
    }
    # One viewer request (one requestId): both invocations route it alike.
    assert len(domains) == 1
    assert domains <= {USE1, EUW1}
    emf = [json.loads(line) for line in done.stdout.splitlines()[:-1]]
    assert [line["cache_state"] for line in emf] == ["miss", "hit"]


BINARY = bytes(range(256)) * 4
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("content", "reason"),
    [(BINARY, "not UTF-8 text"), (DEEP.encode(), "nested too deeply")],
    ids=["binary", "deep"],
)
def test_unusable_config_and_event_files_are_usage_errors(
    tmp_path: Path, content: bytes, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert main(["package", "--config", str(bad), "--out", str(tmp_path / "dist")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert reason in err
    assert "Traceback" not in err
    assert main(["invoke", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err
    assert reason in err
    assert main(["invoke", str(EVENTS / "s3-origin.json"), "--config", str(bad)]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize("threshold", ["NaN", "Infinity", "-Infinity"])
def test_a_threshold_that_is_not_finite_is_not_packaged(
    tmp_path: Path, zone_server: DnsZoneServer, threshold: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.json", zone_server, lookup_timeout_ms=25_000)
    text = config.read_text().replace(
        '"lookup_timeout_ms"', f'"billing_threshold_ms": {threshold}, "lookup_timeout_ms"'
    )
    config.write_text(text)
    assert main(["package", "--config", str(config), "--out", str(tmp_path / "dist")]) == 2
    assert "'billing_threshold_ms': must be a finite number" in capsys.readouterr().err
    assert not (tmp_path / "dist").exists()


def test_package_out_naming_a_file_is_a_usage_error(
    tmp_path: Path, zone_server: DnsZoneServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.json", zone_server)
    taken = tmp_path / "taken"
    taken.write_text("keep me\n")
    assert main(["package", "--config", str(config), "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert f"--out {taken}: exists and is not a folder" in err
    assert taken.read_text() == "keep me\n"
