"""``results`` imports nothing of ours, so it keeps its own copy of the formats it reads.

These tests hold each copy to the writer's, so the two cannot drift apart.
"""

from __future__ import annotations

from edge.access_log import FIELDS as EDGE_FIELDS
from loadtests._records import RATE_HEADER, REQUESTS_HEADER
from results.access_log import FIELDS as RESULTS_FIELDS
from results.records import COLUMNS


def test_access_log_fields_match_the_edge_writer() -> None:
    assert RESULTS_FIELDS == EDGE_FIELDS
    assert len(EDGE_FIELDS) == 33


def test_requests_csv_columns_match_the_recorder() -> None:
    assert REQUESTS_HEADER == COLUMNS
    assert RATE_HEADER == ("second", "target", "achieved", "late")
