"""Reading a run's big files in this process, with bounded memory.

A million-request run holds about 1 GB of text: ``requests.csv``, a runtime
log four lines per invocation, an access log. The runtime log, most of it, is
read a block at a time, each block scanned by the compiled scanner
(results/logscan.py) or, without it, parsed column-wise by polars, on
``workers`` threads (both release the GIL), so no worker process copies the
interpreter or ships its columns back, and memory holds the columns plus a
few blocks whatever the file's size. ``requests.csv`` and the access log are
read each on its own thread, before the runtime logs when the scanner reads
those, meanwhile when polars does. Results are the same for any number of
threads; malformed lines keep their file:line.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from results.access_log import read_access_logs
from results.logs import BLOCK_BYTES, read_runtime_logs
from results.logscan import scanner
from results.records import read_requests

if TYPE_CHECKING:
    from pathlib import Path

    from results.access_log import AccessLog
    from results.logs import RuntimeLogs
    from results.records import RequestRecords

MAX_WORKERS = 4


@dataclass(frozen=True, slots=True)
class Inputs:
    """The big inputs of a run folder."""

    records: RequestRecords
    runtime: RuntimeLogs | None
    access: AccessLog | None


def default_workers() -> int:
    """Threads to use: the CPUs this process may run on, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


def read_inputs(
    run_dir: Path,
    *,
    strict: bool,
    workers: int | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Inputs:
    """Read ``requests.csv`` and ``logs/``; runtime logs in blocks of ``block_bytes``."""
    log_dir = run_dir / "logs"
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1:
        return Inputs(
            records=read_requests(run_dir / "requests.csv", strict=strict),
            runtime=read_runtime_logs(log_dir, strict=strict, threads=1, block_bytes=block_bytes),
            access=read_access_logs(log_dir, strict=strict),
        )
    with ThreadPoolExecutor(2) as pool:
        records = pool.submit(read_requests, run_dir / "requests.csv", strict=strict)
        access = pool.submit(read_access_logs, log_dir, strict=strict)
        if scanner() is not None:
            # The scanner reads the runtime logs in a fraction of the others' time: after
            # them, so that the peak holds its columns or their parsers' text, not both
            # (2M records: 460-470 MB instead of 550, for 0.3-0.5 s).
            records.result()
            access.result()
        runtime = read_runtime_logs(
            log_dir, strict=strict, threads=workers, block_bytes=block_bytes
        )
        return Inputs(records=records.result(), runtime=runtime, access=access.result())
