"""The compiled runtime-log scanner (results/_logscan.c): built, and read as the reference reads.

Its contract: it reads a strict subset of the lines results/logs.py's exact
patterns take, each into the values the line-by-line reader gives, and hands
every other line back by number and text. ``RuntimeLogReader.read_range`` over
the whole file is that line-by-line reference.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import string
import subprocess
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgedrill_formats.log_dir import log_group_file
from results import logscan
from results.logs import CACHE_STATES, RuntimeLogReader
from router.logs import InvocationLog, emf_line
from tests.results.synthetic import FUNCTION, T0, iso, report_line
from tests.results.test_logs import _columns_of, _exact_lines, _file

if TYPE_CHECKING:
    from pathlib import Path

_NOT_BUILT = (
    "results/_logscan.so is missing or was built from other source: install a C compiler "
    "and reinstall (pip install -e .), or rebuild it with `python hatch_build.py`"
)
_SECOND = iso(T0)[:20]  # "YYYY-MM-DDTHH:MM:SS." of the run's first second


def _at(ms: int, second: int = 0) -> str:
    """The timestamp and tab of a line ``second`` s and ``ms`` ms into the run."""
    return f"{iso(T0 + second)[:20]}{ms:03d}Z\t"


def _scanner() -> logscan.Scanner:
    compiled = logscan.scanner()
    assert compiled is not None, _NOT_BUILT
    return compiled


def _reference(path: Path) -> dict[str, object]:
    reader = RuntimeLogReader()
    reader.read_range(path, 0, path.stat().st_size)
    return _columns_of(reader.result())


def _compiled(path: Path, block_bytes: int = 1 << 20) -> dict[str, object]:
    _scanner()  # the compiled path, not polars
    return _columns_of_file(path, block_bytes)


def _columns_of_file(path: Path, block_bytes: int) -> dict[str, object]:
    """``read_file`` with the reader the environment gives (compiled or polars)."""
    reader = RuntimeLogReader(threads=2, block_bytes=block_bytes)
    reader.read_file(path)
    return _columns_of(reader.result())


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _route(
    region: str = "eu-west-1",
    state: str = "miss",
    reason: str = "",
    *,
    request_id: str = "r-1",
    dns_ms: float = 4.899,
    stale_age_s: float = 0.0,
) -> str:
    log = InvocationLog(
        request_id, state, "o.example", region, dns_ms, 5.165, 1,
        reason=reason, stale_age_s=stale_age_s,
    )  # fmt: skip
    return emf_line(log, timestamp_ms=int(T0 * 1000))


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


# --- 1. built --------------------------------------------------------------------


def test_the_scanner_is_built() -> None:
    # CI has a C compiler: a broken build must fail here, not fall back to polars unseen.
    assert logscan.scanner() is not None, _NOT_BUILT


def test_the_scanners_cache_states_are_the_readers() -> None:
    assert logscan.STATES == CACHE_STATES


# --- 2. the property: any file reads the same both ways ---------------------------

# Characters a mutation puts in: each one a layout or number rule turns on.
_MUTATIONS = tuple(
    c.encode()
    for c in ("0", "5", "9", ".", "e", '"', "\\", "\t", "\r", " ", "\x00", "\x1f", "\x7f",
              "\u00e9", "\u2028", "\u00a0", "\u00b9", "\u0661", ":", "}", "Z")
)  # fmt: skip
# From one character: a mutation may leave a request id of whitespace alone.
_IDS = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=12)
_ODD_STAMPS = (
    "2027-02-29T00:00:00.000Z",  # not a leap year
    "2028-02-29T12:00:00.500Z",  # a leap year
    "1900-02-29T00:00:00.000Z",
    "2000-02-29T23:59:59.999Z",
    "2026-11-26T17:31:60.000Z",  # a leap second: not a datetime
    "0000-01-01T00:00:00.000Z",
    "0001-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "2026-04-31T00:00:00.000Z",
    "2026-11-26T24:00:00.000Z",
    "2026-13-01T00:00:00.000Z",
    "2026-00-10T00:00:00.000Z",
    "2026-11-00T00:00:00.000Z",
)


def _real(stamp: str) -> bool:
    try:
        datetime.fromisoformat(stamp)
    except ValueError:
        return False
    return True


@st.composite
def _stamps(draw: st.DrawFn) -> tuple[str, bool]:
    """A line's timestamp and whether it is a real UTC second."""
    kind = draw(st.integers(0, 9))
    if kind < 6:  # a few seconds of the run, each seen many times
        stamp = _at(draw(st.integers(0, 999)), draw(st.integers(0, 3)))[:-1]
    elif kind < 8:
        stamp = draw(st.sampled_from(_ODD_STAMPS))
    else:
        year = draw(
            st.sampled_from([0, 1, 1900, 1970, 2000, 2024, 2027, 9999]) | st.integers(0, 9999)
        )
        month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
        hour, minute, second = (
            draw(st.integers(0, 24)),
            draw(st.integers(0, 60)),
            draw(st.integers(0, 61)),
        )
        ms = draw(st.integers(0, 999))
        stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z"
    return stamp, _real(stamp)


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    """A number's text as a writer might spell it, past a 64-bit integer at times."""
    kind = draw(st.integers(0, 6))
    if kind == 0:  # shortest repr: up to 17 significant digits, exponents for small and large
        return repr(draw(st.floats(min_value=0, max_value=1e22, allow_nan=False)))
    if kind == 1:  # 15, 16 or 17 significant digits, the point anywhere
        digits = str(draw(st.integers(10**14, 10**17 - 1)))
        point = draw(st.integers(0, len(digits) - 1))
        return digits[:point] + "." + digits[point:] if point else digits
    if kind == 2:  # leading zeros
        return "0" * draw(st.integers(1, 3)) + str(draw(st.integers(0, 999)))
    if kind == 3:
        mantissa = draw(st.integers(0, 999))
        sign = draw(st.sampled_from(["", "+", "-"]))
        return f"{mantissa}{draw(st.sampled_from('eE'))}{sign}{draw(st.integers(0, 30))}"
    if kind == 4:  # 19 digits (the fast patterns refuse them), past 2**63 at times: malformed
        return str(draw(st.integers(10**18, 10**19)))
    if kind == 5:  # up to 25 digits after the point
        return "0." + "0" * draw(st.integers(18, 24)) + "1"
    return f"{draw(st.integers(0, 99_999))}.{draw(st.integers(0, 999)):03d}"


@st.composite
def _reports(draw: st.DrawFn) -> tuple[str, bool]:
    request_id = draw(_IDS)
    init = draw(st.none() | st.floats(min_value=0, max_value=10_000))
    if draw(st.booleans()):  # as Lambda writes it
        line = report_line(
            request_id,
            draw(st.floats(min_value=0, max_value=30_000)),
            billed_ms=draw(st.integers(1, 30_000)),
            memory_mb=draw(st.integers(128, 10_240)),
            max_memory_mb=draw(st.integers(1, 10_240)),
            init_ms=init,
        )
        return line + draw(st.sampled_from(["", "\t"])), True
    duration, billed, memory, used, cold = (draw(_numbers()) for _ in range(5))
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration} ms\tBilled Duration: {billed} ms"
        f"\tMemory Size: {memory} MB\tMax Memory Used: {used} MB"
    )
    if init is not None:
        line += f"\tInit Duration: {cold} ms"
    return line + draw(st.sampled_from(["", "\t", "\tStatus: timeout", "\t\t"])), False


_ROUTE_NUMBERS = ("dns_ms", "handler_ms", "dns_queries", "stale_age_s")


@st.composite
def _routes(draw: st.DrawFn) -> tuple[str, bool]:
    exact = draw(st.booleans())
    text = _IDS if exact else st.text(max_size=6)
    log = InvocationLog(
        request_id=draw(text),
        cache_state=draw(st.sampled_from(CACHE_STATES)),
        origin=draw(st.sampled_from(["o.example", "media-euw1.s3.eu-west-1.amazonaws.com"])),
        region=draw(st.sampled_from(["eu-west-1", "us-east-1", ""]) | text),
        dns_ms=draw(st.floats(min_value=0, max_value=1e5)),
        handler_ms=draw(st.floats(min_value=0, max_value=1e5)),
        dns_queries=draw(st.integers(0, 10)),
        reason=draw(st.sampled_from(["", "refresh failed: SERVFAIL", "timeout"]) | text),
        stale_age_s=draw(st.sampled_from([0.0, 1.5]) | st.floats(min_value=0, max_value=1e6)),
        cf_request_id=draw(st.sampled_from(["", "4Tyz_Hq-1oF26ClkoUSEQ=="])),
        unknown_domains=() if exact else draw(st.sampled_from([(), ("x.example",)])),
    )
    line = emf_line(log, timestamp_ms=draw(st.integers(0, 2 * 10**12)))
    if not exact:
        for key in draw(st.lists(st.sampled_from(_ROUTE_NUMBERS), max_size=2)):
            number = draw(_numbers())
            line = re.sub(rf'"{key}":[^,}}]*', f'"{key}":{number}', line)  # digits, . e + -
        if draw(st.booleans()):  # text the router escapes, written raw
            line = line.replace('"region":"', '"region":"\u00e9', 1)
    return line, exact


_MARKERS = st.builds(
    lambda word, request_id, tail: (f"{word} RequestId: {request_id}{tail}", True),
    st.sampled_from(["START", "END"]),
    _IDS,
    st.sampled_from(["", " Version: 1", " Version: $LATEST", "\t"]),
)
_OTHERS = st.tuples(
    st.sampled_from(["INIT_START Runtime Version: python:3.12", '{"event":"other"}', "print"])
    | st.text(st.characters(codec="utf-8", exclude_characters="\n"), max_size=20),
    st.just(False),
)


@st.composite
def _mutated(draw: st.DrawFn, line: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(_MUTATIONS))
        if op == "insert":
            line = line[:at] + char + line[at:]
        elif op == "delete":
            line = line[:at] + line[at + 1 :]
        else:
            line = line[:at] + char + line[at + 1 :]
    return line


@st.composite
def _files(draw: st.DrawFn) -> tuple[bytes, set[int]]:
    """A log file's bytes and the numbers of its lines the scanner must read."""
    lines: list[bytes] = []
    exact: set[int] = set()
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(b"")
            continue
        message, exact_message = draw(st.one_of(_reports(), _routes(), _MARKERS, _OTHERS))
        stamp, real = draw(_stamps())
        line = f"{stamp}\t{message}".encode()
        if draw(st.integers(0, 2)) == 0:
            line = draw(_mutated(line))
        elif real and exact_message:
            exact.add(len(lines) + 1)
        if draw(st.integers(0, 9)) == 0:
            line += b"\r"
            exact.discard(len(lines) + 1)
        lines.append(line)
    data = b"\n".join(lines)
    if draw(st.integers(0, 3)) and lines:
        data += b"\n"
    return data, exact


@pytest.fixture(scope="module")
def log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / log_group_file("eu-west-1", FUNCTION)


@settings(max_examples=150, deadline=None)
@given(file=_files(), block_bytes=st.integers(1, 3000))
def test_any_file_reads_the_same_compiled_as_line_by_line(
    log_path: Path, file: tuple[bytes, set[int]], block_bytes: int
) -> None:
    data, exact = file
    scanned = _scanner().scan(data)
    assert scanned.lines == _line_count(data)
    lines = data.split(b"\n")
    for number, text in scanned.rest:
        assert text == lines[number - 1].decode("utf-8", errors="replace")
    assert not exact & {number for number, _ in scanned.rest}  # the exact lines are read
    _write(log_path, data)
    assert _compiled(log_path, block_bytes) == _reference(log_path)


# --- 3. one line at a time, straight from the scanner -----------------------------


def test_each_exact_line_is_read_into_its_values() -> None:
    stale = _route("eu-west-1", "stale", "refresh failed: SERVFAIL", stale_age_s=12.5)
    lines = [
        _at(1) + "START RequestId: r-1 Version: 1",
        _at(2) + stale,
        _at(3) + "END RequestId: r-1",
        _at(4) + report_line("r-1", 5.17, billed_ms=6, max_memory_mb=71, init_ms=180.22),
        _at(5) + report_line("r-2", 0.4, billed_ms=1, memory_mb=10_240, max_memory_mb=74) + "\t",
        _at(6) + _route("", "hit", dns_ms=0.0),
        _at(7) + "END RequestId: r-2\r",  # a marker reads whatever follows the id
    ]
    data = "\n".join(lines).encode()  # the last line without its newline is still read
    scanned = _scanner().scan(data)
    assert scanned.rest == []
    assert (scanned.lines, scanned.starts, scanned.ends) == (7, 1, 2)
    end, duration, billed, memory, max_memory, init = scanned.reports
    assert end.tolist() == [T0 + 4 / 1000.0, T0 + 5 / 1000.0]
    assert duration.tolist() == [5.17, 0.4]
    assert (billed.tolist(), memory.tolist(), max_memory.tolist()) == (
        [6, 1],
        [128, 10_240],
        [71, 74],
    )
    assert init[0] == 180.22
    assert math.isnan(init[1])
    time, state, region, dns_ms, handler_ms, queries = scanned.routes
    assert time.tolist() == [T0 + 2 / 1000.0, T0 + 6 / 1000.0]
    assert state.tolist() == [CACHE_STATES.index("stale"), CACHE_STATES.index("hit")]
    assert region.tolist() == [0, 1]
    assert (dns_ms.tolist(), handler_ms.tolist(), queries.tolist()) == (
        [4.899, 0.0],
        [5.165] * 2,
        [1, 1],
    )
    assert scanned.regions == [(2, "eu-west-1"), (6, "")]
    assert scanned.reasons == {("stale", "refresh failed: SERVFAIL"): 1}
    assert scanned.max_stale == 12.5


def _report(duration: str = "2.00", billed: str = "2", tail: str = "") -> str:
    return (
        f"REPORT RequestId: t\tDuration: {duration} ms\tBilled Duration: {billed} ms\t"
        f"Memory Size: 128 MB\tMax Memory Used: 60 MB{tail}"
    )


def _route_with(key: str, value: str) -> str:
    return re.sub(rf'"{key}":[^,}}]*', f'"{key}":{value}', _route(stale_age_s=1.5))


def _epoch(year: int, month: int, day: int, hour: int, minute: int, second: int, ms: int) -> float:
    """Epoch seconds of a UTC second, plus its milliseconds over 1,000 (as the readers add them)."""
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return moment.timestamp() + ms / 1000.0


_NEAR_MISSES = [
    _at(8) + report_line("r\u00e9q", 1.5, billed_ms=2),  # non-ASCII request id
    _at(8) + _route().replace('"region":"eu-west-1"', '"region":"eu-w\u00e9st-1"'),
    _at(8) + _route(request_id="r\u00e9q"),  # the router escapes it: \u00e9
    _at(8) + _route().replace('"origin":"o.example"', '"origin":"o\x7f"'),
    _at(8) + report_line("r-1", 1.5, billed_ms=2) + "\r",  # CRLF
    _at(8) + _route() + "\r",
    _at(8) + _route_with("dns_ms", "1e2"),  # exponent
    _at(8) + _route_with("handler_ms", "1.5E-3"),
    _at(8) + _report(duration="1e2"),
    _at(8) + _report(duration="1.234567890123456"),  # 16 significant digits
    _at(8) + _route_with("dns_ms", "1234567890.123456"),
    _at(8) + _route_with("stale_age_s", "12345678901234567"),  # 17
    _at(8) + _report(duration="0.00000000000000000000001"),  # 23 digits after the point
    _at(8) + _report(billed="1000000000000000000"),  # 19-digit integer
    _at(8) + _report(billed="0000000000000000001"),
    _at(8) + _route_with("dns_queries", "1000000000000000000"),
    _at(8) + _route_with("dns_ms", "01.5"),  # leading zero in a router decimal
    _at(8) + _route_with("stale_age_s", "00"),
    _at(8) + _route_with("dns_queries", "01"),
    _at(8) + _report(tail="\tStatus: timeout"),
    _at(8) + _report(tail="\t\t"),
    _at(8)
    + emf_line(
        InvocationLog("r", "hit", "o", "eu-west-1", 0.1, 0.2, 0, unknown_domains=("x.example",))
    ),
    "2027-02-29T00:00:00.000Z\tSTART RequestId: a",  # not a leap year
    "2026-11-26T17:31:60.000Z\tEND RequestId: a",  # second 60
    "0000-01-01T00:00:00.000Z\tEND RequestId: a",
    _at(8) + "START RequestId:  a",  # blank id
    _at(8) + "START RequestId: \u00e9",
    "",  # empty line
    _at(8) + "INIT_START Runtime Version: python:3.12",
]


@pytest.mark.parametrize("line", _NEAR_MISSES)
def test_a_near_miss_is_handed_back_with_its_number_and_text(tmp_path: Path, line: str) -> None:
    first, last = _at(1) + "START RequestId: a", _at(9) + "END RequestId: a"
    data = f"{first}\n{line}\n{last}\n".encode()
    scanned = _scanner().scan(data)
    assert scanned.rest == [(2, line)]
    assert (scanned.lines, scanned.starts, scanned.ends) == (3, 1, 1)
    path = _write(tmp_path / log_group_file("eu-west-1", FUNCTION), data)
    assert _compiled(path, block_bytes=40) == _reference(path)


@pytest.mark.parametrize(
    ("line", "column", "value"),
    [
        (_at(8) + _report(duration="123456789012.345"), "duration", 123456789012.345),  # 15 digits
        (_at(8) + _report(duration="01.50"), "duration", 1.5),  # Lambda's pattern allows it
        (_at(8) + _report(duration="0.0000000000000000000001"), "duration", 1e-22),
        (_at(8) + _report(billed="999999999999999999"), "billed", 999_999_999_999_999_999),
        (_at(8) + _report(billed="000000000000000007"), "billed", 7),
        (_at(8) + _route_with("dns_ms", "99999999999.9999"), "dns_ms", 99999999999.9999),
        (_at(8) + _route_with("dns_ms", "0.5"), "dns_ms", 0.5),
        (_at(8) + _route_with("dns_queries", "999999999999999999"), "queries", 10**18 - 1),
        (
            "2028-02-29T12:00:00.250Z\t" + _report(),
            "report_end",
            _epoch(2028, 2, 29, 12, 0, 0, 250),
        ),
        (
            "2026-11-26T17:31:59.999Z\t" + _report(),
            "report_end",
            _epoch(2026, 11, 26, 17, 31, 59, 999),
        ),
        ("0001-01-01T00:00:00.000Z\t" + _report(), "report_end", _epoch(1, 1, 1, 0, 0, 0, 0)),
        # 9 ms: 9 / 1000 and 9 * 0.001 differ, seen only where the second adds nothing
        ("1970-01-01T00:00:00.009Z\t" + _report(), "report_end", _epoch(1970, 1, 1, 0, 0, 0, 9)),
        (
            "9999-12-31T23:59:59.999Z\t" + _report(),
            "report_end",
            _epoch(9999, 12, 31, 23, 59, 59, 999),
        ),
    ],
)
def test_a_line_at_the_edge_of_the_layout_is_read(
    tmp_path: Path, line: str, column: str, value: float
) -> None:
    scanned = _scanner().scan(line.encode())  # no newline: the last line
    assert (scanned.rest, scanned.lines) == ([], 1)
    reports = dict(zip(("report_end", "duration", "billed"), scanned.reports, strict=False))
    routes = dict(
        zip(
            ("time", "state", "region", "dns_ms", "handler_ms", "queries"),
            scanned.routes,
            strict=True,
        )
    )
    assert {**reports, **routes}[column].tolist() == [value]
    path = _write(tmp_path / log_group_file("eu-west-1", FUNCTION), line.encode())
    assert _compiled(path) == _reference(path)


def test_exact_lines_are_all_read_and_read_as_line_by_line(tmp_path: Path) -> None:
    path = _file(tmp_path, _exact_lines(40))
    scanned = _scanner().scan(path.read_bytes())
    assert (scanned.rest, scanned.lines, scanned.starts, scanned.ends) == ([], 160, 40, 40)
    assert (len(scanned.reports[0]), len(scanned.routes[0])) == (40, 40)
    assert _compiled(path, block_bytes=900) == _reference(path)


# --- 4. more labels than one block holds ------------------------------------------


def test_more_than_64_regions_in_a_block_keep_their_first_appearance_order(tmp_path: Path) -> None:
    regions = [f"region-{i}" for i in range(logscan.LABELS + 6)]
    lines = [_at(i) + _route(region) for i, region in enumerate(regions)]
    lines += [_at(500 + i) + _route(region) for i, region in enumerate(reversed(regions))]
    data = ("\n".join(lines) + "\n").encode()
    scanned = _scanner().scan(data)
    assert scanned.regions == [
        (i + 1, region) for i, region in enumerate(regions[: logscan.LABELS])
    ]
    overflow = range(logscan.LABELS + 1, len(regions) + 1)
    first_again = len(regions) + 1  # the repeats start with the regions past the table
    assert [n for n, _ in scanned.rest] == [*overflow, *range(first_again, first_again + 6)]
    path = _write(tmp_path / log_group_file("eu-west-1", FUNCTION), data)
    compiled, reference = _compiled(path), _reference(path)
    assert compiled == reference
    assert compiled["route"][2] == tuple(regions)  # type: ignore[index]


def test_more_than_64_reasons_in_a_block_count_as_line_by_line(tmp_path: Path) -> None:
    pairs = [(CACHE_STATES[i % 5], f"reason {i // 5}") for i in range(logscan.LABELS + 6)]
    lines = [_at(i) + _route("eu-west-1", state, reason) for i, (state, reason) in enumerate(pairs)]
    lines += [
        # A new region on a line handed back for its new reason: the region is not
        # labelled there, but where the scanner first reads it.
        _at(900) + _route("new-1", "stale", "never seen"),
        _at(901) + _route("new-2"),
        _at(902) + _route("new-1"),
        _at(903) + _route("eu-west-1", *pairs[0]),
    ]
    data = ("\n".join(lines) + "\n").encode()
    scanned = _scanner().scan(data)
    assert [n for n, _ in scanned.rest] == list(range(logscan.LABELS + 1, len(pairs) + 2))
    assert scanned.regions == [
        (1, "eu-west-1"),
        (len(pairs) + 2, "new-2"),
        (len(pairs) + 3, "new-1"),
    ]
    assert scanned.reasons == {pair: 1 + (pair == pairs[0]) for pair in pairs[: logscan.LABELS]}
    path = _write(tmp_path / log_group_file("eu-west-1", FUNCTION), data)
    compiled, reference = _compiled(path), _reference(path)
    assert compiled == reference
    route = compiled["route"]
    assert isinstance(route, list)
    assert route[2] == ("eu-west-1", "new-1", "new-2")
    assert route[7] == {
        **dict.fromkeys(pairs, 1),
        pairs[0]: 2,
        ("stale", "never seen"): 1,
    }


# --- 5. a library from other source is not used -----------------------------------


def _library(tmp_path: Path, source: str) -> Path:
    c_file = tmp_path / "other.c"
    c_file.write_text(source)
    library = tmp_path / "libother.so"
    done = subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(library), str(c_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return library


@pytest.mark.parametrize(
    "source",
    [
        "#include <stddef.h>\nint edgedrill_logscan_abi(void){return 0;}\n"
        "size_t edgedrill_logscan_size(void){return 0;}\n",
        "int other(void){return 1;}\n",  # not the scanner at all
    ],
)
def test_a_library_built_from_other_source_is_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    library = _library(tmp_path, source)
    with caplog.at_level(logging.WARNING, logger=logscan.__name__):
        assert logscan.load(library) is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "built from other source" in caplog.records[0].getMessage()


def test_a_build_of_an_earlier_text_of_the_source_is_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # As hatch_build.py builds it: the source's SHA-256 compiled in. Once the C
    # file beside the library changes, the library is stale and refused.
    source = tmp_path / "_logscan.c"
    source.write_bytes(logscan.SOURCE.read_bytes())
    library = tmp_path / "_logscan.so"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    done = subprocess.run(
        ["gcc", "-O1", "-shared", "-fPIC", "-std=c11",
         f'-DEDGEDRILL_LOGSCAN_SOURCE="{digest}"', "-o", str(library), str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert logscan.load(library) is not None
    with source.open("a") as handle:
        handle.write("/* an edit not yet built */\n")
    with caplog.at_level(logging.WARNING, logger=logscan.__name__):
        assert logscan.load(library) is None
    assert "from another text of" in caplog.records[0].getMessage()


def test_a_missing_library_is_not_loaded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=logscan.__name__):
        assert logscan.load(tmp_path / "_logscan.so") is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    # With its source beside it, the build failed: the user is told, not left slower.
    (tmp_path / "_logscan.c").write_text("/* never built */\n")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=logscan.__name__):
        assert logscan.load(tmp_path / "_logscan.so") is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "python hatch_build.py" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("value", "disabled"), [("1", True), ("yes", True), ("0", False), ("", False)]
)
def test_the_environment_can_send_reads_to_polars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, disabled: bool
) -> None:
    # On call, without reinstalling: EDGEDRILL_NO_LOGSCAN=1 reads as if it was not built.
    monkeypatch.setenv(logscan.DISABLE, value)
    logscan.scanner.cache_clear()
    try:
        assert (logscan.scanner() is None) is disabled
        path = _file(tmp_path, _exact_lines(5))
        assert _reference(path) == _columns_of_file(path, 300)
    finally:
        logscan.scanner.cache_clear()


def test_the_built_library_loads_and_scans() -> None:
    _scanner()
    loaded = logscan.load(logscan.LIBRARY)
    assert loaded is not None
    assert loaded.scan(f"{_at(1)}START RequestId: a\n".encode()).starts == 1


# --- 6. nothing to read -----------------------------------------------------------


@pytest.mark.parametrize("lines", [[], [""], ["", " ", "\r", ""]])
def test_an_empty_or_blank_file_reads_as_line_by_line(tmp_path: Path, lines: list[str]) -> None:
    path = _file(tmp_path, lines)
    data = path.read_bytes()
    scanned = _scanner().scan(data)
    assert scanned.lines == _line_count(data) == len(lines)
    assert scanned.rest == [(i + 1, line) for i, line in enumerate(lines)]
    compiled = _compiled(path, block_bytes=1)
    assert compiled == _reference(path)
    assert compiled["malformed"] == []


# --- the reference agrees with itself -----------------------------------------------


# Once a second is known the fast marker check takes the line; it must count
# only what parse_message and _timestamp count: a request id of str.split's
# whitespace alone, or milliseconds int() refuses, is malformed.
@pytest.mark.parametrize(
    ("line", "counted"),
    [
        (_at(1) + "START RequestId: \x1f", False),
        (_at(1) + "END RequestId: \u2028", False),
        (_at(1) + "START RequestId: \u00a0\tx", False),
        (_at(1) + "END RequestId: \x1c \u3000", False),
        (f"{_SECOND}\u00b9\u00b2\u00b3Z\tSTART RequestId: a", False),
        (_at(1) + "START RequestId:  a", True),  # str.split skips the blank
        (_at(1) + "END RequestId: \u00e9", True),
        (f"{_SECOND}\u0661\u0662\u0663Z\tEND RequestId: a", True),  # int() reads these
    ],
)
def test_a_marker_line_reads_the_same_whether_its_second_is_known(
    tmp_path: Path, line: str, *, counted: bool
) -> None:
    seen = _at(0) + "START RequestId: a"
    path = _file(tmp_path, [seen, line])
    reference = _reference(path)
    assert _compiled(path, block_bytes=1) == reference
    assert sum(reference["counts"][:2]) == 1 + counted  # type: ignore[index]
    assert len(reference["malformed"]) == (not counted)  # type: ignore[arg-type]


def test_region_labels_come_in_first_appearance_order_line_by_line(tmp_path: Path) -> None:
    lines = [
        _at(0) + "START RequestId: a",  # its second is known from here on
        _at(1) + _route("eu-west-1"),  # batched
        _at(2) + _route("us-east-1") + "\r",  # the general path: coded at once
    ]
    path = _file(tmp_path, lines)
    assert _reference(path)["route"][2] == ("eu-west-1", "us-east-1")  # type: ignore[index]
    assert _compiled(path) == _reference(path)


def test_rows_of_equal_time_keep_one_order_when_a_line_opens_its_second(tmp_path: Path) -> None:
    # The first line of a second is exact to the scanner; the reference must
    # batch it with the rest too, or a stable sort puts it after its equals.
    route = _route()
    lines = [
        _at(0, 1) + route,  # dns_queries 1, the second's first line
        "2027-02-29T00:00:00.000Z\tSTART RequestId: 0",  # malformed between them
        _at(0, 1) + route.replace('"dns_queries":1', '"dns_queries":0'),
    ]
    path = _file(tmp_path, lines)
    reference = _reference(path)
    assert reference["route"][6] == [1, 0]  # type: ignore[index]
    assert _compiled(path, block_bytes=1) == reference
