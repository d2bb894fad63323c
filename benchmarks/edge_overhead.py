"""What the local edge adds on top of the S3 regions it fronts.

One run starts the local distribution, then measures, with the same
load generator (asyncio HTTP/1.1 clients in separate processes, keep-alive
connections, closed loop):

* latency, one request at a time: the regions directly (their endpoints, i.e.
  fault proxy + moto, and moto alone), each request to the next region in
  turn as the router's equal weights send misses; through the edge with
  every request a miss (router invoked, origin fetched); through the edge
  with a realistic hit ratio (Zipf popularity over the corpus). The
  scenarios take turns request by request, so drift in what the rest of
  the machine does weighs on all of them alike;
* capacity, many connections at once for a fixed time, in interleaved
  rounds: the same scenarios, first with everything sharing every core, then
  with the origins on CPU 0 and the edge and load generator on CPU 1 (the
  edge then cannot take the origins' CPU time, as in production, where POPs
  and S3 run on different machines).

It prints added latency at p50/p99 (edge all-miss minus the regions'
endpoints) and the capacity ratios (edge over regions). Targets: <= 1 ms
added at p50, >= 90 % of the regions' capacity.

    python benchmarks/edge_overhead.py [--objects 200] [--connections 16]
        [--sequential 800] [--seconds 4] [--capacity-rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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


def _sequential(
    job: tuple[dict[str, list[tuple[tuple[str, int], bytes]]], int],
) -> dict[str, tuple[list[tuple[float, int]], int]]:
    """One request at a time, taking the scenarios in turn request by request.

    Each scenario's next request goes out right after the previous scenario's
    answer, so whatever else the machine is doing weighs on all of them alike.
    """
    clients, count = job

    async def run() -> dict[str, tuple[list[tuple[float, int]], int]]:
        connections: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        results: dict[str, tuple[list[tuple[float, int]], int]] = {
            name: ([], 0) for name in clients
        }
        for index in range(count):
            for name, requests in clients.items():
                target, request = requests[index % len(requests)]
                if _NONCE in request:
                    request = request.replace(_NONCE, f"{time.monotonic_ns()}-{index}".encode())
                started = time.perf_counter()
                connection = connections.get(target)
                if connection is None:
                    connection = connections[target] = await asyncio.open_connection(
                        *target, limit=1 << 22
                    )
                status, keep, size = await asyncio.wait_for(_one(*connection, request), 30)
                latencies, errors = results[name]
                latencies.append(((time.perf_counter() - started) * 1000.0, size))
                results[name] = (latencies, errors + (status >= 500))
                if not keep:
                    connection[1].close()
                    del connections[target]
        for _, writer in connections.values():
            writer.close()
        return results

    return asyncio.run(run())


def _load(
    job: tuple[list[list[tuple[tuple[str, int], bytes]]], float, int, set[int] | None],
) -> tuple[list[tuple[float, int]], int, float]:
    request_lists, seconds, limit, cpus = job
    if cpus:
        os.sched_setaffinity(0, cpus)

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

    def run(
        self,
        connections: int,
        seconds: float,
        processes: int,
        limit: int = 10**9,
        cpus: set[int] | None = None,
    ) -> Result:
        picked = [self.clients[i % len(self.clients)] for i in range(connections)]
        jobs = [
            (picked[p::processes], seconds, limit, cpus)
            for p in range(processes)
            if picked[p::processes]
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


def summarize(results: list[Result]) -> dict[str, float]:
    """Pooled latencies, summed counts and time of a scenario's runs."""
    latencies = [ms for r in results for ms, _ in r.latencies]
    small = [ms for r in results for ms, size in r.latencies if size <= SMALL]
    elapsed = sum(r.elapsed for r in results)
    return {
        "requests": len(latencies),
        "errors": sum(r.errors for r in results),
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50": _percentile(latencies, 50),
        "p99": _percentile(latencies, 99),
        "p50_small": _percentile(small, 50),
    }


def interleaved(
    runs: dict[str, Scenario], rounds: int, measure: Callable[[Scenario], Result]
) -> dict[str, dict[str, float]]:
    """Run every scenario ``rounds`` times in turn; pool the latencies, sum counts and time."""
    pooled: dict[str, list[Result]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, scenario in runs.items():
            pooled[name].append(measure(scenario))
    return {name: summarize(results) for name, results in pooled.items()}


def sequential_latency(runs: dict[str, Scenario], count: int) -> dict[str, dict[str, float]]:
    """Latency one request at a time, the scenarios taking turns request by request."""
    clients = {name: scenario.clients[0] for name, scenario in runs.items()}
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        (results,) = pool.map(_sequential, [(clients, count)])
    return {
        name: summarize([Result(latencies, errors, 0.0)])
        for name, (latencies, errors) in results.items()
    }


def _pin(pids: list[int], cpus: set[int]) -> None:
    """Keep every thread of ``pids`` on ``cpus`` (threads they start later inherit it)."""
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), cpus)


def dedicated_capacity(
    state: StackState, runs: dict[str, Scenario], rounds: int, measure: Callable[..., Result]
) -> dict[str, dict[str, float]]:
    """Capacity with the origins on CPU 0 and the edge and load generator on CPU 1.

    CloudFront's POPs and S3 do not share machines. On a shared 2-core box
    every cycle the edge spends is taken from the origins; here the origins
    have one core to themselves in every scenario, so the ratio shows
    whether the edge holds them back, not whose CPU time it used.
    """
    origins = [pid for name, pid in state.pids.items() if name == "dns" or name.startswith("s3:")]
    rest = [pid for name, pid in state.pids.items() if pid not in origins]
    everything = set(range(os.cpu_count() or 1))
    try:
        _pin(origins, {0})
        _pin(rest, {1})
        return interleaved(runs, rounds, lambda s: measure(s, {1}))
    finally:
        _pin(origins + rest, everything)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one capacity run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--sequential", type=int, default=800, help="requests per scenario, one at a time"
    )
    parser.add_argument(
        "--capacity-rounds", type=int, default=4, help="interleaved rounds of capacity runs"
    )
    args = parser.parse_args()
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
        latency = sequential_latency(runs, args.sequential)
        # "one region endpoint" is a latency reference only: its capacity is half the origins'.
        loaded = {name: run for name, run in runs.items() if name != "one region endpoint"}
        capacity = interleaved(
            loaded, args.capacity_rounds, lambda s: s.run(args.connections, args.seconds, 2)
        )
        dedicated = (
            dedicated_capacity(
                stack.state,
                loaded,
                args.capacity_rounds,
                lambda s, cpus: s.run(args.connections, args.seconds, 2, cpus=cpus),
            )
            if (os.cpu_count() or 1) >= 2
            else {}
        )
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
        print(
            f"capacity ratio, {name[6:]:<11} {ratio:.2f}   (target >= 0.90 for misses), "
            "edge and origins sharing both cores"
        )
    if dedicated:
        own = dedicated["region endpoints"]["rps"]
        for name in ("edge, all misses", "edge, zipf hits"):
            ratio = dedicated[name]["rps"] / own
            print(
                f"capacity ratio, {name[6:]:<11} {ratio:.2f}   (target >= 0.90 for misses), "
                f"origins on a core of their own: {dedicated[name]['rps']:.0f} req/s "
                f"against their {own:.0f}"
            )
    proxy_ratio = origin_rps / capacity["moto direct"]["rps"]
    proxy_ms = base["p50"] - latency["moto direct"]["p50"]
    print(f"region endpoints vs moto alone: {proxy_ratio:.2f} capacity, {proxy_ms:+.2f} ms p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
