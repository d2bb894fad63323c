"""The journal of one AWS-mode fault: a JSON file written before each change to AWS.

Written atomically (a temporary file in the same folder, fsync, rename, fsync
of the folder), so after a crash at any instant it holds either the previous
state or the next, never half of one::

    {"schema": 1, "journal": "edgedrill chaos aws", "drill_id": "...",
     "fault": "bucket:403", "target": "bucket NAME", "status": "applied",
     "change": {"type": "s3-bucket-policy", ...saved original, what is applied...},
     "apply": <JSON applied>, "restore": <JSON that restores>,
     "events": [{"at": "<UTC ISO>", "status": "pending", "detail": "..."}, ...]}

``status`` goes ``pending`` (written before the change is sent: it may or
may not have landed), ``applied``, ``restoring`` (written before the undo is
sent), ``restored``. Anything but ``restored`` means "look at the resource
and undo what is there", which the change's own undo does safely whatever it
finds. This is not a drill run folder's ``journal.json`` (:mod:`chaos.journal`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.errors import JournalError

if TYPE_CHECKING:
    from chaos.aws_change import AwsChange

SCHEMA = 1
KIND = "edgedrill chaos aws"


class Status(StrEnum):
    """Where the fault's change stands."""

    PENDING = "pending"
    APPLIED = "applied"
    RESTORING = "restoring"
    RESTORED = "restored"


class AwsJournal:
    """One fault's journal file: its change, status and events, rewritten whole on each record."""

    def __init__(
        self,
        path: Path,
        *,
        drill_id: str,
        fault: str,
        change: dict[str, Any],
        target: str = "",
        documents: tuple[Any, Any] = (None, None),
        status: Status = Status.PENDING,
        events: list[dict[str, str]] | None = None,
    ) -> None:
        """A journal for ``change`` at ``path`` (nothing is written until :meth:`record`)."""
        self.path = path
        self.drill_id = drill_id
        self.fault = fault
        self.change = change
        self.target = target
        self.documents = documents
        self.status = status
        self.events = list(events or [])

    @classmethod
    def begin(cls, path: Path, drill_id: str, fault: str, change: AwsChange) -> AwsJournal:
        """A new journal for ``change``; refuses a file that holds a change not yet restored."""
        if path.exists():
            previous = load(path)
            if previous.status is not Status.RESTORED:
                msg = (
                    f"{path}: holds {previous.fault} on {previous.target} with status "
                    f"{previous.status}; undo it first (edgedrill chaos rollback --journal "
                    f"{path}) or choose another --journal"
                )
                raise JournalError(msg)
        return cls(
            path,
            drill_id=drill_id,
            fault=fault,
            change=change.to_journal(),
            target=change.target,
            documents=(change.apply_document(), change.restore_document()),
        )

    def record(self, status: Status, detail: str = "") -> None:
        """Set the status, add an event, and write the whole file atomically."""
        self.status = status
        self.events.append({"at": _now(), "status": str(status), "detail": detail})
        document = {
            "schema": SCHEMA,
            "journal": KIND,
            "drill_id": self.drill_id,
            "fault": self.fault,
            "target": self.target,
            "status": str(status),
            "change": self.change,
            "apply": self.documents[0],
            "restore": self.documents[1],
            "events": self.events,
        }
        write_atomic(self.path, json.dumps(document, indent=2) + "\n")


def load(path: Path) -> AwsJournal:
    """The journal at ``path``; a missing, unreadable or foreign file is a :class:`JournalError`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JournalError(f"{path}: no such journal file") from None
    except (OSError, ValueError) as exc:
        raise JournalError(f"{path}: not a readable JSON journal ({exc})") from None
    if not isinstance(document, dict) or document.get("journal") != KIND:
        raise JournalError(f"{path}: not an edgedrill AWS fault journal")
    if document.get("schema") != SCHEMA:
        raise JournalError(f"{path}: journal schema {document.get('schema')!r}, expected {SCHEMA}")
    try:
        status = Status(document["status"])
        change = document["change"]
        events = document.get("events", [])
        if not isinstance(change, dict) or not isinstance(events, list):
            raise TypeError("change/events")
        return AwsJournal(
            path,
            drill_id=str(document["drill_id"]),
            fault=str(document["fault"]),
            change=change,
            target=str(document.get("target", "")),
            documents=(document.get("apply"), document.get("restore")),
            status=status,
            events=events,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"{path}: missing or wrong field {exc}") from None


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old file or the new, whole."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            Path(temporary).replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(temporary).unlink()
            raise
        _fsync_folder(folder)
    except OSError as exc:
        raise JournalError(f"{path}: cannot write the journal ({exc})") from None


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk (POSIX rename(2)).
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        handle = os.open(folder, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
