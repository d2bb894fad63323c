r"""The runtime log lines of the router: START, END, REPORT and the router's EMF line.

One parser serves local log files (``logs/lambda/<region>.<function>.log``,
``<ISO timestamp>\t<message>`` per line) and CloudWatch Logs events
(``{"timestamp": <epoch ms>, "message": ...}`` as ``filter_log_events``
returns them). Both feed :class:`RuntimeLogReader` one message at a time, so a
million invocations stream through without holding lines in memory; every
malformed line is reported as ``source:line``.

What counts as malformed: a local line without a valid timestamp, and a
START, END, REPORT or JSON line that does not parse. Anything else a Lambda
log group may hold (INIT_START, a print, a logging record) is counted as
*other*, not an error.

REPORT fields follow Lambda's documented format ("Lambda function logging",
AWS Lambda developer guide): ``Duration`` and ``Init Duration`` in ms with two
decimals, ``Billed Duration`` in whole ms, ``Memory Size`` and ``Max Memory
Used`` in MB; ``Init Duration`` only on a cold start.
"""

from __future__ import annotations

import codecs
import functools
import json
import math
import mmap
import re
from array import array
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, BinaryIO, TextIO, TypeVar

import numpy as np
import polars as pl

from edgedrill_formats.log_dir import LAMBDA_DIR, LOG_SUFFIX, log_group_region
from results.errors import FormatError, MalformedLines
from results.logscan import Scanned, Scanner, scanner
from results.records import (
    BoolArray,
    Categories,
    CodeArray,
    FloatArray,
    IntArray,
    WholeArray,
    line_blocks,
    narrow,
    narrow_fields,
    sorted_columns,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from concurrent.futures import Future
    from pathlib import Path

T = TypeVar("T")

# The router's EMF line is declared in router/logs.py alone: the router ships
# zipped alone for Lambda@Edge and imports nothing of ours, not even
# edgedrill_formats. tests/results/test_logs.py parses the router's own lines
# here, every cache state and both parsers, so the two cannot drift apart.
CACHE_STATES = ("hit", "miss", "stale", "negative", "fallback")


class LineKind(StrEnum):
    """What one runtime log message is."""

    START = "start"
    END = "end"
    REPORT = "report"
    ROUTE = "route"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Report:
    """One ``REPORT`` line: the runtime's account of one invocation."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None = None  # cold starts only
    status: str = ""  # "timeout", "error" ... when the runtime says so


@dataclass(frozen=True, slots=True)
class Route:
    """One router EMF line (docs/formats.md, ``router/logs.py``)."""

    request_id: str
    cache_state: str
    origin: str
    region: str
    dns_ms: float
    handler_ms: float
    dns_queries: int
    reason: str = ""
    stale_age_s: float = 0.0


Message = Report | Route | LineKind


# The exact lines Lambda and the router write, matched whole; a match is
# parsed straight into the columns. Anything else takes the general parser,
# which accepts the same lines (a property test holds the two together).
# Numbers are bounded so every match fits its column: whole numbers at most
# 18 digits (below 2**63), decimals below 10**308 (finite as floats). A
# longer one is the general parser's, which calls it malformed when it does
# not fit.
_NUM = r"(?:0|[1-9]\d{0,199})(?:\.\d+)?(?:[eE][-+]?\d{1,2})?"  # below 10**299
_STR = r'[^"\\\x00-\x1f]*'
_DECIMAL = r"(?:0|[1-9]\d{0,307})(?:\.\d+)?"
_MS = r"\d{1,308}(?:\.\d+)?"
_FAST_REPORT = re.compile(
    rf"REPORT RequestId: (\S+)\tDuration: ({_MS}) ms\tBilled Duration: (\d{{1,18}}) ms"
    r"\tMemory Size: (\d{1,18}) MB\tMax Memory Used: (\d{1,18}) MB"
    rf"(?:\tInit Duration: ({_MS}) ms)?\t?"
)
_FAST_ROUTE = re.compile(
    r'\{"_aws":\{"Timestamp":\d+,"CloudWatchMetrics":\[\{"Namespace":"edgedrill/router",'
    r'"Dimensions":\[\["cache_state"\]\],"Metrics":\[\{"Name":"handler_ms","Unit":"Milliseconds"\},'
    r'\{"Name":"dns_ms","Unit":"Milliseconds"\},\{"Name":"dns_queries","Unit":"Count"\}\]\}\]\},'
    rf'"event":"route","request_id":"{_STR}","cache_state":"(hit|miss|stale|negative|fallback)",'
    rf'"origin":"({_STR})","region":"({_STR})","dns_ms":({_NUM}),"handler_ms":({_NUM}),'
    r'"dns_queries":(0|[1-9]\d{0,17})'
    # The keys the router adds when they have a value, in its order.
    rf'(?:,"cf_request_id":"{_STR}")?(?:,"reason":"({_STR})")?(?:,"stale_age_s":({_DECIMAL}))?\}}'
)
_VALUE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|MB)?")
# Whole local-file lines in the formats.md layout, timestamp included: the
# path a million-invocation file takes. Groups: second, milliseconds, then
# the message's own.
_STAMP = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z\t"
_LINE_REPORT = re.compile(_STAMP + _FAST_REPORT.pattern + r"\n?")
_LINE_ROUTE = re.compile(_STAMP + _FAST_ROUTE.pattern + r"\n?")
_START = "START RequestId: "
_END = "END RequestId: "
# The same exact lines for polars (Rust regex): ASCII digits only, the second
# at most 59 (a leap second is malformed here as in datetime.fromisoformat).
_PL_STAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-5][0-9]\.[0-9]{3}Z\t"
_PL_STAMP_TEXT = "2026-11-26T17:31:48.208Z\t"  # the layout _PL_STAMP matches, for its length
_PL_REPORT = _PL_STAMP + _FAST_REPORT.pattern.replace(r"\d", "[0-9]") + "$"
# The router's line is checked in three parts, each cheap: the literal up to
# the EMF Timestamp's digits, the literal from them to the request id, and
# the rest by pattern (the whole pattern costs four times as much).
_ROUTE_HEAD = '{"_aws":{"Timestamp":'
_ROUTE_MID = re.sub(
    r"\\(.)",
    r"\1",
    _FAST_ROUTE.pattern.split(r'"Timestamp":\d+', 1)[1].split(_STR, 1)[0],
)
_PL_ROUTE_REST = (
    "^" + _FAST_ROUTE.pattern.split('"request_id":"', 1)[1].replace(r"\d", "[0-9]") + "$"
)
# A request id begins with a character str.isspace refuses: Rust's \s (Unicode
# White_Space) and the four separators \x1c-\x1f Python adds to it.
_PL_ID = r"[^\s\x1c-\x1f]"
_PL_START = _PL_STAMP + _START + _PL_ID
_PL_END = _PL_STAMP + _END + _PL_ID
_FIELD_SEPARATOR = "\x1f"  # never in a line this reader takes column-wise
BLOCK_BYTES = 16 << 20  # a block of a runtime log file read at once (whole lines)
_BATCH = 65_536
_CHUNK = 16 << 20
_LARGEST_WHOLE = 2**63 - 1  # a 64-bit integer column's


def _is_marker_line(line: str, marker: str, seconds: dict[str, float]) -> bool:
    r"""``<ISO ts>\t<marker><request id>`` with a timestamp second the run knows.

    Only lines the general path reads as the same marker: milliseconds in
    ASCII digits, a request id whose first character is not whitespace as
    ``str.split`` sees it (``\x1f``, ``\xa0`` and ``\u2028`` are).
    """
    return (
        line.startswith(marker, 25)
        and line[:19] in seconds
        and line[19:20] == "."
        and line[23:25] == "Z\t"
        and (ms := line[20:23]).isascii()
        and ms.isdigit()
        and len(line) > 25 + len(marker)
        and not line[25 + len(marker)].isspace()
    )


def parse_message(message: str) -> Message:
    """Parse one runtime log message; raise ValueError saying what is wrong."""
    message = message.rstrip("\r\n")
    if message.startswith("REPORT"):
        return _parse_report(message)
    if message.startswith("START"):
        _request_id(message, "START")
        return LineKind.START
    if message.startswith("END"):
        _request_id(message, "END")
        return LineKind.END
    if message.startswith("{"):
        return _parse_json(message)
    return LineKind.OTHER


def _request_id(message: str, word: str) -> str:
    head = message.split("\t", 1)[0]
    prefix = f"{word} RequestId: "
    if not head.startswith(prefix) or not head[len(prefix) :].split():
        raise ValueError(f"{word} line without 'RequestId: <id>'")
    return head[len(prefix) :].split()[0]


def _parse_report(message: str) -> Report:
    request_id = _request_id(message, "REPORT")
    fields: dict[str, str] = {}
    for part in message.split("\t")[1:]:
        key, sep, value = part.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    required = ("Duration", "Billed Duration", "Memory Size", "Max Memory Used")
    missing = [key for key in required if key not in fields]
    if missing:
        raise ValueError(f"REPORT line without {', '.join(missing)}")
    init = fields.get("Init Duration")
    return Report(
        request_id=request_id,
        duration_ms=_quantity(fields, "Duration", "ms"),
        billed_ms=int(_quantity(fields, "Billed Duration", "ms", whole=True)),
        memory_mb=int(_quantity(fields, "Memory Size", "MB", whole=True)),
        max_memory_mb=int(_quantity(fields, "Max Memory Used", "MB", whole=True)),
        init_ms=_quantity(fields, "Init Duration", "ms") if init is not None else None,
        status=fields.get("Status", ""),
    )


def _quantity(fields: Mapping[str, str], key: str, unit: str, *, whole: bool = False) -> float:
    """``fields[key]`` in ``unit``: finite, and when ``whole`` an integer that fits 64 bits."""
    text = fields[key]
    match = _VALUE.fullmatch(text)
    if match is None or (match.group(2) or unit) != unit:
        raise ValueError(f"REPORT {key}: expected '<number> {unit}', got {text!r}")
    number = match.group(1)
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"REPORT {key}: {_short(text)} is too large for a number")
    if not whole:
        return value
    if not value.is_integer():
        raise ValueError(f"REPORT {key}: expected whole {unit}, got {text!r}")
    # Exact, not the float's rounding: 2**63 - 1 fits, 2**63 does not.
    count = int(number.partition(".")[0]) if value < 2.0**64 else _LARGEST_WHOLE + 1
    if count > _LARGEST_WHOLE:
        raise ValueError(
            f"REPORT {key}: {_short(text)} is past the largest whole {unit} ({_LARGEST_WHOLE})"
        )
    return count


def _short(value: object) -> str:
    """``repr(value)`` for an error message, its middle cut when long (a number of 400 digits)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]}"


def _parse_json(message: str) -> Route | LineKind:
    try:
        document = json.loads(message)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at column {exc.colno}: {exc.msg}") from None
    if not isinstance(document, dict) or document.get("event") != "route":
        return LineKind.OTHER
    state = document.get("cache_state")
    if state not in CACHE_STATES:
        raise ValueError(f"router line: cache_state {state!r} is not one of {CACHE_STATES}")
    return Route(
        request_id=_text(document, "request_id"),
        cache_state=str(state),
        origin=_text(document, "origin"),
        region=_text(document, "region"),
        dns_ms=_measure(document, "dns_ms"),
        handler_ms=_measure(document, "handler_ms"),
        dns_queries=_whole(document, "dns_queries"),
        reason=_text(document, "reason", required=False),
        stale_age_s=_measure(document, "stale_age_s", required=False),
    )


def _text(document: Mapping[str, object], key: str, *, required: bool = True) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"router line: {key} must be a string, got {value!r}")
    return value


def _measure(document: Mapping[str, object], key: str, *, required: bool = True) -> float:
    value = document.get(key)
    if value is None and not required:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"router line: {key} must be a number, got {value!r}")
    try:
        number = float(value)  # an integer of 309 digits or more does not convert
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"router line: {key} must be finite and >= 0, got {_short(value)}")
    return number


def _whole(document: Mapping[str, object], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"router line: {key} must be a count, got {value!r}")
    if value > _LARGEST_WHOLE:
        raise ValueError(
            f"router line: {key} {_short(value)} is past the largest count ({_LARGEST_WHOLE})"
        )
    return value


def parse_timestamp(text: str) -> float:
    """Parse an ISO 8601 UTC timestamp (``2026-11-26T17:31:48.123Z``) to epoch seconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone (expected a trailing Z)")
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class Invocations:
    """Columns of the REPORT lines, one row per invocation, by end time."""

    end: FloatArray  # epoch seconds of the REPORT line
    duration_ms: FloatArray
    billed_ms: WholeArray
    memory_mb: WholeArray
    max_memory_mb: WholeArray
    init_ms: FloatArray  # NaN for a warm invocation
    log_region: Categories  # the region the function ran in (its log group)
    status: Mapping[str, int]  # REPORT Status values other than success

    def __post_init__(self) -> None:
        narrow_fields(self, "billed_ms", "memory_mb", "max_memory_mb")

    def __len__(self) -> int:
        return len(self.end)

    @property
    def cold(self) -> BoolArray:
        """Invocations that began with a cold start."""
        return ~np.isnan(self.init_ms)


@dataclass(frozen=True, slots=True)
class Routes:
    """Columns of the router's EMF lines, one row per invocation."""

    time: FloatArray  # epoch seconds
    cache_state: Categories
    region: Categories  # where the request was sent ("" when left on the default origin)
    dns_ms: FloatArray
    handler_ms: FloatArray
    dns_queries: WholeArray
    reasons: Mapping[tuple[str, str], int]  # (cache_state, reason) -> count
    max_stale_age_s: float

    def __post_init__(self) -> None:
        narrow_fields(self, "dns_queries")

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, slots=True)
class RuntimeLogs:
    """Everything read from the runtime log lines of a run."""

    invocations: Invocations
    routes: Routes
    starts: int
    ends: int
    other_lines: int
    sources: tuple[str, ...]
    malformed: MalformedLines


@dataclass(slots=True)
class _Columns:
    report_end: array[float] = field(default_factory=lambda: array("d"))
    duration: array[float] = field(default_factory=lambda: array("d"))
    billed: array[int] = field(default_factory=lambda: array("q"))
    memory: array[int] = field(default_factory=lambda: array("q"))
    max_memory: array[int] = field(default_factory=lambda: array("q"))
    init: array[float] = field(default_factory=lambda: array("d"))
    log_region: array[int] = field(default_factory=lambda: array("i"))
    route_time: array[float] = field(default_factory=lambda: array("d"))
    state: array[int] = field(default_factory=lambda: array("i"))
    route_region: array[int] = field(default_factory=lambda: array("i"))
    dns_ms: array[float] = field(default_factory=lambda: array("d"))
    handler_ms: array[float] = field(default_factory=lambda: array("d"))
    queries: array[int] = field(default_factory=lambda: array("q"))


class RuntimeLogReader:
    """Accumulates runtime log messages from any number of sources into columns."""

    def __init__(
        self,
        *,
        strict: bool = False,
        threads: int = 2,
        block_bytes: int = BLOCK_BYTES,
        compiled: bool = True,
    ) -> None:
        """``compiled``: scan files with the compiled scanner when it was built, else polars."""
        self.malformed = MalformedLines(strict=strict)
        self._compiled = compiled
        self._threads = max(1, threads)
        self._block_bytes = max(1, block_bytes)
        self._c = _Columns()
        self._log_regions: dict[str, int] = {}
        self._route_regions: dict[str, int] = {}
        self._states = {state: code for code, state in enumerate(CACHE_STATES)}
        self._status: Counter[str] = Counter()
        self._reasons: Counter[tuple[str, str]] = Counter()
        self._max_stale = 0.0
        self._seconds: dict[str, float] = {}
        self._report_rows: list[tuple[object, ...]] = []
        self._route_rows: list[tuple[str, ...]] = []
        self._report_chunks: list[tuple[np.ndarray, ...]] = []
        self._route_chunks: list[tuple[np.ndarray, ...]] = []
        self.starts = 0
        self.ends = 0
        self.other_lines = 0
        self.sources: list[str] = []

    def read_file(self, path: Path, region: str | None = None) -> None:
        """Read one local log file (``<region>.<function>.log``), a block of lines at a time.

        Blocks are scanned into columns by the compiled scanner (the file
        mapped, not copied) or, when it was not built, parsed column-wise by
        polars; several at once on threads (both release the GIL). Only lines
        outside the exact layouts Lambda and the router write take the
        line-by-line path, in file order.
        """
        region = region if region is not None else log_group_region(path.name)
        self.sources.append(str(path))
        region_code = self._log_regions.setdefault(region, len(self._log_regions))
        source = str(path)
        number = 0
        compiled = scanner() if self._compiled else None
        if compiled is not None and path.stat().st_size:
            # Mapped, not read: the scanner reads the page cache in place. The
            # pool is left first, so no scan is running when the mapping closes.
            with (
                path.open("rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
                ThreadPoolExecutor(self._threads) as pool,
            ):
                calls = (
                    functools.partial(_scan_range, compiled, mapped, start, end, region_code)
                    for start, end in _ranges(mapped, self._block_bytes)
                )
                for block in _in_order(pool, calls, self._threads):
                    number = self._take_block(block, source, region, number)
            return
        with ThreadPoolExecutor(self._threads) as pool:
            parses = (
                functools.partial(_parse_block, data, region_code)
                for data in line_blocks(path, self._block_bytes)
            )
            for parsed in _in_order(pool, parses, self._threads):
                number = self._take_block(parsed, source, region, number)

    def read_range(self, path: Path, start: int, end: int, region: str | None = None) -> int:
        """Read the lines of ``path`` that begin in bytes ``[start, end)``; returns how many.

        Line numbers in errors count from the range's first line; a caller that
        splits a file adds the lines of the ranges before it.
        """
        region = region if region is not None else log_group_region(path.name)
        if start == 0:
            self.sources.append(str(path))
            # As read_file: the file's region is labelled even when it holds no line.
            self._log_regions.setdefault(region, len(self._log_regions))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        number = 0
        carry = ""
        with path.open("rb") as handle:
            position = _align(handle, start)
            while position < end:
                data = handle.read(min(_CHUNK, end - position))
                if not data:
                    break
                position += len(data)
                if position >= end and not data.endswith(b"\n"):
                    data += handle.readline()  # the last line began inside the range
                lines = (carry + decoder.decode(data)).split("\n")
                carry = lines.pop()
                self.read_lines(lines, str(path), region, first_number=number + 1)
                number += len(lines)
        carry += decoder.decode(b"", final=True)
        if carry:
            self.read_lines([carry], str(path), region, first_number=number + 1)
            number += 1
        return number

    def read_lines(  # noqa: C901 - the hot loop of a million-line file, kept inline
        self, lines: Iterable[str] | TextIO, source: str, region: str, first_number: int = 1
    ) -> None:
        r"""Read ``<timestamp>\t<message>`` lines; ``source`` names them in errors."""
        region_code = self._log_regions.setdefault(region, len(self._log_regions))
        seconds = self._seconds
        reports = self._report_rows
        routes = self._route_rows
        route_regions = self._route_regions
        starts = ends = 0
        for number, line in enumerate(lines, start=first_number):
            # The exact lines the runtime and the router write, matched whole
            # (timestamp included). A second not seen before is parsed once,
            # there, and its line batched too: the block paths read it with
            # the rest, so rows of equal time keep one order on every path.
            kind = line[25:26]
            if kind == "{":
                match = _LINE_ROUTE.fullmatch(line)
                if match is not None and (match[1] in seconds or self._knows(match[1])):
                    routes.append(match.groups())
                    # Coded here, not at the flush: codes follow first appearance.
                    if match[5] not in route_regions:
                        self._route_region(match[5])
                    if len(routes) >= _BATCH:
                        self._flush_routes()
                    continue
            elif kind == "R":
                match = _LINE_REPORT.fullmatch(line)
                if match is not None and (match[1] in seconds or self._knows(match[1])):
                    reports.append((*match.groups(), region_code))
                    if len(reports) >= _BATCH:
                        self._flush_reports()
                    continue
            elif kind == "S":
                if _is_marker_line(line, _START, seconds):
                    starts += 1
                    continue
            elif kind == "E" and _is_marker_line(line, _END, seconds):
                ends += 1
                continue
            self._general_line(line, number, source, region_code)
        self.starts += starts
        self.ends += ends

    def _take_block(self, block: _Block | bytes, source: str, region: str, number: int) -> int:
        """Add one parsed block (or raw lines to read one by one); return the last line number."""
        if isinstance(block, bytes):
            lines = block.decode("utf-8", errors="replace").split("\n")
            if lines[-1] == "":
                lines.pop()
            self.read_lines(lines, source, region, first_number=number + 1)
            return number + len(lines)
        region_code = self._log_regions[region]
        self.starts += block.starts
        self.ends += block.ends
        self._route_labels_then_rest(block.route_firsts, block.rest, number, source, region_code)
        if block.reports is not None:
            self._report_chunks.append(block.reports)
        if block.routes is not None:
            numbers, index, reasons, stale = block.routes
            self._reasons.update(reasons)
            self._max_stale = max(self._max_stale, stale)
            # Each label was given its code in line order by _route_labels_then_rest.
            table = [self._route_regions[label] for _, label in block.route_firsts]
            codes = np.array(table, dtype=np.int32)[index]
            self._route_chunks.append((*numbers[:2], narrow(codes), *numbers[2:]))
        return number + block.lines

    def _route_labels_then_rest(
        self,
        firsts: list[tuple[int, str]],
        rest: list[tuple[int, str]],
        number: int,
        source: str,
        region_code: int,
    ) -> None:
        """Read a block's other lines, giving region labels codes in line order.

        A label's code is its rank of first appearance in the files, as the
        line-by-line path gives it, whichever path its lines take. Line
        numbers in the block count from 1; ``number`` lines came before it.
        """
        labels = iter(firsts)
        pending = next(labels, None)
        for at, line in rest:
            while pending is not None and pending[0] < at:
                self._route_region(pending[1])
                pending = next(labels, None)
            self._general_line(line, number + at, source, region_code)
        while pending is not None:
            self._route_region(pending[1])
            pending = next(labels, None)

    def _general_line(self, line: str, number: int, source: str, region_code: int) -> None:
        stamp, tab, message = line.partition("\t")
        if not tab:
            if line.strip():
                self._bad(source, number, "no tab between timestamp and message")
            return
        try:
            when = self._timestamp(stamp)
        except ValueError as exc:
            self._bad(source, number, str(exc))
            return
        self._message(when, message.rstrip("\r\n"), region_code, source, number)

    def _flush_reports(self) -> None:
        rows = self._report_rows
        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        seconds = self._seconds
        end = np.array([seconds[s] for s in cols[0]], dtype=np.float64)
        end += np.array(cols[1], dtype=np.int64) / 1000.0
        self._report_chunks.append(
            (
                end,
                np.array(cols[3], dtype=np.float64),
                narrow(np.array(cols[4], dtype=np.int64)),
                narrow(np.array(cols[5], dtype=np.int64)),
                narrow(np.array(cols[6], dtype=np.int64)),
                np.array(["nan" if v is None else v for v in cols[7]], dtype=np.float64),
                np.array(cols[8], dtype=np.int32),
            )
        )
        rows.clear()

    def _flush_routes(self) -> None:
        rows = self._route_rows
        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        seconds = self._seconds
        states = self._states
        time = np.array([seconds[s] for s in cols[0]], dtype=np.float64)
        time += np.array(cols[1], dtype=np.int64) / 1000.0
        self._route_chunks.append(
            (
                time,
                np.array([states[v] for v in cols[2]], dtype=np.int32),
                np.array([self._route_region(v) for v in cols[4]], dtype=np.int32),
                np.array(cols[5], dtype=np.float64),
                np.array(cols[6], dtype=np.float64),
                narrow(np.array(cols[7], dtype=np.int64)),
            )
        )
        for state, reason, stale in zip(cols[2], cols[8], cols[9], strict=True):
            if reason or stale is not None:
                self._reason_and_stale(state, reason, float(stale) if stale is not None else 0.0)
        rows.clear()

    def read_events(self, events: Iterable[Mapping[str, object]], source: str, region: str) -> None:
        """Read CloudWatch Logs events (``timestamp`` in epoch ms, ``message``)."""
        region_code = self._log_regions.setdefault(region, len(self._log_regions))
        self.sources.append(source)
        for number, event in enumerate(events, start=1):
            stamp = event.get("timestamp")
            message = event.get("message")
            if isinstance(stamp, bool) or not isinstance(stamp, int | float):
                self._bad(source, number, f"event timestamp is not epoch ms: {stamp!r}")
                continue
            if not isinstance(message, str):
                self._bad(source, number, f"event message is not text: {message!r}")
                continue
            self._message(stamp / 1000.0, message.rstrip("\r\n"), region_code, source, number)

    def _timestamp(self, stamp: str) -> float:
        # The formats.md layout, YYYY-MM-DDTHH:MM:SS.mmmZ, is parsed per second
        # once; other ISO 8601 spellings take the general path.
        if len(stamp) == 24 and stamp[19] == "." and stamp[23] == "Z" and stamp[20:23].isdigit():
            return self._second(stamp[:19]) + int(stamp[20:23]) / 1000.0
        return parse_timestamp(stamp)

    def _second(self, head: str) -> float:
        """Epoch seconds of ``YYYY-MM-DDTHH:MM:SS`` (UTC), parsed once per second."""
        second = self._seconds.get(head)
        if second is None:
            second = parse_timestamp(head + "Z")
            if len(self._seconds) > 100_000:
                # Batched rows refer to the cache: turn them into columns first.
                self._flush_reports()
                self._flush_routes()
                self._seconds.clear()
            self._seconds[head] = second
        return second

    def _knows(self, head: str) -> bool:
        """Whether ``head`` is a real second, now in the cache (asked once per second)."""
        try:
            self._second(head)
        except ValueError:
            return False
        return True

    def _bad(self, source: str, number: int, reason: str) -> None:
        self.malformed.add(FormatError(source, number, reason))

    def _message(self, when: float, message: str, region: int, source: str, number: int) -> None:
        c = self._c
        first = message[:1]
        if first == "R":
            match = _FAST_REPORT.fullmatch(message)
            if match is not None:
                c.report_end.append(when)
                c.duration.append(float(match.group(2)))
                c.billed.append(int(match.group(3)))
                c.memory.append(int(match.group(4)))
                c.max_memory.append(int(match.group(5)))
                init = match.group(6)
                c.init.append(float(init) if init is not None else math.nan)
                c.log_region.append(region)
                return
        elif first == "{":
            match = _FAST_ROUTE.fullmatch(message)
            if match is not None:
                c.route_time.append(when)
                c.state.append(self._states[match.group(1)])
                c.route_region.append(self._route_region(match.group(3)))
                c.dns_ms.append(float(match.group(4)))
                c.handler_ms.append(float(match.group(5)))
                c.queries.append(int(match.group(6)))
                stale = match.group(8)
                self._reason_and_stale(
                    match.group(1), match.group(7), float(stale) if stale is not None else 0.0
                )
                return
        try:
            parsed = parse_message(message)
        except ValueError as exc:
            self._bad(source, number, str(exc))
            return
        self._add(when, parsed, region)

    def _reason_and_stale(self, state: str, reason: str | None, stale_age_s: float) -> None:
        """Count a router line's reason (when it gives one) and keep the largest stale age."""
        if reason:
            self._reasons[(state, reason)] += 1
        self._max_stale = max(self._max_stale, stale_age_s)

    def _route_region(self, region: str) -> int:
        code = self._route_regions.get(region)
        if code is None:
            code = self._route_regions[region] = len(self._route_regions)
        return code

    def _add(self, when: float, parsed: Message, region: int) -> None:
        c = self._c
        if isinstance(parsed, Report):
            c.report_end.append(when)
            c.duration.append(parsed.duration_ms)
            c.billed.append(parsed.billed_ms)
            c.memory.append(parsed.memory_mb)
            c.max_memory.append(parsed.max_memory_mb)
            c.init.append(parsed.init_ms if parsed.init_ms is not None else math.nan)
            c.log_region.append(region)
            if parsed.status:
                self._status[parsed.status] += 1
        elif isinstance(parsed, Route):
            c.route_time.append(when)
            c.state.append(self._states[parsed.cache_state])
            c.route_region.append(self._route_region(parsed.region))
            c.dns_ms.append(parsed.dns_ms)
            c.handler_ms.append(parsed.handler_ms)
            c.queries.append(parsed.dns_queries)
            self._reason_and_stale(parsed.cache_state, parsed.reason, parsed.stale_age_s)
        elif parsed is LineKind.START:
            self.starts += 1
        elif parsed is LineKind.END:
            self.ends += 1
        else:
            self.other_lines += 1

    def result(self) -> RuntimeLogs:
        """The columns read so far, each sorted by time."""
        self._flush_reports()
        self._flush_routes()
        c = self._c
        self._c = _Columns()
        self._report_chunks.append(
            (
                _floats(c.report_end),
                _floats(c.duration),
                narrow(_ints(c.billed)),
                narrow(_ints(c.memory)),
                narrow(_ints(c.max_memory)),
                _floats(c.init),
                _codes(c.log_region),
            )
        )
        self._route_chunks.append(
            (
                _floats(c.route_time),
                _codes(c.state),
                _codes(c.route_region),
                _floats(c.dns_ms),
                _floats(c.handler_ms),
                narrow(_ints(c.queries)),
            )
        )
        del c
        # Sorted once, kept as the only chunk: a later call gives the same.
        reports = sorted_columns(self._report_chunks)
        self._report_chunks = [reports]
        end, duration, billed, memory, max_memory, init, log_region = reports
        invocations = Invocations(
            end=end,
            duration_ms=duration,
            billed_ms=billed,
            memory_mb=memory,
            max_memory_mb=max_memory,
            init_ms=init,
            log_region=Categories(tuple(self._log_regions), log_region),
            status=dict(self._status),
        )
        route_columns = sorted_columns(self._route_chunks)
        self._route_chunks = [route_columns]
        time, state, region, dns_ms, handler_ms, queries = route_columns
        routes = Routes(
            time=time,
            cache_state=Categories(CACHE_STATES, state),
            region=Categories(tuple(self._route_regions), region),
            dns_ms=dns_ms,
            handler_ms=handler_ms,
            dns_queries=queries,
            reasons=dict(self._reasons),
            max_stale_age_s=self._max_stale,
        )
        return RuntimeLogs(
            invocations=invocations,
            routes=routes,
            starts=self.starts,
            ends=self.ends,
            other_lines=self.other_lines,
            sources=tuple(self.sources),
            malformed=self.malformed,
        )


def _in_order(
    pool: ThreadPoolExecutor, calls: Iterator[Callable[[], T]], ahead: int
) -> Iterator[T]:
    """The calls' results in order, at most ``ahead + 1`` running or done but not taken.

    Bounded, so memory does not grow with the file.
    """
    pending: deque[Future[T]] = deque()
    for call in calls:
        pending.append(pool.submit(call))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _ranges(mapped: mmap.mmap, size: int) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``size`` bytes of whole lines, as ``line_blocks`` cuts them."""
    start, total = 0, len(mapped)
    while start < total:
        end = start + size
        if end >= total:
            end = total
        elif mapped[end - 1] != ord("\n"):
            newline = mapped.find(b"\n", end)
            end = total if newline < 0 else newline + 1
        yield start, end
        start = end


def _scan_range(compiled: Scanner, mapped: mmap.mmap, start: int, end: int, code: int) -> _Block:
    """Scan ``mapped[start:end]``, then let its pages go from this process's memory.

    The page cache keeps them; only this process's resident set, which would
    otherwise grow by the whole file, forgets them.
    """
    block = _scanned_block(compiled.scan(mapped, start, end), code)
    page = mmap.PAGESIZE
    first, last = start - start % page, end - end % page
    if last > first and hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_DONTNEED, first, last - first)
    return block


def _split_lines(data: bytes, count: int) -> pl.Series | None:
    """The lines of ``data`` as polars strings (null when empty), or None when unsure.

    None when polars would not split or decode the block as the line-by-line
    path does: a byte-order mark, a carriage return not before a line feed,
    the byte this split uses as its never-seen separator.
    """
    if data.startswith(codecs.BOM_UTF8) or _FIELD_SEPARATOR.encode() in data:
        return None
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None
    options = {"separator": _FIELD_SEPARATOR, "quote_char": None, "schema": {"line": pl.String}}
    try:
        lines = pl.read_csv(data, has_header=False, **options)["line"]  # type: ignore[arg-type]
    except pl.exceptions.ComputeError:  # not UTF-8: replace as bytes.decode(errors="replace")
        try:
            lines = pl.read_csv(
                data,
                has_header=False,
                encoding="utf8-lossy",
                **options,  # type: ignore[arg-type]
            )["line"]
        except pl.exceptions.PolarsError:
            return None
    except pl.exceptions.PolarsError:
        return None
    return lines if len(lines) == count else None


def _stamp(frame: pl.DataFrame) -> FloatArray:
    """Epoch seconds of each line: its second, plus its milliseconds over 1,000."""
    ms = frame["line"].str.slice(20, 3).cast(pl.Int64).to_numpy() / 1000.0
    second: FloatArray = frame["second"].cast(pl.Float64).to_numpy() + ms
    return second


def _number(fields: pl.DataFrame, name: str, start: int, suffix: str, dtype: type) -> pl.Series:
    column = fields[name].str.slice(start).str.strip_suffix(suffix)
    return column.cast(dtype, strict=True)


def _report_columns(reports: pl.DataFrame, region_code: int) -> tuple[np.ndarray, ...]:
    """The REPORT rows of a block as the reader's column chunk."""
    fields = reports["line"].str.split_exact("\t", 6).struct.unnest()
    init = fields["field_6"]
    cold = init.str.starts_with("Init Duration: ").fill_null(False)
    init_ms = init.str.slice(15).str.strip_suffix(" ms").cast(pl.Float64, strict=False)
    return (
        _stamp(reports),
        _number(fields, "field_2", 10, " ms", pl.Float64).to_numpy(),
        narrow(_number(fields, "field_3", 17, " ms", pl.Int64).to_numpy()),
        narrow(_number(fields, "field_4", 13, " MB", pl.Int64).to_numpy()),
        narrow(_number(fields, "field_5", 17, " MB", pl.Int64).to_numpy()),
        np.where(cold.to_numpy(), init_ms.fill_null(math.nan).to_numpy(), math.nan),
        narrow(np.full(reports.height, region_code, dtype=np.int32)),
    )


def _route_columns(
    routes: pl.DataFrame, states: Mapping[str, int], firsts: list[tuple[int, str]]
) -> tuple[tuple[np.ndarray, ...], np.ndarray, dict[tuple[str, str], int], float]:
    """The router rows of a block (``fields``: the router pattern's groups) as a column chunk.

    The region is its index in ``firsts``: its code depends on the blocks
    before (``_take_block``). Then the (cache state, reason) counts and the
    largest stale age.
    """
    fields = routes["fields"].struct.unnest()
    reasons: dict[tuple[str, str], int] = {}
    if fields["reason"].null_count() < fields.height:  # most lines give no reason
        given = fields.filter(pl.col("reason").is_not_null() & (pl.col("reason") != ""))
        for state, reason, n in given.group_by("state", "reason").len().iter_rows():
            reasons[(str(state), str(reason))] = int(n)
    stale = 0.0
    if fields["stale_age_s"].null_count() < fields.height:
        stale = float(fields["stale_age_s"].cast(pl.Float64, strict=True).max())  # type: ignore[arg-type]
    numbers = (
        _stamp(routes),
        narrow(fields["state"].replace_strict(states, return_dtype=pl.Int32).to_numpy()),
        fields["dns_ms"].cast(pl.Float64, strict=True).to_numpy(),
        fields["handler_ms"].cast(pl.Float64, strict=True).to_numpy(),
        narrow(fields["dns_queries"].cast(pl.Int64, strict=True).to_numpy()),
    )
    index = {region: i for i, (_, region) in enumerate(firsts)}
    return (
        numbers,
        fields["region"].replace_strict(index, return_dtype=pl.Int32).to_numpy(),
        reasons,
        stale,
    )


@dataclass(frozen=True, slots=True)
class _Block:
    """One block of a runtime log file, parsed column-wise (line numbers from 1)."""

    lines: int
    starts: int
    ends: int
    reports: tuple[np.ndarray, ...] | None  # a chunk of _report_chunks
    # The route chunk but its region codes, each row's index into route_firsts (the codes
    # depend on the blocks before), (cache state, reason) counts and the largest stale age.
    routes: tuple[tuple[np.ndarray, ...], np.ndarray, dict[tuple[str, str], int], float] | None
    route_firsts: list[tuple[int, str]]  # (line, region) where each region first appears
    rest: list[tuple[int, str]]  # (line, text) of the lines for the line-by-line path


_STATE_CODES = {state: code for code, state in enumerate(CACHE_STATES)}


def _scanned_block(scanned: Scanned, region_code: int) -> _Block:
    """The compiled scanner's columns as the reader's chunks (narrow whole numbers)."""
    reports = routes = None
    if len(scanned.reports[0]):
        end, duration, billed, memory, max_memory, init = scanned.reports
        region = np.full(len(end), region_code, dtype=np.int32)
        reports = (end, duration, *map(narrow, (billed, memory, max_memory)), init, narrow(region))
    if len(scanned.routes[0]):
        time, state, index, dns_ms, handler_ms, queries = scanned.routes
        numbers = (time, narrow(state), dns_ms, handler_ms, narrow(queries))
        routes = (numbers, index, scanned.reasons, scanned.max_stale)
    return _Block(
        lines=scanned.lines,
        starts=scanned.starts,
        ends=scanned.ends,
        reports=reports,
        routes=routes,
        route_firsts=scanned.regions,
        rest=scanned.rest,
    )


def _parse_block(data: bytes, region_code: int) -> _Block | bytes:
    """Parse whole lines with polars; ``data`` itself when polars would split them otherwise.

    Each line is tested only against the layout its kind letter (the first
    character after the timestamp) allows: one pattern per line, not four.
    """
    count = data.count(b"\n") + (not data.endswith(b"\n"))
    lines = _split_lines(data, count)
    if lines is None:
        return data
    line = pl.col("line")
    kind = pl.col("kind")
    frame = (
        pl.DataFrame({"line": lines})
        .with_row_index("n", offset=1)
        .with_columns(
            kind=line.str.slice(len(_PL_STAMP_TEXT), 1),
            second=line.str.slice(0, 19)
            .str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False, cache=True)
            .dt.epoch("s"),
        )
    )
    del lines
    stamped = frame.lazy().filter(pl.col("second").is_not_null())
    reports, starts, ends, routes = pl.collect_all(
        [
            stamped.filter(kind == "R").with_columns(ok=line.str.contains(_PL_REPORT)),
            stamped.filter(kind == "S").with_columns(ok=line.str.contains(_PL_START)),
            stamped.filter(kind == "E").with_columns(ok=line.str.contains(_PL_END)),
            _routes(stamped.filter(kind == "{")),
        ]
    )
    ok = pl.col("ok")
    parts = (reports, starts, ends, routes)
    rest: list[tuple[int, str]] = []
    # Most blocks hold only the exact lines: then no other line is looked for.
    if sum(int(part["ok"].sum()) for part in parts) != frame.height - frame["line"].null_count():
        unknown = np.ones(frame.height, dtype=bool)
        for part in parts:
            unknown[part.filter(ok)["n"].to_numpy() - 1] = False
        others = frame.filter(line.is_not_null() & pl.Series(unknown))
        rest = [(int(n), str(text)) for n, text in others.select("n", "line").iter_rows()]
        del others, unknown
    del frame
    reports = reports.filter(ok).select("line", "second")
    routes = routes.filter(ok).select("n", "line", "second", "fields")
    regions = routes.select("n", region=pl.col("fields").struct.field("region"))
    firsts = [
        (int(n), str(region))
        for n, region in regions.unique("region", keep="first", maintain_order=True).iter_rows()
    ]
    return _Block(
        lines=count,
        starts=int(starts["ok"].sum()),
        ends=int(ends["ok"].sum()),
        reports=_report_columns(reports, region_code) if reports.height else None,
        routes=_route_columns(routes, _STATE_CODES, firsts) if routes.height else None,
        route_firsts=firsts,
        rest=rest,
    )


_ROUTE_GROUPS = (
    "state",
    "origin",
    "region",
    "dns_ms",
    "handler_ms",
    "dns_queries",
    "reason",
    "stale_age_s",
)


def _named_groups(pattern: str, names: tuple[str, ...]) -> str:
    """``pattern`` with its capturing groups named ``names`` in order (no escaped paren in it)."""
    parts = re.split(r"\((?!\?)", pattern)
    if len(parts) != len(names) + 1:
        raise ValueError(f"{len(parts) - 1} groups for {len(names)} names")
    return parts[0] + "".join(f"(?P<{n}>{part}" for n, part in zip(names, parts[1:], strict=True))


# The router's values in two parts, the second from dns_queries' value on:
# optional groups make a pattern slow on the whole line, not on its short end.
_QUERIES_KEY = '"dns_queries":'
# Both on the whole text, no part copied out: the first from its start, the
# second to its end, which must begin at dns_queries' first (only) key.
_PL_ROUTE_MAIN = _named_groups(
    _PL_ROUTE_REST.split(_QUERIES_KEY)[0] + _QUERIES_KEY, _ROUTE_GROUPS[:5]
)
_PL_ROUTE_END = (
    "(?P<tail>"
    + _named_groups(
        _QUERIES_KEY + _PL_ROUTE_REST.split(_QUERIES_KEY)[1], _ROUTE_GROUPS[5:]
    ).removesuffix("$")
    + ")$"
)


def _routes(lines: pl.LazyFrame) -> pl.LazyFrame:
    """Lines that may be the router's: ``ok`` when one matches its layout, ``fields`` its values.

    Checked in three parts, each cheap: the literal up to the EMF Timestamp's
    digits, the literal from them to the request id, and the rest by pattern,
    whose groups are the values.
    """
    line = pl.col("line")
    head = len(_PL_STAMP_TEXT) + len(_ROUTE_HEAD)
    mid = pl.col("mid")
    return (
        lines.with_columns(
            mid=pl.when(line.str.slice(len(_PL_STAMP_TEXT), len(_ROUTE_HEAD)) == _ROUTE_HEAD).then(
                line.str.find(_ROUTE_MID[:21], literal=True)
            ),
        )
        .with_columns(
            rest=pl.when(
                (mid > head)
                & line.str.slice(head, mid - head).str.contains("^[0-9]+$")
                & (line.str.slice(mid, len(_ROUTE_MID)) == _ROUTE_MID)
                & line.str.contains(_PL_STAMP)
            ).then(line.str.slice(mid + len(_ROUTE_MID)))
        )
        .with_columns(
            main=pl.col("rest").str.extract_groups(_PL_ROUTE_MAIN),
            end=pl.col("rest").str.extract_groups(_PL_ROUTE_END),
            # From dns_queries' first key to the end: the length the tail must have.
            tail_length=pl.col("rest").str.len_bytes()
            - pl.col("rest").str.find(_QUERIES_KEY, literal=True),
        )
        .with_columns(
            fields=pl.struct(
                *(pl.col("main").struct.field(name) for name in _ROUTE_GROUPS[:5]),
                *(pl.col("end").struct.field(name) for name in _ROUTE_GROUPS[5:]),
            )
        )
        .with_columns(
            ok=pl.col("fields").struct.field("state").is_not_null()
            & (pl.col("end").struct.field("tail").str.len_bytes() == pl.col("tail_length"))
        )
    )


def _align(handle: BinaryIO, start: int) -> int:
    """Move to the first line that begins at or after byte ``start``; return the offset."""
    if start <= 0:
        handle.seek(0)
        return 0
    handle.seek(start - 1)
    if handle.read(1) != b"\n":
        handle.readline()  # that line began in the range before
    return handle.tell()


def _floats(values: array[float]) -> FloatArray:
    return np.array(values, dtype=np.float64) if values else np.zeros(0)


def _ints(values: array[int]) -> IntArray:
    return np.array(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)


def _codes(values: array[int]) -> CodeArray:
    return np.array(values, dtype=np.int32) if values else np.zeros(0, dtype=np.int32)


def lambda_log_files(log_dir: Path) -> list[Path]:
    """The runtime log files under a run's ``logs/`` (``lambda/<region>.<function>.log``)."""
    folder = log_dir / LAMBDA_DIR
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix == LOG_SUFFIX and path.is_file())


def read_runtime_logs(
    log_dir: Path,
    *,
    strict: bool = False,
    threads: int = 2,
    block_bytes: int = BLOCK_BYTES,
    compiled: bool = True,
) -> RuntimeLogs | None:
    """Read every runtime log file of a run (None when the run has none)."""
    files = lambda_log_files(log_dir)
    if not files:
        return None
    reader = RuntimeLogReader(
        strict=strict, threads=threads, block_bytes=block_bytes, compiled=compiled
    )
    for path in files:
        reader.read_file(path)
    return reader.result()
