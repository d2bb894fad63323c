"""Synthetic run folders that follow docs/formats.md exactly, with known answers.

Used by the results tests and by ``benchmarks/analysis_scale.py``. The writers
at the top build a folder line by line from given values (for known-answer
tests); :func:`generate` builds a whole drill (baseline, spike, faults, cold
starts, DNS cache states) of any size, vectorised so that a million requests
take seconds. Router lines come from the router's own ``emf_line`` so the
parser is tested against what ships.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from router.logs import InvocationLog, emf_line

# 2026-11-26T17:31:48Z
T0 = 1795714308.0
FUNCTION = "edgedrill-router"
COLUMNS = "start,duration_ms,method,name,status,bytes,x_cache,pop,cf_id,origin_region,late_ms,error"
ACCESS_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)
HIT = "Hit from cloudfront"
MISS = "Miss from cloudfront"
ERROR = "Error from cloudfront"


# --- line writers ---------------------------------------------------------------


def iso(epoch: float) -> str:
    """``2026-11-26T17:31:48.123Z`` for an epoch time (milliseconds, truncated)."""
    millis = math.floor(epoch * 1000.0 + 1e-6)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def report_line(
    request_id: str,
    duration_ms: float,
    *,
    billed_ms: int | None = None,
    memory_mb: int = 128,
    max_memory_mb: int = 71,
    init_ms: float | None = None,
) -> str:
    """A REPORT line exactly as Lambda writes it."""
    if billed_ms is None:
        billed_ms = max(1, math.ceil(round(duration_ms, 2) - 1e-9))
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_ms} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_mb} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


def route_line(
    request_id: str,
    *,
    cache_state: str = "hit",
    region: str = "us-east-1",
    dns_ms: float = 0.0,
    handler_ms: float = 0.2,
    dns_queries: int = 0,
    reason: str = "",
    stale_age_s: float = 0.0,
    timestamp_ms: int = 0,
    cf_request_id: str = "",
) -> str:
    """The router's EMF line, rendered by the router's own code."""
    origin = f"media-{region}.s3.{region}.amazonaws.com" if region else "default.example.com"
    return emf_line(
        InvocationLog(
            request_id=request_id,
            cache_state=cache_state,
            origin=origin,
            region=region,
            dns_ms=dns_ms,
            handler_ms=handler_ms,
            dns_queries=dns_queries,
            reason=reason,
            stale_age_s=stale_age_s,
            cf_request_id=cf_request_id,
        ),
        timestamp_ms=timestamp_ms,
    )


@dataclass
class Invocation:
    """One router invocation, for hand-built logs."""

    end: float
    duration_ms: float
    init_ms: float | None = None
    cache_state: str = "hit"
    region: str = "us-east-1"
    dns_queries: int = 0
    dns_ms: float = 0.0
    billed_ms: int | None = None
    memory_mb: int = 128
    request_id: str = ""
    cf_request_id: str = ""  # CloudFront's id of the viewer request, as the router logs it
    reason: str = ""
    stale_age_s: float = 0.0


def invocation_lines(inv: Invocation, index: int) -> list[str]:
    """START, router line, END and REPORT of one invocation, timestamped."""
    request_id = inv.request_id or f"00000000-0000-4000-8000-{index:012d}"
    begin = inv.end - inv.duration_ms / 1000.0
    stamp = iso(inv.end)
    return [
        f"{iso(begin)}\tSTART RequestId: {request_id} Version: 1",
        f"{stamp}\t"
        + route_line(
            request_id,
            cache_state=inv.cache_state,
            region=inv.region,
            dns_ms=inv.dns_ms,
            handler_ms=inv.duration_ms * 0.9,
            dns_queries=inv.dns_queries,
            reason=inv.reason,
            stale_age_s=inv.stale_age_s,
            timestamp_ms=int(inv.end * 1000),
            cf_request_id=inv.cf_request_id,
        ),
        f"{stamp}\tEND RequestId: {request_id}",
        f"{stamp}\t"
        + report_line(
            request_id,
            inv.duration_ms,
            billed_ms=inv.billed_ms,
            memory_mb=inv.memory_mb,
            init_ms=inv.init_ms,
        ),
    ]


@dataclass
class Row:
    """One per-request record."""

    start: float
    duration_ms: float
    status: int = 200
    x_cache: str = HIT
    origin_region: str = ""
    late_ms: float = 0.0
    error: str = ""
    bytes: int = 1024
    method: str = "GET"
    name: str = "/media/[key]"
    pop: str = "IAD89-P1"
    cf_id: str = "cfid"


def write_requests(path: Path, rows: Iterable[Row]) -> None:
    """Write ``requests.csv``."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS.split(","))
        for r in rows:
            writer.writerow(
                [
                    f"{r.start:.6f}",
                    f"{r.duration_ms:.3f}",
                    r.method,
                    r.name,
                    r.status,
                    r.bytes,
                    r.x_cache,
                    r.pop,
                    r.cf_id,
                    r.origin_region,
                    f"{r.late_ms:.3f}",
                    r.error,
                ]
            )


def write_run_json(run_dir: Path, *, start: float, end: float, **extra: object) -> None:
    """Write ``run.json`` with the contract's fields (``extra`` overrides)."""
    document: dict[str, object] = {
        "scenario": "spike",
        "args": {"duration": end - start},
        "versions": {"edgedrill": "0.1.0", "locust": "2.47.0", "python": "3.11.7"},
        "start": start,
        "end": end,
        "host": "http://127.0.0.1:41234",
        "local": True,
        "memory_mb": 128,
        "billing_threshold_ms": 50,
    }
    document.update(extra)
    (run_dir / "run.json").write_text(json.dumps(document, indent=2))


def write_rate(path: Path, rows: Iterable[tuple[int, float, float, float]]) -> None:
    """Write ``rate.csv``."""
    lines = ["second,target,achieved,late"]
    lines += [f"{s},{t:g},{a:g},{late:g}" for s, t, a, late in rows]
    path.write_text("\n".join(lines) + "\n")


def write_faults(path: Path, faults: Iterable[tuple[str, str, float, float | None]]) -> None:
    """Write ``faults.jsonl`` with the four keys every version of it has."""
    path.write_text(
        "".join(
            json.dumps({"fault": f, "target": t, "start": s, "end": e}) + "\n"
            for f, t, s, e in faults
        )
    )


def fault_document(
    fault: str,
    target: str,
    start: float,
    end: float | None,
    *,
    region: str | None = None,
    kind: str = "",
    probability: float = 1.0,
    fault_id: str = "",
) -> dict[str, object]:
    """One ``faults.jsonl`` object with every key of the chaos contract."""
    return {
        "fault": fault,
        "target": target,
        "region": region,
        "kind": kind,
        "probability": probability,
        "start": start,
        "end": end,
        "id": fault_id or f"{fault}@{start:.3f}",
    }


def write_fault_documents(path: Path, documents: Iterable[dict[str, object]]) -> None:
    """Write ``faults.jsonl`` from whole objects (:func:`fault_document`)."""
    path.write_text("".join(json.dumps(document) + "\n" for document in documents))


def write_lambda_log(run_dir: Path, lines: Iterable[str], region: str = "us-east-1") -> Path:
    """Write ``logs/lambda/<region>.<function>.log``."""
    folder = run_dir / "logs" / "lambda"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{region}.{FUNCTION}.log"
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
    return path


def access_line(
    epoch: float, *, status: int = 200, result: str = "Hit", detail: str = "", taken: float = 0.002
) -> str:
    """One CloudFront standard access-log line with the 33 fields."""
    date, clock = time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(int(epoch))).split("\t")
    fields = [
        date,
        clock,
        "IAD89-P1",
        "1024",
        "127.0.0.1",
        "GET",
        "d111111abcdef8.cloudfront.net",
        "/media/0001.jpg",
        str(status),
        "-",
        "locust",
        "-",
        "-",
        result,
        "cfid",
        "127.0.0.1",
        "http",
        "120",
        f"{taken:.3f}",
        "-",
        "-",
        "-",
        result,
        "HTTP/1.1",
        "-",
        "-",
        "50000",
        f"{taken:.3f}",
        detail or result,
        "image/jpeg",
        "1024",
        "-",
        "-",
    ]
    return "\t".join(fields)


def write_access_log(run_dir: Path, lines: Iterable[str]) -> Path:
    """Write ``logs/cloudfront/access.log`` with its W3C header."""
    folder = run_dir / "logs" / "cloudfront"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "access.log"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("#Version: 1.0\n")
        handle.write(f"#Fields: {ACCESS_FIELDS}\n")
        for line in lines:
            handle.write(line + "\n")
    return path


def minimal_run(
    run_dir: Path, rows: Sequence[Row], *, seconds: float = 10.0, **run: object
) -> Path:
    """A run folder holding only ``run.json`` and ``requests.csv``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_json(run_dir, start=T0, end=T0 + seconds, **run)
    write_requests(run_dir / "requests.csv", rows)
    return run_dir


# --- whole drills -------------------------------------------------------------


@dataclass(frozen=True)
class FaultSpec:
    """A fault in a generated drill: errors at ``error_rate`` for ``impact_s`` from its start.

    A bucket fault (target ``s3:<region>``) has misses answered by its region
    until ``failover_s`` after its start (the last request before that is a
    miss answered there) and again from ``failback_s`` after its end (the
    first request from then on is a miss answered there; ``None``: never
    within the run). Other faults move traffic off ``region`` for their window
    when ``moves_traffic``.
    """

    fault: str
    target: str
    start_s: float
    end_s: float
    error_rate: float = 0.5
    impact_s: float = 4.0
    region: str = "us-east-1"  # the origin region it breaks (traffic moves off it)
    kind: str = ""
    failover_s: float = 0.0
    failback_s: float | None = 0.0
    moves_traffic: bool = True

    @property
    def bucket(self) -> bool:
        """Whether the fault breaks one region's bucket (``s3:<region>``)."""
        return self.target.startswith("s3:")


@dataclass(frozen=True)
class Drill:
    """A drill to generate; the defaults make a small spike run."""

    seconds: int = 40
    baseline_rps: float = 20.0
    spike_factor: float = 5.0
    spike_at_s: int = 10
    spike_hold_s: int = 15
    hit_ratio: float = 0.6
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1")
    log_region: str = "us-east-1"
    memory_mb: int = 128
    threshold_ms: float = 50.0
    faults: tuple[FaultSpec, ...] = ()
    late_share: float = 0.01
    query_share: float = 0.02  # router invocations that query DNS
    slow_share: float = 0.005  # router invocations over the billing threshold
    cold_share: float = 0.002
    spike_cold_share: float = 0.05  # in the first 2 s of the spike
    seed: int = 7
    logs: bool = True
    access_log: bool = True
    rate_csv: bool = True
    locust_csv: bool = True
    total_requests: int | None = None  # scale the rate so the run makes this many

    def targets(self) -> np.ndarray:
        """Requests per second asked for, per second."""
        target = np.full(self.seconds, self.baseline_rps)
        target[self.spike_at_s : self.spike_at_s + self.spike_hold_s] *= self.spike_factor
        if self.total_requests is not None:
            target *= self.total_requests / target.sum()
        return target


@dataclass
class Truth:
    """What a generated drill holds, to check the analysis against."""

    requests: int = 0
    failures: int = 0
    late: int = 0
    hits: int = 0
    invocations: int = 0
    cold_starts: int = 0
    dns_queries: int = 0
    above_threshold: int = 0
    states: dict[str, int] = field(default_factory=dict)
    target_total: float = 0.0
    # Per fault, in the drill's order: (failover_s, failback_s) from the region that
    # answered each miss; None for a fault that breaks no bucket.
    served: list[tuple[float, float | None] | None] = field(default_factory=list)


def generate(run_dir: Path, drill: Drill | None = None) -> Truth:
    """Write a whole synthetic run folder; return its known answers."""
    drill = drill or Drill()
    run_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(drill.seed)
    target = drill.targets()
    achieved = np.rint(target).astype(np.int64)
    n = int(achieved.sum())
    second = np.repeat(np.arange(drill.seconds), achieved)
    offset = np.zeros(n)
    if n:
        offset = np.concatenate([(np.arange(k) + 0.5) / k for k in achieved if k > 0])
    start = T0 + second + offset
    hit = rng.random(n) < drill.hit_ratio
    late_ms = np.where(rng.random(n) < drill.late_share, rng.exponential(5.0, n) + 0.5, 0.0)
    status = np.full(n, 200, dtype=np.int64)
    region_index = np.arange(n) % len(drill.regions)
    region = np.asarray(drill.regions, dtype=object)[region_index]
    # The router's choice: a bucket fault leaves it alone (the edge's origin group
    # answers from the other region), a fault that moves traffic moves it too.
    chosen = region.copy()
    served = _apply_faults(drill, rng, start, hit, status, region, chosen)
    failed = status >= 400
    router_ms = rng.lognormal(math.log(0.4), 0.5, n)
    slow = rng.random(n) < drill.slow_share
    router_ms[slow] = drill.threshold_ms + rng.uniform(1.0, 30.0, int(slow.sum()))
    queries = (rng.random(n) < drill.query_share).astype(np.int64)
    dns_ms = np.where(queries > 0, rng.uniform(0.3, 3.0, n), 0.0)
    router_ms += dns_ms
    router_ms = np.round(router_ms, 2)
    router_ms[router_ms < 0.01] = 0.01
    viewer_ms = np.where(hit, rng.lognormal(math.log(2.0), 0.3, n), 8.0 + router_ms * 1.2)
    viewer_ms = np.round(viewer_ms, 3)
    spike_start = T0 + drill.spike_at_s
    cold_p = np.where(
        (start >= spike_start) & (start < spike_start + 2), drill.spike_cold_share, drill.cold_share
    )
    cold = ~hit & (rng.random(n) < cold_p)
    cold[np.flatnonzero(~hit)[:2]] = True  # the first environments start cold
    init_ms = np.round(rng.uniform(150.0, 260.0, n), 2)
    x_cache = np.where(hit, HIT, np.where(failed, ERROR, MISS))
    origin_region = np.where(hit, "", region)
    states = np.where(queries > 0, "miss", "hit").astype(object)
    for fault in drill.faults:
        in_fault = (start >= T0 + fault.start_s) & (start < T0 + fault.end_s) & (queries > 0)
        states[in_fault & fault.fault.startswith("dns")] = "stale"

    write_requests(
        run_dir / "requests.csv",
        (
            Row(
                start=float(start[i]),
                duration_ms=float(viewer_ms[i] + (init_ms[i] if cold[i] else 0.0)),
                status=int(status[i]),
                x_cache=str(x_cache[i]),
                origin_region=str(origin_region[i]),
                late_ms=float(late_ms[i]),
                error=f"HTTPError('{status[i]} Server Error')" if failed[i] else "",
                cf_id=f"cf{i:010d}",
            )
            for i in range(n)
        ),
    )
    write_run_json(
        run_dir,
        start=T0,
        end=T0 + drill.seconds,
        requests=n,
        failures=int(failed.sum()),
        late_starts=int(np.count_nonzero(late_ms > 0)),
        malformed_lines=0,
        memory_mb=drill.memory_mb,
        billing_threshold_ms=drill.threshold_ms,
    )
    late_per_second = np.bincount(second[late_ms > 0], minlength=drill.seconds)
    if drill.rate_csv:
        write_rate(
            run_dir / "rate.csv",
            (
                (k, float(target[k]), float(achieved[k]), float(late_per_second[k]))
                for k in range(drill.seconds)
            ),
        )
    if drill.faults:
        write_fault_documents(
            run_dir / "faults.jsonl",
            (
                fault_document(
                    f.fault,
                    f.target,
                    T0 + f.start_s,
                    T0 + f.end_s,
                    region=f.target.removeprefix("s3:") if f.bucket else None,
                    kind=f.kind,
                )
                for f in drill.faults
            ),
        )
    if drill.locust_csv:
        _write_locust(run_dir, viewer_ms, failed)
    miss_index = np.flatnonzero(~hit)
    if drill.logs:
        _write_logs(
            run_dir,
            drill,
            start,
            miss_index,
            router_ms,
            cold,
            init_ms,
            states,
            queries,
            dns_ms,
            chosen,
        )
    if drill.access_log:
        write_access_log(
            run_dir,
            (
                access_line(
                    float(start[i]),
                    status=int(status[i]),
                    result="Hit" if hit[i] else ("Error" if failed[i] else "Miss"),
                    detail="OriginCommError" if failed[i] else "",
                    taken=float(viewer_ms[i]) / 1000.0,
                )
                for i in range(n)
            ),
        )
    miss_states = states[miss_index]
    return Truth(
        requests=n,
        failures=int(failed.sum()),
        late=int(np.count_nonzero(late_ms > 0)),
        hits=int(hit.sum()),
        invocations=len(miss_index),
        cold_starts=int(cold.sum()),
        dns_queries=int(queries[miss_index].sum()),
        above_threshold=int(np.count_nonzero(router_ms[miss_index] > drill.threshold_ms)),
        states={s: int(np.count_nonzero(miss_states == s)) for s in ("hit", "miss", "stale")},
        target_total=float(target.sum()),
        served=served,
    )


def _apply_faults(
    drill: Drill,
    rng: np.random.Generator,
    start: np.ndarray,
    hit: np.ndarray,
    status: np.ndarray,
    region: np.ndarray,
    chosen: np.ndarray,
) -> list[tuple[float, float | None] | None]:
    """Errors from each fault's start for its impact time; traffic moved off its region.

    Returns each bucket fault's (failover_s, failback_s) as the requests now hold them.
    """
    served: list[tuple[float, float | None] | None] = []
    for fault in drill.faults:
        begin, end = T0 + fault.start_s, T0 + fault.end_s
        hit_at = (start >= begin) & (start < begin + fault.impact_s)
        broken = hit_at & ~hit & (rng.random(len(start)) < fault.error_rate)
        status[broken] = 503
        others = [r for r in drill.regions if r != fault.region]
        if not fault.bucket:
            served.append(None)
            if fault.moves_traffic and others:
                moved = (start >= begin) & (start < end) & (region == fault.region)
                region[moved] = others[0]
                chosen[moved] = others[0]
            continue
        off = begin + fault.failover_s
        back = end + fault.failback_s if fault.failback_s is not None else math.inf
        moved = (start >= off) & (start < back) & (region == fault.region)
        region[moved] = others[0]
        failover_s = 0.0
        if fault.failover_s > 0:
            last = int(np.searchsorted(start, off, side="left")) - 1
            hit[last] = False
            region[last] = chosen[last] = fault.region
            failover_s = _as_written(start[last]) - begin
        failback_s = None
        first = int(np.searchsorted(start, back, side="left"))
        if first < len(start):
            hit[first] = False
            region[first] = chosen[first] = fault.region
            failback_s = _as_written(start[first]) - end
        served.append((failover_s, failback_s))
    return served


def _as_written(epoch: float) -> float:
    """A start time as the analysis reads it back from requests.csv (microseconds)."""
    return float(f"{epoch:.6f}")


def _write_logs(
    run_dir: Path,
    drill: Drill,
    start: np.ndarray,
    miss_index: np.ndarray,
    router_ms: np.ndarray,
    cold: np.ndarray,
    init_ms: np.ndarray,
    states: np.ndarray,
    queries: np.ndarray,
    dns_ms: np.ndarray,
    region: np.ndarray,
) -> None:
    folder = run_dir / "logs" / "lambda"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{drill.log_region}.{FUNCTION}.log"
    stamps: dict[int, str] = {}

    def stamp(epoch: float) -> str:
        millis = int(epoch * 1000.0)
        head = stamps.get(millis // 1000)
        if head is None:
            head = stamps[millis // 1000] = time.strftime(
                "%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)
            )
        return f"{head}.{millis % 1000:03d}Z"

    with path.open("w", encoding="utf-8") as handle:
        for i in miss_index.tolist():
            request_id = f"5f2b0c1e-0000-4000-8000-{i:012d}"
            begin = float(start[i]) + 0.001
            init = float(init_ms[i]) if cold[i] else None
            if init is not None:
                begin += init / 1000.0
            duration = float(router_ms[i])
            end = begin + duration / 1000.0
            state = str(states[i])
            stale = state == "stale"
            end_stamp = stamp(end)
            handle.write(f"{stamp(begin)}\tSTART RequestId: {request_id} Version: 1\n")
            handle.write(
                end_stamp
                + "\t"
                + route_line(
                    request_id,
                    cache_state=state,
                    region=str(region[i]),
                    dns_ms=float(dns_ms[i]),
                    handler_ms=duration * 0.95,
                    dns_queries=int(queries[i]),
                    reason="refresh failed: SERVFAIL" if stale else "",
                    stale_age_s=3.5 if stale else 0.0,
                    timestamp_ms=int(end * 1000),
                    cf_request_id=f"cf{i:010d}",  # as the router writes CloudFront's id
                )
                + "\n"
            )
            handle.write(f"{end_stamp}\tEND RequestId: {request_id}\n")
            handle.write(
                end_stamp
                + "\t"
                + report_line(request_id, duration, memory_mb=drill.memory_mb, init_ms=init)
                + "\n"
            )


def _write_locust(run_dir: Path, viewer_ms: np.ndarray, failed: np.ndarray) -> None:
    labels = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
    qs = [50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100]
    values = np.percentile(viewer_ms, qs) if len(viewer_ms) else [0] * len(qs)
    rounded = [_two_significant(v) for v in values]
    header = [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
        *labels,
    ]
    count = len(viewer_ms)
    row = [
        "",
        "Aggregated",
        count,
        int(failed.sum()),
        rounded[0],
        float(np.mean(viewer_ms)) if count else 0,
        0,
        0,
        1024,
        0,
        0,
        *rounded,
    ]
    with (run_dir / "locust_stats.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(["GET", "/media/[key]", *row[2:]])
        writer.writerow(row)
    with (run_dir / "locust_failures.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"])
        if failed.any():
            writer.writerow(["GET", "/media/[key]", "HTTPError('503')", int(failed.sum()), "", ""])
    with (run_dir / "locust_exceptions.csv").open("w", newline="") as handle:
        csv.writer(handle).writerow(["Count", "Message", "Traceback", "Nodes"])


def _two_significant(value: float) -> int:
    if value <= 0:
        return 0
    digits = math.floor(math.log10(value))
    return round(round(value, 1 - digits))
