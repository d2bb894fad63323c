"""``edgedrill chaos inject`` in AWS mode, run in-process against moto's server.

The real signals, kill -9 and a held fault are in ``test_aws_signals.py``, with a process each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from edgedrill.cli import main

BUCKET = "drill-origin-b"
ORIGINAL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Cdn",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
            }
        ],
    }
)
# Nothing listens here: a test that must make no AWS call points its endpoint at it.
DEAD_ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that work only on moto, so a stray call fails at the endpoint, not the chain."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3(moto_server: str):
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=ORIGINAL)
    return client


def edgedrill(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``edgedrill ARGS`` in this process (for refusals: no interpreter to start)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def bucket_403(url: str, *extra: str) -> list[str]:
    return [
        "chaos", "inject", "bucket:403", "--aws-bucket", BUCKET, "--allow", f"bucket:{BUCKET}",
        "--endpoint-url", url, *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_a_dry_run_prints_the_exact_policy_and_changes_nothing(
    s3, moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = edgedrill(capsys, *bucket_403(moto_server, "--duration", "30s"))
    assert code == 0, err
    assert s3.get_bucket_policy(Bucket=BUCKET)["Policy"] == ORIGINAL
    assert out.startswith("dry run: nothing changed")
    start = out.index("{", out.index("would apply"))
    merged, end = json.JSONDecoder().raw_decode(out, start)
    assert merged["Statement"][0]["Sid"] == "Cdn"
    deny = merged["Statement"][1]
    assert deny["Sid"].startswith("EdgedrillDrill")
    assert deny["Effect"] == "Deny"
    assert "aws:CurrentTime" in deny["Condition"]["DateLessThan"]
    assert ORIGINAL in out[end:]


@pytest.mark.slow
def test_execute_holds_the_deny_then_puts_back_the_exact_text(
    s3, moto_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.json"
    code, out, err = edgedrill(
        capsys,
        *bucket_403(moto_server, "--duration", "0.5s", "--execute", "--journal", str(journal)),
    )
    assert code == 0, err
    assert s3.get_bucket_policy(Bucket=BUCKET)["Policy"] == ORIGINAL
    record = json.loads(journal.read_text())
    assert record["status"] == "restored"
    assert [e["status"] for e in record["events"]] == [
        "pending",
        "applied",
        "restoring",
        "restored",
    ]
    assert record["change"]["original"] == ORIGINAL
    assert "rolled back" in out
    assert f"every GetObject of {BUCKET} answers 403 AccessDenied" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allow", "bucket:another-bucket", "--duration", "5"], "--allow bucket:drill-origin-b"),
        (["--duration", "5"], "--allow bucket:drill-origin-b"),
        (["--allow", "bucket:drill-origin-b", "--aws-zone", "Z1"], "--aws-bucket NAME (not"),
        (["--allow", "bucket:drill-origin-b"], "--duration: required"),
        (["--allow", "bucket:drill-origin-b", "--duration", "2h"], "--duration: at most 1 h"),
        (["--allow", "nonsense", "--duration", "5"], "expected bucket:NAME or zone:ID"),
    ],
)
def test_a_bucket_target_refused_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = edgedrill(
        capsys, "chaos", "inject", "bucket:403", "--aws-bucket", BUCKET,
        "--endpoint-url", DEAD_ENDPOINT, *args,
    )  # fmt: skip
    assert code == 2
    assert message in err
    assert "cannot reach" not in err


@pytest.mark.slow
def test_a_zone_is_allowed_with_or_without_its_prefix_and_only_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["chaos", "inject", "dns:nxdomain", "--aws-zone", "/hostedzone/Z9", "--aws-record",
            "route.example", "--duration", "5", "--endpoint-url", DEAD_ENDPOINT]  # fmt: skip
    code, _, err = edgedrill(capsys, *base, "--allow", "zone:Z8")
    assert code == 2
    assert "zone:Z9 is not allowed" in err
    code, _, err = edgedrill(capsys, *base, "--allow", "zone:Z9")
    assert code == 2
    # Past the allow list, on to Route 53 (which is not there):
    assert "ListResourceRecordSets on zone Z9 record route.example. TXT: cannot reach" in err


@pytest.mark.parametrize("fault", ["bucket:503", "dns:servfail", "lambda:error"])
def test_a_spelling_without_an_aws_mode_names_those_with_one(
    capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    code, _, err = edgedrill(
        capsys, "chaos", "inject", fault, "--aws-bucket", BUCKET, "--duration", "5"
    )
    assert code == 2
    assert "AWS mode supports bucket:403" in err
    assert "dns:ttl=N" in err


def test_aws_flags_without_an_aws_target_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = edgedrill(capsys, "chaos", "inject", "bucket:503", "--execute")
    assert code == 2
    assert "--execute applies to AWS mode only" in err


@pytest.mark.slow
def test_a_record_dry_run_prints_both_change_batches(
    moto_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    route53 = boto3.client("route53", region_name="us-east-1", endpoint_url=moto_server)
    zone = route53.create_hosted_zone(Name="drill.example", CallerReference="d")["HostedZone"]["Id"]
    record: Any = {"Name": "route.drill.example.", "Type": "TXT", "TTL": 60,
              "ResourceRecords": [{"Value": '"bucket-a"'}]}  # fmt: skip
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]},
    )
    code, out, err = edgedrill(
        capsys,
        "chaos", "inject", "dns:ttl=0", "--aws-zone", zone, "--aws-record", "route.drill.example",
        "--allow", f"zone:{zone.split('/')[-1]}", "--duration", "10", "--endpoint-url", moto_server,
    )  # fmt: skip
    assert code == 0, err
    decoder = json.JSONDecoder()
    first, end = decoder.raw_decode(out, out.index("{"))
    second, _ = decoder.raw_decode(out, out.index("{", end))
    assert first["Changes"] == [{"Action": "UPSERT", "ResourceRecordSet": {**record, "TTL": 0}}]
    assert second["Changes"] == [{"Action": "UPSERT", "ResourceRecordSet": record}]
    listed = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert record in listed


def test_rollback_of_a_missing_journal_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = edgedrill(capsys, "chaos", "rollback", "--journal", str(tmp_path / "none.json"))
    assert code == 2
    assert "no such journal file" in err


@pytest.mark.slow
def test_an_aws_error_names_the_operation_and_the_resource(
    capsys: pytest.CaptureFixture[str], moto_server: str
) -> None:
    code, out, err = edgedrill(
        capsys, "chaos", "inject", "bucket:403", "--aws-bucket", "no-such-drill-bucket",
        "--allow", "bucket:no-such-drill-bucket", "--duration", "5", "--endpoint-url", moto_server,
    )  # fmt: skip
    assert code == 2
    # The last line: moto's own request log shares this process's stderr.
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "edgedrill chaos: error: GetBucketPolicy on bucket no-such-drill-bucket:"
    )
    assert "NoSuchBucket" in last
    assert "testing" not in out + last  # the fake secret key
