"""What the local edge adds on top of the S3 regions it fronts.

One run starts the local distribution, then measures, with the same
load generator (asyncio HTTP/1.1 clients in separate processes, keep-alive
connections, closed loop):

* latency, one request at a time: the regions directly (their endpoints, i.e.
  fault proxy + moto, and moto alone), each request to the next region in
  turn as the router's equal weights send misses, then through the edge with
  every request a miss (router invoked, origin fetched), then through the
  edge with a realistic hit ratio (Zipf popularity over the corpus);
* capacity, many connections at once for a fixed time: the same four.

It prints added latency at p50/p99 (edge all-miss minus the regions'
endpoints) and the capacity ratio (edge over regions). Targets: <= 1 ms added
at p50, >= 90 % of the regions' capacity.

    python benchmarks/edge_overhead.py [--objects 200] [--seconds 8] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.stack import StackState, launch

if TYPE_CHECKING:
    from collections.abc import Callable


_NONCE = b"__NONCE__"
SMALL = 16_384  # bytes: objects at most this large are also reported apart


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(round(q / 100 * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


async def _one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool, int]:
    """Send one request; returns the status and whether the server keeps the connection."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    keep = True
    for line in head.split(b"\r\n"):
        lower = line.lower()
        if lower.startswith(b"content-length:"):
            length = int(line[15:])
        elif lower.startswith(b"connection:") and b"close" in lower:
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep, length


async def _worker(
    requests: list[tuple[tuple[str, int], bytes]], deadline: float, limit: int
) -> tuple[list[tuple[float, int]], int]:
    """One client: sends ``requests`` in turn, one at a time, each to its own target."""
    latencies: list[tuple[float, int]] = []
    errors = 0
    index = 0
    # One keep-alive connection per target, as the edge keeps one per origin.
    connections: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    while time.monotonic() < deadline and index < limit:
        target, request = requests[index % len(requests)]
        index += 1
        if _NONCE in request:  # a URL never asked before: a guaranteed miss
            request = request.replace(_NONCE, f"{time.monotonic_ns()}-{index}".encode())
        started = time.perf_counter()
        connection = connections.get(target)
        if connection is None:  # a server that closes after each response pays the connect
            connection = connections[target] = await asyncio.open_connection(*target, limit=1 << 22)
        status, keep, size = await asyncio.wait_for(_one(*connection, request), 30)
        latencies.append(((time.perf_counter() - started) * 1000.0, size))
        if status >= 500:
            errors += 1
        if not keep:
            connection[1].close()
            del connections[target]
    for _, writer in connections.values():
        writer.close()
    return latencies, errors


def _load(
    job: tuple[list[list[tuple[tuple[str, int], bytes]]], float, int],
) -> tuple[list[tuple[float, int]], int, float]:
    request_lists, seconds, limit = job

    async def run() -> tuple[list[tuple[float, int]], int, float]:
        started = time.monotonic()
        deadline = started + seconds
        results = await asyncio.gather(
            *(_worker(requests, deadline, limit) for requests in request_lists)
        )
        elapsed = time.monotonic() - started
        return [x for lat, _ in results for x in lat], sum(e for _, e in results), elapsed

    return asyncio.run(run())


@dataclass(frozen=True)
class Result:
    """One measurement: every request's latency in ms, 5xx count, seconds under load."""

    latencies: list[tuple[float, int]]  # (ms, body bytes)
    errors: int
    elapsed: float


def _address(url: str) -> tuple[str, int]:
    host, port = url.split("//", 1)[1].split(":")
    return host, int(port)


def _get(path: str, host: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: edgedrill-bench\r\n\r\n".encode()


class Scenario:
    """A way of sending requests: the (target, request) list each client connection sends."""

    def __init__(self, name: str, clients: list[list[tuple[tuple[str, int], bytes]]]) -> None:
        self.name = name
        self.clients = clients

    def run(self, connections: int, seconds: float, processes: int, limit: int = 10**9) -> Result:
        picked = [self.clients[i % len(self.clients)] for i in range(connections)]
        jobs = [
            (picked[p::processes], seconds, limit) for p in range(processes) if picked[p::processes]
        ]
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_load, jobs)
        latencies = [x for lat, _, _ in results for x in lat]
        # Time under load: the longest-running load process (pool start-up excluded).
        elapsed = max(e for _, _, e in results)
        return Result(latencies, sum(err for _, err, _ in results), elapsed)


def _alternating(
    per_region: list[tuple[tuple[str, int], list[bytes]]], shift: int
) -> list[tuple[tuple[str, int], bytes]]:
    """One request from each region in turn, as the router's equal weights send misses."""
    count = min(len(requests) for _, requests in per_region)
    regions = len(per_region)
    return [
        (per_region[(i + shift) % regions][0], per_region[(i + shift) % regions][1][i])
        for i in range(count)
    ]


def scenarios(state: StackState, seed: int = 11) -> dict[str, Scenario]:
    """The origins directly (moto alone, the region endpoints) and through the edge.

    The router's configuration weighs the two regions equally, so its smooth
    weighted round-robin sends misses to each region in turn. The direct
    scenarios send their requests the same way: one region alone is faster
    than two taking turns (each region's process stays warm), and the edge is
    not to be charged for that difference. ``one region endpoint`` is that
    faster case, shown for reference.
    """
    rng = random.Random(seed)
    keys = state.sample_keys
    regions = list(state.regions)
    direct, endpoints = [], []
    for region in regions:
        domain = state.origins[region]
        requests = [_get(f"/{key}?b=__NONCE__", domain) for key in rng.sample(keys, len(keys))]
        direct.append((_address(state.s3_direct[region]), requests))
        endpoints.append((_address(state.regions[region]), requests))
    edge = _address(state.edge_url)
    host = state.edge_url.split("//", 1)[1]
    misses = [[(edge, _get(f"/{key}?b=__NONCE__", host)) for key in keys]]
    weights = [1.0 / (rank + 1) for rank in range(len(keys))]
    zipf = [
        [(edge, _get(f"/{k}", host)) for k in rng.choices(keys, weights, k=20_000)]
        for _ in range(64)
    ]
    shifts = range(len(regions))
    return {
        "moto direct": Scenario("moto direct", [_alternating(direct, s) for s in shifts]),
        "region endpoints": Scenario(
            "region endpoints", [_alternating(endpoints, s) for s in shifts]
        ),
        "one region endpoint": Scenario(
            "one region endpoint", [[(endpoints[0][0], r) for r in endpoints[0][1]]]
        ),
        "edge, all misses": Scenario("edge, all misses", misses),
        "edge, zipf hits": Scenario("edge, zipf hits", zipf),
    }


def interleaved(
    runs: dict[str, Scenario], rounds: int, measure: Callable[[Scenario], Result]
) -> dict[str, dict[str, float]]:
    """Run every scenario ``rounds`` times in turn; pool the latencies, sum counts and time."""
    pooled: dict[str, list[Result]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, scenario in runs.items():
            pooled[name].append(measure(scenario))
    summary = {}
    for name, results in pooled.items():
        latencies = [ms for r in results for ms, _ in r.latencies]
        small = [ms for r in results for ms, size in r.latencies if size <= SMALL]
        elapsed = sum(r.elapsed for r in results)
        summary[name] = {
            "requests": len(latencies),
            "errors": sum(r.errors for r in results),
            "rps": len(latencies) / elapsed if elapsed else 0.0,
            "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99),
            "p50_small": _percentile(small, 50),
        }
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sequential", type=int, default=400, help="requests for the latency runs")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds of latency runs")
    args = parser.parse_args()
    per_round = max(args.sequential // args.rounds, 10)
    with (
        tempfile.TemporaryDirectory() as folder,
        launch(
            Path(folder) / "state.json", objects=args.objects, extra_args=["--cache-mb", "256"]
        ) as stack,
    ):
        runs = scenarios(stack.state)
        # Warm every region's connections and the router's environments once.
        for scenario in runs.values():
            scenario.run(2, 1.0, 1, limit=50)
        # Interleave the scenarios in rounds: other work on a shared machine
        # then weighs on each of them alike.
        latency = interleaved(runs, args.rounds, lambda s: s.run(1, 60.0, 1, limit=per_round))
        # "one region endpoint" is a latency reference only: its capacity is half the origins'.
        loaded = {name: run for name, run in runs.items() if name != "one region endpoint"}
        capacity = interleaved(loaded, 2, lambda s: s.run(args.connections, args.seconds / 2, 2))
    cores = multiprocessing.cpu_count()
    print(f"edge overhead, {args.objects} objects, {cores} cores, {os.getloadavg()[0]:.1f} load")
    print(
        f"{'scenario':<21}{'seq p50 ms':>12}{'seq p99 ms':>12}"
        f"{'cap req/s':>12}{'cap p50':>10}{'cap p99':>10}{'5xx':>6}"
    )
    for name in runs:
        lat = latency[name]
        cap = capacity.get(name)
        loaded_columns = (
            f"{cap['rps']:>12.0f}{cap['p50']:>10.2f}{cap['p99']:>10.2f}"
            if cap
            else f"{'-':>12}{'-':>10}{'-':>10}"
        )
        errors = lat["errors"] + (cap["errors"] if cap else 0)
        print(f"{name:<21}{lat['p50']:>12.2f}{lat['p99']:>12.2f}{loaded_columns}{errors:>6.0f}")
    base = latency["region endpoints"]
    for name in ("edge, all misses", "edge, zipf hits"):
        added = latency[name]
        print(
            f"added latency, {name[6:]:<11} p50 {added['p50'] - base['p50']:+.2f} ms, "
            f"p99 {added['p99'] - base['p99']:+.2f} ms   (target <= +1 ms at p50 for misses); "
            f"objects <= 16 KiB: p50 {added['p50_small'] - base['p50_small']:+.2f} ms"
        )
    origin_rps = capacity["region endpoints"]["rps"]
    for name in ("edge, all misses", "edge, zipf hits"):
        ratio = capacity[name]["rps"] / origin_rps
        print(f"capacity ratio, {name[6:]:<11} {ratio:.2f}   (target >= 0.90 for misses)")
    proxy_ratio = origin_rps / capacity["moto direct"]["rps"]
    proxy_ms = base["p50"] - latency["moto direct"]["p50"]
    print(f"region endpoints vs moto alone: {proxy_ratio:.2f} capacity, {proxy_ms:+.2f} ms p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
