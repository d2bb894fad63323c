"""Reading CloudFront standard access logs (W3C, tab-separated) for replay.

A log is one file (plain or gzip, told apart by its magic bytes, not its
name) or a folder of them, as CloudFront delivers them to S3. Each file
names its columns in a ``#Fields:`` line; the fields are found by name, so a
log with fewer or reordered fields reads the same. A file without a
``#Fields:`` line (for example lines concatenated with the headers stripped)
is read in CloudFront's standard 33-field order when a line has exactly 33
fields.

A line that cannot be replayed (wrong field count, a date or time that does
not parse, no method or a path that does not start with ``/``) is skipped and
reported as ``file:line: reason``; nothing is guessed.

Field meanings are CloudFront's ("Standard logging reference" in the
CloudFront developer guide): ``date`` and ``time`` are the UTC second in
which the edge *finished* responding, ``time-taken`` the seconds (to the
millisecond) between receiving the request and writing the last byte.
"""

from __future__ import annotations

import calendar
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgedrill_formats.access_log import EMPTY, FIELDS, SEPARATOR, field_names

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

# CloudFront's order of the 33 fields, read when a file has no #Fields: line.
STANDARD_FIELDS = FIELDS
REQUIRED_FIELDS = ("date", "time", "cs-method", "cs-uri-stem")

_GZIP_MAGIC = b"\x1f\x8b"
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME_RE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})$")
_METHOD_RE = re.compile(r"^[A-Z]+$")


class LogError(Exception):
    """The access log cannot be read at all."""


@dataclass(frozen=True, slots=True)
class LogRequest:
    """One valid viewer request from the log.

    ``finished`` is the epoch second logged (when the response finished),
    ``uri`` the path and, when logged, ``?`` and the query string, exactly as
    logged (CloudFront logs them URL-encoded, which is how they are sent).
    ``size`` is the object's length when the log says it (``sc-content-len``,
    else ``sc-bytes``), ``None`` otherwise; ``content_type`` is
    ``sc-content-type`` (empty when not logged).
    """

    finished: float
    time_taken: float
    method: str
    uri: str
    status: int | None
    size: int | None
    source: str
    content_type: str = ""

    @property
    def path(self) -> str:
        """The URI stem without the query string."""
        return self.uri.partition("?")[0]


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A log line that was skipped, and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ParsedLog:
    """Every valid request of a log, and the lines that were skipped."""

    requests: list[LogRequest]
    malformed: list[MalformedLine]
    files: list[str]


def log_files(path: Path) -> list[Path]:
    """The files a ``--log`` path names: the file itself, or every file under a folder."""
    if not path.exists():
        msg = f"--log: {path} does not exist"
        raise LogError(msg)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            msg = f"--log: the folder {path} holds no log files"
            raise LogError(msg)
        return files
    return [path]


def read_log(path: Path) -> ParsedLog:
    """Parse every file of the log at ``path`` (file or folder, plain or gzip)."""
    parsed = ParsedLog(requests=[], malformed=[], files=[])
    for file in log_files(path):
        parsed.files.append(str(file))
        for item in _parse_file(file):
            if isinstance(item, LogRequest):
                parsed.requests.append(item)
            else:
                parsed.malformed.append(item)
    return parsed


def _open_text(file: Path) -> io.TextIOBase:
    with file.open("rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(file, "rb"), encoding="utf-8", errors="replace")
    return io.TextIOWrapper(file.open("rb"), encoding="utf-8", errors="replace")


def _parse_file(file: Path) -> Iterator[LogRequest | MalformedLine]:
    name = str(file)
    try:
        stream = _open_text(file)
    except OSError as exc:
        msg = f"--log: cannot open {file}: {exc}"
        raise LogError(msg) from exc
    with stream:
        parser = _FileParser(name)
        try:
            for number, raw in enumerate(stream, start=1):
                item = parser.line(number, raw.rstrip("\r\n"))
                if item is not None:
                    yield item
        except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # Truncated or corrupted: the lines before it stand, the rest is one malformed line.
            yield MalformedLine(name, parser.last_line + 1, f"unreadable: {exc}")


class _FileParser:
    """Parses the lines of one file, following its ``#Fields:`` headers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[str, int] | None = None
        self.width = 0
        self.last_line = 0
        # Set by a #Fields: line that could not be used: until a usable one
        # comes, data lines are rejected, never read in the standard order.
        self.rejected_fields: int | None = None
        self._seconds: dict[tuple[str, str], float] = {}

    def line(self, number: int, text: str) -> LogRequest | MalformedLine | None:
        self.last_line = number
        if not text.strip():
            return None
        if text.startswith("#"):
            return self._directive(number, text)
        parts = text.split(SEPARATOR)
        fields = self.fields
        if fields is None:
            if self.rejected_fields is not None:
                return self._bad(number, f"the #Fields: line {self.rejected_fields} is unusable")
            if len(parts) != len(STANDARD_FIELDS):
                return self._bad(number, "no #Fields: line before this line")
            fields = self._set_fields(STANDARD_FIELDS)
        if len(parts) != self.width:
            return self._bad(number, f"{len(parts)} fields, #Fields names {self.width}")
        return self._request(number, parts, fields)

    def _directive(self, number: int, text: str) -> MalformedLine | None:
        names = field_names(text)
        if names is not None:
            missing = [field for field in REQUIRED_FIELDS if field not in names]
            if missing:
                self.fields = None
                self.rejected_fields = number
                return self._bad(number, f"#Fields: lacks {', '.join(missing)}")
            self.rejected_fields = None
            self._set_fields(names)
        return None

    def _set_fields(self, names: Iterable[str]) -> dict[str, int]:
        names = list(names)
        fields = {field: index for index, field in enumerate(names)}
        self.fields = fields
        self.width = len(names)
        return fields

    def _bad(self, number: int, reason: str) -> MalformedLine:
        return MalformedLine(self.name, number, reason)

    def _request(
        self, number: int, parts: list[str], fields: dict[str, int]
    ) -> LogRequest | MalformedLine:
        date, clock = parts[fields["date"]], parts[fields["time"]]
        finished = self._seconds.get((date, clock))
        if finished is None:
            parsed = _epoch(date, clock)
            if parsed is None:
                return self._bad(number, f"bad date/time {date!r} {clock!r}")
            finished = self._seconds[(date, clock)] = parsed
        method = parts[fields["cs-method"]]
        if not _METHOD_RE.match(method):
            return self._bad(number, f"bad cs-method {method!r}")
        stem = parts[fields["cs-uri-stem"]]
        if not stem.startswith("/"):
            return self._bad(number, f"cs-uri-stem {stem!r} does not start with /")
        query = _field(parts, fields, "cs-uri-query")
        taken_text = _field(parts, fields, "time-taken")
        try:
            time_taken = float(taken_text) if taken_text else 0.0
        except ValueError:
            return self._bad(number, f"bad time-taken {taken_text!r}")
        if not 0.0 <= time_taken < 86_400.0:
            return self._bad(number, f"time-taken {taken_text!r} out of range")
        status = _integer(_field(parts, fields, "sc-status"))
        size = _integer(_field(parts, fields, "sc-content-len"))
        if size is None:
            size = _integer(_field(parts, fields, "sc-bytes"))
        return LogRequest(
            finished=finished,
            time_taken=time_taken,
            method=method,
            uri=f"{stem}?{query}" if query else stem,
            status=status,
            size=size,
            source=f"{self.name}:{number}",
            content_type=_field(parts, fields, "sc-content-type"),
        )


def _field(parts: list[str], fields: dict[str, int], name: str) -> str:
    index = fields.get(name)
    if index is None:
        return ""
    value = parts[index]
    return "" if value == EMPTY else value


def _integer(text: str) -> int | None:
    if not text or not text.isdigit():
        return None
    return int(text)


def _epoch(date: str, clock: str) -> float | None:
    day = _DATE_RE.match(date)
    second = _TIME_RE.match(clock)
    if day is None or second is None:
        return None
    year, month, mday = (int(g) for g in day.groups())
    hour, minute, sec = (int(g) for g in second.groups())
    if not (1 <= month <= 12 and 1 <= mday <= 31 and hour < 24 and minute < 60 and sec < 61):
        return None
    try:
        days_in_month = calendar.monthrange(year, month)[1]
    except ValueError:
        return None
    if mday > days_in_month:
        return None
    return float(calendar.timegm((year, month, mday, hour, minute, sec, 0, 0, 0)))
