"""Append-only log files shared by the edge's threads.

The edge writes two kinds of log lines on every miss: the function's runtime
lines (``START``, the router's own, ``END``, ``REPORT``) and the access-log
line. Flushing each one is a system call on the event loop's hot path. A
:class:`LineFile` bound to the loop instead gathers what the loop's own thread
writes during one pass of the loop and flushes it once, from a callback run
on the next pass: a line reaches the file within one loop pass, and under load
one flush carries the lines of many requests. Lines written from any other
thread are flushed at once, as before.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class LineFile:
    """Whole lines appended to one file, safe to share between threads."""

    def __init__(self, path: Path, header: str = "") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", encoding="utf-8")
        if header and new:
            self._file.write(header)
            self._file.flush()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._flush_scheduled = False

    def bind_loop(self) -> None:
        """From a coroutine: gather this loop thread's writes into one flush per loop pass."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def write(self, text: str) -> None:
        """Append ``text`` (one or more whole lines, newlines included)."""
        with self._lock:
            if self._file.closed:
                return
            self._file.write(text)
            loop = self._loop
            if loop is None or threading.get_ident() != self._loop_thread:
                self._file.flush()
            elif not self._flush_scheduled:
                self._flush_scheduled = True
                loop.call_soon(self._flush_pass)

    def _flush_pass(self) -> None:
        with self._lock:
            self._flush_scheduled = False
            if not self._file.closed:
                self._file.flush()

    def flush(self) -> None:
        """Write out whatever is gathered."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        """Flush and close; later writes are dropped."""
        with self._lock:
            if not self._file.closed:
                self._file.close()
