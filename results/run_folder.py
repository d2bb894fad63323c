"""A run folder's small files: ``run.json``, ``rate.csv``, ``faults.jsonl``, Locust's CSVs.

Formats in docs/formats.md, file names in :mod:`edgedrill_formats.run_folder`
(re-exported here for the analysis). ``run.json`` and ``requests.csv`` are
required; every other file is optional and its absence is reported, never
guessed at.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from edgedrill_formats.records import RATE_COLUMNS
from edgedrill_formats.run_folder import FAULTS_JSONL as FAULTS_JSONL
from edgedrill_formats.run_folder import LOCUST_EXCEPTIONS, LOCUST_FAILURES, LOCUST_STATS
from edgedrill_formats.run_folder import RATE_CSV as RATE_CSV
from edgedrill_formats.run_folder import REQUESTS_CSV as REQUESTS_CSV
from edgedrill_formats.run_folder import RUN_JSON as RUN_JSON
from results.errors import FormatError, MalformedLines, RunFolderError
from results.records import parse_float, parse_int

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from results.records import FloatArray, IntArray



@dataclass(frozen=True, slots=True)
class RunInfo:
    """``run.json``: what ran, when, and the counts the scenario kept."""

    scenario: str
    start: float  # Unix epoch seconds
    end: float
    host: str = ""
    local: bool = False
    args: object = None
    versions: Mapping[str, str] = field(default_factory=dict)
    requests: int | None = None
    failures: int | None = None
    late_starts: int | None = None
    malformed_lines: int | None = None
    memory_mb: int | None = None
    billing_threshold_ms: float | None = None
    # Written by ``edgedrill fetch-logs --since``: a real distribution's router
    # logs over a window, with no viewer requests recorded by edgedrill.
    logs_only: bool = False

    @property
    def duration_s(self) -> float:
        """Wall-clock length of the run."""
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class RateSeries:
    """``rate.csv``: per second since the run's start, requests asked for, made, started late."""

    second: IntArray
    target: FloatArray
    achieved: FloatArray
    late: FloatArray


# The spellings whose fault breaks the router's own lookup of the routing
# name, and the edge's resolution of the bucket domains (docs/formats.md).
ROUTER_DNS_PREFIX = "dns:"
ORIGIN_DNS_PREFIX = "origin-dns:"
S3_TARGET_PREFIX = "s3:"


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault of the run's timeline (``faults.jsonl``)."""

    fault: str  # the spelling as written, e.g. ``bucket:503``
    target: str  # the engine target, e.g. ``s3:eu-west-1`` or ``dns``
    start: float  # Unix epoch seconds
    end: float | None  # None: still active when the run ended
    region: str | None = None
    kind: str = ""  # the engine kind, e.g. ``slowdown``
    probability: float | None = None
    id: str = ""

    @property
    def label(self) -> str:
        """Spelling and target, as the plots and the report name the fault."""
        return f"{self.fault} {self.target}" if self.target else self.fault

    @property
    def faulted_region(self) -> str | None:
        """The origin region this fault breaks, when it breaks one (a bucket, its domain)."""
        if self.target.startswith(S3_TARGET_PREFIX):
            return self.target.removeprefix(S3_TARGET_PREFIX) or None
        if self.fault.startswith(ORIGIN_DNS_PREFIX) and self.region:
            return self.region
        return None

    @property
    def on_router_dns(self) -> bool:
        """Whether the fault breaks the router's own DNS lookup (``dns:*``)."""
        return self.fault.startswith(ROUTER_DNS_PREFIX)

    def end_or(self, default: float) -> float:
        """The fault's end, or ``default`` while it was still active."""
        return self.end if self.end is not None else default


@dataclass(frozen=True, slots=True)
class LocustStats:
    """Locust's own view (its CSVs), kept to cross-check the per-request records."""

    requests: int
    failures: int
    percentiles_ms: Mapping[str, float]  # "50%" -> ms, as Locust rounds them
    failures_by_error: Mapping[str, int]
    exceptions: int


def read_run_info(path: Path) -> RunInfo:
    """Read and check ``run.json``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(path, "missing (not a run folder?)") from None
    except (OSError, UnicodeError) as exc:
        raise RunFolderError(path, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FormatError(str(path), exc.lineno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise RunFolderError(path, "not a JSON object")
    start = _number(document, "start", path)
    end = _number(document, "end", path)
    if start is None or end is None:
        raise RunFolderError(path, "field 'start' and 'end' are required")
    if end < start:
        raise RunFolderError(path, f"field 'end' ({end}) is before 'start' ({start})")
    versions = document.get("versions") or {}
    if not isinstance(versions, dict):
        raise RunFolderError(path, "field 'versions' is not an object")
    memory = _number(document, "memory_mb", path)
    return RunInfo(
        scenario=str(document.get("scenario", "")),
        start=start,
        end=end,
        host=str(document.get("host") or ""),
        local=bool(document.get("local", False)),
        args=document.get("args"),
        versions={str(k): str(v) for k, v in versions.items()},
        requests=_count(document, "requests", path),
        failures=_count(document, "failures", path),
        late_starts=_count(document, "late_starts", path),
        malformed_lines=_count(document, "malformed_lines", path),
        memory_mb=int(memory) if memory is not None else None,
        billing_threshold_ms=_number(document, "billing_threshold_ms", path),
        logs_only=document.get("logs_only") is True,
    )


def _number(document: Mapping[str, object], key: str, path: Path) -> float | None:
    value = document.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RunFolderError(path, f"field {key!r} is not a number: {value!r}")
    return float(value)


def _count(document: Mapping[str, object], key: str, path: Path) -> int | None:
    value = _number(document, key, path)
    if value is None:
        return None
    if value < 0 or value != int(value):
        raise RunFolderError(path, f"field {key!r} is not a count: {value!r}")
    return int(value)


def read_rate(path: Path, malformed: MalformedLines) -> RateSeries | None:
    """Read ``rate.csv`` (None when the run has none)."""
    if not path.exists():
        return None
    rows: list[tuple[int, float, float, float]] = []
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in RATE_COLUMNS if name not in header]
        if missing:
            raise FormatError(str(path), 1, f"header lacks column(s) {', '.join(missing)}")
        index = [header.index(name) for name in RATE_COLUMNS]
        for row in reader:
            if not row:
                continue
            try:
                rows.append(_rate_row(row, index))
            except (ValueError, IndexError) as exc:
                malformed.add(FormatError(str(path), reader.line_num, str(exc)))
    rows.sort()
    return RateSeries(
        second=np.array([r[0] for r in rows], dtype=np.int64),
        target=np.array([r[1] for r in rows], dtype=np.float64),
        achieved=np.array([r[2] for r in rows], dtype=np.float64),
        late=np.array([r[3] for r in rows], dtype=np.float64),
    )


def _rate_row(row: list[str], index: list[int]) -> tuple[int, float, float, float]:
    second_text, *rest = (row[i] for i in index)
    second = parse_int(second_text, "second")
    target, achieved, late = (
        parse_float(text, name, minimum=0.0)
        for name, text in zip(("target", "achieved", "late"), rest, strict=True)
    )
    return second, target, achieved, late


def read_faults(path: Path, malformed: MalformedLines) -> tuple[Fault, ...] | None:
    """Read ``faults.jsonl`` (None when the run has no fault timeline).

    Faults may start before the run or end after it; they are kept as logged.
    """
    if not path.exists():
        return None
    faults: list[Fault] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                faults.append(_fault(line))
            except ValueError as exc:
                malformed.add(FormatError(str(path), number, str(exc)))
    return tuple(sorted(faults, key=lambda f: f.start))


def _fault(line: str) -> Fault:
    try:
        document = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg}") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    kind = document.get("fault")
    if not isinstance(kind, str) or not kind:
        raise ValueError("field 'fault' must be a non-empty string")
    start = document.get("start")
    end = document.get("end")
    if isinstance(start, bool) or not isinstance(start, int | float) or not math.isfinite(start):
        raise ValueError(f"field 'start' is not an epoch time: {start!r}")
    if end is not None and (
        isinstance(end, bool) or not isinstance(end, int | float) or not math.isfinite(end)
    ):
        raise ValueError(f"field 'end' is not an epoch time: {end!r}")
    if end is not None and end < start:
        raise ValueError(f"field 'end' ({end}) is before 'start' ({start})")
    probability = document.get("probability")
    if probability is not None and (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or not 0.0 <= probability <= 1.0
    ):
        raise ValueError(f"field 'probability' is not a number in [0, 1]: {probability!r}")
    return Fault(
        fault=kind,
        target=_optional_text(document, "target") or "",
        start=float(start),
        end=float(end) if end is not None else None,
        region=_optional_text(document, "region") or None,
        kind=_optional_text(document, "kind") or "",
        probability=float(probability) if probability is not None else None,
        id=_optional_text(document, "id") or "",
    )


def _optional_text(document: Mapping[str, object], key: str) -> str | None:
    value = document.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"field {key!r} must be a string or null, got {value!r}")


def read_locust(run_dir: Path) -> LocustStats | None:
    """Read Locust's aggregated stats, failures and exceptions CSVs (None without them)."""
    aggregated = next(
        (row for row in _csv_rows(run_dir / LOCUST_STATS) if row.get("Name") == "Aggregated"),
        None,
    )
    if aggregated is None:
        return None
    percentiles: dict[str, float] = {}
    for key, value in aggregated.items():
        if key and key.endswith("%"):
            try:
                percentiles[key] = float(value)
            except (TypeError, ValueError):
                continue  # "N/A" when Locust saw no request
    failures: dict[str, int] = {}
    for row in _csv_rows(run_dir / LOCUST_FAILURES):
        error = row.get("Error") or ""
        failures[error] = failures.get(error, 0) + _int_or_zero(row.get("Occurrences"))
    exceptions = sum(
        _int_or_zero(row.get("Count")) for row in _csv_rows(run_dir / LOCUST_EXCEPTIONS)
    )
    return LocustStats(
        requests=_int_or_zero(aggregated.get("Request Count")),
        failures=_int_or_zero(aggregated.get("Failure Count")),
        percentiles_ms=percentiles,
        failures_by_error=failures,
        exceptions=exceptions,
    )


def _csv_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        return list(csv.DictReader(handle))


def _int_or_zero(value: str | None) -> int:
    try:
        return int(float(value or 0))
    except ValueError:
        return 0
