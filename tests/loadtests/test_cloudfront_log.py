from __future__ import annotations

import calendar

import pytest

from loadtests._cloudfront_log import STANDARD_FIELDS, LogError, read_log

from .logs import Line, render, write_log

T0 = calendar.timegm((2026, 11, 26, 17, 31, 48, 0, 0, 0))


def test_reads_a_standard_log(tmp_path):
    log = write_log(
        tmp_path / "a.log",
        render(
            [
                Line(T0, "/media/a.jpg", query="w=100&h=50", time_taken=0.25, size=2048),
                Line(T0 + 1, "/media/b.jpg", method="HEAD", status=304, size=None),
            ]
        ),
    )
    parsed = read_log(log)
    assert parsed.malformed == []
    first, second = parsed.requests
    assert first.finished == T0
    assert first.method == "GET"
    assert first.uri == "/media/a.jpg?w=100&h=50"
    assert first.path == "/media/a.jpg"
    assert first.time_taken == pytest.approx(0.25)
    assert first.status == 200
    assert first.size == 2048
    assert first.content_type == "image/jpeg"
    assert first.source == f"{log}:3"
    assert second.method == "HEAD"
    assert second.uri == "/media/b.jpg"
    assert second.status == 304
    assert second.size == 300  # no sc-content-len: sc-bytes


def test_gzip_is_found_by_content_and_folders_are_walked(tmp_path):
    write_log(tmp_path / "logs" / "E1.2026-11-26-17.a.gz", render([Line(T0, "/x")]), gz=True)
    write_log(tmp_path / "logs" / "sub" / "plain", render([Line(T0, "/y"), Line(T0, "/z")]))
    write_log(tmp_path / "logs" / ".hidden", "garbage\n")
    parsed = read_log(tmp_path / "logs")
    assert sorted(r.uri for r in parsed.requests) == ["/x", "/y", "/z"]
    assert len(parsed.files) == 2
    assert parsed.malformed == []


def test_fields_are_found_by_name(tmp_path):
    names = ["cs-uri-stem", "time", "cs-method", "date", "sc-status"]
    log = write_log(tmp_path / "few.log", render([Line(T0, "/only")], names=names))
    (request,) = read_log(log).requests
    assert (request.uri, request.method, request.finished, request.status) == (
        "/only",
        "GET",
        T0,
        200,
    )
    assert request.time_taken == 0.0
    assert request.size is None


def test_headerless_lines_use_the_standard_order_only_when_they_fit(tmp_path):
    text = render([Line(T0, "/a")], header=False) + "a\tb\tc\n"
    log = write_log(tmp_path / "bare.log", text)
    parsed = read_log(log)
    assert [r.uri for r in parsed.requests] == ["/a"]
    assert [str(m) for m in parsed.malformed] == [f"{log}:2: 3 fields, #Fields names 33"]


def test_malformed_lines_are_reported_with_file_and_line(tmp_path):
    good = render([Line(T0, "/ok")])
    bad_date = render([Line(T0, "/x")], header=False).replace("2026-11-26", "2026-13-40")
    bad_method = render([Line(T0, "/x", method="get")], header=False)
    bad_stem = render([Line(T0, "relative")], header=False)
    bad_taken = render([Line(T0, "/x")], header=False).replace("\t0.002\t", "\tsoon\t", 1)
    log = write_log(
        tmp_path / "mixed.log",
        good + bad_date + "\n" + bad_method + bad_stem + bad_taken + "only\ttwo\n",
    )
    parsed = read_log(log)
    assert [r.uri for r in parsed.requests] == ["/ok"]
    reasons = [str(m) for m in parsed.malformed]
    assert reasons[0].startswith(f"{log}:4: bad date/time")
    assert reasons[1].startswith(f"{log}:6: bad cs-method 'get'")
    assert reasons[2].startswith(f"{log}:7: cs-uri-stem 'relative'")
    assert reasons[3].startswith(f"{log}:8: bad time-taken 'soon'")
    assert reasons[4] == f"{log}:9: 2 fields, #Fields names 33"
    assert len(reasons) == 5


def test_a_fields_line_without_required_fields_is_reported(tmp_path):
    log = write_log(tmp_path / "h.log", "#Fields: date time sc-status\n2026-11-26\t17:31:48\t200\n")
    parsed = read_log(log)
    assert parsed.requests == []
    assert str(parsed.malformed[0]) == f"{log}:1: #Fields: lacks cs-method, cs-uri-stem"
    assert str(parsed.malformed[1]) == f"{log}:2: the #Fields: line 1 is unusable"


def test_after_an_unusable_fields_line_nothing_is_read_in_the_standard_order(tmp_path):
    # 33 names, but misspelt: the data lines fit the standard width and must still not be guessed.
    names = [name.replace("cs-method", "cs_method") for name in STANDARD_FIELDS]
    lines = [Line(T0, "/a"), Line(T0 + 1, "/b")]
    header = "#Version: 1.0\n#Fields: " + " ".join(names) + "\n"
    text = header + render(lines[:1], header=False) + render(lines[1:])
    log = write_log(tmp_path / "h.log", text)
    parsed = read_log(log)
    assert [r.uri for r in parsed.requests] == ["/b"]
    assert [str(m) for m in parsed.malformed] == [
        f"{log}:2: #Fields: lacks cs-method",
        f"{log}:3: the #Fields: line 2 is unusable",
    ]


def test_a_truncated_gzip_is_reported_not_raised(tmp_path):
    log = write_log(tmp_path / "t.gz", render([Line(T0, "/a")] * 200), gz=True)
    log.write_bytes(log.read_bytes()[:-30])
    parsed = read_log(log)
    assert parsed.malformed
    assert "unreadable" in parsed.malformed[-1].reason
    assert str(parsed.malformed[-1]).startswith(f"{log}:")


def test_a_corrupted_gzip_in_a_folder_is_reported_and_the_others_are_read(tmp_path):
    folder = tmp_path / "logs"
    write_log(folder / "good.gz", render([Line(T0, "/good")]), gz=True)
    bad = write_log(folder / "bad.gz", render([Line(T0, f"/{i}") for i in range(50)]), gz=True)
    data = bytearray(bad.read_bytes())
    data[20:36] = b"\xff" * 16  # the first deflate block: zlib's error, not gzip's
    bad.write_bytes(bytes(data))
    parsed = read_log(folder)
    assert [r.uri for r in parsed.requests] == ["/good"]
    (malformed,) = parsed.malformed
    assert str(malformed).startswith(f"{bad}:1: unreadable: Error -3 while decompressing")


def test_missing_log_or_empty_folder_is_an_error(tmp_path):
    with pytest.raises(LogError, match="does not exist"):
        read_log(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LogError, match="holds no log files"):
        read_log(tmp_path / "empty")


def test_standard_fields_are_the_33_of_cloudfront():
    assert len(STANDARD_FIELDS) == 33
    assert STANDARD_FIELDS[:3] == ("date", "time", "x-edge-location")
    assert STANDARD_FIELDS[-1] == "sc-range-end"
