"""The columns of a run's per-request and per-second CSVs, in file order.

``requests.csv`` holds one row per request Locust made and ``rate.csv`` one
row per second since the run's start (docs/formats.md, "Run folder").
"""

from __future__ import annotations

REQUESTS_COLUMNS: tuple[str, ...] = (
    "start",
    "duration_ms",
    "method",
    "name",
    "status",
    "bytes",
    "x_cache",
    "pop",
    "cf_id",
    "origin_region",
    "late_ms",
    "error",
)
RATE_COLUMNS: tuple[str, ...] = ("second", "target", "achieved", "late")
