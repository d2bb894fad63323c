"""The handler end to end with a scripted resolver: routing, fallback, logs, errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

import router.handler as handler_module
from router.errors import EventError
from router.handler import create_environment, handler, reset_environment
from tests.router.conftest import (
    EUW1,
    USE1,
    FakeClock,
    ScriptedResolver,
    answer,
    failure,
    make_config,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from router.resolver import LookupResult


class Context:
    aws_request_id = "req-123"
    function_name = "us-east-1.edgedrill-router"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def env_with(*results: LookupResult, clock: FakeClock | None = None, **config: Any):
    lines: list[str] = []
    resolver = ScriptedResolver(list(results))
    env = create_environment(
        make_config(**config), resolver=resolver, clock=clock or FakeClock(), sink=lines.append
    )
    return env, resolver, lines


def test_routes_to_an_origin_from_the_answer_and_logs_emf(load_event: Callable[[str], Any]) -> None:
    env, _, lines = env_with(answer(EUW1))
    request = env.handle(load_event("s3-origin"), Context())
    assert request["origin"]["s3"]["domainName"] == EUW1
    assert request["origin"]["s3"]["region"] == "eu-west-1"
    assert len(lines) == 1
    log = json.loads(lines[0])
    assert log["request_id"] == "req-123"
    cf_config = load_event("s3-origin")["Records"][0]["cf"]["config"]
    assert log["cf_request_id"] == cf_config["requestId"]
    assert log["cache_state"] == "miss"
    assert log["origin"] == EUW1
    assert log["region"] == "eu-west-1"
    assert log["dns_queries"] == 1
    assert log["handler_ms"] >= log["dns_ms"] >= 0
    metrics = log["_aws"]["CloudWatchMetrics"][0]
    assert {metric["Name"] for metric in metrics["Metrics"]} == {
        "handler_ms",
        "dns_ms",
        "dns_queries",
    }
    assert metrics["Dimensions"] == [["cache_state"]]


def test_request_id_comes_from_the_event_without_a_context(
    load_event: Callable[[str], Any],
) -> None:
    env, _, lines = env_with(answer(USE1))
    event = load_event("s3-origin")
    env.handle(event, None)
    assert json.loads(lines[0])["request_id"] == event["Records"][0]["cf"]["config"]["requestId"]


def test_without_cloudfronts_request_id_the_line_has_no_cf_request_id(
    load_event: Callable[[str], Any],
) -> None:
    env, _, lines = env_with(answer(USE1))
    event = load_event("s3-origin")
    del event["Records"][0]["cf"]["config"]["requestId"]
    env.handle(event, Context())
    assert "cf_request_id" not in json.loads(lines[0])


THREE_TO_ONE = [
    {"region": "us-east-1", "domain": USE1, "weight": 3},
    {"region": "eu-west-1", "domain": EUW1, "weight": 1},
]


def regions_routed(env: Any, load_event: Callable[[str], Any], ids: list[str | None]) -> list[str]:
    """The region of each invocation, one per viewer request id (None: no id)."""
    regions = []
    for request_id in ids:
        event = load_event("s3-origin")
        config = event["Records"][0]["cf"]["config"]
        if request_id is None:
            del config["requestId"]
        else:
            config["requestId"] = request_id
        regions.append(env.handle(event)["origin"]["s3"]["region"])
    return regions


def test_weighted_spread_across_invocations(load_event: Callable[[str], Any]) -> None:
    env, resolver, _ = env_with(answer(USE1, EUW1), origins=THREE_TO_ONE)
    regions = regions_routed(env, load_event, [f"viewer-request-{n}" for n in range(2000)])
    # Rendezvous hashing on the viewer request id: 3:1 in expectation (1,500 and
    # 500; the ids are fixed, so the count is too, here within 2.5 sigma).
    assert 1450 <= regions.count("us-east-1") <= 1550
    assert len(resolver.calls) == 1


def test_one_viewer_request_always_gets_the_same_origin(load_event: Callable[[str], Any]) -> None:
    env, _, _ = env_with(answer(USE1, EUW1))
    assert len(set(regions_routed(env, load_event, ["one-viewer-request"] * 20))) == 1


def test_without_a_request_id_the_round_robin_spreads_exactly(
    load_event: Callable[[str], Any],
) -> None:
    env, _, _ = env_with(answer(USE1, EUW1), origins=THREE_TO_ONE)
    regions = regions_routed(env, load_event, [None] * 100)
    assert regions.count("us-east-1") == 75
    assert regions.count("eu-west-1") == 25


@pytest.mark.parametrize(
    "name",
    [
        "s3-origin",
        "custom-origin",
        "multi-value-headers",
        "percent-encoded",
        "head",
        "options",
        "post-with-body",
    ],
)
def test_dns_failure_leaves_the_request_on_its_origin(
    load_event: Callable[[str], Any], name: str
) -> None:
    env, _, lines = env_with(failure("timeout"))
    event = load_event(name)
    original = json.loads(json.dumps(event["Records"][0]["cf"]["request"]))
    request = env.handle(event, Context())
    assert request == original
    log = json.loads(lines[0])
    assert log["cache_state"] == "fallback"
    assert "timeout" in log["reason"]


def test_percent_encoding_is_left_alone(load_event: Callable[[str], Any]) -> None:
    env, _, _ = env_with(answer(EUW1))
    event = load_event("percent-encoded")
    uri = event["Records"][0]["cf"]["request"]["uri"]
    query = event["Records"][0]["cf"]["request"]["querystring"]
    request = env.handle(event)
    assert request["uri"] == uri
    assert request["querystring"] == query


def test_answer_with_only_unknown_domains_falls_back(load_event: Callable[[str], Any]) -> None:
    env, _, lines = env_with(answer("evil.example.com"))
    request = env.handle(load_event("s3-origin"))
    assert request["origin"]["s3"]["domainName"] == USE1
    log = json.loads(lines[0])
    assert log["cache_state"] == "fallback"
    assert log["unknown_domains"] == ["evil.example.com"]
    assert log["region"] == "us-east-1"


def test_remaining_time_bounds_the_lookup_timeout(load_event: Callable[[str], Any]) -> None:
    env, resolver, _ = env_with(answer(USE1))
    env.handle(load_event("s3-origin"), Context(remaining_ms=12))
    assert resolver.calls[0][1] == pytest.approx(0.007)


def test_viewer_request_event_is_an_event_error(load_event: Callable[[str], Any]) -> None:
    env, _, lines = env_with(answer(USE1))
    with pytest.raises(EventError, match="eventType"):
        env.handle(load_event("viewer-request"))
    assert lines == []


def test_a_routing_bug_falls_back_instead_of_failing(
    load_event: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    env, _, lines = env_with(answer(USE1))

    def broken(*args: object) -> None:
        raise KeyError("s3")

    monkeypatch.setattr(handler_module, "rewrite", broken)
    request = env.handle(load_event("s3-origin"))
    assert request["origin"]["s3"]["domainName"] == USE1
    assert "routing error" in json.loads(lines[0])["reason"]


def test_module_handler_uses_the_module_environment(load_event: Callable[[str], Any]) -> None:
    env, resolver, lines = env_with(answer(EUW1))
    previous = handler_module.environment()
    reset_environment(env)
    try:
        request = handler(load_event("s3-origin"), Context())
        assert request["origin"]["s3"]["domainName"] == EUW1
        assert len(resolver.calls) == 1
        assert len(lines) == 1
    finally:
        reset_environment(previous)


def test_reset_environment_makes_the_next_call_a_cold_start() -> None:
    previous = handler_module.environment()
    try:
        reset_environment()
        fresh = handler_module.environment()
        assert fresh is not previous
        assert fresh.invocations == 0
    finally:
        reset_environment(previous)


@pytest.mark.parametrize("failed_region", ["us-east-1", "eu-west-1"])
def test_a_failover_attempt_never_goes_back_to_the_region_that_failed(
    load_event: Callable[[str], Any], failed_region: str
) -> None:
    # Both attempts of one viewer request carry its requestId. Whichever region
    # the first attempt took (and failed on), the failover attempt, arriving on
    # the origin group's secondary, takes the other one.
    domains = {"us-east-1": USE1, "eu-west-1": EUW1}
    env, _, lines = env_with(answer(USE1, EUW1))
    checked = 0
    for n in range(40):
        first = load_event("s3-origin")
        first["Records"][0]["cf"]["config"]["requestId"] = f"viewer-{n}"
        chosen = env.handle(first, Context())["origin"]["s3"]["region"]
        if chosen != failed_region:
            continue
        checked += 1
        retry = load_event("s3-origin")
        retry["Records"][0]["cf"]["config"]["requestId"] = f"viewer-{n}"
        origin = retry["Records"][0]["cf"]["request"]["origin"]["s3"]
        origin["domainName"], origin["region"] = EUW1, "eu-west-1"  # the group's secondary
        again = env.handle(retry, Context())["origin"]["s3"]
        assert again["region"] != failed_region
        assert again["domainName"] != domains[failed_region]
        log = json.loads(lines[-1])
        assert log["reason"] == "failover attempt: the next origin in this request's order"
    assert checked >= 10


def test_a_failover_attempt_with_one_candidate_stays_on_the_secondary(
    load_event: Callable[[str], Any],
) -> None:
    env, _, lines = env_with(answer(USE1))
    event = load_event("s3-origin")
    origin = event["Records"][0]["cf"]["request"]["origin"]["s3"]
    origin["domainName"], origin["region"] = EUW1, "eu-west-1"
    request = env.handle(event, Context())
    assert request["origin"]["s3"]["domainName"] == EUW1
    assert json.loads(lines[-1])["reason"] == "failover attempt: kept on its origin"
