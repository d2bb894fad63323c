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

import json
import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TextIO

import numpy as np

from results.errors import FormatError, MalformedLines
from results.records import BoolArray, Categories, CodeArray, FloatArray, IntArray

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

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
_NUM = r"(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?"
_STR = r'[^"\\\x00-\x1f]*'
_FAST_REPORT = re.compile(
    r"REPORT RequestId: (\S+)\tDuration: (\d+(?:\.\d+)?) ms\tBilled Duration: (\d+) ms"
    r"\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB"
    r"(?:\tInit Duration: (\d+(?:\.\d+)?) ms)?\t?"
)
_FAST_ROUTE = re.compile(
    r'\{"_aws":\{"Timestamp":\d+,"CloudWatchMetrics":\[\{"Namespace":"edgedrill/router",'
    r'"Dimensions":\[\["cache_state"\]\],"Metrics":\[\{"Name":"handler_ms","Unit":"Milliseconds"\},'
    r'\{"Name":"dns_ms","Unit":"Milliseconds"\},\{"Name":"dns_queries","Unit":"Count"\}\]\}\]\},'
    rf'"event":"route","request_id":"{_STR}","cache_state":"(hit|miss|stale|negative|fallback)",'
    rf'"origin":"({_STR})","region":"({_STR})","dns_ms":({_NUM}),"handler_ms":({_NUM}),'
    r'"dns_queries":(0|[1-9]\d*)\}'
)
_VALUE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|MB)?")


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
    text = fields[key]
    match = _VALUE.fullmatch(text)
    if match is None or (match.group(2) or unit) != unit:
        raise ValueError(f"REPORT {key}: expected '<number> {unit}', got {text!r}")
    value = float(match.group(1))
    if whole and value != int(value):
        raise ValueError(f"REPORT {key}: expected whole {unit}, got {text!r}")
    return value


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
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"router line: {key} must be finite and >= 0, got {value!r}")
    return float(value)


def _whole(document: Mapping[str, object], key: str) -> int:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"router line: {key} must be a count, got {value!r}")
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
    billed_ms: IntArray
    memory_mb: IntArray
    max_memory_mb: IntArray
    init_ms: FloatArray  # NaN for a warm invocation
    log_region: Categories  # the region the function ran in (its log group)
    status: Mapping[str, int]  # REPORT Status values other than success

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
    dns_queries: IntArray
    reasons: Mapping[tuple[str, str], int]  # (cache_state, reason) -> count
    max_stale_age_s: float

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

    def __init__(self, *, strict: bool = False) -> None:
        self.malformed = MalformedLines(strict=strict)
        self._c = _Columns()
        self._log_regions: dict[str, int] = {}
        self._route_regions: dict[str, int] = {}
        self._states = {state: code for code, state in enumerate(CACHE_STATES)}
        self._status: Counter[str] = Counter()
        self._reasons: Counter[tuple[str, str]] = Counter()
        self._max_stale = 0.0
        self._seconds: dict[str, float] = {}
        self.starts = 0
        self.ends = 0
        self.other_lines = 0
        self.sources: list[str] = []

    def read_file(self, path: Path, region: str | None = None) -> None:
        """Read one local log file (``<region>.<function>.log``)."""
        region = region if region is not None else path.name.split(".", 1)[0]
        self.sources.append(str(path))
        with path.open(encoding="utf-8", errors="replace") as handle:
            self.read_lines(handle, str(path), region)

    def read_lines(self, lines: Iterable[str] | TextIO, source: str, region: str) -> None:
        r"""Read ``<timestamp>\t<message>`` lines; ``source`` names them in errors."""
        region_code = self._log_regions.setdefault(region, len(self._log_regions))
        for number, line in enumerate(lines, start=1):
            stamp, tab, message = line.partition("\t")
            if not tab:
                if line.strip():
                    self._bad(source, number, "no tab between timestamp and message")
                continue
            try:
                when = self._timestamp(stamp)
            except ValueError as exc:
                self._bad(source, number, str(exc))
                continue
            self._message(when, message.rstrip("\r\n"), region_code, source, number)

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
            head = stamp[:19]
            second = self._seconds.get(head)
            if second is None:
                second = parse_timestamp(head + "Z")
                if len(self._seconds) > 100_000:
                    self._seconds.clear()
                self._seconds[head] = second
            return second + int(stamp[20:23]) / 1000.0
        return parse_timestamp(stamp)

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
                return
        try:
            parsed = parse_message(message)
        except ValueError as exc:
            self._bad(source, number, str(exc))
            return
        self._add(when, parsed, region)

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
            if parsed.reason:
                self._reasons[(parsed.cache_state, parsed.reason)] += 1
            self._max_stale = max(self._max_stale, parsed.stale_age_s)
        elif parsed is LineKind.START:
            self.starts += 1
        elif parsed is LineKind.END:
            self.ends += 1
        else:
            self.other_lines += 1

    def result(self) -> RuntimeLogs:
        """The columns read so far, each sorted by time."""
        c = self._c
        end = np.frombuffer(c.report_end, dtype=np.float64) if c.report_end else np.zeros(0)
        order = np.argsort(end, kind="stable")
        invocations = Invocations(
            end=end[order],
            duration_ms=_floats(c.duration)[order],
            billed_ms=_ints(c.billed)[order],
            memory_mb=_ints(c.memory)[order],
            max_memory_mb=_ints(c.max_memory)[order],
            init_ms=_floats(c.init)[order],
            log_region=Categories(tuple(self._log_regions), _codes(c.log_region)[order]),
            status=dict(self._status),
        )
        time = _floats(c.route_time)
        order = np.argsort(time, kind="stable")
        routes = Routes(
            time=time[order],
            cache_state=Categories(CACHE_STATES, _codes(c.state)[order]),
            region=Categories(tuple(self._route_regions), _codes(c.route_region)[order]),
            dns_ms=_floats(c.dns_ms)[order],
            handler_ms=_floats(c.handler_ms)[order],
            dns_queries=_ints(c.queries)[order],
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


def _floats(values: array[float]) -> FloatArray:
    return np.array(values, dtype=np.float64) if values else np.zeros(0)


def _ints(values: array[int]) -> IntArray:
    return np.array(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)


def _codes(values: array[int]) -> CodeArray:
    return np.array(values, dtype=np.int32) if values else np.zeros(0, dtype=np.int32)


def lambda_log_files(log_dir: Path) -> list[Path]:
    """The runtime log files under a run's ``logs/`` (``lambda/<region>.<function>.log``)."""
    folder = log_dir / "lambda"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix == ".log" and path.is_file())


def read_runtime_logs(log_dir: Path, *, strict: bool = False) -> RuntimeLogs | None:
    """Read every runtime log file of a run (None when the run has none)."""
    files = lambda_log_files(log_dir)
    if not files:
        return None
    reader = RuntimeLogReader(strict=strict)
    for path in files:
        reader.read_file(path)
    return reader.result()


def iter_messages(events: Iterable[Mapping[str, object]]) -> Iterator[tuple[float, str]]:
    """``(epoch seconds, message)`` of CloudWatch events, for writing them as local lines."""
    for event in events:
        stamp = event.get("timestamp")
        message = event.get("message")
        if isinstance(stamp, int | float) and isinstance(message, str):
            yield stamp / 1000.0, message.rstrip("\r\n")
