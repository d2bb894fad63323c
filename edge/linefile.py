"""Append-only log files shared by the edge's threads.

The edge writes two kinds of log lines on every miss: the function's runtime
lines (``START``, the router's own, ``END``, ``REPORT``) and the access-log
line. Formatting them and flushing each one would sit on the event loop's
path from a viewer's request to the origin request it causes. A
:class:`LineFile` bound to the loop instead keeps what the loop's own thread
writes during one pass of the loop, unformatted, and formats, writes and
flushes it all from a callback on the next pass, which runs while the
request it came from waits for its origin. A line reaches the file within one
loop pass, and under load one flush carries the lines of many requests.
Lines written from any other thread are written and flushed at once.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
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
        self._pending: list[Callable[[], str]] = []

    def bind_loop(self) -> None:
        """From a coroutine: gather this loop thread's writes into one flush per loop pass."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    def write(self, text: str) -> None:
        """Append ``text`` (one or more whole lines, newlines included)."""
        self.write_later(text.__str__)

    def write_later(self, render: Callable[[], str]) -> None:
        """Append what ``render()`` returns: at once, or on the bound loop's next pass.

        ``render`` must only read data nobody changes afterwards.
        """
        loop = self._loop
        if loop is None or threading.get_ident() != self._loop_thread:
            text = render()
            with self._lock:
                if not self._file.closed:
                    self._file.write(text)
                    self._file.flush()
            return
        with self._lock:
            if not self._pending:
                loop.call_soon(self._flush_pass)
            self._pending.append(render)

    def _flush_pass(self) -> None:
        with self._lock:
            self._write_pending()

    def _write_pending(self) -> None:
        pending, self._pending = self._pending, []
        if self._file.closed:
            return
        if pending:
            self._file.write("".join(render() for render in pending))
        self._file.flush()

    def flush(self) -> None:
        """Write out whatever is gathered."""
        with self._lock:
            self._write_pending()

    def close(self) -> None:
        """Write out what is gathered and close; later writes are dropped."""
        with self._lock:
            self._write_pending()
            if not self._file.closed:
                self._file.close()


class PerSecond:
    """``render(second)`` for whole epoch seconds, kept for the last second asked.

    Log lines arrive many to a second; their date and time of day are
    formatted once per second. Safe between threads: the kept pair is
    swapped whole.
    """

    def __init__(self, render: Callable[[int], str]) -> None:
        self._render = render
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, second: int) -> str:
        """The text for ``second``."""
        last = self._last
        if last[0] != second:
            last = self._last = (second, self._render(second))
        return last[1]
