"""The spellings: each one parses to the contract's engine specs (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.errors import ChaosError, FaultSyntaxError, TargetError
from chaos.faults import (
    VALID_SPELLINGS,
    Dependency,
    Fault,
    FaultKind,
    parse_bandwidth,
    parse_duration,
    parse_fault,
)
from edge.fault_specs import parse_spec
from edge.stack import StackState

ROUTING = "origins.edgedrill.test"
US = "edgedrill-media.s3.us-east-1.amazonaws.com"
EU = "edgedrill-media.s3.eu-west-1.amazonaws.com"


@pytest.fixture(scope="module")
def state() -> StackState:
    # Built the way the state file is read; eu-west-1 first: the primary is the first region.
    return StackState.from_json(
        {
            "edge_url": "http://127.0.0.1:1",
            "dns": "127.0.0.1:2",
            "routing_name": ROUTING,
            "regions": {"eu-west-1": "http://127.0.0.1:3", "us-east-1": "http://127.0.0.1:4"},
            "origins": {"eu-west-1": EU, "us-east-1": US},
            "sample_keys": [],
            "log_dir": "/tmp/x",
            "pids": {},
            "control_url": "http://127.0.0.1:5",
            "control_token": "t" * 43,
            "bucket": "edgedrill-media",
            "function": "edgedrill-router",
            "pop": "IAD89-P1",
        }
    )


def dns(kind: str, **fields: Any) -> dict[str, Any]:
    return {"target": "dns", "kind": kind, "name": ROUTING, **fields, "probability": 1.0}


CASES: list[tuple[str, dict[str, Any]]] = [
    ("dns:servfail", dns("servfail")),
    ("dns:nxdomain", dns("nxdomain")),
    ("dns:refused", dns("refused")),
    ("dns:drop", dns("drop")),
    ("dns:delay=200ms", dns("delay", delay_ms=200)),
    ("dns:delay=200ms,jitter=50ms", dns("delay", delay_ms=200, jitter_ms=50)),
    ("dns:delay=1.5s", dns("delay", delay_ms=1500)),
    ("dns:truncate", dns("truncate")),
    ("dns:wrong-answer", dns("wrong_answer")),
    ("dns:ttl=0", dns("ttl", ttl=0)),
    ("dns:ttl=30", dns("ttl", ttl=30)),
    ("dns:flap", dns("flap", period_ms=5000)),
    ("dns:flap=2s", dns("flap", period_ms=2000)),
    ("dns:flap=3", dns("flap", period_ms=3000)),
    (
        "origin-dns:fail",
        {"target": "dns", "kind": "servfail", "names": [EU, US], "probability": 1.0},
    ),
    ("bucket:503", {"target": "s3:eu-west-1", "kind": "slowdown", "probability": 1.0}),
    ("bucket:500", {"target": "s3:eu-west-1", "kind": "internal_error", "probability": 1.0}),
    ("bucket:403", {"target": "s3:eu-west-1", "kind": "access_denied", "probability": 1.0}),
    ("bucket:404", {"target": "s3:eu-west-1", "kind": "no_such_key", "probability": 1.0}),
    (
        "bucket:latency=2s",
        {"target": "s3:eu-west-1", "kind": "delay", "delay_ms": 2000, "probability": 1.0},
    ),
    (
        "bucket:latency=250ms",
        {"target": "s3:eu-west-1", "kind": "delay", "delay_ms": 250, "probability": 1.0},
    ),
    (
        "bucket:bandwidth=10kB/s",
        {"target": "s3:eu-west-1", "kind": "bandwidth", "bytes_per_s": 10_000, "probability": 1.0},
    ),
    (
        "bucket:bandwidth=1MiB/s",
        {"target": "s3:eu-west-1", "kind": "bandwidth", "bytes_per_s": 1_048_576, "probability": 1},
    ),
    ("bucket:reset", {"target": "s3:eu-west-1", "kind": "reset", "probability": 1.0}),
    ("bucket:blackhole", {"target": "s3:eu-west-1", "kind": "drop", "probability": 1.0}),
    ("bucket:truncate", {"target": "s3:eu-west-1", "kind": "truncate", "probability": 1.0}),
    ("lambda:error", {"target": "lambda", "kind": "error", "probability": 1.0}),
    ("lambda:timeout", {"target": "lambda", "kind": "timeout", "probability": 1.0}),
]


@pytest.mark.parametrize(("spelling", "spec"), CASES, ids=[c[0] for c in CASES])
def test_every_spelling_maps_to_the_contracts_spec(
    state: StackState, spelling: str, spec: dict[str, Any]
) -> None:
    fault = parse_fault(spelling)
    assert fault.spelling == spelling
    assert fault.specs(state) == [spec]


def test_the_cases_cover_all_21_families() -> None:
    assert len(FaultKind) == 21
    assert {parse_fault(spelling).kind for spelling, _ in CASES} == set(FaultKind)


@pytest.mark.parametrize("spelling", [c[0] for c in CASES])
def test_every_spec_passes_the_engines_parser(state: StackState, spelling: str) -> None:
    for spec in parse_fault(spelling).specs(state):
        parsed = parse_spec({**spec, "lease_s": 30.0, "id": "x-1"})
        assert parsed.target == spec["target"]
        assert parsed.fault.kind == spec["kind"]


def test_region_picks_the_bucket_and_the_origin_domain(state: StackState) -> None:
    assert parse_fault("bucket:503", region="us-east-1").specs(state)[0]["target"] == "s3:us-east-1"
    assert parse_fault("bucket:503,region=us-east-1").specs(state)[0]["target"] == "s3:us-east-1"
    assert parse_fault("origin-dns:fail", region="us-east-1").specs(state)[0]["names"] == [US]
    assert parse_fault("bucket:503").region_of(state) == "eu-west-1"


def test_probability_as_option_or_argument(state: StackState) -> None:
    assert parse_fault("bucket:503,probability=0.25").specs(state)[0]["probability"] == 0.25
    assert parse_fault("dns:servfail", probability=0.5).specs(state)[0]["probability"] == 0.5
    assert parse_fault("lambda:error", probability=0).probability == 0.0


@pytest.mark.parametrize(
    "spelling", ["bucket:502", "dns:servfial", "", "bucket", "s3:503", "DNS-SERVFAIL"]
)
def test_a_bad_spelling_lists_every_valid_one(spelling: str) -> None:
    with pytest.raises(FaultSyntaxError) as caught:
        parse_fault(spelling)
    message = str(caught.value)
    assert f"unknown fault {spelling!r}" in message
    for kind in FaultKind:
        assert kind.usage in message
    assert message.endswith("dns:servfail, dns:nxdomain, dns:refused, dns:drop, "
                            "dns:delay=200ms[,jitter=50ms], dns:truncate, dns:wrong-answer, "
                            "dns:ttl=0, dns:flap[=5s], origin-dns:fail, bucket:503, bucket:500, "
                            "bucket:403, bucket:404, bucket:latency=2s, bucket:bandwidth=10kB/s, "
                            "bucket:reset, bucket:blackhole, bucket:truncate, lambda:error, "
                            "lambda:timeout")
    assert caught.value.exit_code == 2


def test_a_near_miss_is_suggested() -> None:
    with pytest.raises(FaultSyntaxError, match=r"did you mean bucket:503\?"):
        parse_fault("bucket:502")


@pytest.mark.parametrize(
    ("spelling", "says"),
    [
        ("dns:delay", "needs a value"),
        ("dns:delay=200", "not a duration"),  # ms or s? a unit is required
        ("dns:delay=200ms,jitter=5", "not a duration"),
        ("dns:delay=11m", "at most 600 s"),
        ("bucket:latency=abc", "not a duration"),
        ("bucket:bandwidth=10kb/s", "not a bandwidth"),  # kb is kilobits
        ("bucket:bandwidth=0B/s", "at least 1 B/s"),
        ("bucket:bandwidth", "needs a value"),
        ("dns:ttl=-1", "whole seconds"),
        ("dns:ttl=1.5", "whole seconds"),
        ("dns:flap=0s", "more than 0"),
        ("dns:servfail=3", "takes no value"),
        ("dns:servfail,jitter=5ms", "unknown option"),
        ("bucket:503,at=20s", "unknown option"),
        ("bucket:503,probability=2", "within 0..1"),
        ("bucket:503,probability=nan", "within 0..1"),
        ("bucket:503,region=Mars", "not an AWS region"),
        ("dns:servfail,region=eu-west-1", "has no region"),
        ("lambda:error,region=eu-west-1", "has no region"),
    ],
)
def test_bad_values_are_syntax_errors(spelling: str, says: str) -> None:
    with pytest.raises(FaultSyntaxError, match=says) as caught:
        parse_fault(spelling)
    assert spelling in str(caught.value)


def test_probability_given_twice_differently_is_refused() -> None:
    with pytest.raises(FaultSyntaxError, match="given twice"):
        parse_fault("bucket:503,probability=0.5", probability=0.2)
    with pytest.raises(FaultSyntaxError, match=r"within 0\.\.1"):
        parse_fault("bucket:503", probability=1.5)


def test_a_fault_built_in_code_holds_the_same_ranges() -> None:
    with pytest.raises(FaultSyntaxError):
        Fault("bucket:503", FaultKind.BUCKET_503, probability=-0.1)
    with pytest.raises(FaultSyntaxError):
        Fault("dns:servfail", FaultKind.DNS_SERVFAIL, region="eu-west-1")


def test_unknown_targets_name_what_the_state_file_has(state: StackState) -> None:
    with pytest.raises(TargetError, match="eu-west-1, us-east-1"):
        parse_fault("bucket:503", region="ap-south-1").specs(state)
    with pytest.raises(TargetError, match="ap-south-1"):
        parse_fault("origin-dns:fail", region="ap-south-1").specs(state)
    assert issubclass(TargetError, ChaosError)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("200ms", 0.2), ("2s", 2.0), ("1.5s", 1.5), ("5m", 300.0), ("1h", 3600.0), ("30", 30.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "-1s", "1e3s", "inf", "nan", "2x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(FaultSyntaxError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("512B/s", 512),
        ("10kB/s", 10_000),
        ("10KiB/s", 10_240),
        ("1.5MB/s", 1_500_000),
        ("1MiB/s", 1_048_576),
        ("2GiB/s", 2 * 1024**3),
    ],
)
def test_bandwidths(text: str, rate: int) -> None:
    assert parse_bandwidth(text) == rate


def test_every_kind_says_which_dependency_it_breaks() -> None:
    by_family = {
        "dns": Dependency.ROUTER_DNS,
        "origin-dns": Dependency.ORIGIN_DNS,
        "bucket": Dependency.BUCKET,
        "lambda": Dependency.FUNCTION,
    }
    for kind in FaultKind:
        assert kind.dependency is by_family[kind.value.split(":")[0]]
        assert kind.breaks
    assert VALID_SPELLINGS.count(", ") == 20


def test_describe_names_the_target(state: StackState) -> None:
    assert parse_fault("dns:servfail").describe(state) == f"dns {ROUTING}"
    assert parse_fault("bucket:503").describe(state) == "s3:eu-west-1"
    assert parse_fault("origin-dns:fail").describe(state) == f"dns {EU} {US}"
