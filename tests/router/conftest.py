"""Fixtures for router tests: configs, a scripted resolver, a fake clock, DNS servers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.message
import dns.query
import pytest

from edge.dns_zone import DnsZoneServer
from router.config import RouterConfig, parse_config
from router.resolver import LookupResult, LookupStatus

if TYPE_CHECKING:
    from collections.abc import Iterator

USE1 = "media-use1.s3.us-east-1.amazonaws.com"
EUW1 = "media-euw1.s3.eu-west-1.amazonaws.com"
ROUTING_NAME = "origins.test"


def make_config(**overrides: Any) -> RouterConfig:
    document: dict[str, Any] = {
        "routing_name": ROUTING_NAME,
        "nameservers": [],
        "origins": [
            {"region": "us-east-1", "domain": USE1, "weight": 1},
            {"region": "eu-west-1", "domain": EUW1, "weight": 1},
        ],
        "lookup_timeout_ms": 20,
        "min_ttl": 5,
        "max_ttl": 300,
        "max_stale": 3600,
        "billing_threshold_ms": 50,
    }
    document.update(overrides)
    return parse_config(document)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ScriptedResolver:
    """Answers each lookup with the next scripted result (the last one repeats)."""

    results: list[LookupResult] = field(default_factory=list)
    calls: list[tuple[str, float]] = field(default_factory=list)

    def lookup_txt(self, name: str, timeout: float) -> LookupResult:
        self.calls.append((name, timeout))
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


def answer(*values: str, ttl: int = 60) -> LookupResult:
    return LookupResult(LookupStatus.ANSWER, tuple(values), ttl, queries=1)


def failure(reason: str = "timeout") -> LookupResult:
    return LookupResult(LookupStatus.FAILURE, reason=reason, queries=1)


def nxdomain(ttl: int | None = None) -> LookupResult:
    return LookupResult(LookupStatus.NXDOMAIN, ttl=ttl, queries=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def zone_server() -> Iterator[DnsZoneServer]:
    server = DnsZoneServer().start()
    server.zone.set_txt(ROUTING_NAME, [USE1, EUW1], ttl=60)
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    msg = "no free port"
    raise OSError(msg)


def _wait_answering(port: int, name: str, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            dns.query.udp(dns.message.make_query(name, "TXT"), "127.0.0.1", port=port, timeout=0.2)
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
            continue
        return
    msg = f"DNS server on port {port} did not start answering"
    raise TimeoutError(msg)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)  # in case a test left it stopped
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class ThirdPartyDns:
    """dnsmasq and unbound, serving the routing record and the failure cases.

    ``dnsmasq`` answers ``origins.test`` and NXDOMAIN for the rest of
    ``test.``, and REFUSED elsewhere. ``unbound`` answers the same, drops
    queries under ``drop.example.`` (a server that stops answering) and
    answers SERVFAIL under ``sf.example.`` (its forwarder, dnsmasq, refuses).
    """

    dnsmasq_port: int
    unbound_port: int
    dnsmasq: subprocess.Popen[bytes]
    unbound: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def third_party_dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThirdPartyDns]:
    for binary in ("dnsmasq", "unbound"):
        if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
            pytest.fail(f"{binary} is not installed (.ci/run installs it from Debian)")
    workdir = tmp_path_factory.mktemp("dns")
    dnsmasq_port, unbound_port = free_port(), free_port()
    txt = [f"--txt-record={ROUTING_NAME},{value}" for value in (USE1, EUW1)]
    dnsmasq = subprocess.Popen(
        [
            shutil.which("dnsmasq") or "/usr/sbin/dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            f"--port={dnsmasq_port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--user=root",
            "--local=/test/",
            "--local-ttl=60",
            *txt,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    conf = workdir / "unbound.conf"
    local_data = "\n".join(
        f"    local-data: '{ROUTING_NAME}. 60 IN TXT \"{value}\"'" for value in (USE1, EUW1)
    )
    conf.write_text(
        f"""server:
    interface: 127.0.0.1
    port: {unbound_port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{workdir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    do-ip6: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "test." static
{local_data}
    local-zone: "drop.example." deny
forward-zone:
    name: "sf.example."
    forward-addr: 127.0.0.1@{dnsmasq_port}
remote-control:
    control-enable: no
"""
    )
    unbound = subprocess.Popen(
        [shutil.which("unbound") or "/usr/sbin/unbound", "-d", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_answering(dnsmasq_port, ROUTING_NAME)
        _wait_answering(unbound_port, ROUTING_NAME)
        yield ThirdPartyDns(dnsmasq_port, unbound_port, dnsmasq, unbound)
    finally:
        _stop(unbound)
        _stop(dnsmasq)
