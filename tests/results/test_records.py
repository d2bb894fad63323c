"""requests.csv: the fast column reader, its row-by-row fallback, and the errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from edgedrill_formats.run_folder import RATE_CSV, REQUESTS_CSV
from loadtests._records import RecordsWriter, RunCounts, rate_rows, write_rate_csv
from results.errors import FormatError, MalformedLines, RunFolderError
from results.records import COLUMNS, RequestRecords, read_requests
from results.run_folder import read_rate
from tests.results.synthetic import HIT, MISS, T0, Row, write_requests

if TYPE_CHECKING:
    from pathlib import Path


def test_columns_and_categories(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    write_requests(
        path,
        [
            Row(
                T0 + 2.5,
                12.345,
                status=503,
                x_cache=MISS,
                origin_region="eu-west-1",
                error="HTTPError('503, slow down')",
                bytes=10,
            ),
            Row(T0 + 0.25, 1.5, x_cache=HIT, late_ms=3.25, bytes=20),
            Row(
                T0 + 1.0, 0.999, status=0, x_cache="", error="ConnectionRefusedError(111)", bytes=0
            ),
        ],
    )
    records = read_requests(path)
    assert len(records) == 3
    # Sorted by start, whatever the file order.
    assert records.start.tolist() == pytest.approx([T0 + 0.25, T0 + 1.0, T0 + 2.5])
    assert records.duration_ms.tolist() == [1.5, 0.999, 12.345]
    assert records.status.tolist() == [200, 0, 503]
    assert records.bytes.tolist() == [20, 0, 10]
    assert records.late_ms.tolist() == [3.25, 0.0, 0.0]
    assert records.failed.tolist() == [False, True, True]
    assert records.edge_hit.tolist() == [True, False, False]
    assert records.has_x_cache.tolist() == [True, False, True]
    assert records.origin_region.counts() == {"": 2, "eu-west-1": 1}
    # A quoted comma stays inside its field.
    assert "HTTPError('503, slow down')" in records.error.labels
    assert records.malformed.count == 0


def test_header_only_is_an_empty_run(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    records = read_requests(path)
    assert len(records) == 0
    assert records.failed.tolist() == []


def test_columns_found_by_name_and_extra_columns_ignored(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    order = ["extra", *reversed(COLUMNS)]
    values = {
        "start": f"{T0 + 1:.6f}",
        "duration_ms": "7.000",
        "method": "GET",
        "name": "n",
        "status": "404",
        "bytes": "5",
        "x_cache": "Error from cloudfront",
        "pop": "IAD89-P1",
        "cf_id": "x",
        "origin_region": "us-east-1",
        "late_ms": "0.000",
        "error": "",
        "extra": "anything",
    }
    path.write_text(",".join(order) + "\n" + ",".join(values[c] for c in order) + "\n")
    records = read_requests(path)
    assert records.status.tolist() == [404]
    assert records.duration_ms.tolist() == [7.0]
    assert records.failed.tolist() == [True]


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match=r"requests\.csv: missing"):
        read_requests(tmp_path / "requests.csv")


def test_missing_column_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text("start,duration_ms,status\n1,2,200\n")
    with pytest.raises(FormatError) as caught:
        read_requests(path)
    assert caught.value.location == f"{path}:1"
    assert "late_ms" in str(caught.value)


def _with_bad_row(tmp_path: Path, bad: str) -> Path:
    path = tmp_path / "requests.csv"
    write_requests(path, [Row(T0 + 1, 1.0), Row(T0 + 2, 2.0), Row(T0 + 3, 3.0)])
    lines = path.read_text().splitlines()
    lines.insert(3, bad)  # becomes line 4 of the file
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (f"{T0 + 2.5},abc,GET,n,200,1,,,,,0,", "'duration_ms': not a number"),
        (f"{T0 + 2.5},1.0,GET,n,OK,1,,,,,0,", "'status': not an integer"),
        (f"{T0 + 2.5},1.0,GET,n,200", "5 fields, the header has 12"),
        (f"{T0 + 2.5},-4,GET,n,200,1,,,,,0,", "'duration_ms': negative"),
    ],
)
def test_malformed_row_is_skipped_with_file_and_line(tmp_path: Path, bad: str, reason: str) -> None:
    path = _with_bad_row(tmp_path, bad)
    records = read_requests(path)
    assert len(records) == 3
    assert records.malformed.count == 1
    message = records.malformed.messages()[0]
    assert message.startswith(f"{path}:4: ")
    assert reason in message


def test_malformed_row_is_an_error_when_strict(tmp_path: Path) -> None:
    path = _with_bad_row(tmp_path, f"{T0 + 2.5},abc,GET,n,200,1,,,,,0,")
    with pytest.raises(FormatError) as caught:
        read_requests(path, strict=True)
    assert caught.value.location == f"{path}:4"


def test_text_outside_latin1_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    write_requests(path, [Row(T0 + 1, 1.0, status=500, error="Fehler: Ü€ kaputt"), Row(T0, 2.0)])
    records = read_requests(path)
    assert records.malformed.count == 0
    assert records.error.labels[records.error.codes[1]] == "Fehler: Ü€ kaputt"
    assert records.status.tolist() == [200, 500]


def test_empty_numbers_default_to_zero_for_bytes_and_lateness(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    path.write_text(",".join(COLUMNS) + f"\n{T0:.6f},1.5,GET,n,200,,,,,,,\n")
    records = read_requests(path)
    assert records.bytes.tolist() == [0]
    assert records.late_ms.tolist() == [0.0]
    assert np.isfinite(records.start).all()


def test_the_analysis_reads_what_the_scenarios_write(tmp_path: Path) -> None:
    path = tmp_path / REQUESTS_CSV
    with RecordsWriter(path, origin=T0) as writer:
        hit = (T0 + 1.2345678, 12.3456, "GET", "spike", 200, 2048, HIT, "IAD89-P1", "a==")
        miss = (T0 + 0.5, 80.0, "HEAD", "spike", 503, 0, MISS, "IAD89-P1", "b==")
        writer.write(
            [(*hit, "", 0.0, ""), (*miss, "eu-west-1", 25.5, "HTTPError: 503, slow down")]
        )
    records = read_requests(path, strict=True)
    assert records.start.tolist() == pytest.approx([T0 + 0.5, T0 + 1.234568], abs=1e-9)
    assert records.duration_ms.tolist() == [80.0, 12.346]
    assert records.status.tolist() == [503, 200]
    assert records.bytes.tolist() == [0, 2048]
    assert records.late_ms.tolist() == [25.5, 0.0]
    assert records.method.labels == ("HEAD", "GET")
    assert records.origin_region.counts() == {"eu-west-1": 1, "": 1}
    assert records.error.labels[records.error.codes[0]] == "HTTPError: 503, slow down"
    assert records.failed.tolist() == [True, False]


def test_the_analysis_reads_the_scenarios_rate_csv(tmp_path: Path) -> None:
    counts = RunCounts()
    for start, late in ((T0 + 0.1, 0.0), (T0 + 0.2, 4.0), (T0 + 2.5, 0.0)):
        counts.add((start, 1.0, "GET", "spike", 200, 1, HIT, "", "", "", late, ""), T0)
    path = tmp_path / RATE_CSV
    write_rate_csv(path, rate_rows([2, 2.5, 1, 1], counts))
    malformed = MalformedLines(strict=True)
    rate = read_rate(path, malformed)
    assert rate is not None
    assert rate.second.tolist() == [0, 1, 2, 3]
    assert rate.target.tolist() == [2.0, 2.5, 1.0, 1.0]
    assert rate.achieved.tolist() == [2.0, 0.0, 1.0, 0.0]
    assert rate.late.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert malformed.count == 0


def _same_records(a: RequestRecords, b: RequestRecords) -> None:
    for name in ("start", "duration_ms", "status", "bytes", "late_ms"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y), name
    for name in ("method", "x_cache", "pop", "origin_region", "error"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.labels == y.labels, name
        assert np.array_equal(x.codes, y.codes), name


def test_polars_in_blocks_reads_what_numpy_reads(tmp_path: Path) -> None:
    # The same rows twice: unquoted (read by polars, here a few lines at a
    # time) and with one quoted cell (which sends the file to numpy's read).
    rows = [
        Row(
            T0 + (37 * i % 23) * 0.01,  # out of order, with ties
            0.5 + i * 1.25,
            status=(200, 503, 0, 404)[i % 4],
            x_cache=(HIT, MISS, "")[i % 3],
            origin_region=("eu-west-1", "us-east-1", "")[i % 3],
            error=("", "x" * 120 + str(i % 2), "ConnectionRefusedError(111)")[i % 3],
            late_ms=(0.0, 2.5)[i % 2],
            bytes=i * 7,
        )
        for i in range(30)
    ]
    plain = tmp_path / "plain.csv"
    write_requests(plain, rows)
    quoted = tmp_path / "quoted.csv"
    text = plain.read_text()
    quoted.write_text(text.replace(",GET,", ',"GET",', 1))
    assert '"GET"' in quoted.read_text()
    by_numpy = read_requests(quoted)
    in_blocks = read_requests(plain, block_bytes=200)
    _same_records(in_blocks, by_numpy)
    _same_records(read_requests(plain), by_numpy)
    assert max(len(label) for label in by_numpy.error.labels) == 96  # cut at the width
