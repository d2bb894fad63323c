"""``edgedrill alarms`` against moto's server: put in each region, idempotent, dry run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from edgedrill.alarms import (
    AlarmKind,
    AlarmSettings,
    alarm_names,
    alarm_requests,
    same_definition,
)
from edgedrill.cli import main
from results.cloudwatch import edge_log_group
from router.dns_cache import CacheState

if TYPE_CHECKING:
    pass

FUNCTION = "edgedrill-router"
REGIONS = ("eu-west-1", "ap-northeast-1")
NAMES = tuple(f"edgedrill-{FUNCTION}-{kind}" for kind in AlarmKind)


def _alarms(url: str, region: str) -> dict[str, Any]:
    import boto3

    client = boto3.client("cloudwatch", region_name=region, endpoint_url=url)
    return {a["AlarmName"]: a for a in client.describe_alarms()["MetricAlarms"]}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(["alarms", "--function", FUNCTION, *argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_names_are_stable_and_prefixed() -> None:
    assert alarm_names(FUNCTION) == (
        "edgedrill-edgedrill-router-fallback-share",
        "edgedrill-edgedrill-router-stale-share",
        "edgedrill-edgedrill-router-duration-p99",
    )


@pytest.mark.slow
def test_put_in_two_regions_then_unchanged(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--regions", ",".join(REGIONS), "--endpoint-url", moto_server]
    code, out, err = _run(capsys, *flags)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        f"{region}\t{name}\tcreated" for region in REGIONS for name in NAMES
    )
    assert " ".join(NAMES) in err
    for region in REGIONS:
        alarms = _alarms(moto_server, region)
        assert sorted(alarms) == sorted(NAMES)
        fallback = alarms[NAMES[0]]
        assert fallback["Threshold"] == 0.05
        assert fallback["TreatMissingData"] == "notBreaching"
        queries = {q["Id"]: q for q in fallback["Metrics"]}
        assert set(queries) == {*map(str, CacheState), "invocations", "share"}
        assert queries["share"]["ReturnData"] is True
        assert "FILL(fallback, 0) / invocations" in queries["share"]["Expression"]
        stat = queries["stale"]["MetricStat"]
        assert stat["Stat"] == "SampleCount"
        assert stat["Metric"]["Namespace"] == "edgedrill/router"
        assert stat["Metric"]["MetricName"] == "handler_ms"
        assert stat["Metric"]["Dimensions"] == [{"Name": "cache_state", "Value": "stale"}]
        stale = {q["Id"]: q for q in alarms[NAMES[1]]["Metrics"]}
        assert "FILL(stale, 0) / invocations" in stale["share"]["Expression"]
        duration = alarms[NAMES[2]]
        assert (duration["Namespace"], duration["MetricName"]) == ("AWS/Lambda", "Duration")
        assert duration["Dimensions"] == [
            {"Name": "FunctionName", "Value": f"us-east-1.{FUNCTION}"}
        ]
        assert (duration["ExtendedStatistic"], duration["Threshold"]) == ("p99", 50.0)
    before = {region: _alarms(moto_server, region) for region in REGIONS}
    code, out, err = _run(capsys, *flags)
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        f"{region}\t{name}\tunchanged" for region in REGIONS for name in NAMES
    )
    # Nothing was put: CloudWatch's own update stamps did not move.
    after = {region: _alarms(moto_server, region) for region in REGIONS}
    assert after == before
    # A new threshold updates that alarm only.
    code, out, err = _run(capsys, *flags, "--threshold-ms", "80")
    assert code == 0, err
    assert f"eu-west-1\t{NAMES[2]}\tupdated" in out.splitlines()
    assert f"eu-west-1\t{NAMES[0]}\tunchanged" in out.splitlines()
    assert _alarms(moto_server, "ap-northeast-1")[NAMES[2]]["Threshold"] == 80.0


@pytest.mark.slow
def test_dry_run_prints_the_requests_and_changes_nothing(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, "--regions", "eu-west-1", "--dry-run", "--stale-share-max", "0.25",
        "--endpoint-url", moto_server,
    )  # fmt: skip
    assert code == 0, err
    document = json.loads(out)
    assert [(d["region"], d["operation"]) for d in document] == [
        ("eu-west-1", "PutMetricAlarm")
    ] * 3
    requests = alarm_requests(AlarmSettings(FUNCTION, stale_share_max=0.25))
    assert [d["request"] for d in document] == requests
    assert "nothing changed" in err
    assert _alarms(moto_server, "eu-west-1") == {}


@pytest.mark.slow
def test_regions_default_to_where_the_function_ran(
    moto_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from edgedrill.commands import logs

    # DescribeRegions itself is fetch-logs' test; three regions are enough here.
    regions = ["eu-central-1", "eu-west-1", "us-east-1"]
    monkeypatch.setattr(logs, "enabled_regions", lambda api: regions)

    code, _, err = _run(capsys, "--endpoint-url", moto_server)
    assert code == 2
    assert f"--regions: no region holds {edge_log_group(FUNCTION)}" in err
    client = boto3.client("logs", region_name="eu-central-1", endpoint_url=moto_server)
    client.create_log_group(logGroupName=edge_log_group(FUNCTION))
    code, out, err = _run(capsys, "--endpoint-url", moto_server)
    assert code == 0, err
    assert {line.split("\t")[0] for line in out.splitlines()} == {"eu-central-1"}
    assert sorted(_alarms(moto_server, "eu-central-1")) == sorted(NAMES)
    assert _alarms(moto_server, "eu-west-1") == {}


def test_requests_fit_cloudwatch_api_model() -> None:
    """Every request is one botocore accepts for PutMetricAlarm (its model, as AWS takes it)."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "cloudwatch",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    requests = alarm_requests(AlarmSettings(FUNCTION, period_s=300, evaluation_periods=3))
    with Stubber(client) as stub:
        for request in requests:
            stub.add_response("put_metric_alarm", {}, expected_params=request)
            client.put_metric_alarm(**request)
        stub.assert_no_pending_responses()
    shares = [r for r in requests if "Metrics" in r]
    assert len(shares) == 2
    for request in shares:
        # CloudWatch takes at most 10 metrics in an alarm's math.
        assert sum("MetricStat" in q for q in request["Metrics"]) <= 10
        assert [q["ReturnData"] for q in request["Metrics"]].count(True) == 1
        assert all(q["MetricStat"]["Period"] == 300 for q in request["Metrics"][:-2])
    assert all((r["EvaluationPeriods"], r["DatapointsToAlarm"]) == (3, 3) for r in requests)


def test_same_definition_ignores_what_aws_adds_and_sees_a_change() -> None:
    request = alarm_requests(AlarmSettings(FUNCTION))[2]
    shown = {
        **request,
        "AlarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x",
        "StateValue": "ALARM",
        "Threshold": 50,
        "Metrics": [],
        "OKActions": [],
    }
    assert same_definition(shown, request)
    assert not same_definition({**shown, "Threshold": 51.0}, request)
    assert not same_definition({**shown, "AlarmActions": ["arn:aws:sns:x"]}, request)
    assert not same_definition({k: v for k, v in shown.items() if k != "Dimensions"}, request)
    share = alarm_requests(AlarmSettings(FUNCTION))[0]
    changed = json.loads(json.dumps(share))
    changed["Metrics"][-1]["Expression"] = "fallback"
    assert same_definition(json.loads(json.dumps(share)), share)
    assert not same_definition(changed, share)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fallback-share-max", "0"], "argument --fallback-share-max: must be within (0, 1]"),
        (["--stale-share-max", "1.5"], "argument --stale-share-max: must be within (0, 1]"),
        (["--threshold-ms", "nan"], "argument --threshold-ms: must be within"),
        (["--period", "90"], "argument --period: must be a multiple of 60"),
        (["--period", "30"], "argument --period: must be within 60..86400"),
        (["--evaluation-periods", "0"], "argument --evaluation-periods: must be within"),
        (
            ["--period", "3600", "--evaluation-periods", "25"],
            "--evaluation-periods: 25 x --period 3600 s is over 86,400 s",
        ),
        (["--regions", "moon-1"], "argument --regions: not a region name: moon-1"),
        (["--function", "a/b"], "argument --function: 'a/b' is not a Lambda function name"),
    ],
)
def test_bad_flags_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "--regions", "eu-west-1", "--dry-run", *argv)
    assert code == 2
    assert out == ""
    assert message in err


@pytest.mark.slow
def test_actions_someone_added_are_kept_when_unchanged_and_when_updated(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    flags = ["--regions", "eu-west-1", "--endpoint-url", moto_server]
    assert _run(capsys, *flags)[0] == 0
    topic = "arn:aws:sns:eu-west-1:123456789012:on-call"
    client = boto3.client("cloudwatch", region_name="eu-west-1", endpoint_url=moto_server)
    (request,) = [r for r in alarm_requests(AlarmSettings(FUNCTION)) if r["AlarmName"] == NAMES[2]]
    client.put_metric_alarm(**request, AlarmActions=[topic], OKActions=[topic])
    code, out, err = _run(capsys, *flags)
    assert code == 0, err
    assert f"eu-west-1\t{NAMES[2]}\tunchanged" in out.splitlines()
    code, out, err = _run(capsys, *flags, "--threshold-ms", "80")
    assert code == 0, err
    assert f"eu-west-1\t{NAMES[2]}\tupdated" in out.splitlines()
    alarm = _alarms(moto_server, "eu-west-1")[NAMES[2]]
    assert (alarm["Threshold"], alarm["AlarmActions"], alarm["OKActions"]) == (
        80.0,
        [topic],
        [topic],
    )
