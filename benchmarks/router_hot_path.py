"""Router hot path: a warm invocation with the answer cached vs one DNS query per request.

Runs, in one process and one run:

1. cached: warm invocations with the routing answer in the DNS cache;
2. naive: the same invocation with the cache disabled (TTL clamped to 0), so
   every request sends one query, as a first-version router would;
3. the worst invocation while the DNS server drops every packet, with the
   cache forced to query on every call (the worst case) and with the shipped
   back-off (the realistic case), against the billing threshold;
4. for reference, dnspython's ``Resolver`` with the same lifetime against the
   same silent server.

The DNS server is dnsmasq in its own process when it is installed (so the
naive baseline is as fast as a real resolver allows), else the project's zone
server in a subprocess. Targets: cached <= 20 us, naive/cached >= 20x, worst
under the billing threshold.

    python benchmarks/router_hot_path.py [--invocations 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dns.resolver

from edge.dns_zone import DnsZoneServer
from edge.fault_specs import DnsFault, DnsFaultKind
from router.config import RouterConfig, parse_config
from router.handler import create_environment

ROOT = Path(__file__).resolve().parent.parent
EVENT = json.loads((ROOT / "tests" / "events" / "s3-origin.json").read_text())
NAME = "origins.bench.test"
USE1 = "media-use1.s3.us-east-1.amazonaws.com"
EUW1 = "media-euw1.s3.eu-west-1.amazonaws.com"


def config(nameserver: str, **changes: Any) -> RouterConfig:
    document: dict[str, Any] = {
        "routing_name": NAME,
        "nameservers": [nameserver],
        "origins": [
            {"region": "us-east-1", "domain": USE1, "weight": 1},
            {"region": "eu-west-1", "domain": EUW1, "weight": 1},
        ],
        "lookup_timeout_ms": 20,
        "billing_threshold_ms": 50,
    }
    document.update(changes)
    return parse_config(document)


def time_invocations(cfg: RouterConfig, count: int) -> list[float]:
    """Microseconds per invocation, timed around the handler call alone."""
    env = create_environment(cfg, sink=lambda line: None)
    events = [copy.deepcopy(EVENT) for _ in range(min(count, 1000))]
    env.handle(copy.deepcopy(EVENT), None)  # cold start and first lookup
    timings = []
    for index in range(count):
        event = events[index % len(events)]
        started = time.perf_counter()
        env.handle(event, None)
        timings.append((time.perf_counter() - started) * 1e6)
    return timings


def start_dnsmasq(port: int) -> subprocess.Popen[bytes] | None:
    binary = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None
    )
    if binary is None:
        return None
    process = subprocess.Popen(
        [
            binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            f"--port={port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--pid-file=",
            "--user=root",
            "--local=/test/",
            "--local-ttl=60",
            f"--txt-record={NAME},{USE1}",
            f"--txt-record={NAME},{EUW1}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=20_000)
    parser.add_argument("--naive-invocations", type=int, default=2_000)
    parser.add_argument("--fault-invocations", type=int, default=100)
    args = parser.parse_args()

    port = free_port()
    dnsmasq = start_dnsmasq(port)
    zone = None
    if dnsmasq is None:
        zone = DnsZoneServer().start()
        zone.zone.set_txt(NAME, [USE1, EUW1], ttl=60)
        port = zone.port
        server_kind = "edgedrill zone server (in-process: naive numbers include its work)"
    else:
        server_kind = "dnsmasq (own process)"
    nameserver = f"127.0.0.1:{port}"
    try:
        cached = time_invocations(config(nameserver), args.invocations)
        naive = time_invocations(config(nameserver, min_ttl=0, max_ttl=0), args.naive_invocations)
    finally:
        if dnsmasq is not None:
            dnsmasq.send_signal(signal.SIGTERM)
            dnsmasq.wait(timeout=5)
        if zone is not None:
            zone.stop()

    with DnsZoneServer() as silent:
        silent.zone.set_txt(NAME, [USE1, EUW1], ttl=60)
        silent.zone.set_fault(DnsFault(DnsFaultKind.DROP))
        worst_case = time_invocations(
            config(silent.address, min_ttl=0, max_ttl=0, failure_recheck_s=0, stale_answer_ttl=0),
            args.fault_invocations,
        )
        shipped = time_invocations(config(silent.address), args.fault_invocations)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = silent.port
        resolver.lifetime = 0.020
        resolver.timeout = 0.020
        overshoot = []
        for _ in range(10):
            started = time.perf_counter()
            with contextlib.suppress(dns.exception.DNSException):
                resolver.resolve(NAME, "TXT")
            overshoot.append((time.perf_counter() - started) * 1000)

    cached_p50, naive_p50 = statistics.median(cached), statistics.median(naive)
    print(f"DNS server: {server_kind}")
    print(
        f"cached  warm invocation: p50 {cached_p50:6.1f} us  p99 {pct(cached, 0.99):7.1f} us  "
        f"mean {statistics.fmean(cached):6.1f} us  ({len(cached)} invocations)"
    )
    print(
        f"naive   one query/request: p50 {naive_p50:6.1f} us  p99 {pct(naive, 0.99):7.1f} us  "
        f"mean {statistics.fmean(naive):6.1f} us  ({len(naive)} invocations)"
    )
    ratio = naive_p50 / cached_p50
    print(f"ratio   naive/cached at p50: {ratio:5.1f}x  (target >= 20x; cached <= 20 us)")
    print("DNS dropping packets, lookup_timeout_ms=20, billing threshold 50 ms:")
    for label, values in (("query on every call:", worst_case), ("shipped back-off:   ", shipped)):
        worst_ms, p50_ms = max(values) / 1000, statistics.median(values) / 1000
        print(f"  {label}  worst {worst_ms:6.2f} ms  p50 {p50_ms:6.3f} ms")
    print(
        f"  dnspython Resolver, lifetime 20 ms: worst {max(overshoot):6.1f} ms  "
        f"({max(overshoot) / 20:4.1f}x its lifetime)"
    )
    under = max(worst_case) / 1000 < 50
    print(f"  worst invocation under the billing threshold: {'yes' if under else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
