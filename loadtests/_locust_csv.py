"""Locust's own CSVs in the run folder, when Locust was not told to write them there.

``--csv <run>/locust`` makes Locust write ``locust_stats.csv``,
``locust_stats_history.csv``, ``locust_failures.csv`` and
``locust_exceptions.csv`` itself (``edgedrill run`` passes it). A scenario
started by hand without it still gets them: Locust's writer, run from the
start of the test to its end, then finished the way Locust finishes it.
"""

from __future__ import annotations

import gevent
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter

import csv
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


class LocustCsv:
    """Locust's CSV writer for one run, writing under ``prefix``."""

    def __init__(self, environment: Any, prefix: Path, *, full_history: bool = False) -> None:
        self._writer: Any = StatsCSVFileWriter(
            environment, PERCENTILES_TO_REPORT, str(prefix), full_history=full_history
        )
        self._greenlet: Any = gevent.spawn(self._writer.stats_writer)

    def close(self) -> None:
        """Write the final stats and close the files (idempotent)."""
        if self._greenlet is None:
            return
        self._greenlet.kill(block=True)
        self._greenlet = None
        writer = self._writer
        tables = (
            (
                writer.requests_csv_filehandle,
                writer.requests_csv_columns,
                writer._requests_data_rows,
            ),
            (writer.failures_csv_filehandle, writer.failures_columns, writer._failures_data_rows),
            (
                writer.exceptions_csv_filehandle,
                writer.exceptions_columns,
                writer._exceptions_data_rows,
            ),
        )
        for handle, columns, rows in tables:
            handle.seek(0)
            handle.truncate()
            table = csv.writer(handle)
            table.writerow(columns)
            rows(table)
        history = writer.stats_history_csv_filehandle
        if history.tell() == 0:
            writer.stats_history_csv_writer.writerow(writer.stats_history_csv_columns)
        writer._stats_history_data_rows(writer.stats_history_csv_writer, time.time())
        writer.close_files()
