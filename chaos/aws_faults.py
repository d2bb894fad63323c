"""AWS-mode faults: which spellings apply to AWS, on which allowed target, journaled both ways.

Four spellings of :mod:`chaos.faults` have an AWS mode:

* ``bucket:403`` on a bucket (:mod:`chaos.aws_bucket`: a Deny in its policy
  that expires by itself :data:`EXPIRY_MARGIN_S` after the fault's duration);
* ``dns:nxdomain``, ``dns:wrong-answer``, ``dns:ttl=N`` on one record name
  and type of a Route 53 hosted zone (:mod:`chaos.aws_record`).

A target must be listed in an allow list (``bucket:NAME``, ``zone:ID``, the
zone id with or without ``/hostedzone/``), checked before any AWS call.
:class:`AwsInjection` writes the journal (:mod:`chaos.aws_journal`) before
each change and after it; :func:`rollback` undoes a journaled change after a
crash. AWS-mode faults hit every request: no ``probability``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chaos import aws_bucket, aws_record
from chaos.aws_bucket import BucketDeny
from chaos.aws_change import Outcome, Restored
from chaos.aws_journal import Status
from chaos.aws_record import RecordChange, zone_id
from chaos.errors import FaultSyntaxError, JournalError, NotAllowedError
from chaos.faults import FaultKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chaos.aws_api import AwsApi
    from chaos.aws_change import AwsChange
    from chaos.aws_journal import AwsJournal
    from chaos.faults import Fault

logger = logging.getLogger(__name__)

BUCKET_KINDS = (FaultKind.BUCKET_403,)
RECORD_KINDS = (FaultKind.DNS_NXDOMAIN, FaultKind.DNS_WRONG_ANSWER, FaultKind.DNS_TTL)
AWS_SPELLINGS = (
    "bucket:403 (with --aws-bucket), dns:nxdomain, dns:wrong-answer, dns:ttl=N "
    "(with --aws-zone and --aws-record)"
)
MAX_DURATION_S = 3600.0
# The Deny outlives the planned duration by this much, so a slow rollback or a
# clock a little off never lets the fault end early; short enough to matter
# if nobody rolls it back.
EXPIRY_MARGIN_S = 60.0


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """The AWS resource a fault applies to: a bucket, or a record name and type in a zone."""

    bucket: str | None = None
    region: str | None = None
    zone: str | None = None
    record: str | None = None
    record_type: str = aws_record.DEFAULT_TYPE

    @property
    def allow_key(self) -> str:
        """How the allow list names it: ``bucket:NAME`` or ``zone:ID``."""
        if self.bucket is not None:
            return f"bucket:{self.bucket}"
        return f"zone:{zone_id(self.zone or '')}"


def check_target(fault: Fault, target: AwsTarget) -> None:
    """Refuse a spelling without an AWS mode, or a target of the wrong kind."""
    if fault.kind in BUCKET_KINDS:
        if target.bucket is None or target.zone is not None or target.record is not None:
            msg = f"{fault.spelling} on AWS takes --aws-bucket NAME (not --aws-zone/--aws-record)"
            raise FaultSyntaxError(msg)
    elif fault.kind in RECORD_KINDS:
        if target.bucket is not None or target.zone is None or target.record is None:
            msg = (
                f"{fault.spelling} on AWS takes --aws-zone ID and --aws-record NAME "
                "(not --aws-bucket)"
            )
            raise FaultSyntaxError(msg)
    else:
        msg = f"{fault.spelling} has no AWS mode; AWS mode supports {AWS_SPELLINGS}"
        raise FaultSyntaxError(msg)
    if fault.probability != 1.0:
        msg = f"{fault.spelling}: an AWS-mode fault applies to every request (no probability)"
        raise FaultSyntaxError(msg)


def check_allowed(target: AwsTarget, allowed: Iterable[str]) -> None:
    """Refuse a target the allow list does not name exactly (no AWS call is made)."""
    keys = set()
    for entry in allowed:
        family, sep, name = entry.strip().partition(":")
        if not sep or family not in ("bucket", "zone") or not name:
            msg = f"--allow {entry!r}: expected bucket:NAME or zone:ID"
            raise FaultSyntaxError(msg)
        keys.add(f"zone:{zone_id(name)}" if family == "zone" else f"bucket:{name}")
    if target.allow_key not in keys:
        msg = f"{target.allow_key} is not allowed: name it with --allow {target.allow_key}"
        raise NotAllowedError(msg)


def new_drill_id(now: datetime) -> str:
    """``20261202T140500Z3fa9c1``: letters and digits only, as a policy ``Sid`` requires."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + secrets.token_hex(3)


def expiry(now: datetime, duration_s: float) -> datetime:
    """When the bucket's Deny stops matching: the duration plus :data:`EXPIRY_MARGIN_S`."""
    return now + timedelta(seconds=duration_s + EXPIRY_MARGIN_S)


def plan_change(
    api: AwsApi,
    fault: Fault,
    target: AwsTarget,
    *,
    drill_id: str,
    duration_s: float,
    now: datetime,
) -> AwsChange:
    """Read the target's current state and build the change (no write call)."""
    check_target(fault, target)
    if fault.kind in BUCKET_KINDS:
        assert target.bucket is not None  # check_target
        return BucketDeny.plan(api, target.bucket, target.region, drill_id, expiry(now, duration_s))
    assert target.zone is not None  # check_target
    assert target.record is not None
    return RecordChange.plan(
        api,
        target.zone,
        target.record,
        target.record_type,
        fault.kind.value.split(":", 1)[1],
        ttl=fault.ttl,
        comment=f"edgedrill chaos {fault.spelling} {drill_id}",
    )


def change_from_journal(entry: dict[str, Any]) -> AwsChange:
    """The change a journal's ``change`` entry describes."""
    kind = entry.get("type")
    if kind == aws_bucket.CHANGE_TYPE:
        return BucketDeny.from_journal(entry)
    if kind == aws_record.CHANGE_TYPE:
        return RecordChange.from_journal(entry)
    raise JournalError(f"unknown change type {kind!r}")


class AwsInjection:
    """One change held on AWS: journaled before and after it is applied and undone."""

    def __init__(self, api: AwsApi, change: AwsChange, journal: AwsJournal) -> None:
        """An injection of ``change``, recorded in ``journal`` (nothing is called yet)."""
        self.api = api
        self.change = change
        self.journal = journal
        self.sent = journal.status is not Status.PENDING or bool(journal.events)
        self.restored: Restored | None = None

    def apply(self) -> None:
        """Journal ``pending``, apply, journal ``applied``; no journal, no change."""
        self.journal.record(Status.PENDING, f"about to apply to {self.change.target}")
        self.sent = True
        self.change.apply(self.api)
        self.journal.record(Status.APPLIED, f"applied to {self.change.target}")

    def restore(self) -> Restored:
        """Journal ``restoring``, undo from what is there, journal ``restored`` (idempotent).

        The undo runs even if the journal cannot be written: a change left in
        place is worse than a journal a step behind (its next reader looks at
        the resource anyway).
        """
        if self.restored is not None:
            return self.restored
        if not self.sent:
            self.restored = Restored(Outcome.NOTHING_TO_RESTORE, "no change was sent")
            return self.restored
        if self.journal.status is Status.RESTORED:
            self.restored = Restored(Outcome.NOTHING_TO_RESTORE, "the journal says restored")
            return self.restored
        self._record(Status.RESTORING, f"about to undo on {self.change.target}")
        try:
            restored = self.change.restore(self.api)
        except Exception as exc:
            self._record(Status.RESTORING, f"undo failed: {exc}")
            raise
        detail = restored.detail + (f" (warning: {restored.warning})" if restored.warning else "")
        self._record(Status.RESTORED, detail)
        self.restored = restored
        return restored

    def _record(self, status: Status, detail: str) -> None:
        try:
            self.journal.record(status, detail)
        except JournalError as exc:
            logger.warning("%s (undoing anyway)", exc)


def rollback(api: AwsApi, journal: AwsJournal) -> Restored:
    """Undo the change a journal holds (nothing if it says ``restored``)."""
    change = change_from_journal(journal.change)
    return AwsInjection(api, change, journal).restore()
