"""The AWS fault journal: written whole before each change, read back, undone conservatively."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chaos.aws_api import AwsApi
from chaos.aws_bucket import BucketDeny
from chaos.aws_change import Outcome
from chaos.aws_faults import AwsInjection, rollback
from chaos.aws_journal import AwsJournal, Status, load, write_atomic
from chaos.errors import JournalError

BUCKET = "drill-origin-d"
NOW = datetime(2026, 12, 2, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def s3(moto_server: str) -> Any:
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    client.create_bucket(Bucket=BUCKET)
    return client


def test_the_file_is_replaced_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "journal.json"
    write_atomic(path, "one\n")
    write_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert [p.name for p in path.parent.iterdir()] == ["journal.json"]


@pytest.mark.slow
def test_a_pending_change_that_never_landed_has_nothing_to_restore(
    s3: Any, moto_server: str, tmp_path: Path
) -> None:
    api = AwsApi(endpoint_url=moto_server)
    change = BucketDeny.plan(api, BUCKET, None, "P1", NOW)
    path = tmp_path / "journal.json"
    journal = AwsJournal.begin(path, "P1", "bucket:403", change)
    journal.record(Status.PENDING, "about to apply")  # then the process died
    loaded = load(path)
    assert loaded.status is Status.PENDING
    assert loaded.change["original"] is None
    assert loaded.documents[0] == json.loads(change.applied)
    restored = rollback(api, loaded)
    assert restored.outcome is Outcome.NOTHING_TO_RESTORE
    assert load(path).status is Status.RESTORED
    assert rollback(api, load(path)).detail == "the journal says restored"


@pytest.mark.slow
def test_a_journal_not_yet_restored_is_not_overwritten(
    s3: Any, moto_server: str, tmp_path: Path
) -> None:
    api = AwsApi(endpoint_url=moto_server)
    path = tmp_path / "journal.json"
    first = BucketDeny.plan(api, BUCKET, None, "J1", NOW)
    injection = AwsInjection(api, first, AwsJournal.begin(path, "J1", "bucket:403", first))
    injection.apply()
    with pytest.raises(JournalError, match="rollback --journal"):
        AwsJournal.begin(path, "J2", "bucket:403", first)
    assert injection.restore().outcome is Outcome.RESTORED
    assert AwsJournal.begin(path, "J2", "bucket:403", first).status is Status.PENDING


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not a readable JSON journal"),
        ('{"schema": 1}', "not an edgedrill AWS fault journal"),
        ('{"journal": "edgedrill chaos aws", "schema": 1, "status": "odd"}', "wrong field"),
    ],
)
def test_a_foreign_or_broken_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "journal.json"
    path.write_text(text)
    with pytest.raises(JournalError, match=message):
        load(path)
    with pytest.raises(JournalError, match="no such journal"):
        load(tmp_path / "missing.json")


@pytest.mark.slow
def test_no_journal_no_change(s3: Any, moto_server: str, tmp_path: Path) -> None:
    api = AwsApi(endpoint_url=moto_server)
    (tmp_path / "a-file").write_text("")
    change = BucketDeny.plan(api, BUCKET, None, "N1", NOW)
    journal = AwsJournal.begin(tmp_path / "a-file" / "journal.json", "N1", "bucket:403", change)
    injection = AwsInjection(api, change, journal)
    with pytest.raises(JournalError, match="cannot write the journal"):
        injection.apply()
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=BUCKET)
    assert injection.restore().detail == "no change was sent"
