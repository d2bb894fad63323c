"""An AWS-mode fault as a change to one resource: applied once, undone from what was saved.

Each AWS-mode fault (:mod:`chaos.aws_bucket`, :mod:`chaos.aws_record`) is a
:class:`AwsChange`: it knows the resource's original state, what it applies,
and how to undo it. Undoing reads the resource first and decides from what
it finds, so it is idempotent and safe after a crash at any point: the change
may never have landed (nothing to restore), may be in place (restore the
original exactly), or someone may have changed the resource meanwhile (keep
their change; see each module).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chaos.aws_api import AwsApi


class Outcome(StrEnum):
    """What an undo found and did."""

    RESTORED = "restored"
    NOTHING_TO_RESTORE = "nothing to restore"
    KEPT_OTHERS = "removed only edgedrill's part"


@dataclass(frozen=True, slots=True)
class Restored:
    """The result of an undo: its outcome, what was done, and a warning for people if any."""

    outcome: Outcome
    detail: str
    warning: str = ""


class AwsChange(Protocol):
    """One AWS-mode fault: what it applies to which resource, and its undo."""

    @property
    def target(self) -> str:
        """The resource, for people: ``bucket NAME`` or ``zone ID record NAME TXT``."""
        ...

    @property
    def effect(self) -> str:
        """What a request meets while the change holds, for people."""
        ...

    def apply_document(self) -> Any:
        """The exact JSON the change applies (a policy document, a ChangeBatch)."""
        ...

    def restore_document(self) -> Any:
        """The exact JSON the undo applies when the change is in place."""
        ...

    def apply(self, api: AwsApi) -> None:
        """Make the change."""
        ...

    def restore(self, api: AwsApi) -> Restored:
        """Undo the change from the resource's current state; idempotent."""
        ...

    def to_journal(self) -> dict[str, Any]:
        """Everything the undo needs, as JSON, for the journal."""
        ...
