"""CloudFront standard access logs (W3C): the edge's own account of every viewer request.

Fields are found by the ``#Fields:`` header, so a log with CloudFront's 33
fields in their documented order and one with a subset both read ("Standard
logging (access logs)", Amazon CloudFront developer guide). Files may be plain
or gzip-compressed, as CloudFront delivers them; lines need not be in time
order. Only the fields the analysis uses are kept, as columns.
"""

from __future__ import annotations

import calendar
import gzip
import math
import time
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import numpy as np

from edgedrill_formats.access_log import EMPTY, SEPARATOR, field_names
from edgedrill_formats.log_dir import CLOUDFRONT_DIR
from results.errors import FormatError, MalformedLines
from results.records import Categories, FloatArray, IntArray

if TYPE_CHECKING:
    from pathlib import Path

_NEEDED = ("date", "time", "sc-status", "x-edge-result-type", "time-taken")


@dataclass(frozen=True, slots=True)
class AccessLog:
    """The access-log columns the analysis reads, one row per viewer request, by time."""

    time: FloatArray  # epoch seconds (the log's resolution is one second)
    status: IntArray  # 000 when the viewer went away before a response
    result_type: Categories  # x-edge-result-type: Hit, RefreshHit, Miss, Error, LimitExceeded ...
    detailed_result_type: Categories  # x-edge-detailed-result-type ("" when not logged)
    time_taken_s: FloatArray
    sources: tuple[str, ...]
    malformed: MalformedLines

    def __len__(self) -> int:
        return len(self.time)


class AccessLogReader:
    """Reads access-log files one line at a time into columns."""

    def __init__(self, *, strict: bool = False) -> None:
        self.malformed = MalformedLines(strict=strict)
        self._time: array[float] = array("d")
        self._status: array[int] = array("q")
        self._taken: array[float] = array("d")
        self._result: list[int] = []
        self._detail: list[int] = []
        self._results: dict[str, int] = {}
        self._details: dict[str, int] = {}
        self._seconds: dict[str, float] = {}
        self.sources: list[str] = []

    def read_file(self, path: Path) -> None:
        """Read one access-log file (``.gz`` or plain)."""
        self.sources.append(str(path))
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
                self.read_lines(handle, str(path))
        else:
            with path.open(encoding="utf-8", errors="replace") as handle:
                self.read_lines(handle, str(path))

    def read_lines(self, lines: TextIO | list[str], source: str) -> None:
        """Read the lines of one log; ``source`` names them in errors."""
        index: dict[str, int] | None = None
        width = 0
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith("#"):
                names = field_names(line)
                if names is not None:
                    missing = [name for name in _NEEDED if name not in names]
                    if missing:
                        raise FormatError(source, number, f"#Fields lacks {', '.join(missing)}")
                    index = {name: names.index(name) for name in names}
                    width = len(names)
                continue
            if not line.strip():
                continue
            if index is None:
                raise FormatError(source, number, "log line before the #Fields header")
            fields = line.split(SEPARATOR)
            if len(fields) != width:
                self._bad(source, number, f"{len(fields)} fields, #Fields names {width}")
                continue
            try:
                self._row(fields, index)
            except ValueError as exc:
                self._bad(source, number, str(exc))

    def _bad(self, source: str, number: int, reason: str) -> None:
        self.malformed.add(FormatError(source, number, reason))

    def _row(self, fields: list[str], index: dict[str, int]) -> None:
        stamp = f"{fields[index['date']]} {fields[index['time']]}"
        second = self._seconds.get(stamp)
        if second is None:
            try:
                parsed = time.strptime(stamp, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise ValueError(f"date/time {stamp!r} is not 'YYYY-MM-DD HH:MM:SS'") from None
            second = float(calendar.timegm(parsed))
            if len(self._seconds) > 100_000:
                self._seconds.clear()
            self._seconds[stamp] = second
        status_text = fields[index["sc-status"]]
        taken_text = fields[index["time-taken"]]
        try:
            status = int(status_text) if status_text != EMPTY else 0
        except ValueError:
            raise ValueError(f"sc-status {status_text!r} is not a number") from None
        try:
            taken = float(taken_text) if taken_text != EMPTY else math.nan
        except ValueError:
            raise ValueError(f"time-taken {taken_text!r} is not a number") from None
        result = fields[index["x-edge-result-type"]]
        detail_at = index.get("x-edge-detailed-result-type")
        detail = fields[detail_at] if detail_at is not None else ""
        self._time.append(second)
        self._status.append(status)
        self._taken.append(taken)
        self._result.append(self._results.setdefault(result, len(self._results)))
        detail = "" if detail == EMPTY else detail
        self._detail.append(self._details.setdefault(detail, len(self._details)))

    def result(self) -> AccessLog:
        """The columns read so far, sorted by time."""
        when = np.array(self._time, dtype=np.float64)
        order = np.argsort(when, kind="stable")
        return AccessLog(
            time=when[order],
            status=np.array(self._status, dtype=np.int64)[order],
            result_type=Categories(
                tuple(self._results), np.array(self._result, dtype=np.int32)[order]
            ),
            detailed_result_type=Categories(
                tuple(self._details), np.array(self._detail, dtype=np.int32)[order]
            ),
            time_taken_s=np.array(self._taken, dtype=np.float64)[order],
            sources=tuple(self.sources),
            malformed=self.malformed,
        )


def access_log_files(log_dir: Path) -> list[Path]:
    """The access logs under a run's ``logs/cloudfront/`` (``*.log`` or ``*.gz``)."""
    folder = log_dir / CLOUDFRONT_DIR
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.iterdir() if path.is_file() and path.suffix in (".log", ".gz")
    )


def read_access_logs(log_dir: Path, *, strict: bool = False) -> AccessLog | None:
    """Read every access log of a run (None when the run has none)."""
    files = access_log_files(log_dir)
    if not files:
        return None
    reader = AccessLogReader(strict=strict)
    for path in files:
        reader.read_file(path)
    return reader.result()
