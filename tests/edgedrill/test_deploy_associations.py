"""The distribution's origin-request association, at the CloudFront seam.

moto 5.2 keeps no ``LambdaFunctionAssociations`` and ignores ``IfMatch``, so
CloudFront is botocore's ``Stubber`` here, on a real client: the responses are
validated against CloudFront's own output shapes and the ``UpdateDistribution``
request against the expected parameters. Lambda stays moto's server.
"""

from __future__ import annotations

import copy
import datetime
import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from chaos.aws_api import AwsApi, AwsError
from edgedrill import deploy
from edgedrill.cli import main
from tests.edgedrill.test_deploy import TRUST

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT = "123456789012"
ROUTER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:router"
VIEWER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:viewer-auth:4"
OTHER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:legacy-router:9"
DISTRIBUTION = "E2QWRUHAPOMQZL"
ETAG = "E3UN6WX5RRO2AG"


def association(arn: str, event: str = "origin-request") -> dict[str, Any]:
    return {"LambdaFunctionARN": arn, "EventType": event, "IncludeBody": False}


def associations(*items: dict[str, Any]) -> dict[str, Any]:
    return {"Quantity": len(items), "Items": list(items)} if items else {"Quantity": 0}


def behaviour(origin: str, assoc: dict[str, Any], path: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "TargetOriginId": origin,
        "ViewerProtocolPolicy": "redirect-to-https",
        "AllowedMethods": {
            "Quantity": 3,
            "Items": ["GET", "HEAD", "OPTIONS"],
            "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
        },
        "Compress": True,
        "LambdaFunctionAssociations": assoc,
        "FunctionAssociations": {"Quantity": 0},
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    }
    if path is not None:
        found = {"PathPattern": path, **found}
    return found


def distribution_config(
    default: dict[str, Any], video: dict[str, Any], static: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A distribution config as GetDistributionConfig returns it: two S3 origins in a group."""
    origins = [
        {
            "Id": origin,
            "DomainName": f"media-{origin}.s3.{region}.amazonaws.com",
            "OriginPath": "",
            "CustomHeaders": {"Quantity": 0},
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "ConnectionAttempts": 3,
            "ConnectionTimeout": 10,
            "OriginShield": {"Enabled": False},
            "OriginAccessControlId": "E1OACEXAMPLE",
        }
        for origin, region in (("use1", "us-east-1"), ("euw1", "eu-west-1"))
    ]
    return {
        "CallerReference": "media-2024",
        "Aliases": {"Quantity": 1, "Items": ["media.example.com"]},
        "DefaultRootObject": "",
        "Origins": {"Quantity": 2, "Items": origins},
        "OriginGroups": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "media",
                    "FailoverCriteria": {
                        "StatusCodes": {"Quantity": 4, "Items": [500, 502, 503, 504]}
                    },
                    "Members": {
                        "Quantity": 2,
                        "Items": [{"OriginId": "use1"}, {"OriginId": "euw1"}],
                    },
                }
            ],
        },
        "DefaultCacheBehavior": behaviour("media", default),
        "CacheBehaviors": {
            "Quantity": 2,
            "Items": [
                behaviour("media", video, "/video/*"),
                behaviour("use1", static or associations(), "/static/*"),
            ],
        },
        "CustomErrorResponses": {"Quantity": 0},
        "Comment": "media, two regions",
        "Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""},
        "PriceClass": "PriceClass_All",
        "Enabled": True,
        "ViewerCertificate": {
            "CloudFrontDefaultCertificate": True,
            "MinimumProtocolVersion": "TLSv1",
            "CertificateSource": "cloudfront",
        },
        "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
        "WebACLId": "",
        "HttpVersion": "http2",
        "IsIPV6Enabled": True,
    }


def live_config(version: int) -> dict[str, Any]:
    """Viewer-request of another function, and the router's origin-request on two behaviours."""
    return distribution_config(
        associations(association(VIEWER, "viewer-request"), association(f"{ROUTER}:{version}")),
        associations(association(f"{ROUTER}:{version}")),
    )


def with_router_at(config: dict[str, Any], version: int) -> dict[str, Any]:
    """``config`` with exactly the router's two origin-request ARNs at ``version``."""
    expected = copy.deepcopy(config)
    default = expected["DefaultCacheBehavior"]["LambdaFunctionAssociations"]["Items"]
    default[1]["LambdaFunctionARN"] = f"{ROUTER}:{version}"
    video = expected["CacheBehaviors"]["Items"][0]["LambdaFunctionAssociations"]["Items"]
    video[0]["LambdaFunctionARN"] = f"{ROUTER}:{version}"
    return expected


def updated(config: dict[str, Any]) -> dict[str, Any]:
    """An UpdateDistribution response."""
    return {
        "Distribution": {
            "Id": DISTRIBUTION,
            "ARN": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{DISTRIBUTION}",
            "Status": "InProgress",
            "LastModifiedTime": datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC),
            "InProgressInvalidationBatches": 0,
            "DomainName": "d111111abcdef8.cloudfront.net",
            "DistributionConfig": config,
        },
        "ETag": "E1NEWETAG2DIST",
    }


@pytest.fixture
def cloudfront() -> Iterator[tuple[Any, Stubber]]:
    """A real CloudFront client whose calls the Stubber answers (and checks)."""
    client = boto3.client(
        "cloudfront",
        region_name="us-east-1",
        aws_access_key_id="stub",
        aws_secret_access_key="stub",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def stub_read(stubber: Stubber, config: dict[str, Any]) -> None:
    stubber.add_response(
        "get_distribution_config",
        {"DistributionConfig": config, "ETag": ETAG},
        {"Id": DISTRIBUTION},
    )


def stub_update(stubber: Stubber, expected: dict[str, Any]) -> None:
    stubber.add_response(
        "update_distribution",
        updated(expected),
        {"Id": DISTRIBUTION, "IfMatch": ETAG, "DistributionConfig": expected},
    )


def test_update_sends_the_read_etag_and_only_the_changed_arns(
    cloudfront: tuple[Any, Stubber],
) -> None:
    client, stubber = cloudfront
    config = live_config(3)
    stub_read(stubber, config)
    expected = with_router_at(config, 4)
    stub_update(stubber, expected)
    distribution = deploy.read_distribution(client, DISTRIBUTION)
    assert distribution.etag == ETAG
    change = deploy.retarget(distribution.config, ROUTER, f"{ROUTER}:4")
    assert not change.added_to_default
    assert [item.behaviour for item in change.changes] == [
        "DefaultCacheBehavior",
        "CacheBehaviors[0] (/video/*)",
    ]
    assert change.changes[0].before == config["DefaultCacheBehavior"]["LambdaFunctionAssociations"]
    assert change.changes[0].after["Items"] == [
        association(VIEWER, "viewer-request"),
        association(f"{ROUTER}:4"),
    ]
    assert deploy.update_distribution(client, distribution, change.config) == "E1NEWETAG2DIST"
    # The config read is left as it was: the plan can be shown and re-applied.
    assert distribution.config == config


def refused_update(cloudfront: tuple[Any, Stubber], code: str, message: str, status: int) -> Any:
    """Read the distribution, have UpdateDistribution refused with ``code``: the error raised."""
    client, stubber = cloudfront
    stub_read(stubber, live_config(3))
    stubber.add_client_error(
        "update_distribution",
        service_error_code=code,
        service_message=message,
        http_status_code=status,
    )
    distribution = deploy.read_distribution(client, DISTRIBUTION)
    change = deploy.retarget(distribution.config, ROUTER, f"{ROUTER}:4")
    with pytest.raises((AwsError, deploy.DeployError)) as caught:
        deploy.update_distribution(client, distribution, change.config)
    return caught.value


def test_precondition_failed_names_the_distribution_and_says_re_run(
    cloudfront: tuple[Any, Stubber],
) -> None:
    error = refused_update(
        cloudfront,
        "PreconditionFailed",
        "The If-Match version is missing or not valid for the resource.",
        412,
    )
    assert isinstance(error, deploy.DeployError)
    message = str(error)
    assert f"distribution {DISTRIBUTION} changed since it was read (ETag {ETAG})" in message
    assert "re-run edgedrill deploy" in message
    assert error.exit_code == 2


def test_other_update_errors_name_the_operation_and_distribution(
    cloudfront: tuple[Any, Stubber],
) -> None:
    error = refused_update(
        cloudfront,
        "InvalidLambdaFunctionAssociation",
        "The function must be in region us-east-1",
        400,
    )
    assert isinstance(error, AwsError)
    assert str(error).startswith(f"UpdateDistribution on distribution {DISTRIBUTION}")


def test_without_an_association_one_is_added_to_the_default_behaviour() -> None:
    config = distribution_config(
        associations(association(VIEWER, "viewer-request")),
        associations(association(VIEWER, "viewer-request")),
    )
    change = deploy.retarget(config, ROUTER, f"{ROUTER}:1")  # type: ignore[arg-type]
    assert change.added_to_default
    expected = copy.deepcopy(config)
    expected["DefaultCacheBehavior"]["LambdaFunctionAssociations"] = associations(
        association(VIEWER, "viewer-request"), association(f"{ROUTER}:1")
    )
    assert change.config == expected


def test_another_functions_origin_request_on_the_default_behaviour_is_refused() -> None:
    config = distribution_config(associations(association(OTHER)), associations())
    with pytest.raises(
        deploy.DeployError, match=r"its origin-request trigger is .*legacy-router:9"
    ):
        deploy.retarget(config, ROUTER, f"{ROUTER}:1")  # type: ignore[arg-type]


def test_another_functions_origin_request_elsewhere_stays() -> None:
    config = live_config(3)
    config["CacheBehaviors"]["Items"][1]["LambdaFunctionAssociations"] = associations(
        association(OTHER)
    )
    change = deploy.retarget(config, ROUTER, f"{ROUTER}:4")  # type: ignore[arg-type]
    assert change.config == with_router_at(config, 4)


@pytest.mark.parametrize(
    "stranger",
    [
        "arn:aws:lambda:us-east-1:210987654321:function:router:3",
        f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:router:3",
        f"{ROUTER}-canary:3",
    ],
    ids=["other-account", "other-region", "longer-name"],
)
def test_the_same_name_elsewhere_or_a_longer_name_stays(stranger: str) -> None:
    # Matched on the whole unqualified ARN, never on the function's name alone.
    config = live_config(3)
    config["CacheBehaviors"]["Items"][1]["LambdaFunctionAssociations"] = associations(
        association(stranger)
    )
    change = deploy.retarget(config, ROUTER, f"{ROUTER}:4")  # type: ignore[arg-type]
    assert change.config == with_router_at(config, 4)
    static = change.config["CacheBehaviors"]["Items"][1]["LambdaFunctionAssociations"]
    assert static["Items"] == [association(stranger)]


# --- with moto's Lambda ---------------------------------------------------------------


def tiny_zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("router/handler.py", text)
    return buffer.getvalue()


@pytest.fixture
def lambda_client(moto_server: str) -> Any:
    """moto's Lambda with ``router`` published three times (versions 1, 2, 3)."""
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_server)
    role = iam.create_role(RoleName="edge-router", AssumeRolePolicyDocument=json.dumps(TRUST))
    client = boto3.client("lambda", region_name="us-east-1", endpoint_url=moto_server)
    client.create_function(
        FunctionName="router",
        Role=role["Role"]["Arn"],
        Runtime="python3.12",
        Handler="router.handler.handler",
        Code={"ZipFile": tiny_zip("v1")},
        Timeout=5,
        MemorySize=128,
    )
    client.publish_version(FunctionName="router")
    for text in ("v2", "v3"):
        client.update_function_code(FunctionName="router", ZipFile=tiny_zip(text))
        client.publish_version(FunctionName="router")
    return client


def versions(client: Any) -> list[str]:
    listed = client.list_versions_by_function(FunctionName="router")["Versions"]
    return [item["Version"] for item in listed]


def test_rollback_repoints_every_behaviour_to_the_previous_version(
    lambda_client: Any, cloudfront: tuple[Any, Stubber]
) -> None:
    client, stubber = cloudfront
    config = live_config(3)
    stub_read(stubber, config)
    stub_update(stubber, with_router_at(config, 2))
    plan = deploy.plan_rollback(lambda_client, client, "router", DISTRIBUTION)
    assert (plan.action, plan.version, plan.associated_versions) == ("rollback", 2, (3,))
    lines: list[str] = []
    assert deploy.execute(plan, lambda_client, client, lines.append) == f"{ROUTER}:2"
    assert versions(lambda_client) == ["$LATEST", "1", "2", "3"]
    assert any("CacheBehaviors[0] (/video/*)" in line for line in lines)


def test_rollback_finds_the_previous_version_numerically(
    lambda_client: Any, cloudfront: tuple[Any, Stubber]
) -> None:
    for _ in range(8):  # versions 4 .. 11: "10" sorts before "9" as text
        lambda_client.update_function_configuration(
            FunctionName="router", MemorySize=129 + len(versions(lambda_client))
        )
        lambda_client.publish_version(FunctionName="router")
    client, stubber = cloudfront
    stub_read(stubber, live_config(11))
    plan = deploy.plan_rollback(lambda_client, client, "router", DISTRIBUTION)
    assert plan.version == 10


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (live_config(1), "no published version before 1 to roll back to"),
        (
            distribution_config(
                associations(association(f"{ROUTER}:3")), associations(association(f"{ROUTER}:2"))
            ),
            "cache behaviours point at different versions of router (2, 3)",
        ),
        (
            distribution_config(associations(association(ROUTER)), associations()),
            "names (unqualified), not a numbered version",
        ),
    ],
)
def test_rollback_refuses_what_it_cannot_roll_back(
    lambda_client: Any, cloudfront: tuple[Any, Stubber], config: dict[str, Any], message: str
) -> None:
    client, stubber = cloudfront
    stub_read(stubber, config)
    with pytest.raises(deploy.DeployError, match=message.replace("(", r"\(").replace(")", r"\)")):
        deploy.plan_rollback(lambda_client, client, "router", DISTRIBUTION)


def test_deploy_repoints_both_behaviours_to_the_new_version(
    lambda_client: Any, cloudfront: tuple[Any, Stubber]
) -> None:
    client, stubber = cloudfront
    config = live_config(3)
    stub_read(stubber, config)
    stub_update(stubber, with_router_at(config, 4))
    role = lambda_client.get_function(FunctionName="router")["Configuration"]["Role"]
    spec = deploy.FunctionSpec("router", role)
    bundle = deploy.Bundle.of(tiny_zip("v4"))
    plan = deploy.plan_deploy(lambda_client, client, spec, bundle, DISTRIBUTION)
    assert (plan.action, plan.version, plan.version_known) == ("update", 4, False)
    assert plan.existing_versions == (1, 2, 3)
    lines: list[str] = []
    assert deploy.execute(plan, lambda_client, client, lines.append) == f"{ROUTER}:4"
    assert "published version 4" in lines
    published = lambda_client.get_function(FunctionName="router", Qualifier="4")
    assert published["Configuration"]["CodeSha256"] == bundle.code_sha256


def test_a_refused_default_behaviour_publishes_nothing(
    lambda_client: Any, cloudfront: tuple[Any, Stubber]
) -> None:
    client, stubber = cloudfront
    stub_read(stubber, distribution_config(associations(association(OTHER)), associations()))
    role = lambda_client.get_function(FunctionName="router")["Configuration"]["Role"]
    spec = deploy.FunctionSpec("router", role)
    with pytest.raises(deploy.DeployError, match="legacy-router:9, another function"):
        deploy.plan_deploy(
            lambda_client, client, spec, deploy.Bundle.of(tiny_zip("v4")), DISTRIBUTION
        )
    assert versions(lambda_client) == ["$LATEST", "1", "2", "3"]


def test_cli_rollback_dry_run_prints_the_plan_and_sends_no_write(
    lambda_client: Any,
    cloudfront: tuple[Any, Stubber],
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, stubber = cloudfront
    config = live_config(3)
    # Only the read is stubbed: a write would find no response and fail the test.
    stub_read(stubber, config)

    def clients(self: AwsApi, service: str, region: str = "us-east-1") -> Any:
        return client if service == "cloudfront" else lambda_client

    monkeypatch.setattr(AwsApi, "client", clients)
    code = main(
        [
            *("deploy", "--function", "router", "--distribution", DISTRIBUTION),
            *("--rollback", "--dry-run", "--endpoint-url", moto_server),
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"{ROUTER}:2"
    assert f"  version: associated now 3; back to the previous one, {ROUTER}:2" in lines
    start = lines.index("  LambdaFunctionAssociations, before -> after:")
    plan = json.loads("\n".join(lines[start + 1 : -1]))
    expected = with_router_at(config, 2)
    assert plan == {
        "DefaultCacheBehavior": {
            "before": config["DefaultCacheBehavior"]["LambdaFunctionAssociations"],
            "after": expected["DefaultCacheBehavior"]["LambdaFunctionAssociations"],
        },
        "CacheBehaviors[0] (/video/*)": {
            "before": config["CacheBehaviors"]["Items"][0]["LambdaFunctionAssociations"],
            "after": expected["CacheBehaviors"]["Items"][0]["LambdaFunctionAssociations"],
        },
    }
    assert versions(lambda_client) == ["$LATEST", "1", "2", "3"]
