"""bucket:403 on AWS against moto's server: the merged Deny, the saved policy put back exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chaos.aws_api import AwsApi
from chaos.aws_bucket import SID_PREFIX, BucketDeny
from chaos.aws_change import Outcome
from chaos.errors import TargetError

BUCKET = "drill-origin-a"
# Odd spacing and key order on purpose: the undo must give back these bytes, not a re-dump.
ORIGINAL = (
    '{"Version":"2012-10-17",  "Id": "keep-me",\n "Statement": {"Sid": "ReadForCdn", '
    '"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
    f'"Resource": "arn:aws:s3:::{BUCKET}/*"}}}}'
)
NOW = datetime(2026, 12, 2, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def s3(moto_server: str):
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def api(moto_server: str) -> AwsApi:
    return AwsApi(endpoint_url=moto_server)


def policy(s3) -> Any:
    try:
        return s3.get_bucket_policy(Bucket=BUCKET)["Policy"]
    except s3.exceptions.ClientError:
        return None


@pytest.mark.slow
def test_the_deny_is_merged_after_the_existing_statement(s3, api: AwsApi) -> None:
    s3.put_bucket_policy(Bucket=BUCKET, Policy=ORIGINAL)
    change = BucketDeny.plan(api, BUCKET, None, "X1", NOW)
    assert policy(s3) == ORIGINAL  # planning writes nothing
    change.apply(api)
    applied = json.loads(policy(s3) or "")
    assert applied["Id"] == "keep-me"
    assert applied["Statement"][0]["Sid"] == "ReadForCdn"
    assert applied["Statement"][1] == {
        "Sid": f"{SID_PREFIX}X1",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        "Condition": {"DateLessThan": {"aws:CurrentTime": "2026-12-02T14:00:00Z"}},
    }
    restored = change.restore(api)
    assert restored.outcome is Outcome.RESTORED
    assert policy(s3) == ORIGINAL


@pytest.mark.slow
def test_a_bucket_without_policy_has_none_again(s3, api: AwsApi) -> None:
    change = BucketDeny.plan(api, BUCKET, None, "X2", NOW)
    assert change.original is None
    change.apply(api)
    assert len(json.loads(policy(s3) or "")["Statement"]) == 1
    assert change.restore(api).outcome is Outcome.RESTORED
    assert policy(s3) is None
    again = change.restore(api)
    assert again.outcome is Outcome.NOTHING_TO_RESTORE
    assert not again.warning


@pytest.mark.slow
def test_a_policy_changed_meanwhile_loses_only_the_drill_statement(s3, api: AwsApi) -> None:
    s3.put_bucket_policy(Bucket=BUCKET, Policy=ORIGINAL)
    change = BucketDeny.plan(api, BUCKET, None, "X3", NOW)
    change.apply(api)
    theirs = json.loads(change.applied)
    extra = {
        "Sid": "AddedDuringDrill",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    theirs["Statement"].append(extra)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(theirs))
    restored = change.restore(api)
    assert restored.outcome is Outcome.KEPT_OTHERS
    assert "changed" in restored.warning
    sids = [s["Sid"] for s in json.loads(policy(s3) or "")["Statement"]]
    assert sids == ["ReadForCdn", "AddedDuringDrill"]


@pytest.mark.slow
def test_a_leftover_drill_statement_is_refused(s3, api: AwsApi) -> None:
    s3.put_bucket_policy(Bucket=BUCKET, Policy=ORIGINAL)
    BucketDeny.plan(api, BUCKET, None, "Old", NOW).apply(api)
    with pytest.raises(TargetError, match=f"{SID_PREFIX}Old"):
        BucketDeny.plan(api, BUCKET, None, "New", NOW)


@pytest.mark.slow
def test_the_journal_entry_gives_back_the_same_change(s3, api: AwsApi) -> None:
    s3.put_bucket_policy(Bucket=BUCKET, Policy=ORIGINAL)
    change = BucketDeny.plan(api, BUCKET, "us-east-1", "X4", NOW)
    assert BucketDeny.from_journal(json.loads(json.dumps(change.to_journal()))) == change


@pytest.mark.slow
@pytest.mark.parametrize("original", [ORIGINAL, None], ids=["policy", "no-policy"])
def test_a_drill_statement_stored_differently_still_restores_the_saved_policy(
    s3, api: AwsApi, original: str | None
) -> None:
    # S3 may keep a statement in another form than the one sent (one action as a
    # list): the rest of the policy is untouched, so the saved text comes back.
    if original is not None:
        s3.put_bucket_policy(Bucket=BUCKET, Policy=original)
    change = BucketDeny.plan(api, BUCKET, None, "X5", NOW)
    change.apply(api)
    stored = json.loads(change.applied)
    stored["Statement"][-1]["Action"] = ["s3:GetObject"]
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(stored, separators=(",", ":")))
    restored = change.restore(api)
    assert restored.outcome is Outcome.RESTORED
    assert not restored.warning
    assert policy(s3) == original
