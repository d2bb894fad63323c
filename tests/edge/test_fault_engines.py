"""The newer fault kinds, seen by real clients: dnspython against the zone, HTTP against a region.

Each fault is observed while active and gone once removed. The zone's own
tests drive a :class:`~edge.dns_zone.DnsZoneServer` on loopback (a fake clock
for ``flap``); the rest go through a running distribution's control API.
"""

from __future__ import annotations

import http.client
import itertools
import time
from collections.abc import Callable, Iterator

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from edge.dns_zone import DnsZoneServer, RecordError, Zone
from edge.fault_specs import WRONG_ADDRESS, WRONG_TXT, DnsFault, DnsFaultKind
from edge.s3_regions import s3_client
from edge.stack import RunningStack
from tests.edge.conftest import Control

ROUTING = "origins.engines.test"
ORIGIN = "bucket.s3.us-east-1.engines.test"
OTHER = "other.engines.test"
VALUES = ["bucket.s3.us-east-1.amazonaws.com", "bucket.s3.eu-west-1.amazonaws.com"]


class FakeClock:
    """A clock the test steps by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ask(port: int, name: str, rdtype: str = "TXT", timeout: float = 2.0) -> dns.message.Message:
    """One query over UDP with dnspython, the way any stub resolver asks."""
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=timeout)


def txt_of(reply: dns.message.Message) -> list[str]:
    return sorted(b"".join(rdata.strings).decode() for rrset in reply.answer for rdata in rrset)


def ttl_of(reply: dns.message.Message) -> int:
    assert reply.answer, reply
    return int(reply.answer[0].ttl)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def zone_server(clock: FakeClock) -> Iterator[DnsZoneServer]:
    zone = Zone(seed=3, clock=clock)
    zone.set_txt(ROUTING, VALUES, ttl=60)
    zone.set_txt(OTHER, ["other"], ttl=60)
    zone.set_a(ORIGIN, "127.0.0.1", ttl=30)
    with DnsZoneServer(zone) as server:
        yield server


def test_wrong_answer_points_txt_and_a_queries_nowhere(zone_server: DnsZoneServer) -> None:
    port = zone_server.port
    zone_server.zone.set_fault(DnsFault(DnsFaultKind.WRONG_ANSWER, names=(ROUTING, ORIGIN)))
    wrong_txt = ask(port, ROUTING)
    wrong_a = ask(port, ORIGIN, "A")
    assert wrong_txt.rcode() == dns.rcode.NOERROR
    assert txt_of(wrong_txt) == [WRONG_TXT]
    assert [rdata.address for rdata in wrong_a.answer[0]] == [WRONG_ADDRESS]
    assert txt_of(ask(port, OTHER)) == ["other"]  # not in names
    zone_server.zone.set_fault(DnsFault())
    assert txt_of(ask(port, ROUTING)) == sorted(VALUES)
    assert [rdata.address for rdata in ask(port, ORIGIN, "A").answer[0]] == ["127.0.0.1"]


def test_ttl_fault_keeps_the_answer_and_changes_its_ttl(zone_server: DnsZoneServer) -> None:
    port = zone_server.port
    zone_server.zone.set_fault(DnsFault(DnsFaultKind.TTL, ttl=0, name=ROUTING))
    faulted = ask(port, ROUTING)
    assert txt_of(faulted) == sorted(VALUES)
    assert ttl_of(faulted) == 0
    assert ttl_of(ask(port, OTHER)) == 60
    zone_server.zone.set_fault(DnsFault(DnsFaultKind.TTL, ttl=7))
    assert ttl_of(ask(port, ORIGIN, "A")) == 7
    zone_server.zone.set_fault(DnsFault())
    assert ttl_of(ask(port, ROUTING)) == 60
    assert ttl_of(ask(port, ORIGIN, "A")) == 30


def test_flap_fails_first_then_answers_in_turn(
    zone_server: DnsZoneServer, clock: FakeClock
) -> None:
    port = zone_server.port
    flap = DnsFault(DnsFaultKind.FLAP, period_ms=1000, name=ROUTING)
    zone_server.zone.set_fault(flap)
    started = clock.now
    seen = []
    for offset in (0.0, 0.5, 0.999, 1.0, 1.5, 1.999, 2.0, 2.7, 3.2):
        clock.now = started + offset
        seen.append(dns.rcode.to_text(ask(port, ROUTING).rcode()))
    fail, ok = "SERVFAIL", "NOERROR"
    assert seen == [fail, fail, fail, ok, ok, ok, fail, fail, ok]
    assert ask(port, OTHER).rcode() == dns.rcode.NOERROR  # another name never flaps
    # The agent sets the whole list again on every change: the flap keeps its start.
    clock.now = started + 4.2
    zone_server.zone.set_faults([DnsFault(DnsFaultKind.SERVFAIL, name=OTHER), flap])
    assert ask(port, ROUTING).rcode() == dns.rcode.SERVFAIL
    clock.now = started + 5.2
    assert ask(port, ROUTING).rcode() == dns.rcode.NOERROR
    zone_server.zone.set_fault(DnsFault())
    clock.now = started + 6.2
    assert txt_of(ask(port, ROUTING)) == sorted(VALUES)


def test_flap_set_again_after_removal_starts_failing_again(
    zone_server: DnsZoneServer, clock: FakeClock
) -> None:
    flap = DnsFault(DnsFaultKind.FLAP, period_ms=1000)
    zone_server.zone.set_fault(flap)
    clock.now += 1.5
    assert ask(zone_server.port, ROUTING).rcode() == dns.rcode.NOERROR
    zone_server.zone.set_fault(DnsFault())
    zone_server.zone.set_fault(flap)
    assert ask(zone_server.port, ROUTING).rcode() == dns.rcode.SERVFAIL


def test_delay_with_jitter_is_late_by_delay_plus_up_to_jitter(
    zone_server: DnsZoneServer,
) -> None:
    port = zone_server.port
    zone_server.zone.set_fault(DnsFault(DnsFaultKind.DELAY, delay_ms=50, jitter_ms=100))
    elapsed = []
    for _ in range(6):
        started = time.perf_counter()
        # The timeout is the upper bound: delay + jitter with room for a busy machine.
        reply = ask(port, ROUTING, timeout=0.05 + 0.1 + 1.0)
        elapsed.append(time.perf_counter() - started)
        assert txt_of(reply) == sorted(VALUES)
    assert min(elapsed) >= 0.05
    # Seed 3 draws jitters of 54, 60, 7, 84, 23 and 47 ms: the extra is there, not constant.
    assert max(elapsed) >= 0.05 + 0.08
    zone_server.zone.set_fault(DnsFault())
    assert txt_of(ask(port, ROUTING, timeout=1.0)) == sorted(VALUES)


def test_names_limit_a_fault_to_those_owners(zone_server: DnsZoneServer) -> None:
    port = zone_server.port
    zone_server.zone.set_fault(DnsFault(DnsFaultKind.SERVFAIL, names=(ROUTING, ORIGIN.upper())))
    assert ask(port, ROUTING).rcode() == dns.rcode.SERVFAIL
    assert ask(port, ORIGIN, "A").rcode() == dns.rcode.SERVFAIL
    assert ask(port, OTHER).rcode() == dns.rcode.NOERROR
    zone_server.zone.set_fault(DnsFault())
    assert ask(port, ORIGIN, "A").rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize(
    ("record", "field"),
    [
        (lambda zone: zone.set_a("bad.engines.test", 12345), "address"),
        (lambda zone: zone.set_a("bad.engines.test", "12345"), "address"),
        (lambda zone: zone.set_a("bad.engines.test", "::1"), "address"),
        (lambda zone: zone.set_a("bad.engines.test", "127.0.0.1", -1), "ttl"),
        (lambda zone: zone.set_a("bad name.test", "127.0.0.1"), "name"),
        (lambda zone: zone.set_txt("bad.engines.test", ["x" * 256]), "values"),
        (lambda zone: zone.set_txt("bad.engines.test", [b"bytes"]), "values"),
        (lambda zone: zone.set_txt("bad.engines.test", ["ok"], 2**31), "ttl"),
        (lambda zone: zone.set_txt("x" * 300, ["ok"]), "name"),
    ],
)
def test_the_zone_refuses_bad_records_and_keeps_answering(
    zone_server: DnsZoneServer, record: Callable[[Zone], None], field: str
) -> None:
    with pytest.raises(RecordError) as caught:
        record(zone_server.zone)
    assert caught.value.field == field
    assert ask(zone_server.port, "bad.engines.test", "A").rcode() == dns.rcode.NXDOMAIN
    assert txt_of(ask(zone_server.port, ROUTING)) == sorted(VALUES)


def test_a_txt_string_of_255_bytes_is_served(zone_server: DnsZoneServer) -> None:
    zone_server.zone.set_txt("long.engines.test", ["é" * 127 + "x"], ttl=5)
    reply = dns.query.tcp(
        dns.message.make_query("long.engines.test", "TXT"),
        "127.0.0.1",
        port=zone_server.port,
        timeout=2.0,
    )
    assert txt_of(reply) == ["é" * 127 + "x"]


# The running distribution, through its control API -------------------------------------


def dns_port(stack: RunningStack) -> int:
    return int(stack.state.dns.rsplit(":", 1)[1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"type": "A", "name": "bad.edgedrill.test", "address": 12345}, "address"),
        ({"type": "A", "name": "bad.edgedrill.test", "address": "not-an-ip"}, "address"),
        ({"type": "TXT", "name": "bad.edgedrill.test", "values": ["x" * 256]}, "values"),
        ({"type": "TXT", "name": "a" * 300, "values": ["x"]}, "name"),
    ],
)
def test_bad_records_are_refused_by_the_control_api(
    stack: RunningStack, control: Control, record: dict[str, object], field: str
) -> None:
    status, payload = control("PUT", "/dns/records", record)
    assert status == 400, payload
    assert f"'{field}'" in payload["error"]
    port = dns_port(stack)
    assert ask(port, "bad.edgedrill.test", "A").rcode() == dns.rcode.NXDOMAIN
    routed = ask(port, stack.state.routing_name)
    assert routed.rcode() == dns.rcode.NOERROR
    assert txt_of(routed)
    origin = next(iter(stack.state.origins.values()))
    assert ask(port, origin, "A").rcode() == dns.rcode.NOERROR


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"target": "dns", "kind": "none"}, "kind"),
        ({"target": "dns", "kind": "servfail", "name": "a" * 1_000_000}, "name"),
        ({"target": "dns", "kind": "servfail", "names": ["ok.test", "not ok"]}, "names"),
        ({"target": "dns", "kind": "ttl", "ttl": -1}, "ttl"),
        ({"target": "s3:us-east-1", "kind": "bandwidth", "bytes_per_s": 0}, "bytes_per_s"),
    ],
)
def test_bad_new_specs_are_refused_by_the_control_api(
    control: Control, spec: dict[str, object], field: str
) -> None:
    status, payload = control("POST", "/faults", spec)
    assert status == 400, payload
    assert f"'{field}'" in payload["error"]
    _, listed = control("GET", "/faults")
    assert listed["faults"] == []


@pytest.mark.slow
def test_dns_faults_through_the_control_api(stack: RunningStack, control: Control) -> None:
    port = dns_port(stack)
    routing = stack.state.routing_name
    origins = sorted(stack.state.origins.values())
    before = txt_of(ask(port, routing))
    wrong = control.inject(target="dns", kind="wrong_answer", name=routing, lease_s=30)
    assert _eventually(lambda: txt_of(ask(port, routing)) == [WRONG_TXT])
    control("DELETE", f"/faults/{wrong}")
    assert _eventually(lambda: txt_of(ask(port, routing)) == before)
    control.inject(target="dns", kind="servfail", names=origins, lease_s=30)
    assert _eventually(
        lambda: all(ask(port, o, "A").rcode() == dns.rcode.SERVFAIL for o in origins)
    )
    assert ask(port, routing).rcode() == dns.rcode.NOERROR
    control("DELETE", "/faults")
    assert _eventually(lambda: all(ask(port, o, "A").rcode() == dns.rcode.NOERROR for o in origins))


@pytest.mark.slow
def test_flap_through_the_control_api_with_a_real_clock(
    stack: RunningStack, control: Control
) -> None:
    port = dns_port(stack)
    routing = stack.state.routing_name
    control.inject(target="dns", kind="flap", period_ms=200, name=routing, lease_s=30)
    seen: list[str] = []
    deadline = time.monotonic() + 1.0  # five half-periods at least
    while time.monotonic() < deadline:
        seen.append(dns.rcode.to_text(ask(port, routing).rcode()))
        time.sleep(0.02)
    changes = sum(1 for a, b in itertools.pairwise(seen) if a != b)
    assert set(seen) == {"SERVFAIL", "NOERROR"}
    assert changes >= 2, seen
    control("DELETE", "/faults")
    assert _eventually(lambda: ask(port, routing).rcode() == dns.rcode.NOERROR)
    assert all(ask(port, routing).rcode() == dns.rcode.NOERROR for _ in range(10))


OBJECT_BYTES = 100_000


@pytest.fixture
def big_object(stack: RunningStack) -> str:
    """A fresh 100 kB object in us-east-1, put through the region's fault proxy."""
    key = f"engines/{time.monotonic_ns()}.bin"
    s3_client(stack.state.regions["us-east-1"], "us-east-1").put_object(
        Bucket=stack.state.bucket, Key=key, Body=bytes(range(256)) * 390 + b"x" * 160
    )
    return key


def fetch(stack: RunningStack, key: str) -> tuple[float, float, bytes]:
    """GET one object from us-east-1's proxy: seconds to the headers, to the end, the body."""
    host, port = stack.state.regions["us-east-1"].split("//", 1)[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        started = time.perf_counter()
        connection.request("GET", f"/{stack.state.bucket}/{key}")
        response = connection.getresponse()
        headers_s = time.perf_counter() - started
        assert response.status == 200
        assert response.getheader("content-length") == str(OBJECT_BYTES)
        body = response.read()
        return headers_s, time.perf_counter() - started, body
    finally:
        connection.close()


@pytest.mark.slow
def test_bandwidth_sends_the_body_at_the_rate(
    stack: RunningStack, control: Control, big_object: str
) -> None:
    _, plain_s, plain = fetch(stack, big_object)
    assert len(plain) == OBJECT_BYTES
    fault = control.inject(
        target="s3:us-east-1", kind="bandwidth", bytes_per_s=200_000, path_prefix="engines/"
    )
    headers_s, slow_s, slow = fetch(stack, big_object)
    assert slow == plain
    # 100 kB at 200 kB/s: half a second by construction (the pacing only ever waits longer).
    assert slow_s >= 0.4
    assert slow_s / plain_s >= 2
    assert headers_s <= slow_s / 4  # the headers go at once, only the body trickles
    assert control.stats()["s3:us-east-1"]["faulted"].get("bandwidth", 0) >= 1
    control("DELETE", f"/faults/{fault}")
    _, again_s, again = fetch(stack, big_object)
    assert again == plain
    assert slow_s / again_s >= 2


@pytest.mark.slow
def test_truncate_announces_the_full_length_and_sends_half(
    stack: RunningStack, control: Control, big_object: str
) -> None:
    _, _, whole = fetch(stack, big_object)
    fault = control.inject(target="s3:us-east-1", kind="truncate", path_prefix="engines/")
    with pytest.raises(http.client.IncompleteRead) as caught:
        fetch(stack, big_object)
    assert caught.value.partial == whole[: OBJECT_BYTES // 2]
    assert caught.value.expected == OBJECT_BYTES - OBJECT_BYTES // 2
    assert control.stats()["s3:us-east-1"]["faulted"].get("truncate", 0) >= 1
    control("DELETE", f"/faults/{fault}")
    assert fetch(stack, big_object)[2] == whole


def _eventually(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    # The DNS agent applies a change within its poll interval (50 ms).
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
