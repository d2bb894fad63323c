"""Watching a running drill's records from a thread, to stop it on a sustained breach."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from edgedrill_formats.run_folder import REQUESTS_CSV

if TYPE_CHECKING:
    from pathlib import Path

    from results.gate import Gate

_POLL_S = 0.5


class DrillWatcher:
    """Watches a drill's run folder from a thread; interrupts the drill on a sustained breach.

    The drill stops the way Ctrl-C stops it (SIGINT to this process, which
    ``run_drill`` turns into an orderly stop of Locust and the local
    distribution), so every cleanup path is the one Ctrl-C already takes.
    """

    def __init__(self, gate: Gate, abort_after_s: float) -> None:
        from results.live import LiveGate

        self.live = LiveGate(gate, abort_after_s)
        self.run_dir: Path | None = None
        self.reason = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._armed = True
        self._thread = threading.Thread(target=self._watch, name="edgedrill-gate", daemon=True)

    def start(self, run_dir: Path) -> None:
        """Start watching the records of ``run_dir`` (the drill has just created it)."""
        self.run_dir = run_dir
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def disarm(self) -> None:
        """The drill is over: never interrupt from now on."""
        with self._lock:
            self._armed = False

    def _watch(self) -> None:
        from results.live import RequestsTail

        if self.run_dir is None:
            return
        tail = RequestsTail(self.run_dir / REQUESTS_CSV)
        while not self._stop.wait(_POLL_S):
            self.live.add(tail.read())
            reason = self.live.check()
            if reason:
                self._interrupt(reason)
                return

    def _interrupt(self, reason: str) -> None:
        with self._lock:
            if not self._armed:
                return
            self.reason = reason
            print(f"edgedrill check: stopping the drill: {reason}", file=sys.stderr)  # noqa: T201
            os.kill(os.getpid(), signal.SIGINT)
