"""Per-request records and per-second rates of a run, as ``docs/formats.md`` defines them.

Locust's own statistics round response times to two significant digits; a
drill needs every request at 1 ms resolution or better, with the headers that
say what the edge did. A record is a plain tuple (cheap to build in the
request hook, cheap to ship from a worker to the master over msgpack), in the
column order of ``requests.csv``:

``start,duration_ms,method,name,status,bytes,x_cache,pop,cf_id,origin_region,late_ms,error``

The writer also counts, per second since the run's start, the requests made
and the requests that started late, which become ``rate.csv`` next to the
seconds' targets.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from edgedrill_formats.records import RATE_COLUMNS, REQUESTS_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

# The header rows, under the names the scenarios and their tests read them by.
REQUESTS_HEADER = REQUESTS_COLUMNS
RATE_HEADER = RATE_COLUMNS

# Column positions in a record tuple.
START, DURATION_MS, METHOD, NAME, STATUS, BYTES = 0, 1, 2, 3, 4, 5
X_CACHE, POP, CF_ID, ORIGIN_REGION, LATE_MS, ERROR = 6, 7, 8, 9, 10, 11

Record = tuple[float, float, str, str, int, int, str, str, str, str, float, str]
"""One request: the columns of ``requests.csv`` in order."""

_ERROR_MAX = 120


def short_error(exception: BaseException | str | None) -> str:
    """A one-line, bounded description of what went wrong (empty when nothing did)."""
    if exception is None:
        return ""
    if isinstance(exception, BaseException):
        text = str(exception) or type(exception).__name__
        if type(exception).__name__ not in text:
            text = f"{type(exception).__name__}: {text}"
    else:
        text = exception
    text = " ".join(text.split())
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 3] + "..."


def _millis(value: float) -> str:
    return f"{value:.3f}"


def _late(value: float) -> str:
    return "0" if value <= 0 else f"{value:.3f}"


@dataclass(slots=True)
class RunCounts:
    """Totals of a run, as ``run.json`` reports them."""

    requests: int = 0
    failures: int = 0
    late_starts: int = 0
    achieved: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    first_start: float | None = None
    last_start: float | None = None

    def add(self, record: Sequence[Any], origin: float) -> None:
        """Count one record; ``origin`` is the run's start (epoch seconds)."""
        start = float(record[START])
        self.requests += 1
        late = float(record[LATE_MS]) > 0
        if record[ERROR]:
            self.failures += 1
        if late:
            self.late_starts += 1
        if self.first_start is None or start < self.first_start:
            self.first_start = start
        if self.last_start is None or start > self.last_start:
            self.last_start = start
        second = math.floor(start - origin)
        if second < 0:
            return
        if second >= len(self.achieved):
            grow = second + 1 - len(self.achieved)
            self.achieved.extend([0] * grow)
            self.late.extend([0] * grow)
        self.achieved[second] += 1
        if late:
            self.late[second] += 1


class RecordsWriter:
    """Appends records to ``requests.csv`` and counts them per second."""

    def __init__(self, path: Path, *, origin: float) -> None:
        self.path = path
        self.origin = origin
        self.counts = RunCounts()
        self._file: TextIO = path.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(REQUESTS_HEADER)

    def write(self, records: Iterable[Sequence[Any]]) -> int:
        """Write a batch of records; returns how many."""
        if self._file.closed:
            msg = f"{self.path} is already closed"
            raise ValueError(msg)
        rows = []
        counts = self.counts
        origin = self.origin
        for record in records:
            counts.add(record, origin)
            rows.append(
                (
                    f"{float(record[START]):.6f}",
                    _millis(float(record[DURATION_MS])),
                    record[METHOD],
                    record[NAME],
                    int(record[STATUS]),
                    int(record[BYTES]),
                    record[X_CACHE],
                    record[POP],
                    record[CF_ID],
                    record[ORIGIN_REGION],
                    _late(float(record[LATE_MS])),
                    record[ERROR],
                )
            )
        self._csv.writerows(rows)
        # Once a batch (a second's requests): the gate tails this file while the drill runs.
        self._file.flush()
        return len(rows)

    def flush(self) -> None:
        """Push written rows to the file."""
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        """Flush and close ``requests.csv`` (idempotent)."""
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RecordsWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def rate_rows(targets: Sequence[float], counts: RunCounts) -> list[tuple[int, float, int, int]]:
    """``rate.csv`` rows: every second of the schedule, then any second with requests."""
    seconds = max(len(targets), len(counts.achieved))
    rows = []
    for second in range(seconds):
        target = targets[second] if second < len(targets) else 0
        achieved = counts.achieved[second] if second < len(counts.achieved) else 0
        late = counts.late[second] if second < len(counts.late) else 0
        rows.append((second, target, achieved, late))
    return rows


def write_rate_csv(path: Path, rows: Iterable[tuple[int, float, int, int]]) -> None:
    """Write ``rate.csv`` (``second,target,achieved,late``)."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(RATE_HEADER)
        for second, target, achieved, late in rows:
            shown = int(target) if float(target).is_integer() else round(float(target), 3)
            writer.writerow((second, shown, achieved, late))
