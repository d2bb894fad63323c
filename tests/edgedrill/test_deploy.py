"""``edgedrill deploy`` against moto's server: Lambda for real, CloudFront's config and ETag.

moto keeps no ``LambdaFunctionAssociations`` on a distribution and ignores
``IfMatch``; what CloudFront does with them is tested at the seam in
``test_deploy_associations.py``. Here the requests the command sends are
observed on the wire (botocore's ``before-call`` event on the very clients the
command makes), so a dry run is shown to send no write, and a deploy to send
``UpdateDistribution`` with the ETag it read.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from chaos.aws_api import AwsApi
from edgedrill.cli import main
from router.packaging import build_package
from tests.conftest import run_edgedrill

ROUTER_CONFIG = Path(__file__).resolve().parents[2] / "router" / "config.json"
READS = {"GetFunction", "ListVersionsByFunction", "GetDistributionConfig"}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class Calls:
    """Every AWS operation the command's clients sent, with its parameters."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.sent]

    def params(self, operation: str) -> dict[str, Any]:
        (found,) = [params for name, params in self.sent if name == operation]
        return found


@dataclass
class Aws:
    """moto's server with an IAM role and a distribution, and clients on it."""

    url: str
    role: str
    distribution: str
    calls: Calls

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name="us-east-1",
            endpoint_url=self.url,
        )

    def deploy(self, *args: str, function: str = "router") -> list[str]:
        return [
            "deploy",
            "--function",
            function,
            "--distribution",
            self.distribution,
            "--role",
            self.role,
            "--endpoint-url",
            self.url,
            *args,
        ]

    def versions(self, function: str = "router") -> dict[str, str]:
        listed = self.client("lambda").list_versions_by_function(FunctionName=function)
        return {item["Version"]: item["CodeSha256"] for item in listed["Versions"]}


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_server)
    role = iam.create_role(RoleName="edge-router", AssumeRolePolicyDocument=json.dumps(TRUST))
    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=moto_server)
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "edgedrill-deploy-test",
            "Comment": "media",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "media-use1",
                        "DomainName": "media-use1.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "media-use1",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            },
        }
    )
    calls = Calls()
    make_client = AwsApi.client
    # One client per service for the whole test: botocore loads its endpoint data
    # afresh for every session, 0.4 s a client, and the commands run several times.
    clients: dict[tuple[str | None, str, str], Any] = {}

    def observed_client(self: AwsApi, service: str, region: str = "us-east-1") -> Any:
        key = (self.endpoint_url, service, region)
        if key not in clients:
            client = make_client(self, service, region)

            def record(model: Any, params: dict[str, Any], **_: Any) -> None:
                calls.sent.append((model.name, params))

            client.meta.events.register("before-parameter-build", record)
            clients[key] = client
        return clients[key]

    monkeypatch.setattr(AwsApi, "client", observed_client)
    return Aws(moto_server, role["Role"]["Arn"], created["Distribution"]["Id"], calls)


def code_sha256(config: Path, tmp_path: Path) -> tuple[str, str]:
    """The hex sha256 and Lambda's base64 CodeSha256 of the package built from ``config``."""
    package = build_package(tmp_path / "expected", config)
    digest = hashlib.sha256(package.path.read_bytes()).digest()
    return digest.hex(), base64.b64encode(digest).decode()


def changed_config(tmp_path: Path) -> Path:
    document = json.loads(ROUTER_CONFIG.read_text())
    document["min_ttl"] = 7
    path = tmp_path / "router-config.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.slow
def test_dry_run_plans_a_create_and_sends_no_write(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(aws.deploy("--dry-run")) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:router"
    assert lines[-1] == f"{arn}:1"
    assert f"create {arn}" in out
    hex_digest, b64 = code_sha256(ROUTER_CONFIG, tmp_path)
    assert f"sha256 {hex_digest} (CodeSha256 {b64})" in out
    start = lines.index("  LambdaFunctionAssociations, before -> after:")
    plan = json.loads("\n".join(lines[start + 1 : -1]))
    assert plan == {
        "DefaultCacheBehavior": {
            "before": {"Quantity": 0},
            "after": {
                "Quantity": 1,
                "Items": [
                    {
                        "LambdaFunctionARN": f"{arn}:1",
                        "EventType": "origin-request",
                        "IncludeBody": False,
                    }
                ],
            },
        }
    }
    assert set(aws.calls.operations) == {"GetFunction", "GetDistributionConfig"}
    assert aws.client("lambda").list_functions()["Functions"] == []


@pytest.mark.slow
def test_deploy_creates_publishes_and_points_the_distribution(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(aws.deploy()) == 0
    captured = capsys.readouterr()
    arn = "arn:aws:lambda:us-east-1:123456789012:function:router:1"
    assert captured.out.strip().splitlines() == [arn]
    assert "published version 1" in captured.err
    _, b64 = code_sha256(ROUTER_CONFIG, tmp_path)
    assert aws.versions() == {"$LATEST": b64, "1": b64}
    function = aws.client("lambda").get_function(FunctionName="router", Qualifier="1")
    config = function["Configuration"]
    assert (config["Handler"], config["Runtime"], config["MemorySize"], config["Timeout"]) == (
        "router.handler.handler",
        "python3.12",
        128,
        5,
    )
    assert config["Role"] == aws.role
    assert config["Architectures"] == ["x86_64"]
    assert not config.get("Environment", {}).get("Variables")
    assert aws.calls.operations.index("CreateFunction") < aws.calls.operations.index(
        "PublishVersion"
    )
    assert aws.calls.params("CreateFunction")["Publish"] is False
    assert aws.calls.params("PublishVersion")["CodeSha256"] == b64
    read_etag = aws.client("cloudfront").get_distribution_config(Id=aws.distribution)["ETag"]
    update = aws.calls.params("UpdateDistribution")
    assert update["IfMatch"] == read_etag
    associations = update["DistributionConfig"]["DefaultCacheBehavior"]
    assert associations["LambdaFunctionAssociations"] == {
        "Quantity": 1,
        "Items": [{"LambdaFunctionARN": arn, "EventType": "origin-request", "IncludeBody": False}],
    }
    # Everything else goes back as read.
    sent = json.loads(json.dumps(update["DistributionConfig"]))
    read = aws.client("cloudfront").get_distribution_config(Id=aws.distribution)
    sent["DefaultCacheBehavior"]["LambdaFunctionAssociations"] = {"Quantity": 0}
    assert sent == json.loads(json.dumps(read["DistributionConfig"]))


@pytest.mark.slow
def test_redeploy_of_the_same_package_returns_the_published_version(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(aws.deploy()) == 0
    capsys.readouterr()
    aws.calls.sent.clear()
    assert main(aws.deploy()) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1].endswith(":router:1")
    assert "unchanged since version 1: Lambda returned it, nothing new published" in captured.err
    assert "$LATEST already holds it, not uploaded" in captured.err
    assert "UpdateFunctionCode" not in aws.calls.operations
    assert "UpdateFunctionConfiguration" not in aws.calls.operations
    assert set(aws.versions()) == {"$LATEST", "1"}


@pytest.mark.slow
def test_deploy_of_a_new_config_uploads_and_publishes_the_next_version(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(aws.deploy()) == 0
    capsys.readouterr()
    aws.calls.sent.clear()
    config = changed_config(tmp_path)
    assert main(aws.deploy("--config", str(config), "--memory-mb", "256", "--timeout", "10")) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines() == [
        "arn:aws:lambda:us-east-1:123456789012:function:router:2"
    ]
    assert "configuration change: MemorySize 128 -> 256" in captured.err
    assert "configuration change: Timeout 5 -> 10" in captured.err
    _, b64 = code_sha256(config, tmp_path)
    assert aws.versions()["2"] == b64
    order = [
        aws.calls.operations.index(name)
        for name in ("UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion")
    ]
    assert order == sorted(order)
    assert aws.calls.params("PublishVersion")["CodeSha256"] == b64
    version = aws.client("lambda").get_function(FunctionName="router", Qualifier="2")
    assert version["Configuration"]["MemorySize"] == 256
    assert version["Configuration"]["Timeout"] == 10


@pytest.mark.slow
def test_dry_run_of_an_update_changes_nothing(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(aws.deploy()) == 0
    before = aws.client("lambda").get_function(FunctionName="router")["Configuration"]
    capsys.readouterr()
    aws.calls.sent.clear()
    config = changed_config(tmp_path)
    assert main(aws.deploy("--config", str(config), "--memory-mb", "512", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert (
        "update arn:aws:lambda:us-east-1:123456789012:function:router (published versions: 1)"
        in out
    )
    assert "configuration change: MemorySize 128 -> 512" in out
    assert "(expected: Lambda numbers the version as it publishes)" in out
    assert out.strip().splitlines()[-1].endswith(":router:2")
    assert set(aws.calls.operations) <= READS
    after = aws.client("lambda").get_function(FunctionName="router")["Configuration"]
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after["MemorySize"] == 128
    assert set(aws.versions()) == {"$LATEST", "1"}


def test_bad_config_exits_2_before_any_aws_call(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**json.loads(ROUTER_CONFIG.read_text()), "min_ttl": -1}))
    missing = tmp_path / "missing.json"
    for config in (bad, missing):
        assert main(aws.deploy("--config", str(config))) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"edgedrill deploy: error: {config}: config key ")
        assert "nothing published" in err
    assert aws.calls.sent == []
    assert aws.client("lambda").list_functions()["Functions"] == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--role", "arn:aws:iam::123456789012:user/deployer"], "--role: "),
        (["--role", "edge-router"], "--role: 'edge-router' is not an IAM role ARN"),
        (["--role", "arn:aws:iam::123456789012:role/edge\n"], "--role: "),
        (["--function", "router\n"], "--function: "),
        (["--role", "arn:aws:iam::1234:role/edge"], "--role: "),
        (["--function", "router:1"], "--function: 'router:1' is not a Lambda function name"),
        (["--timeout", "31"], "--timeout: 31 s is outside 1..30"),
        (["--memory-mb", "64"], "--memory-mb: 64 is outside 128..10240"),
    ],
)
def test_bad_flags_exit_2_before_any_aws_call(
    aws: Aws, flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = aws.deploy()
    flag, value = flags
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    assert main(args) == 2
    assert capsys.readouterr().err.startswith(f"edgedrill deploy: error: {message}")
    assert aws.calls.sent == []


def test_deploy_without_a_role_exits_2(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    args = aws.deploy()
    del args[args.index("--role") : args.index("--role") + 2]
    assert main(args) == 2
    assert "--role: required to deploy" in capsys.readouterr().err


@pytest.mark.slow
def test_unknown_distribution_exits_2_naming_the_call_and_publishes_nothing(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    args = aws.deploy()
    args[args.index("--distribution") + 1] = "E0NOSUCHDIST"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "edgedrill deploy: error: GetDistributionConfig on distribution E0NOSUCHDIST: "
        "NoSuchDistribution"
    )
    assert "Traceback" not in err
    assert aws.client("lambda").list_functions()["Functions"] == []


@pytest.mark.slow
def test_rollback_with_nothing_associated_exits_2(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    # moto keeps no association, so after a deploy there is still none to roll back.
    assert main(aws.deploy()) == 0
    capsys.readouterr()
    assert main(aws.deploy("--rollback")) == 2
    err = capsys.readouterr().err
    assert f"distribution {aws.distribution} has no origin-request association of router" in err
    args = aws.deploy("--rollback")
    args[args.index("--function") + 1] = "absent"
    assert main(args) == 2
    assert "function absent does not exist in us-east-1: nothing to roll back" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_cli_end_to_end_through_aws_endpoint_url(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    args = aws.deploy()
    del args[args.index("--endpoint-url") : args.index("--endpoint-url") + 2]
    dry = run_edgedrill(*args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1].endswith(":router:1")
    done = run_edgedrill(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "arn:aws:lambda:us-east-1:123456789012:function:router:1"
    ]
    for text in (dry.stdout, dry.stderr, done.stdout, done.stderr):
        assert "testing" not in text  # the fake credentials' value
    assert set(aws.versions()) == {"$LATEST", "1"}
    unknown = run_edgedrill(*args, "--profile", "no-such-profile")
    assert unknown.returncode == 2
    assert "no-such-profile" in unknown.stderr
    assert "Traceback" not in unknown.stderr


@pytest.mark.slow
def test_update_brings_a_function_to_lambda_edge_rules_without_printing_its_variables(
    aws: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    # A function made by hand: another runtime and handler, and a variable Lambda@Edge refuses.
    aws.client("lambda").create_function(
        FunctionName="router",
        Role=aws.role,
        Runtime="python3.11",
        Handler="app.main",
        Code={"ZipFile": b"PK\x05\x06" + bytes(18)},
        Environment={"Variables": {"API_TOKEN": "s3cr3t-value"}},
        Timeout=3,
        MemorySize=128,
    )
    assert main(aws.deploy()) == 0
    captured = capsys.readouterr()
    assert "configuration change: Runtime python3.11 -> python3.12" in captured.err
    assert "configuration change: Handler app.main -> router.handler.handler" in captured.err
    assert "Environment: remove 1 variable(s) (Lambda@Edge allows none)" in captured.err
    assert "s3cr3t-value" not in captured.out + captured.err
    assert "API_TOKEN" not in captured.out + captured.err
    config = aws.client("lambda").get_function(FunctionName="router", Qualifier="1")
    assert config["Configuration"]["Runtime"] == "python3.12"
    assert config["Configuration"]["Timeout"] == 5
    assert not config["Configuration"].get("Environment", {}).get("Variables")
