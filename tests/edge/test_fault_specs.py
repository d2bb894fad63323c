"""Fault specs and their leases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge.fault_specs import (
    DnsFault,
    DnsFaultKind,
    LambdaFault,
    LambdaFaultKind,
    S3Fault,
    S3FaultKind,
    SpecError,
    parse_spec,
)
from edge.leases import LeaseTable

SEVENTEEN_NAMES = [f"n{i}.test" for i in range(17)]


def test_specs_become_typed_faults() -> None:
    dns = parse_spec(
        {"target": "dns", "kind": "delay", "delay_ms": 30, "name": "a.test", "lease_s": 5}
    )
    s3 = parse_spec(
        {"target": "s3:eu-west-1", "kind": "timeout", "probability": 0.25, "path_prefix": "/media"}
    )
    fn = parse_spec({"target": "lambda", "kind": "error"})
    assert dns.fault == DnsFault(DnsFaultKind.DELAY, 1.0, 30.0, "a.test")
    assert dns.lease_s == 5
    assert s3.fault == S3Fault(S3FaultKind.DROP, 0.25, 0.0, "media")
    assert s3.lease_s == 30
    assert fn.fault == LambdaFault(LambdaFaultKind.ERROR)
    assert s3.to_json()["kind"] == "drop"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ([], "<spec>"),
        ({"kind": "servfail"}, "target"),
        ({"target": "s3:us-east-1"}, "kind"),
        ({"target": "dns", "kind": "servfail", "probability": "high"}, "probability"),
        ({"target": "dns", "kind": "servfail", "lease_s": 0}, "lease_s"),
        ({"target": "s3:us-east-1", "kind": "delay", "delay_ms": -1}, "delay_ms"),
        ({"target": "lambda", "kind": "delay"}, "delay_ms"),
        ({"target": "lambda", "kind": "error", "path_prefix": "x"}, "path_prefix"),
        ({"target": "dns", "kind": "servfail", "id": "has space"}, "id"),
        ({"target": "dns", "kind": "none"}, "kind"),
        ({"target": "dns", "kind": "NONE", "name": "a.test"}, "kind"),
        ({"target": "dns", "kind": "servfail", "name": "a" * 254}, "name"),
        ({"target": "dns", "kind": "servfail", "name": "a" * 1_000_000}, "name"),
        ({"target": "dns", "kind": "servfail", "name": "bad name.test"}, "name"),
        ({"target": "dns", "kind": "servfail", "name": "-lead.test"}, "name"),
        ({"target": "dns", "kind": "servfail", "name": "a..test"}, "name"),
        ({"target": "dns", "kind": "servfail", "name": f"{'x' * 64}.test"}, "name"),
        ({"target": "dns", "kind": "servfail", "name": ""}, "name"),
        ({"target": "dns", "kind": "servfail", "names": []}, "names"),
        ({"target": "dns", "kind": "servfail", "names": "a.test"}, "names"),
        ({"target": "dns", "kind": "servfail", "names": ["a.test", "b test"]}, "names"),
        ({"target": "dns", "kind": "servfail", "names": ["a.test", 7]}, "names"),
        ({"target": "dns", "kind": "servfail", "names": SEVENTEEN_NAMES}, "names"),
        ({"target": "dns", "kind": "servfail", "name": "a.test", "names": ["b.test"]}, "names"),
        ({"target": "dns", "kind": "ttl"}, "ttl"),
        ({"target": "dns", "kind": "ttl", "ttl": -1}, "ttl"),
        ({"target": "dns", "kind": "ttl", "ttl": 2**31}, "ttl"),
        ({"target": "dns", "kind": "ttl", "ttl": 1.5}, "ttl"),
        ({"target": "dns", "kind": "ttl", "ttl": True}, "ttl"),
        ({"target": "dns", "kind": "servfail", "ttl": 0}, "ttl"),
        ({"target": "dns", "kind": "flap", "period_ms": 0}, "period_ms"),
        ({"target": "dns", "kind": "flap", "period_ms": "5s"}, "period_ms"),
        ({"target": "dns", "kind": "servfail", "period_ms": 100}, "period_ms"),
        ({"target": "dns", "kind": "delay", "delay_ms": 5, "jitter_ms": -1}, "jitter_ms"),
        ({"target": "dns", "kind": "servfail", "jitter_ms": 5}, "jitter_ms"),
        ({"target": "dns", "kind": "wrong_answer", "address": "1.2.3.4"}, "address"),
        ({"target": "s3:us-east-1", "kind": "bandwidth"}, "bytes_per_s"),
        ({"target": "s3:us-east-1", "kind": "bandwidth", "bytes_per_s": 0}, "bytes_per_s"),
        ({"target": "s3:us-east-1", "kind": "bandwidth", "bytes_per_s": -5}, "bytes_per_s"),
        ({"target": "s3:us-east-1", "kind": "bandwidth", "bytes_per_s": "10kB/s"}, "bytes_per_s"),
        ({"target": "s3:us-east-1", "kind": "truncate", "bytes_per_s": 10}, "bytes_per_s"),
        ({"target": "s3:us-east-1", "kind": "none"}, "kind"),
        ({"target": "lambda", "kind": "none"}, "kind"),
    ],
)
def test_bad_specs_name_their_field(spec: object, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert caught.value.field == field
    assert len(str(caught.value)) < 400  # a megabyte of name is not echoed back


def test_new_dns_kinds_become_typed_faults() -> None:
    jitter = parse_spec(
        {"target": "dns", "kind": "delay", "delay_ms": 200, "jitter_ms": 50, "name": "a.test"}
    )
    wrong = parse_spec(
        {"target": "dns", "kind": "wrong_answer", "names": ["a.test", "_origins.b.test."]}
    )
    ttl = parse_spec({"target": "dns", "kind": "ttl", "ttl": 0})
    flap = parse_spec({"target": "dns", "kind": "flap"})
    quick = parse_spec({"target": "dns", "kind": "flap", "period_ms": 200})
    assert jitter.fault == DnsFault(DnsFaultKind.DELAY, 1.0, 200.0, "a.test", jitter_ms=50.0)
    assert wrong.fault.kind is DnsFaultKind.WRONG_ANSWER
    assert isinstance(wrong.fault, DnsFault)
    assert wrong.fault.owners() == frozenset({"a.test.", "_origins.b.test."})
    assert ttl.fault == DnsFault(DnsFaultKind.TTL, ttl=0)
    assert flap.fault == DnsFault(DnsFaultKind.FLAP, period_ms=5000.0)
    assert quick.fault == DnsFault(DnsFaultKind.FLAP, period_ms=200.0)
    # The control API's listing shows what was set and leaves out what was not.
    assert wrong.to_json()["names"] == ("a.test", "_origins.b.test.")
    assert "names" not in jitter.to_json()
    assert "ttl" not in flap.to_json()
    assert ttl.to_json()["ttl"] == 0


def test_a_name_of_253_characters_is_a_dns_name() -> None:
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(name) == 253
    spec = parse_spec({"target": "dns", "kind": "servfail", "name": name + "."})
    assert isinstance(spec.fault, DnsFault)
    assert spec.fault.owners() == frozenset({name + "."})


def test_new_s3_kinds_become_typed_faults() -> None:
    slow = parse_spec({"target": "s3:eu-west-1", "kind": "bandwidth", "bytes_per_s": 10_000})
    cut = parse_spec({"target": "s3:eu-west-1", "kind": "truncate", "path_prefix": "media/"})
    assert slow.fault == S3Fault(S3FaultKind.BANDWIDTH, bytes_per_s=10_000.0)
    assert cut.fault == S3Fault(S3FaultKind.TRUNCATE, path_prefix="media/")
    assert slow.to_json()["bytes_per_s"] == 10_000.0
    assert "bytes_per_s" not in cut.to_json()


def test_leases_expire_renew_and_remove() -> None:
    now = [0.0]
    table: LeaseTable[str] = LeaseTable(clock=lambda: now[0])
    table.put("a", "first", 10)
    table.put("b", "second", 5)
    assert [lease.value for lease in table.active()] == ["first", "second"]
    now[0] = 6.0
    assert [lease.id for lease in table.active()] == ["a"]
    assert table.renew("b") is None
    renewed = table.renew("a", 20)
    assert renewed is not None
    assert renewed.expires_at == 26.0
    now[0] = 25.0
    assert [lease.id for lease in table.active()] == ["a"]
    assert table.remove("a") is True
    assert table.remove("a") is False
    assert table.active() == []
    with pytest.raises(ValueError, match="lease_s"):
        table.put("c", "x", 0)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: DnsFault(DnsFaultKind.SERVFAIL, probability=1.5), "probability"),
        (lambda: S3Fault(S3FaultKind.SLOWDOWN, probability=-0.1), "probability"),
        (lambda: S3Fault(S3FaultKind.DELAY, delay_ms=-1), "delay_ms"),
        (lambda: LambdaFault(LambdaFaultKind.DELAY, delay_ms=-5), "delay_ms"),
        (lambda: DnsFault(DnsFaultKind.TTL), "ttl"),
        (lambda: DnsFault(DnsFaultKind.TTL, ttl=-1), "ttl"),
        (lambda: DnsFault(DnsFaultKind.FLAP, period_ms=0), "period_ms"),
        (lambda: DnsFault(DnsFaultKind.DELAY, jitter_ms=-1), "jitter_ms"),
        (lambda: DnsFault(DnsFaultKind.SERVFAIL, name="x" * 300), "name"),
        (lambda: DnsFault(DnsFaultKind.SERVFAIL, names=("ok.test", "not ok")), "name"),
        (lambda: S3Fault(S3FaultKind.BANDWIDTH), "bytes_per_s"),
        (lambda: S3Fault(S3FaultKind.BANDWIDTH, bytes_per_s=0), "bytes_per_s"),
    ],
)
def test_faults_built_in_code_hold_the_spec_ranges(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        build()
