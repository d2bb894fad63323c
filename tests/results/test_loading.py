"""Big inputs read in blocks on threads give what a line-by-line read gives, file:line too."""

from __future__ import annotations

import gzip
import shutil
from typing import TYPE_CHECKING

import numpy as np
import pytest

from results.access_log import AccessLogReader
from results.errors import FormatError
from results.loading import read_inputs
from results.logs import RuntimeLogReader
from tests.results.synthetic import T0, access_line, write_access_log

if TYPE_CHECKING:
    from pathlib import Path

    from tests.results.synthetic import Truth


@pytest.fixture
def broken_copy(drill_run: tuple[Path, Truth], tmp_path: Path) -> tuple[Path, Path, int]:
    """The generated drill with one malformed line deep in its runtime log."""
    run_dir = tmp_path / "run"
    shutil.copytree(drill_run[0], run_dir)
    log = next((run_dir / "logs" / "lambda").iterdir())
    lines = log.read_text().splitlines(keepends=True)
    bad = len(lines) * 2 // 3
    lines[bad] = "2026-11-26T17:32:10.000Z\tREPORT RequestId: x\tDuration: 1 ms\n"
    log.write_text("".join(lines))
    return run_dir, log, bad + 1


@pytest.mark.slow
def test_threads_read_what_one_line_by_line_read_gives(broken_copy: tuple[Path, Path, int]) -> None:
    run_dir, log, line = broken_copy
    one = read_inputs(run_dir, strict=False, workers=1)
    many = read_inputs(run_dir, strict=False, workers=3, block_bytes=1 << 14)
    lines = RuntimeLogReader()
    lines.read_range(log, 0, log.stat().st_size)
    by_line = lines.result()
    assert many.runtime is not None
    assert by_line.malformed.messages() == many.runtime.malformed.messages()
    assert many.runtime is not None
    assert by_line.invocations.log_region.counts() == many.runtime.invocations.log_region.counts()
    assert np.array_equal(by_line.invocations.end, many.runtime.invocations.end)
    assert np.array_equal(one.records.start, many.records.start)
    assert one.runtime is not None
    assert many.runtime is not None
    a, b = one.runtime, many.runtime
    assert np.array_equal(a.invocations.end, b.invocations.end)
    assert np.array_equal(a.invocations.duration_ms, b.invocations.duration_ms)
    assert np.array_equal(a.invocations.init_ms, b.invocations.init_ms, equal_nan=True)
    assert a.routes.cache_state.counts() == b.routes.cache_state.counts()
    assert a.routes.region.counts() == b.routes.region.counts()
    assert a.routes.reasons == b.routes.reasons
    assert (a.starts, a.ends, a.other_lines) == (b.starts, b.ends, b.other_lines)
    assert a.malformed.messages() == b.malformed.messages()
    assert b.malformed.messages()[0].startswith(f"{log}:{line}: REPORT line without")
    assert one.access is not None
    assert many.access is not None
    assert np.array_equal(one.access.time, many.access.time)


@pytest.mark.slow
def test_strict_workers_raise_the_first_bad_line(broken_copy: tuple[Path, Path, int]) -> None:
    run_dir, log, line = broken_copy
    with pytest.raises(FormatError) as caught:
        read_inputs(run_dir, strict=True, workers=2, block_bytes=1 << 14)
    assert caught.value.location == f"{log}:{line}"


def test_an_access_log_in_blocks_reads_what_its_gzip_copy_reads(tmp_path: Path) -> None:
    # The plain file is read by polars a few lines at a time; the gzip copy
    # takes the line-by-line reader.
    lines = [
        access_line(
            T0 + (13 * i % 17),
            status=(200, 503, 0)[i % 3],
            result=("Hit", "Miss", "Error", "LimitExceeded")[i % 4],
            detail=("", "OriginConnectError", "Error")[i % 3],
            taken=0.001 * i,
        )
        for i in range(40)
    ]
    plain = write_access_log(tmp_path, lines)
    packed = plain.with_suffix(".gz")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    in_blocks = AccessLogReader(block_bytes=300)
    in_blocks.read_file(plain)
    by_line = AccessLogReader()
    by_line.read_file(packed)
    a, b = in_blocks.result(), by_line.result()
    for name in ("time", "status", "time_taken_s"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    for name in ("result_type", "detailed_result_type"):
        assert getattr(a, name).labels == getattr(b, name).labels, name
        assert np.array_equal(getattr(a, name).codes, getattr(b, name).codes), name
    assert len(a) == 40
