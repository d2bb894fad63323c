"""The resolver and the handler against real DNS servers on 127.0.0.1.

Two kinds of server: the project's zone server (edge/dns_zone.py, with its
fault modes) and servers the project did not write (dnsmasq and unbound from
Debian), each made to answer, stop answering, answer SERVFAIL and NXDOMAIN.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest

from edge.dns_zone import DnsZoneServer
from edge.fault_specs import DnsFault, DnsFaultKind
from router.config import Nameserver
from router.handler import create_environment
from router.resolver import DnsResolver, LookupStatus
from tests.router.conftest import (
    EUW1,
    ROUTING_NAME,
    USE1,
    FakeClock,
    ThirdPartyDns,
    free_port,
    make_config,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# A lookup may not outlive its timeout; this slack covers scheduling on a busy
# machine and is still far below the ~100 ms dnspython's Resolver overshoots by.
SLACK_S = 0.06
TIMEOUT_S = 0.02


def lookup(port: int, name: str = ROUTING_NAME, timeout: float = TIMEOUT_S):
    resolver = DnsResolver((Nameserver("127.0.0.1", port),))
    started = time.perf_counter()
    result = resolver.lookup_txt(name, timeout)
    return result, time.perf_counter() - started


class TestProjectZoneServer:
    def test_answer_holds_every_txt_string(self, zone_server: DnsZoneServer) -> None:
        result, _ = lookup(zone_server.port)
        assert result.status is LookupStatus.ANSWER
        assert sorted(result.values) == sorted([USE1, EUW1])
        assert result.ttl == 60
        assert result.queries == 1

    def test_an_underscored_routing_name_is_looked_up_and_routed(
        self, zone_server: DnsZoneServer, load_event: Callable[[str], Any]
    ) -> None:
        # RFC 8552 names (``_origins.example.com``) are valid configs; the whole path takes them.
        zone_server.zone.set_txt("_origins.test", [EUW1], ttl=60)
        result, _ = lookup(zone_server.port, "_origins.test")
        assert result.status is LookupStatus.ANSWER
        assert result.values == (EUW1,)
        config = make_config(
            routing_name="_origins.test", nameservers=[f"127.0.0.1:{zone_server.port}"]
        )
        env = create_environment(config, sink=lambda _line: None)
        routed = _handle(env, load_event("s3-origin"))
        assert routed["origin"]["s3"]["domainName"] == EUW1

    def test_nxdomain(self, zone_server: DnsZoneServer) -> None:
        zone_server.zone.remove(ROUTING_NAME)
        result, _ = lookup(zone_server.port)
        assert result.status is LookupStatus.NXDOMAIN

    def test_servfail_is_a_failure(self, zone_server: DnsZoneServer) -> None:
        zone_server.zone.set_fault(DnsFault(DnsFaultKind.SERVFAIL))
        result, _ = lookup(zone_server.port)
        assert result.status is LookupStatus.FAILURE
        assert "SERVFAIL" in result.reason

    @pytest.mark.parametrize("kind", [DnsFaultKind.DROP, DnsFaultKind.DELAY])
    def test_silence_and_slowness_end_at_the_deadline(
        self, zone_server: DnsZoneServer, kind: DnsFaultKind
    ) -> None:
        zone_server.zone.set_fault(DnsFault(kind, delay_ms=500))
        result, elapsed = lookup(zone_server.port)
        assert result.status is LookupStatus.FAILURE
        assert "timeout" in result.reason
        assert elapsed < TIMEOUT_S + SLACK_S

    def test_truncated_udp_answer_is_retried_over_tcp(self, zone_server: DnsZoneServer) -> None:
        zone_server.zone.set_fault(DnsFault(DnsFaultKind.TRUNCATE))
        result, _ = lookup(zone_server.port, timeout=1.0)
        assert result.status is LookupStatus.ANSWER
        assert result.queries == 2
        assert zone_server.zone.stats.tcp == 1

    def test_garbage_reply_is_a_failure(self, zone_server: DnsZoneServer) -> None:
        zone_server.zone.set_fault(DnsFault(DnsFaultKind.GARBAGE))
        result, elapsed = lookup(zone_server.port)
        assert result.status is LookupStatus.FAILURE
        assert elapsed < TIMEOUT_S + SLACK_S

    def test_next_nameserver_answers_when_the_first_is_silent(
        self, zone_server: DnsZoneServer
    ) -> None:
        with DnsZoneServer() as silent:
            silent.zone.set_fault(DnsFault(DnsFaultKind.SERVFAIL))
            resolver = DnsResolver(
                (Nameserver("127.0.0.1", silent.port), Nameserver("127.0.0.1", zone_server.port))
            )
            result = resolver.lookup_txt(ROUTING_NAME, 0.5)
        assert result.status is LookupStatus.ANSWER
        assert result.queries == 2


class TestThirdPartyServers:
    def test_dnsmasq_answer(self, third_party_dns: ThirdPartyDns) -> None:
        result, _ = lookup(third_party_dns.dnsmasq_port, timeout=1.0)
        assert result.status is LookupStatus.ANSWER
        assert sorted(result.values) == sorted([USE1, EUW1])

    def test_dnsmasq_nxdomain(self, third_party_dns: ThirdPartyDns) -> None:
        result, _ = lookup(third_party_dns.dnsmasq_port, "missing.test", timeout=1.0)
        assert result.status is LookupStatus.NXDOMAIN

    def test_dnsmasq_that_stops_answering_times_out_at_the_deadline(
        self, third_party_dns: ThirdPartyDns
    ) -> None:
        os.kill(third_party_dns.dnsmasq.pid, signal.SIGSTOP)
        try:
            result, elapsed = lookup(third_party_dns.dnsmasq_port)
        finally:
            os.kill(third_party_dns.dnsmasq.pid, signal.SIGCONT)
        assert result.status is LookupStatus.FAILURE
        assert "timeout" in result.reason
        assert elapsed < TIMEOUT_S + SLACK_S

    def test_unbound_answer(self, third_party_dns: ThirdPartyDns) -> None:
        result, _ = lookup(third_party_dns.unbound_port, timeout=1.0)
        assert result.status is LookupStatus.ANSWER
        assert sorted(result.values) == sorted([USE1, EUW1])

    def test_unbound_servfail(self, third_party_dns: ThirdPartyDns) -> None:
        result, _ = lookup(third_party_dns.unbound_port, "origins.sf.example", timeout=2.0)
        assert result.status is LookupStatus.FAILURE
        assert "SERVFAIL" in result.reason

    def test_unbound_nxdomain(self, third_party_dns: ThirdPartyDns) -> None:
        result, _ = lookup(third_party_dns.unbound_port, "missing.test", timeout=1.0)
        assert result.status is LookupStatus.NXDOMAIN

    def test_unbound_that_drops_times_out_at_the_deadline(
        self, third_party_dns: ThirdPartyDns
    ) -> None:
        result, elapsed = lookup(third_party_dns.unbound_port, "origins.drop.example")
        assert result.status is LookupStatus.FAILURE
        assert elapsed < TIMEOUT_S + SLACK_S

    def test_nothing_listening_is_a_failure(self) -> None:
        result, elapsed = lookup(free_port())
        assert result.status is LookupStatus.FAILURE
        assert elapsed < TIMEOUT_S + SLACK_S


def _handle(env: Any, event: dict[str, Any]) -> Any:
    return env.handle(event, None)


@pytest.mark.parametrize("server", ["zone", "dnsmasq", "unbound"])
def test_handler_serves_stale_when_the_server_stops_answering(
    server: str,
    zone_server: DnsZoneServer,
    third_party_dns: ThirdPartyDns,
    load_event: Callable[[str], Any],
) -> None:
    port = {
        "zone": zone_server.port,
        "dnsmasq": third_party_dns.dnsmasq_port,
        "unbound": third_party_dns.unbound_port,
    }[server]
    clock = FakeClock()
    lines: list[str] = []
    config = make_config(nameservers=[f"127.0.0.1:{port}"], lookup_timeout_ms=20, max_ttl=60)
    env = create_environment(config, clock=clock, sink=lines.append)
    first = _handle(env, load_event("s3-origin"))
    assert first["origin"]["s3"]["domainName"] in (USE1, EUW1)
    clock.advance(61)
    if server == "zone":
        zone_server.zone.set_fault(DnsFault(DnsFaultKind.DROP))
        _handle(env, load_event("s3-origin"))
    else:
        process = third_party_dns.dnsmasq if server == "dnsmasq" else third_party_dns.unbound
        os.kill(process.pid, signal.SIGSTOP)
        try:
            _handle(env, load_event("s3-origin"))
        finally:
            os.kill(process.pid, signal.SIGCONT)
    states = [json.loads(line)["cache_state"] for line in lines]
    assert states == ["miss", "stale"]
    stale = json.loads(lines[-1])
    assert stale["origin"] in (USE1, EUW1)
    assert stale["dns_ms"] < (TIMEOUT_S + SLACK_S) * 1000


def test_handler_with_servfail_from_unbound_and_no_cache_falls_back(
    third_party_dns: ThirdPartyDns, load_event: Callable[[str], Any]
) -> None:
    lines: list[str] = []
    config = make_config(
        routing_name="origins.sf.example",
        nameservers=[f"127.0.0.1:{third_party_dns.unbound_port}"],
        lookup_timeout_ms=40,
    )
    env = create_environment(config, sink=lines.append)
    request = _handle(env, load_event("s3-origin"))
    assert request["origin"]["s3"]["domainName"] == USE1
    log = json.loads(lines[0])
    assert log["cache_state"] == "fallback"
    assert "SERVFAIL" in log["reason"]
