"""End to end: failover, throttling, function errors, DNS failures, malformed requests, leases."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edge.access_log import parse_line
from edge.stack import RunningStack
from tests.edge.conftest import Client, Control, Reply, access_log, access_record, lambda_log

pytestmark = pytest.mark.slow


def _route_lines(stack: RunningStack, since: int) -> list[dict[str, object]]:
    lines = lambda_log(stack)[since:]
    return [json.loads(line.split("\t", 1)[1]) for line in lines if '"event":"route"' in line]


def test_failover_to_the_secondary_on_503(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    control.inject(target="s3:us-east-1", kind="slowdown", lease_s=30)
    before = control.stats()
    since = len(lambda_log(stack))
    replies = [edge.get(fresh_key()) for _ in range(6)]
    after = control.stats()
    assert [r.status for r in replies] == [200] * 6
    assert all(r.header("x-cache") == "Miss from cloudfront" for r in replies)
    slowdowns = after["s3:us-east-1"]["faulted"].get("slowdown", 0)
    assert slowdowns > before["s3:us-east-1"]["faulted"].get("slowdown", 0)
    assert after["edge"]["failovers"] > before["edge"]["failovers"]
    routes = _route_lines(stack, since)
    # Every failover ran the router a second time.
    assert len(routes) == 6 + after["edge"]["failovers"] - before["edge"]["failovers"]
    assert {r["region"] for r in routes} == {"us-east-1", "eu-west-1"}


def test_concurrent_misses_all_fail_over_from_a_503_region(
    stack: RunningStack, control: Control, fresh_key: Callable[[], str]
) -> None:
    # Many environments at once: a failover attempt must not be routed back to
    # the failed region by an environment whose round-robin points there next.
    control.inject(target="s3:us-east-1", kind="slowdown", lease_s=30)
    since = len(lambda_log(stack))
    keys = [fresh_key() for _ in range(40)]

    def get(key: str) -> Reply:
        client = Client(stack.state.edge_url)  # one connection per thread
        try:
            return client.get(key)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(get, keys))
    assert [r.status for r in replies] == [200] * 40
    assert {r.header("x-edgedrill-origin-region") for r in replies} == {"eu-west-1"}
    kept = [
        r for r in _route_lines(stack, since) if str(r.get("reason", "")).startswith("failover")
    ]
    assert kept
    assert {r["region"] for r in kept} == {"eu-west-1"}


def test_s3_error_body_is_s3s_xml(stack: RunningStack, control: Control) -> None:
    control.inject(target="s3:eu-west-1", kind="internal_error", lease_s=30)
    client = Client(stack.state.regions["eu-west-1"])
    reply = client.get(f"/{stack.state.bucket}/{stack.state.sample_keys[0]}")
    client.close()
    assert reply.status == 500
    assert b"<Error><Code>InternalError</Code>" in reply.body
    assert b"<RequestId>" in reply.body
    assert b"<Resource>" in reply.body
    assert reply.header("server") == "AmazonS3"


def test_failover_when_the_primary_refuses_connections(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    control.inject(target="s3:us-east-1", kind="refused", lease_s=30)
    control.wait_for(lambda s: s["s3:us-east-1"]["refusing"])
    host, port = stack.state.regions["us-east-1"].split("//")[1].split(":")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, int(port)), 2):
        pass
    before = control.stats()["edge"]["failovers"]
    replies = [edge.get(fresh_key()) for _ in range(4)]
    assert [r.status for r in replies] == [200] * 4
    assert control.stats()["edge"]["failovers"] > before


def test_no_failover_target_left_gives_502(
    edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    control.inject(target="s3:us-east-1", kind="refused", lease_s=30)
    control.inject(target="s3:eu-west-1", kind="refused", lease_s=30)
    control.wait_for(lambda s: s["s3:us-east-1"]["refusing"] and s["s3:eu-west-1"]["refusing"])
    reply = edge.get(fresh_key())
    assert reply.status == 502
    assert reply.header("x-cache") == "Error from cloudfront"
    assert b"The request could not be satisfied" in reply.body


def test_throttling_at_the_concurrency_limit(
    stack: RunningStack, control: Control, fresh_key: Callable[[], str]
) -> None:
    status, _ = control("PUT", "/edge/settings", {"concurrency_limit": 1})
    assert status == 200
    control.inject(target="lambda", kind="delay", delay_ms=400, lease_s=30)
    paths = [fresh_key() for _ in range(6)]

    def fetch(path: str) -> tuple[int, str | None]:
        client = Client(stack.state.edge_url)
        try:
            reply = client.get(path)
        finally:
            client.close()
        return reply.status, reply.header("x-cache")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(fetch, paths))
    assert (200, "Miss from cloudfront") in results
    assert (503, "LimitExceeded from cloudfront") in results
    assert {status for status, _ in results} <= {200, 503}
    records = [parse_line(line) for line in access_log(stack)[2:]]
    assert any(r["x-edge-detailed-result-type"] == "LambdaLimitExceeded" for r in records)
    assert control.stats()["edge"]["lambda"]["throttles"] >= 1


def test_function_exception_is_503_with_an_error_line(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    control.inject(target="lambda", kind="error", lease_s=30)
    since = len(lambda_log(stack))
    reply = edge.get(fresh_key())
    assert reply.status == 503
    assert reply.header("x-cache") == "Error from cloudfront"
    new = lambda_log(stack)[since:]
    assert any("\t[ERROR] RuntimeError: injected fault" in line for line in new)
    assert any("\tREPORT RequestId: " in line for line in new)


@pytest.mark.parametrize("kind", ["invalid", "readonly"])
def test_invalid_result_is_502_validation_error(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str], kind: str
) -> None:
    control.inject(target="lambda", kind=kind, lease_s=30)
    reply = edge.get(fresh_key())
    assert reply.status == 502
    record = access_record(stack, reply.header("x-amz-cf-id"))
    assert record["x-edge-detailed-result-type"] == "LambdaValidationError"
    log = Path(stack.state.log_dir) / "cloudfront"
    text = "".join(p.read_text() for p in log.glob("LambdaEdge.*.log"))
    assert str(reply.header("x-amz-cf-id")) in text
    if kind == "readonly":
        assert "read-only header 'via' was changed" in text


def test_origin_dns_failure_is_502_without_running_the_function(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    for domain in stack.state.origins.values():
        control.inject(target="dns", kind="servfail", name=domain, lease_s=30)
    invocations = control.stats()["edge"]["lambda"]["invocations"]
    reply = edge.get(fresh_key())
    assert reply.status == 502
    stats = control.stats()
    assert stats["edge"]["lambda"]["invocations"] == invocations
    assert stats["edge"]["results"].get("OriginDnsError", 0) >= 1


def test_router_dns_fault_is_separate_from_cloudfronts(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    control.inject(target="dns", kind="servfail", name=stack.state.routing_name, lease_s=30)
    reply = edge.get(fresh_key())
    assert reply.status == 200  # the router serves stale or falls back; CloudFront resolves fine


def _raw(stack: RunningStack, data: bytes) -> bytes:
    host, port = stack.state.edge_url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), 5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1\r\n\r\n", b"400"),  # no Host
        (b"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", b"505"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", b"400"),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 30_000 + b"\r\n\r\n", b"494"),
        (b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", b"403"),
        (
            b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            b"400",
        ),
    ],
)
def test_malformed_requests_get_cloudfronts_status(
    stack: RunningStack, edge: Client, data: bytes, status: bytes
) -> None:
    answer = _raw(stack, data)
    assert answer.startswith(b"HTTP/1.1 " + status + b" ")
    assert b"x-amz-cf-id" in answer.lower()
    assert edge.get(f"/{stack.state.sample_keys[0]}").status == 200  # still serving


def test_fault_leases_expire_renew_and_remove(control: Control) -> None:
    short = control.inject(target="s3:eu-west-1", kind="delay", delay_ms=5, lease_s=0.4)
    kept = control.inject(target="dns", kind="delay", delay_ms=1, lease_s=0.4, id="kept-fault")
    assert kept == "kept-fault"
    status, _ = control("POST", "/faults/kept-fault/renew", {"lease_s": 30})
    assert status == 200
    time.sleep(0.6)
    _, listed = control("GET", "/faults")
    ids = {f["id"] for f in listed["faults"]}
    assert short not in ids
    assert "kept-fault" in ids
    status, _ = control("POST", f"/faults/{short}/renew", {})
    assert status == 404
    assert control("DELETE", "/faults/kept-fault") == (200, {"id": "kept-fault", "removed": True})
    assert control("DELETE", "/faults/kept-fault") == (200, {"id": "kept-fault", "removed": False})


def test_an_id_with_a_colon_renews_and_removes(control: Control) -> None:
    # The control API forwards the id to the agent as one percent-encoded segment.
    fault_id = "bucket:503.drill-1"
    assert (
        control.inject(target="s3:eu-west-1", kind="slowdown", lease_s=30, id=fault_id) == fault_id
    )
    segment = "bucket%3A503.drill-1"
    status, renewed = control("POST", f"/faults/{segment}/renew", {"lease_s": 30})
    assert status == 200, renewed
    assert control("DELETE", f"/faults/{segment}") == (200, {"id": fault_id, "removed": True})
    _, listed = control("GET", "/faults")
    assert fault_id not in {f["id"] for f in listed["faults"]}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"target": "s3:us-east-1", "kind": "slowdwn"}, "kind"),
        ({"target": "s3:mars-1", "kind": "slowdown"}, "target"),
        ({"target": "dns", "kind": "servfail", "probability": 2}, "probability"),
        ({"target": "dns", "kind": "delay"}, "delay_ms"),
        ({"target": "lambda", "kind": "error", "lease_s": -1}, "lease_s"),
        ({"target": "lambda", "kind": "error", "colour": "red"}, "colour"),
    ],
)
def test_bad_specs_are_refused_naming_the_field(
    control: Control, spec: dict[str, object], field: str
) -> None:
    status, payload = control("POST", "/faults", spec)
    assert status in (400, 404)
    assert f"'{field}'" in payload["error"]


def test_dns_records_can_be_changed(stack: RunningStack, control: Control) -> None:
    status, payload = control(
        "PUT",
        "/dns/records",
        {"type": "TXT", "name": "other.edgedrill.test", "values": ["a", "b"], "ttl": 5},
    )
    assert status == 200
    assert payload["values"] == ["a", "b"]
    status, payload = control("PUT", "/dns/records", {"type": "MX", "name": "x"})
    assert status == 400
    assert "'type'" in payload["error"]
