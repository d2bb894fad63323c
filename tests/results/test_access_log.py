"""CloudFront standard access logs: fields by the #Fields header, gzip, malformed lines."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import pytest

from results.access_log import AccessLogReader, read_access_logs
from results.errors import FormatError
from tests.results.synthetic import ACCESS_FIELDS, T0, access_line, write_access_log

if TYPE_CHECKING:
    from pathlib import Path


def test_the_33_fields_in_cloudfronts_order(tmp_path: Path) -> None:
    assert len(ACCESS_FIELDS.split()) == 33
    write_access_log(
        tmp_path,
        [
            access_line(T0 + 2, result="Hit", taken=0.002),
            access_line(T0, status=502, result="Error", detail="OriginDnsError", taken=0.05),
            access_line(T0 + 1, result="Miss", taken=0.02),
        ],
    )
    log = read_access_logs(tmp_path / "logs")
    assert log is not None
    assert log.time.tolist() == [T0, T0 + 1, T0 + 2]  # sorted, whatever the file order
    assert log.status.tolist() == [502, 200, 200]
    assert log.result_type.counts() == {"Hit": 1, "Error": 1, "Miss": 1}
    assert log.detailed_result_type.labels[log.detailed_result_type.codes[0]] == "OriginDnsError"
    assert log.time_taken_s.tolist() == [0.05, 0.02, 0.002]


def test_a_subset_of_fields_in_another_order_and_gzip(tmp_path: Path) -> None:
    folder = tmp_path / "logs" / "cloudfront"
    folder.mkdir(parents=True)
    text = (
        "#Version: 1.0\n#Fields: x-edge-result-type time-taken sc-status time date\n"
        "Hit\t0.001\t200\t17:31:49\t2026-11-26\n"
    )
    with gzip.open(folder / "E2ABC.2026-11-26-17.abcd.gz", "wt") as handle:
        handle.write(text)
    log = read_access_logs(tmp_path / "logs")
    assert log is not None
    assert log.time.tolist() == [T0 + 1]
    assert log.detailed_result_type.labels == ("",)


def test_malformed_lines_give_file_and_line(tmp_path: Path) -> None:
    path = write_access_log(
        tmp_path,
        [
            access_line(T0),
            "2026-11-26\t17:31:48\ttoo-short",
            access_line(T0).replace("200", "OK", 1),
        ],
    )
    log = read_access_logs(tmp_path / "logs")
    assert log is not None
    assert len(log) == 1
    messages = log.malformed.messages()
    assert messages[0].startswith(f"{path}:4: 3 fields, #Fields names 33")
    assert messages[1].startswith(f"{path}:5: sc-status 'OK' is not a number")
    with pytest.raises(FormatError) as caught:
        AccessLogReader(strict=True).read_file(path)
    assert caught.value.location == f"{path}:4"


def test_a_log_without_fields_header(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="before the #Fields header"):
        AccessLogReader().read_lines([access_line(T0)], "access.log")


def test_no_access_log_is_none(tmp_path: Path) -> None:
    assert read_access_logs(tmp_path / "logs") is None
