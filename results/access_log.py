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
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import numpy.typing as npt
import polars as pl

from edgedrill_formats.access_log import EMPTY, SEPARATOR, field_names
from edgedrill_formats.log_dir import CLOUDFRONT_DIR
from results.errors import FormatError, MalformedLines
from results.records import (
    BLOCK_BYTES,
    Categories,
    FloatArray,
    IntArray,
    WholeArray,
    line_blocks,
    narrow,
    narrow_fields,
    sorted_columns,
)

if TYPE_CHECKING:
    from pathlib import Path

_NEEDED = ("date", "time", "sc-status", "x-edge-result-type", "time-taken")


@dataclass(frozen=True, slots=True)
class AccessLog:
    """The access-log columns the analysis reads, one row per viewer request, by time."""

    time: FloatArray  # epoch seconds (the log's resolution is one second)
    status: WholeArray  # 000 when the viewer went away before a response
    result_type: Categories  # x-edge-result-type: Hit, RefreshHit, Miss, Error, LimitExceeded ...
    detailed_result_type: Categories  # x-edge-detailed-result-type ("" when not logged)
    time_taken_s: FloatArray
    sources: tuple[str, ...]
    malformed: MalformedLines

    def __post_init__(self) -> None:
        narrow_fields(self, "status")

    def __len__(self) -> int:
        return len(self.time)


class AccessLogReader:
    """Reads access-log files one line at a time into columns."""

    def __init__(self, *, strict: bool = False, block_bytes: int = BLOCK_BYTES) -> None:
        self.malformed = MalformedLines(strict=strict)
        self._block_bytes = max(1, block_bytes)
        self._time: array[float] = array("d")
        self._status: array[int] = array("q")
        self._taken: array[float] = array("d")
        self._result: list[int] = []
        self._detail: list[int] = []
        self._results: dict[str, int] = {}
        self._details: dict[str, int] = {}
        self._seconds: dict[str, float] = {}
        self._chunks: list[tuple[npt.NDArray[Any], ...]] = []
        self.sources: list[str] = []

    def read_file(self, path: Path) -> None:
        """Read one access-log file (``.gz`` or plain).

        A plain file whose every line holds what this reader accepts, in the
        plainest spelling, is read column-wise by polars; any other file line
        by line, with the same result.
        """
        self.sources.append(str(path))
        if path.suffix != ".gz" and self._read_columns(path):
            return
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

    def _read_columns(self, path: Path) -> bool:
        """Read a plain file with polars, a block of lines at a time.

        False (nothing read) when the file needs the line path.
        """
        header = _header(path)
        if header is None:
            return False
        skip, names = header
        index = {name: names.index(name) for name in names}
        wanted = [*_NEEDED, "x-edge-detailed-result-type"]
        picked = sorted({index[name] for name in wanted if name in index} | {len(names) - 1})
        results, details = dict(self._results), dict(self._details)
        chunks = []
        for block in line_blocks(path, self._block_bytes, skip_lines=skip):
            try:
                frame = pl.read_csv(
                    block,
                    has_header=False,
                    separator=SEPARATOR,
                    quote_char=None,
                    schema={f"f{k}": pl.String for k in range(len(names))},
                    columns=picked,
                )
                columns = _columns(frame, index, len(names))
            except pl.exceptions.PolarsError:
                return False
            if columns is None:
                return False
            when, status, taken, result, detail = columns
            chunks.append((when, status, taken, _codes(result, results), _codes(detail, details)))
        if not chunks:
            return False
        self._flush()
        self._chunks += chunks
        self._results, self._details = results, details
        return True

    def _flush(self) -> None:
        """Turn the lines read one by one so far into a chunk, keeping file order."""
        if not self._time:
            return
        self._chunks.append(
            (
                np.array(self._time, dtype=np.float64),
                np.array(self._status, dtype=np.int64),
                np.array(self._taken, dtype=np.float64),
                np.array(self._result, dtype=np.int32),
                np.array(self._detail, dtype=np.int32),
            )
        )
        self._time, self._status, self._taken = array("d"), array("q"), array("d")
        self._result, self._detail = [], []

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
        self._flush()
        if not self._chunks:
            self._chunks.append(_EMPTY_CHUNK)
        # Sorted once, kept as the only chunk: a later call gives the same.
        columns = sorted_columns(self._chunks)
        self._chunks = [columns]
        when, status, taken, result, detail = columns
        return AccessLog(
            time=when,
            status=status,
            result_type=Categories(tuple(self._results), result),
            detailed_result_type=Categories(tuple(self._details), detail),
            time_taken_s=taken.astype(np.float64, copy=False),
            sources=tuple(self.sources),
            malformed=self.malformed,
        )


_EMPTY_CHUNK = (
    np.zeros(0),
    np.zeros(0, dtype=np.int64),
    np.zeros(0),
    np.zeros(0, dtype=np.int32),
    np.zeros(0, dtype=np.int32),
)
_PLAIN_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PLAIN_TIME = r"^[0-2][0-9]:[0-5][0-9]:[0-5][0-9]$"
_PLAIN_STATUS = r"^(?:-|[0-9]+)$"
_PLAIN_TAKEN = r"^(?:-|[0-9]+(?:\.[0-9]+)?)$"


def _header(path: Path) -> tuple[int, list[str]] | None:
    """Lines before the first log line and the names of their last ``#Fields``.

    None when the line path must read the file: no ``#Fields`` line first, a
    field it needs missing (that path names the error), a comment further down.
    """
    names: list[str] | None = None
    skip = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            skip += 1
            found = field_names(line.rstrip("\r\n"))
            names = found if found is not None else names
            if skip > 100:
                return None
    if names is None or any(name not in names for name in _NEEDED):
        return None
    return skip, names


def _columns(
    frame: pl.DataFrame, index: dict[str, int], width: int
) -> tuple[FloatArray, IntArray, FloatArray, pl.Series, pl.Series] | None:
    """The columns of a file read by polars, or None when a line needs the line path."""
    if frame.height == 0:
        return None
    date = frame[f"f{index['date']}"]
    clock = frame[f"f{index['time']}"]
    status = frame[f"f{index['sc-status']}"]
    taken = frame[f"f{index['time-taken']}"]
    # A short line leaves its last field null; a comment in the data starts a date.
    plain = (
        frame[f"f{width - 1}"].is_not_null().all()
        and date.str.contains(_PLAIN_DATE).all()
        and clock.str.contains(_PLAIN_TIME).all()
        and status.str.contains(_PLAIN_STATUS).all()
        and taken.str.contains(_PLAIN_TAKEN).all()
    )
    if not plain:
        return None
    stamp = (date + " " + clock).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    if stamp.null_count():
        return None
    seconds = stamp.dt.epoch("s").cast(pl.Float64).to_numpy()
    codes = narrow(status.replace("-", "0").cast(pl.Int64).to_numpy())
    time_taken = taken.replace("-", "nan").cast(pl.Float64).to_numpy()
    detail_at = index.get("x-edge-detailed-result-type")
    if detail_at is None:
        detail = pl.Series([""] * frame.height, dtype=pl.String)
    else:
        detail = frame[f"f{detail_at}"].replace(EMPTY, "").fill_null("")
    result = frame[f"f{index['x-edge-result-type']}"].fill_null("")
    return seconds, codes, time_taken, result, detail


def _codes(values: pl.Series, table: dict[str, int]) -> WholeArray:
    """Codes into ``table`` (grown with new labels in order of first appearance)."""
    for label in values.unique(maintain_order=True).to_list():
        table.setdefault(label, len(table))
    return narrow(values.replace_strict(table, return_dtype=pl.Int32).to_numpy())


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
