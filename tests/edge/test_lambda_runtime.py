"""The execution environments, with the real router and a real DNS zone on loopback."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.dns_zone import DnsZoneServer, Zone
from edge.fault_specs import LambdaFault, LambdaFaultKind
from edge.lambda_runtime import (
    FunctionPool,
    FunctionSettings,
    Invocation,
    Outcome,
    RuntimeProfile,
    iso_timestamp,
    over_the_wire,
    report_line,
)
from edge.origins import Origin
from edge.trigger import Distribution, build_event, new_request_id

DOMAINS = {
    "us-east-1": "edgedrill-media.s3.us-east-1.amazonaws.com",
    "eu-west-1": "edgedrill-media.s3.eu-west-1.amazonaws.com",
}


@pytest.fixture
def zone() -> Iterator[DnsZoneServer]:
    server = DnsZoneServer(Zone()).start()
    server.zone.set_txt("origins.edgedrill.test", list(DOMAINS.values()), ttl=60)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def router_config(tmp_path: Path, zone: DnsZoneServer) -> Path:
    path = tmp_path / "router.json"
    config = {
        "routing_name": "origins.edgedrill.test",
        "nameservers": [zone.address],
        "origins": [{"region": r, "domain": d, "weight": 1} for r, d in DOMAINS.items()],
    }
    path.write_text(json.dumps(config))
    return path


def make_pool(
    tmp_path: Path, router_config: Path, faults: list[LambdaFault] | None = None, **settings: object
) -> FunctionPool:
    return FunctionPool(
        FunctionSettings(router_config=router_config, **settings),  # type: ignore[arg-type]
        tmp_path / "logs",
        faults=lambda: list(faults or []),
        profile=RuntimeProfile(import_ms=1.0, memory_mb=40),
    )


def event() -> dict[str, object]:
    origin = Origin("s3-us-east-1", DOMAINS["us-east-1"], "us-east-1", 80)
    return build_event(
        Distribution(),
        new_request_id(),
        client_ip="127.0.0.1",
        method="GET",
        uri="/media/00001.jpg",
        querystring="",
        origin=origin,
        viewer_version="1.1",
    )


def wait(future: Future[Invocation]) -> Invocation:
    return future.result(timeout=10)


def log_lines(pool: FunctionPool) -> list[str]:
    return [line.split("\t", 1)[1] for line in pool.log.path.read_text().splitlines()]


def test_cold_start_then_warm_reuse(tmp_path: Path, router_config: Path) -> None:
    pool = make_pool(tmp_path, router_config)
    try:
        results = [wait(pool.submit(event())) for _ in range(5)]
    finally:
        pool.close()
    assert [r.outcome for r in results] == [Outcome.OK] * 5
    assert results[0].init_ms is not None
    assert all(r.init_ms is None for r in results[1:])
    assert {r.environment for r in results} == {1}
    reports = [line for line in log_lines(pool) if line.startswith("REPORT ")]
    assert len(reports) == 5
    assert sum("Init Duration" in line for line in reports) == 1
    assert pool.stats.cold_starts == 1
    # The returned request was rewritten by the router for one of the two regions.
    assert results[0].value["origin"]["s3"]["domainName"] in DOMAINS.values()


def test_concurrent_invocations_get_their_own_environments(
    tmp_path: Path, router_config: Path
) -> None:
    slow = [LambdaFault(LambdaFaultKind.DELAY, delay_ms=150)]
    pool = make_pool(tmp_path, router_config, slow)
    try:
        futures = [pool.submit(event()) for _ in range(3)]
        results = [wait(f) for f in futures]
    finally:
        pool.close()
    assert len({r.environment for r in results}) == 3
    assert all(r.init_ms is not None for r in results)
    reports = [line for line in log_lines(pool) if line.startswith("REPORT ")]
    assert sum("Init Duration" in line for line in reports) == 3
    assert pool.stats.peak_concurrency == 3


def test_throttled_beyond_the_concurrency_limit(tmp_path: Path, router_config: Path) -> None:
    slow = [LambdaFault(LambdaFaultKind.DELAY, delay_ms=300)]
    pool = make_pool(tmp_path, router_config, slow, concurrency_limit=2)
    try:
        futures = [pool.submit(event()) for _ in range(4)]
        outcomes = [wait(f).outcome for f in futures]
    finally:
        pool.close()
    assert outcomes == [Outcome.OK, Outcome.OK, Outcome.THROTTLED, Outcome.THROTTLED]
    assert pool.stats.throttles == 2


def test_timeout_discards_the_environment(tmp_path: Path, router_config: Path) -> None:
    slow = [LambdaFault(LambdaFaultKind.DELAY, delay_ms=600)]
    pool = make_pool(tmp_path, router_config, slow, timeout_s=0.2)
    try:
        future = pool.submit(event())
        with pytest.raises(TimeoutError):
            future.result(timeout=0.2)
        result = pool.timed_out(future)
        assert result.outcome is Outcome.TIMEOUT
        assert pool.environments == 0
        lines = log_lines(pool)
    finally:
        pool.close()
    assert any(re.search(r"Task timed out after 0\.20 seconds$", line) for line in lines)
    assert lines[-1].startswith("REPORT ")


def test_exception_is_an_error_with_a_log_line(tmp_path: Path, router_config: Path) -> None:
    pool = make_pool(tmp_path, router_config, [LambdaFault(LambdaFaultKind.ERROR)])
    try:
        result = wait(pool.submit(event()))
    finally:
        pool.close()
    assert result.outcome is Outcome.ERROR
    lines = log_lines(pool)
    assert any(line.startswith("[ERROR] RuntimeError: injected fault") for line in lines)
    assert lines[-2].startswith("END RequestId: ")


def test_a_broken_event_is_the_functions_error(tmp_path: Path, router_config: Path) -> None:
    pool = make_pool(tmp_path, router_config)
    try:
        result = wait(pool.submit({"Records": []}))
    finally:
        pool.close()
    assert result.outcome is Outcome.ERROR
    assert "EventError" in result.error


def test_idle_environments_are_reaped(tmp_path: Path, router_config: Path) -> None:
    pool = make_pool(tmp_path, router_config, idle_reap_s=0.2)
    try:
        wait(pool.submit(event()))
        assert pool.environments == 1
        deadline = time.monotonic() + 5
        while pool.environments and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.environments == 0
        assert pool.stats.reaped == 1
        second = wait(pool.submit(event()))
        assert second.init_ms is not None  # a cold start again
    finally:
        pool.close()


def test_report_line_is_lambdas_format() -> None:
    line = report_line("abc", 2.25, 128, 73, 180.224)
    assert line == (
        "REPORT RequestId: abc\tDuration: 2.25 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 73 MB\tInit Duration: 180.22 ms"
    )
    assert report_line("abc", 3.0, 128, 73, None).endswith(
        "Billed Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 73 MB"
    )


@given(
    st.one_of(
        st.floats(min_value=0, max_value=4e9, allow_nan=False),
        # the last microsecond of a second, where rounding carries into the next
        st.integers(min_value=0, max_value=4_000_000_000).map(lambda s: s + 0.9999996),
    )
)
def test_iso_timestamp_matches_datetime(epoch: float) -> None:
    m = datetime.fromtimestamp(epoch, UTC)
    expected = m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z"
    assert iso_timestamp(epoch) == expected
    assert iso_timestamp(epoch + 1.0) != expected  # the per-second cache moves on


_json_keys = st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.none(), st.floats())
_json_like = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.binary(max_size=2),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(_json_keys, children, max_size=4),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=20,
)


def _round_trip(value: object) -> tuple[str, object]:
    try:
        return "ok", json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        return "error", type(exc)


@given(_json_like)
def test_over_the_wire_is_the_json_round_trip(value: object) -> None:
    try:
        result: tuple[str, object] = ("ok", over_the_wire(value))
    except (TypeError, ValueError) as exc:
        result = ("error", type(exc))
    expected = _round_trip(value)
    # repr: NaN compares unequal to itself, its repr does not
    assert repr(result) == repr(expected)


def test_over_the_wire_copies_and_catches_cycles() -> None:
    entry = {"key": "Host", "value": "x"}
    request = {"uri": "/a", "headers": {"host": [entry]}}
    copied = over_the_wire(request)
    assert copied == request
    assert copied["headers"]["host"][0] is not entry
    looped: dict[str, object] = {}
    looped["self"] = looped
    with pytest.raises(ValueError, match="Circular"):
        over_the_wire(looped)
