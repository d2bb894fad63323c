"""The gate during a drill: tail ``requests.csv`` as it grows, spot a sustained breach.

A drill writes ``requests.csv`` in batches while it runs. :class:`RequestsTail`
reads only the complete lines added since the last look; :class:`LiveGate`
keeps per-second latencies and failures and, once a second has settled,
checks the gate's live thresholds (latency percentiles and error rate) over
their windows. A breach that holds for ``abort_after_s`` consecutive seconds
is reported, so the caller can stop the drill instead of running a doomed
release check to its end.

A record is written when its request ends, so a second settles only
``settle_s`` seconds after the newest start seen; a request slower than that
still counts in the final verdict, which always reads the whole file.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from results.gate import Metric, Threshold

if TYPE_CHECKING:
    from pathlib import Path

    from results.gate import Gate

DEFAULT_ERROR_WINDOW_S = 10
_MAX_CHUNK = 16 << 20


@dataclass(slots=True)
class RequestsTail:
    """Reads the complete rows appended to a growing ``requests.csv``."""

    path: Path
    _offset: int = 0
    _partial: bytes = b""
    _index: dict[str, int] | None = None

    def read(self) -> list[tuple[float, float, bool]]:
        """``(start, duration_ms, failed)`` of every whole row added since the last call."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read(_MAX_CHUNK)
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return []
        self._partial = data[cut + 1 :]
        lines = data[: cut + 1].decode("utf-8", errors="replace").splitlines()
        rows: list[tuple[float, float, bool]] = []
        for row in csv.reader(lines):
            if self._index is None:
                self._index = {name: i for i, name in enumerate(row)}
                continue
            parsed = self._parse(row)
            if parsed is not None:
                rows.append(parsed)
        return rows

    def _parse(self, row: list[str]) -> tuple[float, float, bool] | None:
        index = self._index or {}
        try:
            start = float(row[index["start"]])
            duration = float(row[index["duration_ms"]])
            status = int(row[index["status"]])
            error = row[index["error"]]
        except (KeyError, IndexError, ValueError):
            return None  # the final analysis reports malformed rows
        return start, duration, status == 0 or status >= 400 or bool(error)


@dataclass(slots=True)
class LiveGate:
    """Sustained-breach detection over settled seconds of a running drill."""

    gate: Gate
    abort_after_s: float
    settle_s: float = 3.0
    _origin: float | None = None
    _latest: float = -math.inf
    _durations: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    _failures: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    _checked: int = -1
    _streak: int = 0
    breach: str = ""

    def add(self, rows: list[tuple[float, float, bool]]) -> None:
        """Take new records."""
        for start, duration, failed in rows:
            if self._origin is None:
                self._origin = math.floor(start)
            second = math.floor(start - self._origin)
            if second < 0:
                continue
            self._durations[second].append(duration)
            if failed:
                self._failures[second] += 1
            self._latest = max(self._latest, start)

    def check(self) -> str:
        """Evaluate newly settled seconds; the breach description once it is sustained."""
        if self.breach or self._origin is None:
            return self.breach
        settled = math.floor(self._latest - self.settle_s - self._origin)
        for second in range(self._checked + 1, settled + 1):
            self._checked = second
            broken = self._broken(second)
            self._streak = self._streak + 1 if broken else 0
            if broken and self._streak >= self.abort_after_s:
                self.breach = (
                    f"{broken} for {self._streak} s in a row (to second {second} of the drill)"
                )
                break
        self._forget(self._checked - self._longest_window())
        return self.breach

    def _longest_window(self) -> int:
        windows = [t.window_s or DEFAULT_ERROR_WINDOW_S for t in self.gate.live_thresholds()]
        return max(windows, default=DEFAULT_ERROR_WINDOW_S)

    def _forget(self, before: int) -> None:
        """Drop seconds no window can reach any more (bounded memory on long drills)."""
        for second in [s for s in self._durations if s < before]:
            del self._durations[second]
            self._failures.pop(second, None)

    def _broken(self, second: int) -> str:
        for threshold in self.gate.live_thresholds():
            found = self._value(threshold, second)
            if found is not None and not threshold.passes(found):
                return f"{threshold.key} = {found:.4g} against {threshold.describe()}"
        return ""

    def _value(self, threshold: Threshold, second: int) -> float | None:
        default = 1 if threshold.metric is Metric.LATENCY else DEFAULT_ERROR_WINDOW_S
        window = threshold.window_s or default
        seconds = range(max(0, second - window + 1), second + 1)
        durations = [d for s in seconds for d in self._durations.get(s, ())]
        if len(durations) < max(threshold.min_requests, 1):
            return None
        if threshold.metric is Metric.LATENCY:
            assert threshold.percentile is not None
            found = np.percentile(durations, threshold.percentile, method="inverted_cdf")
            return float(found)
        failures = sum(self._failures.get(s, 0) for s in seconds)
        return failures / len(durations)
