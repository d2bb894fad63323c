"""The W3C line CloudFront writes per request."""

from __future__ import annotations

from pathlib import Path

from edge.access_log import AccessLog, AccessRecord, parse_line, render
from edgedrill_formats.access_log import FIELDS
from edgedrill_formats.log_dir import ACCESS_LOG, CLOUDFRONT_DIR
from loadtests._cloudfront_log import read_log
from results.access_log import read_access_logs


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
    path = tmp_path / CLOUDFRONT_DIR / ACCESS_LOG
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


def _written_log(log_dir: Path) -> Path:
    path = log_dir / CLOUDFRONT_DIR / ACCESS_LOG
    log = AccessLog(path)
    log.write_record(record())
    log.write_record(
        record(
            timestamp=1_795_714_310.9,
            method="HEAD",
            uri_stem="/media/b.jpg",
            query="w=100",
            status=502,
            result_type="Error",
            detailed_result_type="OriginDnsError",
            time_taken=0.0504,
            content_length=None,
            sc_bytes=300,
        )
    )
    log.close()
    return path


def test_the_analysis_reads_what_the_edge_writes(tmp_path: Path) -> None:
    _written_log(tmp_path)
    log = read_access_logs(tmp_path, strict=True)
    assert log is not None
    assert log.time.tolist() == [1_795_714_308.0, 1_795_714_310.0]
    assert log.status.tolist() == [200, 502]
    assert log.result_type.counts() == {"Hit": 1, "Error": 1}
    assert log.detailed_result_type.counts() == {"Hit": 1, "OriginDnsError": 1}
    assert log.time_taken_s.tolist() == [0.001, 0.050]
    assert log.malformed.count == 0


def test_replay_reads_what_the_edge_writes(tmp_path: Path) -> None:
    parsed = read_log(_written_log(tmp_path))
    assert parsed.malformed == []
    first, second = parsed.requests
    assert (first.finished, first.method, first.uri) == (1_795_714_308.0, "GET", "/media/a%20b.jpg")
    assert (first.status, first.size, first.content_type) == (200, 1000, "image/jpeg")
    assert (second.method, second.uri, second.status) == ("HEAD", "/media/b.jpg?w=100", 502)
    assert second.size == 300  # no sc-content-len: sc-bytes
    assert second.time_taken == 0.050
