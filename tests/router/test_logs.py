"""The EMF line is valid JSON whatever the strings in it hold."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from router.logs import NAMESPACE, InvocationLog, emf_line


@given(
    request_id=st.text(),
    reason=st.text(),
    unknown=st.lists(st.text(), max_size=3),
    dns_ms=st.floats(min_value=0, max_value=1e6),
    stale=st.floats(min_value=0, max_value=1e6),
)
def test_emf_line_round_trips(
    request_id: str, reason: str, unknown: list[str], dns_ms: float, stale: float
) -> None:
    log = InvocationLog(
        request_id=request_id,
        cache_state="stale",
        origin="media-use1.s3.us-east-1.amazonaws.com",
        region="us-east-1",
        dns_ms=dns_ms,
        handler_ms=dns_ms + 0.5,
        dns_queries=2,
        reason=reason,
        stale_age_s=stale,
        unknown_domains=tuple(unknown),
    )
    line = emf_line(log, timestamp_ms=1_700_000_000_123)
    assert "\n" not in line
    document = json.loads(line)
    assert document["_aws"]["Timestamp"] == 1_700_000_000_123
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert document["request_id"] == request_id
    assert document.get("reason", "") == reason
    assert document.get("unknown_domains", []) == unknown
    assert abs(document["dns_ms"] - dns_ms) <= 0.0005 + 1e-9 * dns_ms
    assert document["dns_queries"] == 2
