"""``edgedrill fetch-logs`` on moto's server: regions found, a window fetched, a request found."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from edgedrill.cli import main
from results.cloudwatch import edge_log_group
from results.run_folder import read_run_info
from tests.results.synthetic import FUNCTION, T0, Invocation, invocation_lines, iso, minimal_run
from tests.results.test_cloudwatch import STREAM, put_log_lines

if TYPE_CHECKING:
    from pathlib import Path

GROUP = edge_log_group(FUNCTION)
# A Lambda request id and a CloudFront one (x-amz-cf-id), as they look.
LAMBDA_ID = "5bd4a3c2-0f1e-4d2c-9b8a-7c6d5e4f3a21"
CF_ID = "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``edgedrill ARGV`` in this process: its exit code, stdout and stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _invocations(count: int, *, start: float, region: str, first: int = 0) -> list[str]:
    return [
        line
        for i in range(count)
        for line in invocation_lines(
            Invocation(
                end=start + i * 0.5,
                duration_ms=2.0 + i,
                init_ms=120.0 if i == 0 else None,
                cache_state="miss" if i == 0 else "hit",
                dns_queries=1 if i == 0 else 0,
                region=region,
            ),
            first + i,
        )
    ]


@pytest.mark.slow
def test_regions_found_without_regions_flag(
    moto_server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put_log_lines(moto_server, "eu-west-1", _invocations(3, start=T0 + 1, region="eu-west-1"))
    put_log_lines(
        moto_server, "ap-northeast-1", _invocations(2, start=T0 + 2, region="ap-northeast-1")
    )
    # Another function whose name starts with this one's: its group is not this one's.
    put_log_lines(
        moto_server, "us-west-2", [f"{iso(T0 + 1)}\tSTART RequestId: x"], group=GROUP + "-canary"
    )
    run_dir = minimal_run(tmp_path / "run", [])
    # AWS_ENDPOINT_URL alone points every client at moto (botocore reads it).
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    code, out, err = _cli(capsys, "fetch-logs", str(run_dir), "--function", FUNCTION)
    assert code == 0, err
    assert f"{GROUP}: in ap-northeast-1, eu-west-1 (2 of " in err
    assert out.splitlines() == [
        f"{run_dir}/logs/lambda/ap-northeast-1.{FUNCTION}.log (8 events)",
        f"{run_dir}/logs/lambda/eu-west-1.{FUNCTION}.log (12 events)",
    ]
    assert sorted(p.name for p in (run_dir / "logs" / "lambda").iterdir()) == [
        f"ap-northeast-1.{FUNCTION}.log",
        f"eu-west-1.{FUNCTION}.log",
    ]


def test_a_region_that_refuses_is_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    import boto3
    from botocore.stub import Stubber

    from chaos.aws_api import AwsApi, AwsError
    from edgedrill.commands.logs import find_log_regions

    stubs: list[Stubber] = []

    def client_for(answers: dict[str, Any]) -> Any:
        def make(region: str) -> Any:
            client = boto3.client(
                "logs",
                region_name=region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            stub = Stubber(client)
            answer = answers[region]
            if isinstance(answer, str):
                stub.add_client_error(
                    "describe_log_groups", service_error_code=answer, http_status_code=403
                )
            else:
                stub.add_response("describe_log_groups", {"logGroups": answer})
            stub.activate()
            stubs.append(stub)
            return client

        return make

    answers: dict[str, Any] = {
        "eu-west-1": [{"logGroupName": GROUP}],
        "me-south-1": "UnrecognizedClientException",
        "us-west-2": [{"logGroupName": GROUP + "-canary"}],
    }
    found = find_log_regions(AwsApi(), FUNCTION, regions=answers, client_for=client_for(answers))
    assert found == ("eu-west-1",)
    err = capsys.readouterr().err
    assert "me-south-1: skipped, the region refuses these credentials" in err
    assert f"{GROUP}: in eu-west-1 (1 of 3 regions looked at)" in err
    # A refusal that is not the region's (no permission) is an error naming what failed.
    answers["me-south-1"] = "AccessDeniedException"
    with pytest.raises(AwsError, match=f"DescribeLogGroups on {GROUP} in me-south-1"):
        find_log_regions(AwsApi(), FUNCTION, regions=answers, client_for=client_for(answers))


@pytest.mark.slow
def test_since_until_writes_a_run_folder_report_analyses(
    moto_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _invocations(6, start=T0 + 10, region="eu-west-1")
    before = _invocations(2, start=T0 - 600, region="eu-west-1", first=100)
    put_log_lines(moto_server, "eu-west-1", before + lines)
    run_dir = tmp_path / "fetched"
    code, out, err = _cli(
        capsys,
        "fetch-logs",
        str(run_dir),
        "--function",
        FUNCTION,
        "--regions",
        "eu-west-1,ap-south-1",
        "--since",
        iso(T0),
        "--until",
        iso(T0 + 60),
        "--endpoint-url",
        moto_server,
    )
    assert code == 0, err
    assert f"eu-west-1.{FUNCTION}.log (24 events)" in out
    assert f"ap-south-1: no log group {GROUP}" in err
    info = read_run_info(run_dir / "run.json")
    assert (info.scenario, info.start, info.end) == ("fetched", T0, T0 + 60)
    document = json.loads((run_dir / "run.json").read_text())
    assert (document["function"], document["regions"]) == (FUNCTION, ["eu-west-1"])
    assert document["logs_only"] is True
    code, _, err = _cli(capsys, "report", str(run_dir))
    assert code == 0, err
    summary = json.loads((run_dir / "summary.json").read_text())
    text = json.dumps(summary)
    assert '"invocations": 6' in text, text[:2000]
    assert (run_dir / "report.html").is_file()
    # No viewer requests in a fetched window: their latency and errors are not judged
    # (skipped, never failed); the router's own thresholds are.
    outcomes = {item["key"]: item for item in summary["gate"]["thresholds"]}
    for key in ("p99_ms", "error_rate"):
        assert outcomes[key]["outcome"] == "skip", outcomes[key]
        assert "router logs only" in outcomes[key]["detail"]
    assert outcomes["router_p99_ms"]["outcome"] == "pass"
    # The folder now holds a run: a second --since into it is refused, nothing touched.
    code, _, err = _cli(
        capsys, "fetch-logs", str(run_dir), "--function", FUNCTION, "--regions", "eu-west-1",
        "--since", iso(T0), "--endpoint-url", moto_server,
    )  # fmt: skip
    assert code == 2
    assert "already holds a run" in err


@pytest.mark.slow
def test_request_id_prints_its_lines_and_region(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_log_lines(moto_server, "eu-west-1", _invocations(3, start=T0 + 1, region="eu-west-1"))
    wanted = _invocations(1, start=T0 + 5, region="ap-northeast-1", first=7)
    # Lambda's request id is the one every line carries; a router line that
    # also names CloudFront's id is found by it, and its invocation with it.
    wanted = [line.replace("00000000-0000-4000-8000-000000000007", LAMBDA_ID) for line in wanted]
    stamp, route = wanted[1].split("\t", 1)
    document = json.loads(route)
    document["cf_request_id"] = CF_ID
    wanted[1] = f"{stamp}\t{json.dumps(document)}"
    put_log_lines(
        moto_server,
        "ap-northeast-1",
        wanted + _invocations(2, start=T0 + 9, region="ap-northeast-1", first=20),
    )
    common = ["--function", FUNCTION, "--regions", "eu-west-1,ap-northeast-1"]
    common += ["--endpoint-url", moto_server]
    for searched in (LAMBDA_ID, CF_ID):
        code, stdout, err = _cli(capsys, "fetch-logs", *common, "--request-id", searched)
        assert code == 0, err
        out = stdout.splitlines()
        assert len(out) == 4, stdout
        assert all(line.startswith(f"ap-northeast-1\t{STREAM}\t") for line in out)
        assert out[0].endswith(f"START RequestId: {LAMBDA_ID} Version: 1")
        assert f"REPORT RequestId: {LAMBDA_ID}" in out[3]
        assert f"{searched}: from ap-northeast-1 (4 lines)" in err
    code, stdout, err = _cli(capsys, "fetch-logs", *common, "--request-id", "no-such-request")
    assert code == 1
    assert stdout == ""
    assert "--request-id: no-such-request is in no line of" in err
    assert "eu-west-1, ap-northeast-1" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "argument --since: 'yesterday' is not"),
        (["--since", "2999-01-01T00:00:00Z"], "argument --since: '2999-01-01T00:00:00Z' is in"),
        (["--since", "2h", "--until", "3h"], "--since: "),
        (["--until", "now"], "--until: needs --since"),
        (["--until", "soon", "--since", "1h"], "argument --until: 'soon' is not"),
        (["--regions", "eu-west-1,Mars"], "argument --regions: not a region name: Mars"),
        (["--regions", ","], "argument --regions: give at least one region"),
        (["--function", "no spaces"], "argument --function: 'no spaces' is not"),
        (["--request-id", 'a"b'], "--request-id: "),
        (["--endpoint-url", "localhost:4566"], "--endpoint-url: 'localhost:4566' needs a scheme"),
        (["--endpoint-url", "http://key:s3cret@localhost:4566"], "--endpoint-url: takes no user"),
    ],
)
def test_bad_flags_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = ["fetch-logs", str(tmp_path / "new"), "--function", FUNCTION, *argv]
    if "--function" in argv:
        full = ["fetch-logs", str(tmp_path / "new"), *argv]
    try:
        code = main(full)
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "s3cret" not in err
    assert not (tmp_path / "new").exists()


def test_a_span_needs_a_run_folder_or_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch-logs", "--function", FUNCTION, "--regions", "eu-west-1"]) == 2
    assert "RUN_DIR: required" in capsys.readouterr().err
    assert main(["fetch-logs", str(tmp_path), "--function", FUNCTION]) == 2
    err = capsys.readouterr().err
    assert "run.json" in err
    assert "--since" in err


def test_only_searchable_invocation_ids_are_followed() -> None:
    from edgedrill.commands.logs import _invocation_ids

    events = [
        {"message": json.dumps({"request_id": 'x" ?ERROR "y', "cf_request_id": CF_ID})},
        {"message": json.dumps({"request_id": "", "cf_request_id": CF_ID})},
        {"message": json.dumps({"request_id": LAMBDA_ID, "cf_request_id": CF_ID})},
        {"message": json.dumps({"request_id": CF_ID})},
        {"message": "START RequestId: 42 Version: 1"},
    ]
    assert _invocation_ids(events, CF_ID) == [LAMBDA_ID]


def test_an_error_in_one_region_stops_the_others_at_their_next_page() -> None:
    import threading
    import time

    from edgedrill.commands.logs import _Progress, in_regions

    progress = _Progress()
    pages: dict[str, int] = {}
    paging = threading.Event()

    def work(region: str) -> int:
        if region == "eu-west-1":
            paging.wait(5)  # fails once the other region is under way
            raise RuntimeError("eu-west-1 is broken")
        on_page = progress.page(region)
        for count in range(1, 201):
            on_page(count)
            pages[region] = count
            paging.set()
            time.sleep(0.01)
        return count

    with pytest.raises(RuntimeError, match="eu-west-1 is broken"):
        in_regions(["ap-south-1", "eu-west-1"], work, cancel=progress.cancel)
    # Without the cancel, ap-south-1 would read all 200 of its pages first (2 s).
    assert pages["ap-south-1"] < 50


@pytest.mark.slow
def test_a_log_file_that_cannot_be_written_is_an_error_naming_it(
    moto_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_log_lines(moto_server, "eu-west-1", _invocations(1, start=T0 + 1, region="eu-west-1"))
    run_dir = minimal_run(tmp_path / "run", [])
    (run_dir / "logs").write_text("a file where the folder goes\n")
    code, _, err = _cli(
        capsys, "fetch-logs", str(run_dir), "--function", FUNCTION, "--regions", "eu-west-1",
        "--endpoint-url", moto_server,
    )  # fmt: skip
    assert code == 2
    assert f"edgedrill fetch-logs: error: {run_dir}/logs/lambda/eu-west-1.{FUNCTION}.log" in err
    assert "Traceback" not in err
