"""``bucket:403`` on AWS: a Deny of ``s3:GetObject`` merged into the bucket's policy.

The drill adds one statement to the bucket policy, with its own ``Sid``
(``EdgedrillDrill<id>``)::

    {"Sid": "EdgedrillDrill...", "Effect": "Deny", "Principal": "*",
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::NAME/*",
     "Condition": {"DateLessThan": {"aws:CurrentTime": "<UTC ISO 8601>"}}}

An explicit Deny wins over every Allow (IAM's policy evaluation logic), so
every GET of the bucket answers 403 AccessDenied, CloudFront's origin access
included. The ``DateLessThan aws:CurrentTime`` condition is the fault's lease:
after that instant the statement no longer matches, so the fault ends by
itself even if edgedrill dies and nobody rolls it back (IAM JSON policy
elements: Condition operators, date condition operators).

The undo puts back the saved policy text byte for byte, or deletes the
policy if the bucket had none (``NoSuchBucketPolicy``). A policy that is
not the one the drill put but is the saved one once the drill's statement
(found by its ``Sid``) is taken out gets the saved text back too: S3 may store
a statement in another form than the one sent. Otherwise someone edited it
meanwhile: the undo removes only the drill's statement from the current
policy and warns; it never overwrites another person's change with the saved
copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chaos.aws_api import EDGE_REGION, AwsError, aws_call
from chaos.aws_change import Outcome, Restored
from chaos.errors import JournalError, TargetError

if TYPE_CHECKING:
    from chaos.aws_api import AwsApi

CHANGE_TYPE = "s3-bucket-policy"
SID_PREFIX = "EdgedrillDrill"
POLICY_VERSION = "2012-10-17"
_NO_POLICY = "NoSuchBucketPolicy"


def deny_statement(bucket: str, sid: str, expires: datetime) -> dict[str, Any]:
    """The drill's Deny of ``s3:GetObject`` on every key of ``bucket``, until ``expires``."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"DateLessThan": {"aws:CurrentTime": iso_utc(expires)}},
    }


def iso_utc(moment: datetime) -> str:
    """``2026-12-02T14:05:00Z``: the form IAM's date conditions take."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_policy(s3: Any, bucket: str) -> str | None:
    """The bucket's policy text as S3 returns it, or ``None`` if it has none."""
    try:
        with aws_call("GetBucketPolicy", f"bucket {bucket}"):
            return str(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except AwsError as exc:
        if exc.code == _NO_POLICY:
            return None
        raise


def merged_policy(original: str | None, statement: dict[str, Any], bucket: str) -> str:
    """``original`` with ``statement`` appended (a new policy if there is none), as JSON text."""
    if original is None:
        document: dict[str, Any] = {"Version": POLICY_VERSION, "Statement": []}
    else:
        document = _parse(original, f"bucket {bucket}'s policy")
    statements = _statements(document)
    for existing in statements:
        sid = str(existing.get("Sid", "")) if isinstance(existing, dict) else ""
        if sid.startswith(SID_PREFIX):
            msg = (
                f"bucket {bucket}'s policy already holds statement {sid} of an earlier drill; "
                "undo it first (edgedrill chaos rollback --journal FILE) or remove that statement"
            )
            raise TargetError(msg)
    document["Statement"] = [*statements, statement]
    return json.dumps(document, indent=2)


def _parse(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise TargetError(f"{what} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise TargetError(f"{what} is not a JSON object")
    return document


def _statements(document: dict[str, Any]) -> list[Any]:
    # The policy grammar allows one statement object instead of a list.
    statement = document.get("Statement", [])
    return list(statement) if isinstance(statement, list) else [statement]


@dataclass(frozen=True, slots=True)
class BucketDeny:
    """The Deny statement merged into one bucket's policy, with the original it replaces."""

    bucket: str
    region: str | None
    sid: str
    expires: str
    original: str | None
    applied: str

    @classmethod
    def plan(
        cls, api: AwsApi, bucket: str, region: str | None, drill_id: str, expires: datetime
    ) -> BucketDeny:
        """Read the bucket's policy and build the merged one (no write)."""
        sid = f"{SID_PREFIX}{drill_id}"
        original = read_policy(api.client("s3", region or EDGE_REGION), bucket)
        statement = deny_statement(bucket, sid, expires)
        return cls(
            bucket,
            region,
            sid,
            iso_utc(expires),
            original,
            merged_policy(original, statement, bucket),
        )

    @property
    def target(self) -> str:
        """``bucket NAME``."""
        return f"bucket {self.bucket}"

    @property
    def effect(self) -> str:
        """Every GetObject denied until the statement expires."""
        return (
            f"every GetObject of {self.bucket} answers 403 AccessDenied (statement {self.sid}, "
            f"which expires by itself at {self.expires})"
        )

    def apply_document(self) -> Any:
        """The merged policy document."""
        return json.loads(self.applied)

    def restore_document(self) -> Any:
        """The saved policy (``None``: the policy is deleted)."""
        return None if self.original is None else json.loads(self.original)

    def apply(self, api: AwsApi) -> None:
        """Put the merged policy."""
        self._put(self._s3(api), self.applied)

    def restore(self, api: AwsApi) -> Restored:
        """Put back the saved text (or delete), or remove only the drill's statement."""
        s3 = self._s3(api)
        current_text = read_policy(s3, self.bucket)
        current = None if current_text is None else _parse(current_text, f"{self.target}'s policy")
        if current == json.loads(self.applied):
            if self.original is None:
                self._delete(s3)
                return Restored(Outcome.RESTORED, f"deleted {self.target}'s policy (it had none)")
            self._put(s3, self.original)
            return Restored(Outcome.RESTORED, f"put back {self.target}'s saved policy exactly")
        statements = [] if current is None else _statements(current)
        ours = [s for s in statements if isinstance(s, dict) and s.get("Sid") == self.sid]
        if not ours:
            saved = None if self.original is None else json.loads(self.original)
            if current == saved:
                return Restored(Outcome.NOTHING_TO_RESTORE, f"{self.target}'s policy is as saved")
            return Restored(
                Outcome.NOTHING_TO_RESTORE,
                f"{self.target}'s policy holds no statement {self.sid}",
                warning=f"{self.target}'s policy was changed by someone else; left as it is",
            )
        assert current is not None  # ours is non-empty only when there is a policy
        rest = [s for s in statements if s not in ours]
        if self._is_original(current, rest):
            # The policy is not byte-for-byte the one put (S3 may store a statement
            # a little differently from how it was sent), but without the drill's
            # statement it is the saved one: nobody else changed it.
            if self.original is None:
                self._delete(s3)
                return Restored(Outcome.RESTORED, f"deleted {self.target}'s policy (it had none)")
            self._put(s3, self.original)
            return Restored(Outcome.RESTORED, f"put back {self.target}'s saved policy exactly")
        warning = (
            f"{self.target}'s policy was changed while the drill ran; removed only statement "
            f"{self.sid} and kept the rest (not the saved copy)"
        )
        if not rest:
            # S3 refuses a policy without statements.
            self._delete(s3)
            return Restored(Outcome.KEPT_OTHERS, f"deleted {self.target}'s policy", warning)
        current["Statement"] = rest
        self._put(s3, json.dumps(current, indent=2))
        return Restored(Outcome.KEPT_OTHERS, f"removed statement {self.sid}", warning)

    def _is_original(self, current: dict[str, Any], rest: list[Any]) -> bool:
        """Whether ``current`` without the drill's statement (``rest`` left) is the saved policy."""
        if self.original is None or not rest:
            return self.original is None and not rest
        saved = _parse(self.original, f"{self.target}'s saved policy")
        return {**current, "Statement": rest} == {**saved, "Statement": _statements(saved)}

    def _s3(self, api: AwsApi) -> Any:
        return api.client("s3", self.region or EDGE_REGION)

    def _put(self, s3: Any, text: str) -> None:
        with aws_call("PutBucketPolicy", self.target):
            s3.put_bucket_policy(Bucket=self.bucket, Policy=text)

    def _delete(self, s3: Any) -> None:
        with aws_call("DeleteBucketPolicy", self.target):
            s3.delete_bucket_policy(Bucket=self.bucket)

    def to_journal(self) -> dict[str, Any]:
        """The bucket, its region, the Sid, the saved original and the applied text."""
        return {
            "type": CHANGE_TYPE,
            "bucket": self.bucket,
            "region": self.region,
            "sid": self.sid,
            "expires": self.expires,
            "original": self.original,
            "applied": self.applied,
        }

    @classmethod
    def from_journal(cls, entry: dict[str, Any]) -> BucketDeny:
        """The change a journal entry describes."""
        try:
            change = cls(
                bucket=_text(entry["bucket"]),
                region=None if entry["region"] is None else _text(entry["region"]),
                sid=_text(entry["sid"]),
                expires=_text(entry["expires"]),
                original=None if entry["original"] is None else _text(entry["original"]),
                applied=_text(entry["applied"]),
            )
        except (KeyError, TypeError) as exc:
            raise JournalError(f"bucket change: missing or wrong field {exc}") from None
        if not change.sid.startswith(SID_PREFIX):
            raise JournalError(f"bucket change: sid {change.sid!r} is not an edgedrill Sid")
        return change


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(repr(value))
    return value
