"""Weighted spread and the request rewrite."""

from __future__ import annotations

import copy
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from router.config import OriginConfig
from router.routing import WeightedRoundRobin, candidates, rewrite
from tests.router.conftest import EUW1, USE1, make_config

if TYPE_CHECKING:
    from collections.abc import Callable

A = OriginConfig("us-east-1", USE1, 3)
B = OriginConfig("eu-west-1", EUW1, 1)


def test_spread_follows_weights_exactly_over_each_cycle() -> None:
    balancer = WeightedRoundRobin()
    picks = [balancer.pick((A, B)).region for _ in range(400)]
    for start in range(0, 400, 4):
        window = Counter(picks[start : start + 4])
        assert window == {"us-east-1": 3, "eu-west-1": 1}


def test_spread_interleaves_instead_of_running_in_blocks() -> None:
    balancer = WeightedRoundRobin()
    heavy = OriginConfig("us-east-1", USE1, 2)
    light = OriginConfig("eu-west-1", EUW1, 2)
    picks = [balancer.pick((heavy, light)).region for _ in range(6)]
    assert picks == ["us-east-1", "eu-west-1"] * 3


def test_spread_restarts_when_the_answer_set_changes() -> None:
    balancer = WeightedRoundRobin()
    balancer.pick((A, B))
    assert {balancer.pick((B,)).region for _ in range(5)} == {"eu-west-1"}


def test_candidates_drop_unknown_and_zero_weight_domains() -> None:
    config = make_config(
        origins=[
            {"region": "us-east-1", "domain": USE1, "weight": 1},
            {"region": "eu-west-1", "domain": EUW1, "weight": 0},
        ]
    )
    found = candidates(config, (EUW1, "evil.example.com", USE1.upper() + "."))
    assert [origin.domain for origin in found.origins] == [USE1]
    assert found.unknown == ("evil.example.com",)


def test_rewrite_s3_origin_changes_only_domain_region_and_host(
    load_event: Callable[[str], Any],
) -> None:
    event = load_event("s3-origin")
    request = event["Records"][0]["cf"]["request"]
    before = copy.deepcopy(request)
    rewrite(request, B)
    assert request["origin"]["s3"]["domainName"] == EUW1
    assert request["origin"]["s3"]["region"] == "eu-west-1"
    assert request["headers"]["host"] == [{"key": "Host", "value": EUW1}]
    before["origin"]["s3"].update(domainName=EUW1, region="eu-west-1")
    before["headers"]["host"] = [{"key": "Host", "value": EUW1}]
    assert request == before


def test_rewrite_custom_origin_uses_custom_domain(load_event: Callable[[str], Any]) -> None:
    event = load_event("custom-origin")
    request = event["Records"][0]["cf"]["request"]
    before = copy.deepcopy(request)
    website = "media-euw1.s3-website-eu-west-1.amazonaws.com"
    rewrite(request, OriginConfig("eu-west-1", EUW1, 1, website))
    assert request["origin"]["custom"]["domainName"] == website
    assert request["headers"]["host"] == [{"key": "Host", "value": website}]
    before["origin"]["custom"]["domainName"] = website
    before["headers"]["host"] = [{"key": "Host", "value": website}]
    assert request == before


def test_rewrite_keeps_the_host_header_key_casing(load_event: Callable[[str], Any]) -> None:
    request = load_event("multi-value-headers")["Records"][0]["cf"]["request"]
    rewrite(request, B)
    assert request["headers"]["host"] == [{"key": "hOsT", "value": EUW1}]


@pytest.mark.parametrize(
    "name", ["s3-origin", "multi-value-headers", "percent-encoded", "head", "options"]
)
def test_rewrite_never_touches_read_only_headers(
    load_event: Callable[[str], Any], name: str
) -> None:
    from router.events import READ_ONLY_HEADERS

    request = load_event(name)["Records"][0]["cf"]["request"]
    before = {key: value for key, value in request["headers"].items() if key in READ_ONLY_HEADERS}
    rewrite(request, B)
    after = {key: value for key, value in request["headers"].items() if key in READ_ONLY_HEADERS}
    assert after == before
