"""A drill's record in its run folder: ``faults.jsonl`` and ``journal.json``.

``faults.jsonl`` gets one line per fault actually applied, written as soon as
the fault has ended, so a drill cut short still leaves every fault that ran
(the analysis shades and measures failover from these lines). ``journal.json``
is the drill as a whole, written once when it stops, atomically (a reader
never sees half a file)::

    {"schema": 1, "drill": "drill.toml", "start": ..., "end": ..., "status": "completed",
     "reason": "", "faults": [planned], "applied": [faults.jsonl lines], "rollbacks": [...]}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill_formats.run_folder import FAULTS_JSONL

if TYPE_CHECKING:
    from collections.abc import Sequence

JOURNAL_JSON = "journal.json"
SCHEMA = 1


class Status(StrEnum):
    """How a drill ended."""

    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"


class Journal:
    """Collects what a drill did and writes it to the run folder."""

    def __init__(self, run_dir: Path, drill: str, planned: Sequence[dict[str, Any]]) -> None:
        self.run_dir = run_dir
        self.drill = drill
        self.planned = list(planned)
        self.applied: list[dict[str, Any]] = []
        self.rollbacks: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def fault_applied(self, line: dict[str, Any]) -> None:
        """A fault has ended: append its line to ``faults.jsonl`` now."""
        with self._lock:
            self.applied.append(line)
            with (self.run_dir / FAULTS_JSONL).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, allow_nan=False) + "\n")

    def rolled_back(self, fault_id: str, fault: str, at: float, *, ok: bool, detail: str) -> None:
        """Note a rollback (``ok`` False: the lease ends the fault instead)."""
        with self._lock:
            self.rollbacks.append(
                {"id": fault_id, "fault": fault, "at": at, "ok": ok, "detail": detail}
            )

    def injection_failed(self, fault: str, at: float, detail: str) -> None:
        """A planned fault could not be applied."""
        with self._lock:
            self.failures.append({"fault": fault, "at": at, "detail": detail})

    def document(self, *, start: float, end: float, status: Status, reason: str) -> dict[str, Any]:
        """The ``journal.json`` document."""
        with self._lock:
            document: dict[str, Any] = {
                "schema": SCHEMA,
                "drill": self.drill,
                "start": start,
                "end": end,
                "status": str(status),
                "reason": reason,
                "faults": list(self.planned),
                "applied": list(self.applied),
                "rollbacks": list(self.rollbacks),
            }
            if self.failures:
                document["injection_failures"] = list(self.failures)
            return document

    def write(self, *, start: float, end: float, status: Status, reason: str) -> Path:
        """Write ``journal.json`` atomically; returns its path."""
        document = self.document(start=start, end=end, status=status, reason=reason)
        path = self.run_dir / JOURNAL_JSON
        fd, tmp = tempfile.mkstemp(dir=self.run_dir, prefix=".journal-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=2, allow_nan=False)
                handle.write("\n")
            Path(tmp).replace(path)
        except BaseException:
            with contextlib.suppress(OSError):
                Path(tmp).unlink()
            raise
        return path
