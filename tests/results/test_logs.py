"""Runtime log lines: REPORT, START/END, the router's EMF line, from files and CloudWatch events."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.lambda_runtime import LogGroupWriter
from edge.lambda_runtime import report_line as edge_report_line
from edgedrill_formats.log_dir import LAMBDA_DIR, log_group_file
from results.errors import FormatError
from results.logs import (
    _FAST_REPORT,
    _FAST_ROUTE,
    CACHE_STATES,
    LineKind,
    Report,
    Route,
    RuntimeLogReader,
    RuntimeLogs,
    _parse_block,
    parse_message,
    read_runtime_logs,
)
from router.dns_cache import CacheState
from router.logs import InvocationLog, emf_line
from tests.results.synthetic import (
    FUNCTION,
    T0,
    Invocation,
    invocation_lines,
    iso,
    report_line,
    route_line,
    write_lambda_log,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_report_line_warm_and_cold() -> None:
    warm = parse_message(report_line("abc", 2.25, billed_ms=3, memory_mb=128, max_memory_mb=73))
    assert warm == Report("abc", 2.25, 3, 128, 73, None)
    cold = parse_message(report_line("def", 0.5, billed_ms=1, init_ms=180.22))
    assert isinstance(cold, Report)
    assert cold.init_ms == 180.22


def test_report_line_with_extra_fields_and_trailing_tab() -> None:
    line = (
        "REPORT RequestId: 3604209a-0000\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout\t"
        "XRAY TraceId: 1-5e2f-00\tSegmentId: 7c\tSampled: true\t"
    )
    parsed = parse_message(line)
    assert isinstance(parsed, Report)
    assert parsed.status == "timeout"
    assert parsed.duration_ms == 30000.0


def test_start_end_and_other_lines() -> None:
    assert parse_message("START RequestId: 6c3c Version: 1") is LineKind.START
    assert parse_message("END RequestId: 6c3c") is LineKind.END
    assert parse_message("INIT_START Runtime Version: python:3.12.v18") is LineKind.OTHER
    assert parse_message("[WARNING]\t2026-11-26T17:31:48.123Z\tabc\tsomething") is LineKind.OTHER
    assert parse_message('{"level": "info", "msg": "not ours"}') is LineKind.OTHER


def test_router_line_from_the_router_itself() -> None:
    line = route_line(
        "r1",
        cache_state="stale",
        region="eu-west-1",
        dns_ms=20.0,
        handler_ms=21.5,
        dns_queries=1,
        reason="timeout",
        stale_age_s=12.5,
    )
    parsed = parse_message(line)
    assert parsed == Route(
        "r1",
        "stale",
        "media-eu-west-1.s3.eu-west-1.amazonaws.com",
        "eu-west-1",
        20.0,
        21.5,
        1,
        "timeout",
        12.5,
    )


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("REPORT RequestId: a\tDuration: 1.00 ms\tMemory Size: 128 MB", "without Billed Duration"),
        (
            "REPORT RequestId: a\tDuration: fast\tBilled Duration: 1 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 1 MB",
            "Duration: expected '<number> ms'",
        ),
        (
            "REPORT RequestId: a\tDuration: 1.5 ms\tBilled Duration: 1.5 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 1 MB",
            "expected whole ms",
        ),
        ("REPORT Duration: 1 ms", "without 'RequestId: <id>'"),
        ("START RequestId:", "without 'RequestId: <id>'"),
        ('{"_aws": {"Timestamp": 1', "invalid JSON"),
        ('{"event": "route", "cache_state": "warm"}', "cache_state 'warm'"),
        (
            '{"event": "route", "cache_state": "hit", "request_id": "a", "origin": "o", '
            '"region": "r", "dns_ms": -1, "handler_ms": 1, "dns_queries": 0}',
            "dns_ms must be",
        ),
        (
            '{"event": "route", "cache_state": "hit", "request_id": "a", "origin": "o", '
            '"region": "r", "dns_ms": 0, "handler_ms": 1, "dns_queries": 1.5}',
            "must be a count",
        ),
        (
            "REPORT RequestId: a\tDuration: 1.5 ms\tBilled Duration: 9223372036854775808 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 1 MB",
            "Billed Duration: '9223372036854775808 ms' is past the largest whole ms",
        ),
        (
            "REPORT RequestId: a\tDuration: 1.5 ms\tBilled Duration: 2 ms\t"
            "Memory Size: 10000000000000000000000 MB\tMax Memory Used: 1 MB",
            "Memory Size: '10000000000000000000000 MB' is past the largest whole MB",
        ),
        (
            f"REPORT RequestId: a\tDuration: 1{'0' * 400} ms\tBilled Duration: 2 ms\t"
            "Memory Size: 128 MB\tMax Memory Used: 1 MB",
            "Duration: '10000000000000000...00000000000000 ms' is too large for a number",
        ),
        (
            '{"event": "route", "cache_state": "hit", "request_id": "a", "origin": "o", '
            '"region": "r", "dns_ms": 0, "handler_ms": 1, "dns_queries": 9223372036854775808}',
            "dns_queries 9223372036854775808 is past the largest count",
        ),
        (
            '{"event": "route", "cache_state": "hit", "request_id": "a", "origin": "o", '
            f'"region": "r", "dns_ms": 1{"0" * 400}, "handler_ms": 1, "dns_queries": 0}}',
            "dns_ms must be finite and >= 0, got 100000000000000000...000000000000000000",
        ),
    ],
)
def test_malformed_messages_say_what_is_wrong(message: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_message(message)


def test_whole_numbers_up_to_the_largest_64_bit_integer_read_exactly() -> None:
    largest = 2**63 - 1  # a float rounds it up to 2**63
    report = parse_message(
        f"REPORT RequestId: a\tDuration: 1.5 ms\tBilled Duration: {largest} ms\t"
        f"Memory Size: {largest}.00 MB\tMax Memory Used: 1 MB"
    )
    assert isinstance(report, Report)
    assert (report.billed_ms, report.memory_mb) == (largest, largest)


def _file(run_dir: Path, lines: list[str]) -> Path:
    return write_lambda_log(run_dir, lines)


def test_a_local_file_reads_into_columns(tmp_path: Path) -> None:
    invocations = [
        Invocation(
            end=T0 + 1.5,
            duration_ms=2.25,
            init_ms=180.0,
            cache_state="miss",
            dns_queries=1,
            dns_ms=1.5,
        ),
        Invocation(end=T0 + 1.7, duration_ms=0.4, region="eu-west-1"),
        Invocation(end=T0 + 3.2, duration_ms=61.0, cache_state="stale", billed_ms=61),
    ]
    lines = [line for i, inv in enumerate(invocations) for line in invocation_lines(inv, i)]
    path = _file(tmp_path, [*lines, f"{iso(T0 + 4)}\tINIT_START Runtime Version: python:3.12"])
    reader = RuntimeLogReader()
    reader.read_file(path)
    logs = reader.result()
    inv = logs.invocations
    assert inv.duration_ms.tolist() == [2.25, 0.4, 61.0]
    assert inv.billed_ms.tolist() == [3, 1, 61]
    assert inv.cold.tolist() == [True, False, False]
    assert inv.end.tolist() == pytest.approx([T0 + 1.5, T0 + 1.7, T0 + 3.2], abs=1e-3)
    assert inv.log_region.counts() == {"us-east-1": 3}
    routes = logs.routes
    assert routes.cache_state.counts() == {"miss": 1, "hit": 1, "stale": 1}
    assert routes.region.counts() == {"us-east-1": 2, "eu-west-1": 1}
    assert routes.dns_queries.tolist() == [1, 0, 0]
    assert (logs.starts, logs.ends, logs.other_lines) == (3, 3, 1)
    assert logs.malformed.count == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("2026-11-26 17:31:48 START RequestId: a Version: 1", "no tab"),
        ("yesterday\tSTART RequestId: a Version: 1", "not ISO 8601"),
        ("2026-11-26T17:31:48.123\tSTART RequestId: a Version: 1", "no time zone"),
        (f"{iso(T0)}\tREPORT RequestId: a\tDuration: 1.00 ms", "without Billed Duration"),
        (f"{iso(T0)}\t" + '{"_aws":', "invalid JSON"),
    ],
)
def test_a_malformed_line_gives_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    good = invocation_lines(Invocation(end=T0 + 1, duration_ms=1.0), 0)
    path = _file(tmp_path, [*good, line, *good])
    reader = RuntimeLogReader()
    reader.read_file(path)
    logs = reader.result()
    assert logs.malformed.count == 1
    assert logs.malformed.messages()[0].startswith(f"{path}:5: ")
    assert reason in logs.malformed.messages()[0]
    assert len(logs.invocations) == 2  # the good lines around it still count
    strict = RuntimeLogReader(strict=True)
    with pytest.raises(FormatError) as caught:
        strict.read_file(path)
    assert caught.value.location == f"{path}:5"


def test_cloudwatch_events_read_like_the_file(tmp_path: Path) -> None:
    invocations = [
        Invocation(end=T0 + 0.5 + i * 0.25, duration_ms=0.5 + i, cache_state="hit")
        for i in range(5)
    ]
    lines = [line for i, inv in enumerate(invocations) for line in invocation_lines(inv, i)]
    from_file = RuntimeLogReader()
    from_file.read_file(_file(tmp_path, lines))
    events = []
    for line in lines:
        stamp, message = line.split("\t", 1)
        from results.logs import parse_timestamp

        events.append(
            {"timestamp": round(parse_timestamp(stamp) * 1000), "message": message + "\n"}
        )
    from_events = RuntimeLogReader()
    from_events.read_events(events, "/aws/lambda/us-east-1.edgedrill-router", "us-east-1")
    a, b = from_file.result(), from_events.result()
    assert a.invocations.duration_ms.tolist() == b.invocations.duration_ms.tolist()
    assert a.invocations.end.tolist() == pytest.approx(b.invocations.end.tolist())
    assert a.routes.cache_state.codes.tolist() == b.routes.cache_state.codes.tolist()
    assert (a.starts, a.ends) == (b.starts, b.ends) == (5, 5)


def test_a_malformed_event_names_its_group_and_number() -> None:
    reader = RuntimeLogReader()
    reader.read_events(
        [
            {"timestamp": 1, "message": "START RequestId: a Version: 1"},
            {"timestamp": "soon", "message": "END RequestId: a"},
            {"timestamp": 3, "message": "REPORT RequestId: a\tDuration: 1 ms"},
        ],
        "/aws/lambda/us-east-1.fn",
        "us-east-1",
    )
    messages = reader.result().malformed.messages()
    assert messages[0].startswith("/aws/lambda/us-east-1.fn:2: event timestamp")
    assert messages[1].startswith("/aws/lambda/us-east-1.fn:3: REPORT line without")


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_ms = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    request_id=_text,
    state=st.sampled_from(CACHE_STATES),
    region=_text,
    dns_ms=_ms,
    handler_ms=_ms,
    queries=st.integers(min_value=0, max_value=10),
    reason=_text,
    stale_age=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_fast_and_general_router_parsers_agree(
    request_id: str,
    state: str,
    region: str,
    dns_ms: float,
    handler_ms: float,
    queries: int,
    reason: str,
    stale_age: float,
) -> None:
    line = route_line(
        request_id,
        cache_state=state,
        region=region,
        dns_ms=dns_ms,
        handler_ms=handler_ms,
        dns_queries=queries,
        reason=reason,
        stale_age_s=stale_age,
    )
    general = parse_message(line)
    assert isinstance(general, Route)
    reader = RuntimeLogReader(strict=True)
    reader.read_events([{"timestamp": 0, "message": line}], "events", "us-east-1")
    routes = reader.result().routes
    assert routes.cache_state.labels[routes.cache_state.codes[0]] == general.cache_state
    assert routes.region.labels[routes.region.codes[0]] == general.region
    assert routes.dns_ms[0] == general.dns_ms
    assert routes.handler_ms[0] == general.handler_ms
    assert routes.dns_queries[0] == general.dns_queries


@settings(max_examples=300, deadline=None)
@given(
    duration=st.floats(min_value=0, max_value=30000, allow_nan=False),
    billed=st.integers(min_value=1, max_value=30000),
    memory=st.integers(min_value=128, max_value=10240),
    used=st.integers(min_value=1, max_value=10240),
    init=st.none() | st.floats(min_value=0, max_value=10000, allow_nan=False),
)
def test_fast_and_general_report_parsers_agree(
    duration: float, billed: int, memory: int, used: int, init: float | None
) -> None:
    line = report_line(
        "id-1", duration, billed_ms=billed, memory_mb=memory, max_memory_mb=used, init_ms=init
    )
    general = parse_message(line)
    assert isinstance(general, Report)
    reader = RuntimeLogReader(strict=True)
    reader.read_events([{"timestamp": 0, "message": line}], "events", "us-east-1")
    inv = reader.result().invocations
    assert inv.duration_ms[0] == general.duration_ms
    assert inv.billed_ms[0] == general.billed_ms
    assert inv.memory_mb[0] == general.memory_mb
    assert inv.max_memory_mb[0] == general.max_memory_mb
    if general.init_ms is None:
        assert math.isnan(inv.init_ms[0])
    else:
        assert inv.init_ms[0] == general.init_ms


# The router ships alone and cannot import edgedrill_formats, so its EMF line
# and the edge's runtime lines are held to this parser by their real output.


@pytest.mark.parametrize("state", list(CacheState))
def test_the_routers_line_for_every_cache_state_takes_the_fast_path(state: CacheState) -> None:
    line = emf_line(
        InvocationLog(
            request_id="r-1",
            cache_state=state,
            origin="media-euw1.s3.eu-west-1.amazonaws.com",
            region="eu-west-1",
            dns_ms=4.899,
            handler_ms=5.165,
            dns_queries=1,
        ),
        timestamp_ms=1_795_714_557_702,
    )
    # A line the fast pattern misses still parses, but a million of them read slowly.
    assert _FAST_ROUTE.fullmatch(line) is not None
    assert parse_message(line) == Route(
        "r-1", str(state), "media-euw1.s3.eu-west-1.amazonaws.com", "eu-west-1", 4.899, 5.165, 1
    )


@pytest.mark.parametrize(
    ("cf_request_id", "reason", "stale_age_s"),
    [("4Tyz_Hq-1oF26ClkoUSEQ==", "", 0.0), ("", "refresh failed: SERVFAIL", 12.5),
     ("4Tyz==", "refresh failed: SERVFAIL", 12.5), ("4Tyz==", "", 3.25)],
)  # fmt: skip
def test_the_routers_line_with_its_optional_keys_takes_the_fast_path(
    tmp_path: Path, cf_request_id: str, reason: str, stale_age_s: float
) -> None:
    # Every line of a real run carries cf_request_id: missing the fast path
    # here sends a million lines through json.loads.
    log = InvocationLog(
        "r-1", CacheState.STALE, "o.example", "eu-west-1", 0.25, 1.5, 0,
        reason=reason, stale_age_s=stale_age_s, cf_request_id=cf_request_id,
    )  # fmt: skip
    line = emf_line(log, timestamp_ms=1_795_714_557_702)
    match = _FAST_ROUTE.fullmatch(line)
    assert match is not None
    assert (match.group(7) or "", float(match.group(8) or 0)) == (reason, stale_age_s)
    # Column-wise too: a block of such lines leaves none to the general parser.
    text = "".join(f"{iso(T0 + i)}\t{line}\n" for i in range(20))
    block = _parse_block(text.encode(), 0)
    assert not isinstance(block, bytes)
    assert (block.rest, block.routes is not None) == ([], True)
    path = _file(tmp_path, text.splitlines())
    by_line, in_blocks = _both_paths(path, strict=True)
    assert _columns_of(in_blocks) == _columns_of(by_line)
    routes = in_blocks.routes
    assert routes.reasons == ({("stale", reason): 20} if reason else {})
    assert routes.max_stale_age_s == stale_age_s
    assert routes.dns_ms.tolist() == [0.25] * 20


def test_the_routers_line_with_non_ascii_text_and_unknown_domains_reads_back() -> None:
    log = InvocationLog("r-\u00e9", CacheState.FALLBACK, "d\u00e9fault.example", "", 0.0, 0.3, 0)
    line = emf_line(replace(log, unknown_domains=("\u00fcnknown.example",)), timestamp_ms=0)
    reader = RuntimeLogReader(strict=True)
    reader.read_events([{"timestamp": 0, "message": line}], "events", "us-east-1")
    routes = reader.result().routes
    assert routes.cache_state.counts() == {"fallback": 1}
    assert routes.region.counts() == {"": 1}
    parsed = parse_message(line)
    assert parsed == Route("r-\u00e9", "fallback", "d\u00e9fault.example", "", 0.0, 0.3, 0)


def test_the_edges_log_group_file_reads_back(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    writer = LogGroupWriter(log_dir / LAMBDA_DIR / log_group_file("eu-west-1", FUNCTION))
    route = emf_line(
        InvocationLog("a", CacheState.MISS, "o.example", "eu-west-1", 1.5, 2.0, 1),
        timestamp_ms=int(T0 * 1000),
    )
    cold = edge_report_line("a", 2.25, 128, 73, 180.22)
    warm = edge_report_line("b", 0.4, 128, 74, None)
    assert _FAST_REPORT.fullmatch(cold) is not None
    assert _FAST_REPORT.fullmatch(warm) is not None
    writer.write_events(
        [
            (T0, "START RequestId: a Version: 1"),
            (T0 + 0.001, route),
            (T0 + 0.002, "END RequestId: a"),
            (T0 + 0.002, cold),
            (T0 + 1, "START RequestId: b Version: 1"),
            (T0 + 1.001, "END RequestId: b"),
            (T0 + 1.001, warm),
        ]
    )
    writer.close()
    logs = read_runtime_logs(log_dir, strict=True)
    assert logs is not None
    inv = logs.invocations
    assert inv.duration_ms.tolist() == [2.25, 0.4]
    assert inv.billed_ms.tolist() == [3, 1]
    assert inv.max_memory_mb.tolist() == [73, 74]
    assert inv.cold.tolist() == [True, False]
    assert inv.end.tolist() == pytest.approx([T0 + 0.002, T0 + 1.001], abs=1e-6)
    assert inv.log_region.counts() == {"eu-west-1": 2}
    assert logs.routes.cache_state.counts() == {"miss": 1}
    assert logs.routes.time.tolist() == pytest.approx([T0 + 0.001], abs=1e-6)
    assert (logs.starts, logs.ends, logs.other_lines) == (2, 2, 0)


@pytest.fixture(params=[True, False], ids=["compiled", "polars"])
def compiled(request: pytest.FixtureRequest) -> bool:
    """Blocks read by the compiled scanner, then by the polars parser it replaces when unbuilt."""
    return bool(request.param)


def _columns_of(logs: RuntimeLogs) -> dict[str, object]:
    inv, routes = logs.invocations, logs.routes
    return {
        "report": [
            inv.end.tolist(),
            inv.duration_ms.tolist(),
            inv.billed_ms.tolist(),
            inv.memory_mb.tolist(),
            inv.max_memory_mb.tolist(),
            [None if math.isnan(v) else v for v in inv.init_ms.tolist()],
            inv.log_region.labels,
            inv.log_region.codes.tolist(),
            dict(inv.status),
        ],
        "route": [
            routes.time.tolist(),
            routes.cache_state.codes.tolist(),
            routes.region.labels,
            routes.region.codes.tolist(),
            routes.dns_ms.tolist(),
            routes.handler_ms.tolist(),
            routes.dns_queries.tolist(),
            dict(routes.reasons),
            routes.max_stale_age_s,
        ],
        "counts": (logs.starts, logs.ends, logs.other_lines, logs.sources),
        "malformed": logs.malformed.messages(),
    }


@pytest.mark.parametrize(("block_bytes", "threads"), [(1 << 20, 1), (700, 1), (700, 3)])
def test_blocks_read_what_the_line_by_line_path_reads(
    tmp_path: Path, block_bytes: int, threads: int, compiled: bool
) -> None:
    # Every kind of line, in blocks of a few lines: the exact layouts (polars),
    # a region first seen on a line only the general parser takes (its label
    # must still come first), other lines, blanks, CRLF, malformed lines.
    general_route = (
        '{"event":"route","request_id":"g","cache_state":"stale","origin":"o",'
        '"region":"ap-south-1","dns_ms":1.5,"handler_ms":2.5,"dns_queries":1,'
        '"reason":"SERVFAIL","stale_age_s":12.0}'
    )
    lines = [
        f"{iso(T0)}\tINIT_START Runtime Version: python:3.12",
        f"{iso(T0 + 0.001)}\t{general_route}",
        "",
        f"{iso(T0 + 0.002)}\tREPORT RequestId: s\tDuration: 3.00 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout",
        f"{iso(T0 + 0.003)}\tSTART RequestId: \r",
        "2026-02-30T17:31:48.123Z\tSTART RequestId: bad-date Version: 1",
        f"{iso(T0 + 0.004)}\tEND RequestId: crlf\r",
    ]
    for i in range(40):
        inv = Invocation(
            end=T0 + 1 + i * 0.137,
            duration_ms=0.5 + i,
            init_ms=150.0 + i if i % 7 == 0 else None,
            cache_state=("hit", "miss", "stale")[i % 3],
            region=("eu-west-1", "us-east-1", "")[i % 3] if i > 3 else "us-west-2",
            dns_queries=i % 2,
            dns_ms=0.25 * i,
        )
        lines += invocation_lines(inv, i)
        if i == 20:
            lines += [f"{iso(T0 + 4)}\tREPORT RequestId: x\tDuration: 1 ms", "no tab here"]
    path = _file(tmp_path, lines)
    by_line = RuntimeLogReader()
    by_line.read_range(path, 0, path.stat().st_size)
    in_blocks = RuntimeLogReader(threads=threads, block_bytes=block_bytes, compiled=compiled)
    in_blocks.read_file(path)
    expected = _columns_of(by_line.result())
    assert _columns_of(in_blocks.result()) == expected
    assert expected["route"][2] == ("ap-south-1", "us-west-2", "us-east-1", "", "eu-west-1")  # type: ignore[index]
    assert len(expected["malformed"]) == 4  # type: ignore[arg-type]


def _exact_lines(count: int) -> list[str]:
    """Lines of ``count`` invocations, every one in the exact layouts the block parser takes."""
    lines: list[str] = []
    for i in range(count):
        inv = Invocation(
            end=T0 + 1 + i * 0.113,
            duration_ms=0.25 + i,
            init_ms=200.0 + i if i % 5 == 0 else None,
            cache_state=CACHE_STATES[i % len(CACHE_STATES)],
            region=("eu-west-1", "us-east-1", "")[i % 3],
            dns_queries=i % 3,
            dns_ms=0.5 * i,
            # The optional keys the router writes, alone and together.
            cf_request_id=f"cf-{i}==" if i % 2 else "",
            reason="refresh failed: SERVFAIL" if i % 3 == 2 else "",
            stale_age_s=1.5 * i if i % 4 == 2 else 0.0,
        )
        lines += invocation_lines(inv, i)
    return lines


def _both_paths(
    path: Path, *, strict: bool = False, compiled: bool = True
) -> tuple[RuntimeLogs, RuntimeLogs]:
    by_line = RuntimeLogReader(strict=strict)
    by_line.read_range(path, 0, path.stat().st_size)
    in_blocks = RuntimeLogReader(strict=strict, threads=2, block_bytes=900, compiled=compiled)
    in_blocks.read_file(path)
    return by_line.result(), in_blocks.result()


def test_blocks_of_exact_lines_and_blanks_read_what_the_line_by_line_path_reads(
    tmp_path: Path, compiled: bool
) -> None:
    # Blocks where every line but the blank ones is exact: no line is left
    # for the general parser, and nothing is reported malformed.
    lines = _exact_lines(30)
    lines[9:9] = ["", ""]
    by_line, in_blocks = _both_paths(_file(tmp_path, lines), compiled=compiled)
    assert _columns_of(in_blocks) == _columns_of(by_line)
    assert len(in_blocks.invocations) == len(in_blocks.routes) == 30
    assert (in_blocks.starts, in_blocks.ends, in_blocks.other_lines) == (30, 30, 0)
    assert in_blocks.malformed.count == 0


_ESCAPED_ROUTE = (
    '{"event":"route","request_id":"e\\"1","cache_state":"miss",'
    '"origin":"media\\\\x.s3.amazonaws.com","region":"eu-west-1","dns_ms":0.5,'
    '"handler_ms":1e1,"dns_queries":2}'
)
_EMF_ROUTE = emf_line(InvocationLog("r\u00e9q", CacheState.HIT, "o", "us-east-1", 0.1, 0.2, 0))
_PLAIN_ROUTE = emf_line(InvocationLog("r-2", CacheState.MISS, "o", "eu-west-1", 0.1, 0.2, 1))


@pytest.mark.parametrize(
    "message",
    [
        _ESCAPED_ROUTE,  # escapes: only the general parser reads them
        _EMF_ROUTE,  # non-ASCII request id written by the router itself
        _EMF_ROUTE.replace('"dns_queries":0', '"dns_queries":-1'),  # malformed count
        _EMF_ROUTE[:-1],  # cut short: not JSON
        # keys again after dns_queries: JSON's last value wins, so not the fast path's
        _PLAIN_ROUTE[:-1] + ',"dns_ms":9.5,"dns_queries":3}',
        _PLAIN_ROUTE[:-1] + ',"cf_request_id":"c","reason":"r","stale_age_s":1.5}',
        _PLAIN_ROUTE[:-1] + ',"stale_age_s":1.5,"reason":"r"}',  # not the router's order
        "REPORT RequestId: t\tDuration: 1e2 ms\tBilled Duration: 100 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB",  # a number the fast path refuses
        "REPORT RequestId: t\tDuration: 2.00 ms\tBilled Duration: 2.5 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB",  # malformed: billed not whole
        "REPORT RequestId:  \tDuration: 2.00 ms",  # malformed: no request id
        "REPORT RequestId: t\tDuration: 2.00 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB\tInit Duration: 5.00 ms\t\tStatus: timeout",
        "REPORT RequestId: t\tDuration: 2.00 ms\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB\t",  # one tab at the end: exact
        "REPORT RequestId: t\tDuration: 2.00\tBilled Duration: 2 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 60 MB",  # no unit: the general parser's
        "START RequestId:  Version: 1",  # malformed: blank request id
        "START RequestId: \u2028",  # malformed: str.split's whitespace alone
        "END RequestId: \u00a0\u3000 x",  # malformed: the id is all before the tab
        "END RequestId: \x1c",  # malformed, though not Unicode White_Space
        "END RequestId: x\t",
        "INIT_START Runtime Version: python:3.12",
        '{"event":"other"}',
    ],
)
def test_one_tricky_line_among_exact_ones_reads_the_same_both_ways(
    tmp_path: Path, message: str, compiled: bool
) -> None:
    lines = _exact_lines(12)
    lines.insert(21, f"{iso(T0 + 2)}\t{message}")
    by_line, in_blocks = _both_paths(_file(tmp_path, lines), compiled=compiled)
    assert _columns_of(in_blocks) == _columns_of(by_line)
    for reason in in_blocks.malformed.messages():
        assert ":22: " in reason  # the file's own line number


def _strict_errors(path: Path, *, compiled: bool) -> list[str]:
    """The error a strict read stops at, line by line and in blocks."""
    errors = []
    for read in (
        lambda reader: reader.read_range(path, 0, path.stat().st_size),
        lambda reader: reader.read_file(path),
    ):
        reader = RuntimeLogReader(strict=True, threads=2, block_bytes=900, compiled=compiled)
        with pytest.raises(FormatError) as caught:
            read(reader)
        errors.append(str(caught.value))
    return errors


@pytest.mark.parametrize(
    "bad",
    ["2026-11-26T17:31:61.000Z\tSTART RequestId: a", "no tab", '2026-11-26T17:31:48.001Z\t{"'],
)
def test_strict_fails_on_the_first_malformed_line_both_ways(
    tmp_path: Path, bad: str, compiled: bool
) -> None:
    lines = _exact_lines(12)
    lines[30:30] = [bad, bad]
    path = _file(tmp_path, lines)
    errors = _strict_errors(path, compiled=compiled)
    assert errors[0] == errors[1]
    assert f"{path}:31: " in errors[0]


_ROUTE_19 = _PLAIN_ROUTE.replace('"dns_queries":1', '"dns_queries":9999999999999999999')
_REPORT_19 = (
    "REPORT RequestId: t\tDuration: 2.00 ms\tBilled Duration: 9999999999999999999 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 60 MB"
)
_REPORT_400 = (
    f"REPORT RequestId: t\tDuration: 1{'0' * 400}.00 ms\tBilled Duration: 2 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 60 MB"
)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_REPORT_19, "Billed Duration: '9999999999999999999 ms' is past the largest whole ms"),
        (_ROUTE_19, "dns_queries 9999999999999999999 is past the largest count"),
        (
            _REPORT_400,
            "Duration: '10000000000000000...00000000000.00 ms' is too large for a number",
        ),
        (_PLAIN_ROUTE.replace('"dns_ms":0.100', f'"dns_ms":1{"0" * 400}'), "dns_ms must be finite"),
        (
            _PLAIN_ROUTE.replace('"handler_ms":0.200', '"handler_ms":1e400'),
            "handler_ms must be finite",
        ),
    ],
)
def test_a_number_past_64_bits_is_malformed_with_file_and_line_both_ways(
    tmp_path: Path, message: str, reason: str, compiled: bool
) -> None:
    # The fast patterns refuse them (19 digits, 400, an exponent of 3): the general
    # parser says why.
    lines = _exact_lines(12)
    lines.insert(21, f"{iso(T0 + 2)}\t{message}")
    path = _file(tmp_path, lines)
    by_line, in_blocks = _both_paths(path, compiled=compiled)  # not strict: no crash
    assert _columns_of(in_blocks) == _columns_of(by_line)
    [message] = by_line.malformed.messages()
    assert message.startswith(f"{path}:22: ")
    assert reason in message
    assert (len(by_line.invocations), len(by_line.routes)) == (12, 12)
    errors = _strict_errors(path, compiled=compiled)
    assert errors[0] == errors[1]
    assert f"{path}:22: " in errors[0]


# 18 digits: the most the fast patterns take; 19 that fit: the general parser's.
@pytest.mark.parametrize("value", [10**18 - 1, 2**63 - 1])
@pytest.mark.parametrize("message", [_REPORT_19, _ROUTE_19], ids=["billed", "dns_queries"])
def test_a_whole_number_that_fits_64_bits_reads_exactly_both_ways(
    tmp_path: Path, message: str, value: int, compiled: bool
) -> None:
    lines = _exact_lines(12)
    lines.insert(21, f"{iso(T0 + 2)}\t{message.replace('9' * 19, str(value))}")
    by_line, in_blocks = _both_paths(_file(tmp_path, lines), strict=True, compiled=compiled)
    assert _columns_of(in_blocks) == _columns_of(by_line)
    read = [*by_line.invocations.billed_ms.tolist(), *by_line.routes.dns_queries.tolist()]
    assert max(read) == value
