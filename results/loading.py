"""Reading a run's big files, in parallel when they are big.

A million-request run holds about 1 GB of text: ``requests.csv``, a runtime
log four lines per invocation, an access log. Parsing is CPU-bound Python, so
large inputs are read by worker processes (spawned, so that no thread or lock
of the caller is copied): ``requests.csv`` and the access log each in one,
each runtime log file split into byte ranges at line boundaries. Small runs
are read in this process, where starting workers would cost more than it saves.
Results are the same either way; malformed lines keep their file:line.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from results.access_log import access_log_files, read_access_logs
from results.logs import (
    RuntimeLogReader,
    RuntimeLogs,
    file_ranges,
    lambda_log_files,
    merge_runtime_logs,
    read_runtime_logs,
)
from results.records import read_requests

if TYPE_CHECKING:
    from concurrent.futures import Future
    from pathlib import Path

    from results.access_log import AccessLog
    from results.records import RequestRecords

# Below this many bytes of input, workers cost more than they save.
PARALLEL_BYTES = 64 << 20
RANGE_BYTES = 32 << 20
MAX_WORKERS = 4


@dataclass(frozen=True, slots=True)
class Inputs:
    """The big inputs of a run folder."""

    records: RequestRecords
    runtime: RuntimeLogs | None
    access: AccessLog | None


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def _size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths if path.exists())


def read_inputs(
    run_dir: Path,
    *,
    strict: bool,
    workers: int | None = None,
    parallel_bytes: int = PARALLEL_BYTES,
    range_bytes: int = RANGE_BYTES,
) -> Inputs:
    """Read ``requests.csv`` and ``logs/`` (in workers when big and allowed).

    ``parallel_bytes`` is the input size from which workers are used and
    ``range_bytes`` the smallest piece a runtime log is split into.
    """
    log_dir = run_dir / "logs"
    requests = run_dir / "requests.csv"
    lambda_files = lambda_log_files(log_dir)
    access_files = access_log_files(log_dir)
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or _size([requests, *lambda_files, *access_files]) < parallel_bytes:
        return Inputs(
            records=read_requests(requests, strict=strict),
            runtime=read_runtime_logs(log_dir, strict=strict),
            access=read_access_logs(log_dir, strict=strict),
        )
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # The longest tasks first: runtime log ranges, then the rest.
        ranges: list[tuple[Future[tuple[RuntimeLogs, int]], str]] = []
        for path in lambda_files:
            for start, end in file_ranges(path, workers, minimum=range_bytes):
                ranges.append((pool.submit(_read_log_range, path, start, end), str(path)))
        access = pool.submit(read_access_logs, log_dir, strict=strict) if access_files else None
        records = pool.submit(read_requests, requests, strict=strict)
        runtime = None
        if ranges:
            parts = [(future.result()[0], source, future.result()[1]) for future, source in ranges]
            runtime = merge_runtime_logs(parts, strict=strict)
        return Inputs(
            records=records.result(),
            runtime=runtime,
            access=access.result() if access is not None else None,
        )


def _read_log_range(path: Path, start: int, end: int) -> tuple[RuntimeLogs, int]:
    """One byte range of a runtime log file (in a worker)."""
    reader = RuntimeLogReader(strict=False)  # merge_runtime_logs applies strictness in order
    lines = reader.read_range(path, start, end)
    return reader.result(), lines
