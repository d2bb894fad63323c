"""The W3C line CloudFront writes per request."""

from __future__ import annotations

from pathlib import Path

from edge.access_log import FIELDS, AccessLog, AccessRecord, parse_line, render


def record(**changes: object) -> AccessRecord:
    values: dict[str, object] = {
        "timestamp": 1_795_714_308.5,
        "edge_location": "IAD89",
        "sc_bytes": 1234,
        "client_ip": "127.0.0.1",
        "method": "GET",
        "host": "d1.cloudfront.net",
        "uri_stem": "/media/a b.jpg",
        "status": 200,
        "referer": None,
        "user_agent": "Mozilla/5.0 (X11)",
        "query": "",
        "cookie": None,
        "result_type": "Hit",
        "request_id": "id==",
        "host_header": "127.0.0.1:8080",
        "cs_bytes": 80,
        "time_taken": 0.0012,
        "forwarded_for": None,
        "response_result_type": "Hit",
        "protocol_version": "HTTP/1.1",
        "client_port": 50000,
        "time_to_first_byte": 0.001,
        "detailed_result_type": "Hit",
        "content_type": "image/jpeg",
        "content_length": 1000,
    }
    values.update(changes)
    return AccessRecord(**values)  # type: ignore[arg-type]


def test_a_line_has_33_fields_in_order() -> None:
    fields = parse_line(render(record()))
    assert list(fields) == list(FIELDS)
    assert fields["date"] == "2026-11-26"
    assert fields["time"] == "17:31:48"
    assert fields["cs-uri-stem"] == "/media/a%20b.jpg"
    assert fields["cs(User-Agent)"] == "Mozilla/5.0%20(X11)"
    assert fields["cs(Referer)"] == "-"
    assert fields["cs-uri-query"] == "-"
    assert fields["time-taken"] == "0.001"
    assert fields["sc-range-start"] == "-"
    assert fields["cs-protocol"] == "http"


def test_the_file_starts_with_the_w3c_header_once(tmp_path: Path) -> None:
    path = tmp_path / "cloudfront" / "access.log"
    first = AccessLog(path)
    first.write_record(record())
    first.close()
    second = AccessLog(path)
    second.write_record(record(status=404, range_start=0, range_end=9))
    second.close()
    lines = path.read_text().splitlines()
    assert lines[0] == "#Version: 1.0"
    assert lines[1].startswith("#Fields: date time x-edge-location sc-bytes c-ip")
    assert sum(line.startswith("#") for line in lines) == 2
    assert parse_line(lines[3])["sc-status"] == "404"
    assert parse_line(lines[3])["sc-range-end"] == "9"
