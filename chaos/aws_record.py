"""``dns:nxdomain``, ``dns:wrong-answer`` and ``dns:ttl=N`` on AWS: one Route 53 record set changed.

The target is every record set of one name and type in one hosted zone (TXT
by default: the router's routing record). With multivalue answer (or any
other) routing a name and type has several record sets, told apart by
``SetIdentifier``; all of them are read and saved in full, as
``ListResourceRecordSets`` returns them, and changed together in one
ChangeBatch, which Route 53 applies atomically.

============================  ==================================================
``dns:nxdomain``              DELETE every set. The name answers NXDOMAIN only
                              if no record of another type exists at it (else
                              the answer is NODATA: NOERROR with no records).
``dns:wrong-answer``          UPSERT every set with the one value the local zone
                              serves: TXT ``"wrong-answer.invalid"``, A
                              ``192.0.2.1`` (other types are refused).
``dns:ttl=N``                 UPSERT every set with the same values, TTL ``N``.
============================  ==================================================

The undo is one ChangeBatch that UPSERTs the saved sets, which brings them
back exactly whether the drill deleted or changed them. It reads the
sets first: already as saved means nothing to restore; neither as saved nor
as the drill left them means someone else changed them, and the undo stops
with a :class:`~chaos.errors.RollbackError` rather than overwrite that change.
Alias and traffic-policy record sets are refused. A change counts as done
when ``GetChange`` says ``INSYNC`` (waited for, bounded).

Unlike the bucket's Deny, a Route 53 change has no expiry of its own: after
``kill -9`` the journal is the way back (``edgedrill chaos rollback``).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.aws_api import AwsError, aws_call
from chaos.aws_change import Outcome, Restored
from chaos.errors import JournalError, RollbackError, TargetError
from edge.fault_specs import WRONG_ADDRESS, WRONG_TXT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from chaos.aws_api import AwsApi

logger = logging.getLogger(__name__)

CHANGE_TYPE = "route53-record-sets"
DEFAULT_TYPE = "TXT"
ZONE_PREFIX = "/hostedzone/"
FAULTS = ("nxdomain", "wrong-answer", "ttl")
# Wrong values per type: TXT values are quoted strings in Route 53's syntax.
_WRONG = {"TXT": f'"{WRONG_TXT}"', "A": WRONG_ADDRESS}
_MAX_PAGES = 20
_INSYNC_TIMEOUT_S = 120.0
_INSYNC_POLL_S = 2.0


def zone_id(text: str) -> str:
    """A hosted zone id without its ``/hostedzone/`` prefix."""
    text = text.strip()
    return text[len(ZONE_PREFIX) :] if text.startswith(ZONE_PREFIX) else text


def fqdn(name: str) -> str:
    r"""A record name as Route 53 lists it: lower case, with its final dot, ``*`` as ``\052``.

    Route 53 lists a wildcard's ``*`` in octal (the "DNS domain name format"
    page of the Route 53 developer guide), so names compare in that form.
    """
    name = name.strip().lower().replace("*", "\\052")
    return name if name.endswith(".") else f"{name}."


def read_sets(route53: Any, zone: str, name: str, record_type: str) -> list[dict[str, Any]]:
    """Every record set named ``name`` of ``record_type`` in ``zone``, as Route 53 lists them."""
    resource = f"zone {zone} record {name} {record_type}"
    request: dict[str, Any] = {
        "HostedZoneId": zone,
        "StartRecordName": name,
        "StartRecordType": record_type,
    }
    found: list[dict[str, Any]] = []
    # Sets are listed in name-then-type order, so those wanted come first and together.
    for _ in range(_MAX_PAGES):
        with aws_call("ListResourceRecordSets", resource):
            page = route53.list_resource_record_sets(**request)
        for record_set in page.get("ResourceRecordSets", []):
            if fqdn(record_set["Name"]) != name or record_set["Type"] != record_type:
                return found
            found.append(dict(record_set))
        if not page.get("IsTruncated"):
            return found
        request["StartRecordName"] = page["NextRecordName"]
        request["StartRecordType"] = page["NextRecordType"]
        if page.get("NextRecordIdentifier"):
            request["StartRecordIdentifier"] = page["NextRecordIdentifier"]
        else:
            request.pop("StartRecordIdentifier", None)
    msg = f"{resource}: more than {_MAX_PAGES} pages of record sets; refusing to guess"
    raise TargetError(msg)


def canonical(sets: Iterable[dict[str, Any]]) -> list[str]:
    """Record sets in a form that compares equal whatever the order of sets and values."""
    forms = []
    for record_set in sets:
        form = dict(record_set)
        form["Name"] = fqdn(str(form["Name"]))
        if "ResourceRecords" in form:
            form["ResourceRecords"] = sorted(form["ResourceRecords"], key=lambda r: r["Value"])
        forms.append(json.dumps(form, sort_keys=True))
    return sorted(forms)


def _changed(saved: list[dict[str, Any]], fault: str, ttl: int | None) -> list[dict[str, Any]]:
    if fault == "nxdomain":
        return []
    changed = copy.deepcopy(saved)
    for record_set in changed:
        if fault == "ttl":
            assert ttl is not None  # dns:ttl always has its value
            record_set["TTL"] = ttl
        else:
            record_set["ResourceRecords"] = [{"Value": _WRONG[record_set["Type"]]}]
    return changed


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One DNS fault on one name and type of a hosted zone, with the sets it replaces."""

    zone: str
    name: str
    record_type: str
    fault: str
    comment: str
    saved: tuple[dict[str, Any], ...]
    applied: tuple[dict[str, Any], ...]

    @classmethod
    def plan(
        cls,
        api: AwsApi,
        zone: str,
        name: str,
        record_type: str,
        fault: str,
        *,
        ttl: int | None = None,
        comment: str = "",
    ) -> RecordChange:
        """Read the record sets and build the change (no write)."""
        zone, name, record_type = zone_id(zone), fqdn(name), record_type.upper()
        where = f"zone {zone} record {name} {record_type}"
        if fault not in FAULTS:
            raise TargetError(f"{where}: dns:{fault} is not an AWS-mode fault")
        if fault == "wrong-answer" and record_type not in _WRONG:
            msg = f"{where}: dns:wrong-answer changes only {' or '.join(_WRONG)} record sets"
            raise TargetError(msg)
        saved = read_sets(api.client("route53"), zone, name, record_type)
        if not saved:
            raise TargetError(f"{where}: no such record set in the hosted zone")
        for record_set in saved:
            if "AliasTarget" in record_set or "TrafficPolicyInstanceId" in record_set:
                msg = (
                    f"{where}: alias or traffic-policy record sets are not changed by edgedrill "
                    "(only record sets with values and a TTL)"
                )
                raise TargetError(msg)
        applied = _changed(saved, fault, ttl)
        return cls(zone, name, record_type, fault, comment, tuple(saved), tuple(applied))

    @property
    def target(self) -> str:
        """``zone ID record NAME TYPE``."""
        return f"zone {self.zone} record {self.name} {self.record_type}"

    @property
    def effect(self) -> str:
        """The answers resolvers get, and how long they may keep the old ones."""
        ttl = max(int(s.get("TTL", 0)) for s in self.saved)
        if self.fault == "nxdomain":
            now = (
                f"no {self.record_type} record at {self.name} "
                "(NXDOMAIN, or NODATA if other types exist)"
            )
        elif self.fault == "wrong-answer":
            value = self.applied[0]["ResourceRecords"][0]["Value"]
            now = f"{self.record_type} {value} for {self.name}"
        else:
            now = f"the same answers for {self.name} with TTL {self.applied[0]['TTL']}"
        return f"{now}; resolvers may keep the saved answers for up to {ttl} s (their TTL)"

    def apply_document(self) -> dict[str, Any]:
        """The ChangeBatch the fault applies."""
        if self.fault == "nxdomain":
            changes = [{"Action": "DELETE", "ResourceRecordSet": s} for s in self.saved]
        else:
            changes = [{"Action": "UPSERT", "ResourceRecordSet": s} for s in self.applied]
        return self._batch(f"{self.comment} apply", changes)

    def restore_document(self) -> dict[str, Any]:
        """The ChangeBatch that brings back the saved sets exactly."""
        changes = [{"Action": "UPSERT", "ResourceRecordSet": s} for s in self.saved]
        return self._batch(f"{self.comment} restore", changes)

    def _batch(self, comment: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
        # Route 53 limits a ChangeBatch comment to 256 characters.
        return {"Comment": comment.strip()[:256], "Changes": copy.deepcopy(changes)}

    def apply(self, api: AwsApi) -> None:
        """Submit the fault's ChangeBatch and wait for it to be INSYNC."""
        self._submit(api.client("route53"), self.apply_document())

    def restore(self, api: AwsApi) -> Restored:
        """Bring back the saved sets if the drill's change is in place; refuse a third state."""
        route53 = api.client("route53")
        current = read_sets(route53, self.zone, self.name, self.record_type)
        if canonical(current) == canonical(self.saved):
            return Restored(Outcome.NOTHING_TO_RESTORE, f"{self.target} is as saved")
        if canonical(current) != canonical(self.applied):
            msg = (
                f"{self.target} was changed by someone else since the drill changed it; "
                "left as it is (the saved record sets are in the journal)"
            )
            raise RollbackError(msg)
        self._submit(route53, self.restore_document())
        count = len(self.saved)
        return Restored(
            Outcome.RESTORED,
            f"put back {count} saved record set{'' if count == 1 else 's'} of {self.target}",
        )

    def _submit(self, route53: Any, batch: dict[str, Any]) -> None:
        with aws_call("ChangeResourceRecordSets", self.target):
            info = route53.change_resource_record_sets(HostedZoneId=self.zone, ChangeBatch=batch)
        change = info["ChangeInfo"]
        wait_insync(lambda: _change_status(route53, str(change["Id"])), str(change["Status"]))

    def to_journal(self) -> dict[str, Any]:
        """The zone, name, type, fault, and the saved and applied sets."""
        return {
            "type": CHANGE_TYPE,
            "zone": self.zone,
            "name": self.name,
            "record_type": self.record_type,
            "fault": self.fault,
            "comment": self.comment,
            "saved": list(self.saved),
            "applied": list(self.applied),
        }

    @classmethod
    def from_journal(cls, entry: dict[str, Any]) -> RecordChange:
        """The change a journal entry describes."""
        try:
            saved, applied = entry["saved"], entry["applied"]
            if not isinstance(saved, list) or not isinstance(applied, list) or not saved:
                raise TypeError("saved/applied")
            if not all(isinstance(s, dict) for s in [*saved, *applied]):
                raise TypeError("saved/applied")
            change = cls(
                zone=str(entry["zone"]),
                name=fqdn(str(entry["name"])),
                record_type=str(entry["record_type"]),
                fault=str(entry["fault"]),
                comment=str(entry.get("comment", "")),
                saved=tuple(saved),
                applied=tuple(applied),
            )
        except (KeyError, TypeError) as exc:
            raise JournalError(f"record change: missing or wrong field {exc}") from None
        if change.fault not in FAULTS:
            raise JournalError(f"record change: unknown fault {change.fault!r}")
        return change


def _change_status(route53: Any, change_id: str) -> str:
    with aws_call("GetChange", change_id):
        return str(route53.get_change(Id=change_id)["ChangeInfo"]["Status"])


def wait_insync(
    status: Callable[[], str],
    first: str,
    *,
    timeout_s: float = _INSYNC_TIMEOUT_S,
    poll_s: float = _INSYNC_POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until a change is INSYNC (bounded); whether it got there.

    PENDING only means Route 53's servers have not all taken the change yet
    (the GetChange reference page); past the bound the change still lands,
    so this logs instead of failing.
    """
    deadline = clock() + timeout_s
    current = first
    while current != "INSYNC":
        if clock() >= deadline:
            logger.warning("Route 53 change still %s after %.0f s", current, timeout_s)
            return False
        sleep(poll_s)
        try:
            current = status()
        except AwsError as exc:
            logger.warning("%s", exc)
    return True
