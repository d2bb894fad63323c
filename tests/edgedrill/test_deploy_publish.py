"""Publishing guarded by CodeSha256, which moto does not check: botocore's Stubber on Lambda."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from edgedrill import deploy

ARN = "arn:aws:lambda:us-east-1:123456789012:function:router"
ROLE = "arn:aws:iam::123456789012:role/edge-router"


def test_a_concurrent_change_to_latest_is_refused_with_nothing_associated() -> None:
    client: Any = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub"
    )
    bundle = deploy.Bundle.of(b"PK\x05\x06" + bytes(18))
    plan = deploy.Plan(
        deploy.Action.UPDATE,
        "router",
        ARN,
        deploy.Distribution(
            "E2QWRUHAPOMQZL",
            "E3UN6WX5RRO2AG",
            {"DefaultCacheBehavior": {}},  # type: ignore[typeddict-item]
        ),
        version=4,
        version_known=False,
        existing_versions=(1, 2, 3),
        spec=deploy.FunctionSpec("router", ROLE),
        bundle=bundle,
        upload_code=False,
    )
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "publish_version",
            service_error_code="InvalidParameterValueException",
            service_message="CodeSha256 (abc) is different from current CodeSha256 in $LATEST "
            "(def). Please try again with the CodeSha256 in $LATEST.",
            http_status_code=400,
            expected_params={"FunctionName": "router", "CodeSha256": bundle.code_sha256},
        )
        # No CloudFront client: reaching the distribution would fail differently.
        with pytest.raises(deploy.DeployError) as caught:
            deploy.execute(plan, client, None, lambda line: None)  # type: ignore[arg-type]
        stubber.assert_no_pending_responses()
    message = str(caught.value)
    assert message.startswith("PublishVersion on function router: InvalidParameterValueException")
    assert "(another deploy?): nothing published, re-run edgedrill deploy" in message
