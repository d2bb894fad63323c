from __future__ import annotations

import csv

import pytest

from loadtests._records import (
    RATE_HEADER,
    REQUESTS_HEADER,
    RecordsWriter,
    rate_rows,
    short_error,
    write_rate_csv,
)

ORIGIN = 1_795_714_000.0


def record(offset, *, late=0.0, error="", status=200):
    return (
        ORIGIN + offset,
        12.3456,
        "GET",
        "spike",
        status,
        2048,
        "Hit from cloudfront",
        "IAD89-P1",
        "abc==",
        "us-east-1",
        late,
        error,
    )


def test_requests_csv_has_the_contract_header_and_formats(tmp_path):
    writer = RecordsWriter(tmp_path / "requests.csv", origin=ORIGIN)
    writer.write([record(0.1234567), record(1.5, late=25.5, error="HTTPError: 503", status=503)])
    writer.close()
    with (tmp_path / "requests.csv").open() as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == REQUESTS_HEADER
    # Exactly as docs/formats.md spells it for outside tools.
    assert ",".join(rows[0]) == (
        "start,duration_ms,method,name,status,bytes,x_cache,pop,cf_id,origin_region,late_ms,error"
    )
    assert rows[1] == [
        f"{ORIGIN + 0.1234567:.6f}",
        "12.346",
        "GET",
        "spike",
        "200",
        "2048",
        "Hit from cloudfront",
        "IAD89-P1",
        "abc==",
        "us-east-1",
        "0",
        "",
    ]
    assert rows[2][10:] == ["25.500", "HTTPError: 503"]
    assert rows[2][4] == "503"


def test_counts_per_second_since_the_origin(tmp_path):
    writer = RecordsWriter(tmp_path / "r.csv", origin=ORIGIN)
    with writer:
        writer.write([record(0.5), record(0.9, late=11), record(2.2, error="x"), record(-0.5)])
    counts = writer.counts
    assert counts.requests == 4
    assert counts.failures == 1
    assert counts.late_starts == 1
    assert counts.achieved == [2, 0, 1]
    assert counts.late == [1, 0, 0]


def test_rate_rows_cover_the_schedule_and_any_later_second(tmp_path):
    writer = RecordsWriter(tmp_path / "r.csv", origin=ORIGIN)
    with writer:
        writer.write([record(0.5), record(4.5, late=50)])
    rows = rate_rows([2.0, 3.0], writer.counts)
    assert rows == [(0, 2.0, 1, 0), (1, 3.0, 0, 0), (2, 0, 0, 0), (3, 0, 0, 0), (4, 0, 1, 1)]
    write_rate_csv(tmp_path / "rate.csv", rows)
    lines = (tmp_path / "rate.csv").read_text().splitlines()
    assert lines[0] == ",".join(RATE_HEADER) == "second,target,achieved,late"
    assert lines[1] == "0,2,1,0"
    assert lines[5] == "4,0,1,1"


def test_fractional_targets_keep_three_decimals(tmp_path):
    write_rate_csv(tmp_path / "rate.csv", [(0, 2.5, 2, 0), (1, 1 / 3, 0, 0)])
    assert (tmp_path / "rate.csv").read_text().splitlines()[1:] == ["0,2.5,2,0", "1,0.333,0,0"]


def test_short_error_is_one_bounded_line():
    assert short_error(None) == ""
    assert short_error(ConnectionRefusedError(111, "Connection\nrefused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
    assert len(short_error("x" * 500)) == 120
    assert short_error(TimeoutError()) == "TimeoutError"


def test_writing_after_close_fails_clearly(tmp_path):
    writer = RecordsWriter(tmp_path / "r.csv", origin=ORIGIN)
    writer.close()
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write([record(0)])
