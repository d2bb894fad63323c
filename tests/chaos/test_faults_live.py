"""Each fault kind seen by a real DNS or HTTP client while injected, and gone after its rollback.

``lambda:timeout`` runs on a distribution whose trigger times out after 1 s
(30 s per request otherwise); ``bucket:bandwidth`` and ``bucket:truncate`` are
observed through the fault proxy in tests/edge/test_fault_engines.py.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from chaos.control import ControlClient
from chaos.faults import parse_fault
from chaos.injection import injected
from edge.stack import RunningStack, launch

pytestmark = pytest.mark.slow


def query(
    stack: RunningStack, name: str | None = None, rdtype: str = "TXT", timeout: float = 3.0
) -> dns.message.Message:
    host, port = stack.state.dns.rsplit(":", 1)
    message = dns.message.make_query(name or stack.state.routing_name, rdtype)
    return dns.query.udp(message, host, port=int(port), timeout=timeout)


def txt_values(answer: dns.message.Message) -> list[str]:
    # Sorted: an RRset has no order.
    return sorted(
        b"".join(rdata.strings).decode()
        for rrset in answer.answer
        for rdata in rrset
        if rrset.rdtype == dns.rdatatype.TXT
    )


def get(url: str, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    host, port = url.split("//", 1)[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def bucket_get(stack: RunningStack, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    region = next(iter(stack.state.regions))
    key = stack.state.sample_keys[0]
    return get(stack.state.regions[region], f"/{stack.state.bucket}/{key}", timeout)


@pytest.mark.parametrize(
    ("spelling", "rcode"),
    [
        ("dns:servfail", dns.rcode.SERVFAIL),
        ("dns:nxdomain", dns.rcode.NXDOMAIN),
        ("dns:refused", dns.rcode.REFUSED),
    ],
)
def test_dns_error_answers(
    stack: RunningStack, control: ControlClient, spelling: str, rcode: dns.rcode.Rcode
) -> None:
    with injected(parse_fault(spelling), control, stack.state):
        assert query(stack).rcode() == rcode
        # Only the routing name: the origins' own names still resolve.
        origin = next(iter(stack.state.origins.values()))
        assert query(stack, origin, "A").rcode() == dns.rcode.NOERROR
    assert query(stack).rcode() == dns.rcode.NOERROR


def test_dns_drop_never_answers(stack: RunningStack, control: ControlClient) -> None:
    with (
        injected(parse_fault("dns:drop"), control, stack.state),
        pytest.raises(dns.exception.Timeout),
    ):
        query(stack, timeout=0.5)
    assert query(stack).rcode() == dns.rcode.NOERROR


def test_dns_truncate_sets_tc(stack: RunningStack, control: ControlClient) -> None:
    with injected(parse_fault("dns:truncate"), control, stack.state):
        assert query(stack).flags & dns.flags.TC
    assert not query(stack).flags & dns.flags.TC


def test_dns_delay_answers_late(stack: RunningStack, control: ControlClient) -> None:
    with injected(parse_fault("dns:delay=300ms,jitter=100ms"), control, stack.state):
        started = time.monotonic()
        answer = query(stack)
        # A lower bound only: the answer cannot come before the delay.
        assert time.monotonic() - started >= 0.3
        assert answer.rcode() == dns.rcode.NOERROR
        assert txt_values(answer) == sorted(stack.state.origins.values())


def test_dns_wrong_answer(stack: RunningStack, control: ControlClient) -> None:
    right = txt_values(query(stack))
    assert right == sorted(stack.state.origins.values())
    with injected(parse_fault("dns:wrong-answer"), control, stack.state):
        assert txt_values(query(stack)) == ["wrong-answer.invalid"]
    assert txt_values(query(stack)) == right


def test_dns_ttl(stack: RunningStack, control: ControlClient) -> None:
    normal = query(stack).answer[0].ttl
    assert normal > 0
    with injected(parse_fault("dns:ttl=0"), control, stack.state):
        answer = query(stack)
        assert answer.answer[0].ttl == 0
        assert txt_values(answer) == sorted(stack.state.origins.values())
    assert query(stack).answer[0].ttl == normal


def test_dns_flap_starts_failing_then_answers(stack: RunningStack, control: ControlClient) -> None:
    # 3 s halves: SERVFAIL during [0, 3) s from injection, answers during [3, 6) s.
    with injected(parse_fault("dns:flap=3s"), control, stack.state) as injection:
        assert query(stack).rcode() == dns.rcode.SERVFAIL
        time.sleep(max(3.5 - (time.time() - injection.start), 0.0))
        assert query(stack).rcode() == dns.rcode.NOERROR
    assert query(stack).rcode() == dns.rcode.NOERROR


def test_origin_dns_fail_breaks_the_bucket_domains_not_the_routing_name(
    stack: RunningStack, control: ControlClient
) -> None:
    domains = list(stack.state.origins.values())
    assert len(domains) == 2
    with injected(parse_fault("origin-dns:fail"), control, stack.state):
        for domain in domains:
            assert query(stack, domain, "A").rcode() == dns.rcode.SERVFAIL
        assert query(stack).rcode() == dns.rcode.NOERROR
    region, domain = next(iter(stack.state.origins.items()))
    with injected(parse_fault("origin-dns:fail", region=region), control, stack.state):
        assert query(stack, domain, "A").rcode() == dns.rcode.SERVFAIL
        for other in domains:
            if other != domain:
                assert query(stack, other, "A").rcode() == dns.rcode.NOERROR
    for domain in domains:
        assert query(stack, domain, "A").rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize(
    ("spelling", "status", "code"),
    [
        ("bucket:503", 503, "SlowDown"),
        ("bucket:500", 500, "InternalError"),
        ("bucket:403", 403, "AccessDenied"),
        ("bucket:404", 404, "NoSuchKey"),
    ],
)
def test_bucket_errors_carry_s3s_xml(
    stack: RunningStack, control: ControlClient, spelling: str, status: int, code: str
) -> None:
    with injected(parse_fault(spelling), control, stack.state):
        got, headers, body = bucket_get(stack)
        assert got == status
        assert f"<Error><Code>{code}</Code>".encode() in body
        assert headers["content-type"] == "application/xml"
    assert bucket_get(stack)[0] == 200


def test_bucket_latency(stack: RunningStack, control: ControlClient) -> None:
    with injected(parse_fault("bucket:latency=500ms"), control, stack.state):
        started = time.monotonic()
        assert bucket_get(stack)[0] == 200
        assert time.monotonic() - started >= 0.5
    assert bucket_get(stack)[0] == 200


def test_bucket_reset(stack: RunningStack, control: ControlClient) -> None:
    with (
        injected(parse_fault("bucket:reset"), control, stack.state),
        pytest.raises((ConnectionError, http.client.RemoteDisconnected)),
    ):
        bucket_get(stack)
    assert bucket_get(stack)[0] == 200


def test_bucket_blackhole(stack: RunningStack, control: ControlClient) -> None:
    with (
        injected(parse_fault("bucket:blackhole"), control, stack.state),
        pytest.raises(TimeoutError),
    ):
        bucket_get(stack, timeout=0.5)
    assert bucket_get(stack)[0] == 200


def test_lambda_error(stack: RunningStack, control: ControlClient) -> None:
    path = f"/{stack.state.sample_keys[1]}?t={time.monotonic_ns()}"
    with injected(parse_fault("lambda:error"), control, stack.state):
        status, headers, _ = get(stack.state.edge_url, path)
        assert status == 503
        assert headers["x-cache"] == "Error from cloudfront"
    assert get(stack.state.edge_url, path + "-after")[0] == 200


@pytest.fixture(scope="module")
def short_trigger_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A distribution whose origin trigger times out after 1 s instead of 30 s."""
    running = launch(
        tmp_path_factory.mktemp("short-trigger") / "state.json",
        objects=20,
        extra_args=["--trigger-timeout-s", "1"],
    )
    try:
        yield running
    finally:
        running.stop()


def test_lambda_timeout(short_trigger_stack: RunningStack) -> None:
    stack = short_trigger_stack
    control = ControlClient.from_state(stack.state)
    path = f"/{stack.state.sample_keys[1]}?t={time.monotonic_ns()}"
    started = time.monotonic()
    with injected(parse_fault("lambda:timeout"), control, stack.state):
        status, headers, _ = get(stack.state.edge_url, path)
        took = time.monotonic() - started
        # The function ran past the trigger timeout: CloudFront's 503, after it.
        assert status == 503
        assert headers["x-cache"] == "Error from cloudfront"
        assert took >= 1.0
    assert get(stack.state.edge_url, path + "-after")[0] == 200
    assert control.list() == []
