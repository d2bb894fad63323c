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
    ],
)
def test_bad_specs_name_their_field(spec: object, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert caught.value.field == field


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
    ],
)
def test_faults_built_in_code_hold_the_spec_ranges(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        build()
