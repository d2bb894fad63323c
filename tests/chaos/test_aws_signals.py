"""An AWS-mode fault held by a real ``edgedrill`` process: SIGTERM, SIGINT, kill -9, an alarm."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from edgedrill.cli import main
from tests.conftest import REPO

pytestmark = pytest.mark.slow

BUCKET = "drill-origin-c"
ORIGINAL = (
    '{"Version": "2012-10-17", "Statement": [{"Sid": "Cdn", "Effect": "Allow", '
    f'"Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{BUCKET}/*"}}]}}'
)
NAME = "route.drill.example."


@pytest.fixture
def s3(moto_server: str) -> Any:
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=ORIGINAL)
    return client


@pytest.fixture
def route53(moto_server: str) -> tuple[Any, str]:
    client = boto3.client("route53", region_name="us-east-1", endpoint_url=moto_server)
    zone = client.create_hosted_zone(Name="drill.example", CallerReference="s")["HostedZone"]["Id"]
    sets: list[Any] = [
        {"Name": NAME, "Type": "TXT", "SetIdentifier": set_id, "MultiValueAnswer": True,
         "TTL": 60, "ResourceRecords": [{"Value": f'"bucket-{set_id}"'}]}
        for set_id in ("a", "b")
    ]  # fmt: skip
    client.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets]},
    )
    return client, zone


@pytest.fixture
def started() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "edgedrill.cli", "chaos", "inject", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def wait_until(check: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not check():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"exited {process.returncode} early: {out} {err}")
        assert time.monotonic() < deadline, "the change never became visible"
        time.sleep(0.05)


def policy(s3: Any) -> str:
    return str(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])


def hold_bucket_403(start: Callable[..., subprocess.Popen[str]], url: str, journal: Path,
                    *extra: str) -> subprocess.Popen[str]:  # fmt: skip
    return start(
        "bucket:403", "--aws-bucket", BUCKET, "--allow", f"bucket:{BUCKET}", "--execute",
        "--duration", "60", "--endpoint-url", url, "--journal", str(journal), *extra,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_or_a_hangup_puts_the_policy_back_at_once(
    s3: Any,
    moto_server: str,
    tmp_path: Path,
    started: Callable[..., subprocess.Popen[str]],
    signum: signal.Signals,
) -> None:
    journal = tmp_path / "journal.json"
    process = hold_bucket_403(started, moto_server, journal)
    wait_until(lambda: policy(s3) != ORIGINAL, process)
    # The journal was written before the change and holds what was saved and what is applied.
    written = json.loads(journal.read_text())
    assert written["status"] in ("pending", "applied")
    assert written["change"]["original"] == ORIGINAL
    assert json.loads(written["change"]["applied"]) == json.loads(policy(s3))
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signum, err
    assert policy(s3) == ORIGINAL
    assert "rolled back" in out
    assert json.loads(journal.read_text())["status"] == "restored"


def test_sigint_puts_the_record_sets_back_at_once(
    route53: tuple[Any, str],
    moto_server: str,
    tmp_path: Path,
    started: Callable[..., subprocess.Popen[str]],
) -> None:
    client, zone = route53

    def listed() -> Any:
        return client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]

    before = listed()
    process = started(
        "dns:wrong-answer", "--aws-zone", zone, "--aws-record", NAME, "--allow", f"zone:{zone}",
        "--execute", "--duration", "60", "--endpoint-url", moto_server,
        "--journal", str(tmp_path / "j.json"),
    )  # fmt: skip
    wait_until(lambda: listed() != before, process)
    values = [s["ResourceRecords"] for s in listed() if s["Name"] == NAME]
    assert values == [[{"Value": '"wrong-answer.invalid"'}]] * 2
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert listed() == before


def test_after_kill_9_rollback_restores_once_from_the_journal(
    s3: Any,
    moto_server: str,
    tmp_path: Path,
    started: Callable[..., subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = tmp_path / "journal.json"
    process = hold_bucket_403(started, moto_server, journal)
    wait_until(
        lambda: journal.exists() and json.loads(journal.read_text())["status"] == "applied",
        process,
    )
    process.kill()
    process.communicate(timeout=10)
    assert policy(s3) != ORIGINAL
    # The endpoint as boto3 reads it from the environment, no flag.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    # The rollback of another process (in this one: no interpreter to start).
    assert main(["chaos", "rollback", "--journal", str(journal)]) == 0
    out, err = capsys.readouterr()
    assert policy(s3) == ORIGINAL, err
    assert out.startswith("restored: put back bucket drill-origin-c's saved policy")
    assert main(["chaos", "rollback", "--journal", str(journal)]) == 0
    assert capsys.readouterr().out.startswith("nothing to restore")
    assert policy(s3) == ORIGINAL


def put_alarm(moto_server: str, region: str) -> Any:
    """The alarm ``edge-5xx`` in ``region`` (OK until set otherwise); its CloudWatch client."""
    cloudwatch = boto3.client("cloudwatch", region_name=region, endpoint_url=moto_server)
    cloudwatch.put_metric_alarm(
        AlarmName="edge-5xx", MetricName="5xxErrorRate", Namespace="AWS/CloudFront",
        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    return cloudwatch


def test_a_stop_alarm_in_alarm_in_any_region_restores_and_exits_3(
    s3: Any, moto_server: str, tmp_path: Path, started: Callable[..., subprocess.Popen[str]]
) -> None:
    # The same alarm name in each region the function runs in, as edgedrill alarms puts them.
    put_alarm(moto_server, "us-east-1")
    cloudwatch = put_alarm(moto_server, "eu-west-1")
    process = hold_bucket_403(
        started, moto_server, tmp_path / "journal.json", "--stop-on-alarm", "edge-5xx",
        "--alarm-region", "us-east-1,eu-west-1",
    )  # fmt: skip
    wait_until(lambda: policy(s3) != ORIGINAL, process)
    cloudwatch.set_alarm_state(AlarmName="edge-5xx", StateValue="ALARM", StateReason="drill")
    _, err = process.communicate(timeout=30)
    assert process.returncode == 3, err
    assert "edge-5xx in eu-west-1" in err
    assert policy(s3) == ORIGINAL


@pytest.mark.parametrize(
    ("put_in", "firing", "extra", "code", "message"),
    [
        ((), False, ["--stop-on-alarm", "no-such-alarm"], 2,
         "no CloudWatch alarm named no-such-alarm in us-east-1"),
        (("us-east-1",), False, ["--stop-on-alarm", "edge-5xx", "--alarm-region", "us-east-1",
                                 "--alarm-region", "ap-northeast-1"], 2,
         "no CloudWatch alarm named edge-5xx in ap-northeast-1"),
        ((), False, ["--stop-on-alarm", "edge-5xx", "--alarm-region", "Europe"], 2,
         "--alarm-region: not a region name: Europe"),
        (("us-east-1",), True, ["--stop-on-alarm", "edge-5xx"], 3,
         "not started: stop alarm edge-5xx in us-east-1 is in ALARM"),
    ],
    ids=["unknown", "missing-from-a-region", "bad-region", "already-in-alarm"],
)  # fmt: skip
def test_a_stop_alarm_that_cannot_guard_or_already_fires_changes_nothing(
    s3: Any,
    moto_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    put_in: tuple[str, ...],
    firing: bool,
    extra: list[str],
    code: int,
    message: str,
) -> None:
    for region in put_in:
        cloudwatch = put_alarm(moto_server, region)
        if firing:
            cloudwatch.set_alarm_state(AlarmName="edge-5xx", StateValue="ALARM", StateReason="x")
    journal = tmp_path / "journal.json"
    # In-process: the refusal comes before any signal matters.
    assert main([
        "chaos", "inject", "bucket:403", "--aws-bucket", BUCKET, "--allow", f"bucket:{BUCKET}",
        "--execute", "--duration", "5", "--endpoint-url", moto_server, "--journal", str(journal),
        *extra,
    ]) == code  # fmt: skip
    assert message in capsys.readouterr().err
    assert policy(s3) == ORIGINAL
    assert not journal.exists()
