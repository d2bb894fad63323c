"""One run folder, read and analysed at 1 s resolution.

:func:`load_run` reads every file of the folder (docs/formats.md);
:func:`analyse` computes each measure from the run's own data. A measure
whose input the run lacks (no runtime logs on a real distribution, no
``rate.csv``, no fault timeline) is ``None`` and the reason is kept in
``Analysis.notes``: nothing is assumed in its place.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from results.billing import DEFAULT_THRESHOLD_MS, Billing, Prices, bill
from results.cache_metrics import DnsCacheMetrics, EdgeCacheMetrics, dns_cache, edge_cache
from results.environments import Environments, environments
from results.errors import MalformedLines, RunFolderError
from results.failover import (
    DEFAULT_ERROR_RATE,
    DEFAULT_STABLE_S,
    Failover,
    failover,
    observed_until,
)
from results.fault_windows import FaultWindow, fault_windows
from results.latency import DEFAULT_PERCENTILES, WindowSeries, percentiles, sliding_percentiles
from results.loading import read_inputs
from results.run_folder import (
    FAULTS_JSONL,
    RATE_CSV,
    RUN_JSON,
    read_faults,
    read_locust,
    read_rate,
    read_run_info,
)
from results.timeline import Timeline

if TYPE_CHECKING:
    from pathlib import Path

    from results.access_log import AccessLog
    from results.logs import RuntimeLogs
    from results.records import FloatArray, IntArray, RequestRecords
    from results.run_folder import Fault, LocustStats, RateSeries, RunInfo

# Log lines this long after the run's end still belong to it: an invocation
# sent in the last second may run up to the origin trigger's 30 s timeout.
LOG_GRACE_S = 31.0
# The router's choice when it left the request on the distribution's own origin.
DEFAULT_ORIGIN = "default origin"


@dataclass(frozen=True, slots=True)
class Options:
    """Settings of an analysis; every one has a documented default."""

    window_s: int = 10
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    memory_mb: int | None = None  # overrides run.json and the REPORT lines
    billing_threshold_ms: float | None = None  # overrides run.json
    prices: Prices = field(default_factory=Prices)
    failover_error_rate: float = DEFAULT_ERROR_RATE
    failover_stable_s: int = DEFAULT_STABLE_S
    strict: bool = False  # a malformed line is an error instead of being skipped
    workers: int | None = None  # threads reading big files (None: the CPUs, at most 4)


@dataclass(frozen=True, slots=True)
class RunData:
    """Everything read from a run folder."""

    path: Path
    info: RunInfo
    records: RequestRecords
    rate: RateSeries | None
    faults: tuple[Fault, ...] | None  # None: the run has no fault timeline
    locust: LocustStats | None
    runtime: RuntimeLogs | None
    access: AccessLog | None
    folder_malformed: MalformedLines


def load_run(path: Path, *, strict: bool = False, workers: int | None = None) -> RunData:
    """Read a run folder; raise RunFolderError/FormatError naming the file and line.

    ``workers`` caps the threads reading big files (default: the CPUs, at most 4;
    1 reads one file at a time, one block at a time).
    """
    if not path.is_dir():
        raise RunFolderError(path, "not a directory")
    info = read_run_info(path / RUN_JSON)
    malformed = MalformedLines(strict=strict)
    inputs = read_inputs(path, strict=strict, workers=workers)
    return RunData(
        path=path,
        info=info,
        records=inputs.records,
        rate=read_rate(path / RATE_CSV, malformed),
        faults=read_faults(path / FAULTS_JSONL, malformed),
        locust=read_locust(path),
        runtime=inputs.runtime,
        access=inputs.access,
        folder_malformed=malformed,
    )


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    """The viewers' requests: volume, failures and lateness."""

    total: int
    failures: int
    error_rate: float
    by_status: dict[int, int]  # every status, 0 = no response
    failures_by_kind: dict[str, int]
    bytes: int
    late_starts: int
    late_ms: dict[float, float]  # percentiles of lateness among late requests (p100 = max)
    mean_rps: float
    peak_rps: int
    per_second: IntArray
    failures_per_second: IntArray
    error_rate_per_second: FloatArray
    error_classes_per_second: dict[str, IntArray]  # connection / 4xx / 5xx / other


@dataclass(frozen=True, slots=True)
class RateMetrics:
    """Target against achieved rate, from ``rate.csv``."""

    target_total: float
    achieved_total: float
    late_total: float
    achieved_ratio: float  # achieved / target requests (NaN without a target)
    short_seconds: int  # seconds with a target that achieved under 90 % of it
    target_per_second: FloatArray
    achieved_per_second: FloatArray
    late_per_second: FloatArray
    rows_outside: int


@dataclass(frozen=True, slots=True)
class LatencyMetrics:
    """Viewer latency (``duration_ms``): whole run and sliding windows."""

    overall: dict[float, float]
    mean_ms: float
    max_ms: float
    window: WindowSeries


@dataclass(frozen=True, slots=True)
class OriginMetrics:
    """Where requests went: the viewers' origin region and the router's choice."""

    viewer: dict[str, int]  # origin_region reported to the viewer (empty label dropped)
    router: dict[str, int]  # region in the router's lines ("" = default origin)
    per_second: dict[str, IntArray]  # router choice when logged, else the viewers'
    source: str
    # Misses per second by the region that answered them (requests.csv origin_region)
    # and router invocations per second by the region the router chose ("default
    # origin" when it left the request there); empty when the run lacks the column.
    viewer_per_second: dict[str, IntArray] = field(default_factory=dict)
    router_per_second: dict[str, IntArray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RouterMetrics:
    """The router's duration against the billing threshold."""

    source: str  # "REPORT Duration" or "router handler_ms"
    invocations: int
    duration_ms: dict[float, float]
    mean_ms: float
    max_ms: float
    threshold_ms: float
    above_threshold: int
    handler_ms: dict[float, float]  # from the router's own lines, when present
    durations: FloatArray = field(repr=False)

    @property
    def share_above_threshold(self) -> float:
        """Share of invocations slower than the billing threshold."""
        return self.above_threshold / self.invocations if self.invocations else math.nan


@dataclass(frozen=True, slots=True)
class Check:
    """One consistency check between two independent counts of the same thing."""

    name: str
    expected: float
    found: float
    ok: bool


@dataclass(slots=True)
class Analysis:
    """Every measure of one run."""

    data: RunData
    options: Options
    timeline: Timeline
    requests: RequestMetrics
    latency: LatencyMetrics
    rate: RateMetrics | None
    edge: EdgeCacheMetrics
    origins: OriginMetrics
    router: RouterMetrics | None
    billing: Billing | None
    environments: Environments | None
    dns: DnsCacheMetrics | None
    failovers: tuple[Failover, ...] | None  # None: no faults in this run (error-rate measure)
    checks: list[Check]
    notes: list[str]
    # Each fault by where the misses went and the router's DNS (same order as failovers).
    fault_windows: tuple[FaultWindow, ...] | None = None
    _windows: dict[tuple[int, tuple[float, ...]], WindowSeries] = field(
        default_factory=dict, repr=False
    )

    def window(self, window_s: int, extra: tuple[float, ...] = ()) -> WindowSeries:
        """Sliding-window latency percentiles for any window length (cached).

        ``extra`` adds percentiles beyond the analysis's own (a gate's p75, say).
        """
        window_s = max(1, int(window_s))
        ps = _with_gate_percentiles((*self.options.percentiles, *extra))
        own = self.latency.window
        if window_s == own.window_s and all(p in own.values for p in ps):
            return own
        key = (window_s, ps)
        if key not in self._windows:
            records = self.data.records
            self._windows[key] = sliding_percentiles(
                self.timeline, records.start, records.duration_ms, ps, window_s
            )
        return self._windows[key]

    def percentile(self, p: float) -> float:
        """Whole-run viewer latency percentile."""
        found = self.latency.overall.get(p)
        if found is None:
            found = percentiles(self.data.records.duration_ms, [p])[p]
        return found

    def failovers_with(self, error_rate: float, stable_s: int) -> tuple[Failover, ...] | None:
        """Failover times under another error-rate threshold (the gate's)."""
        if self.data.faults is None:
            return None
        records = self.data.records
        failed = records.failed
        faults = self.data.faults
        ends = observed_until(faults, self.timeline.start + self.timeline.seconds)
        return tuple(
            failover(
                fault,
                records.start,
                failed,
                data_end=end,
                error_rate=error_rate,
                stable_s=stable_s,
            )
            for fault, end in zip(faults, ends, strict=True)
        )

    @property
    def malformed_lines(self) -> int:
        """Malformed lines skipped across every file of the run."""
        return sum(m.count for m in self._malformed())

    def malformed_examples(self) -> list[str]:
        """``file:line: reason`` of the first malformed lines of each file kind."""
        return [message for m in self._malformed() for message in m.messages()]

    def _malformed(self) -> list[MalformedLines]:
        data = self.data
        found = [data.records.malformed, data.folder_malformed]
        if data.runtime is not None:
            found.append(data.runtime.malformed)
        if data.access is not None:
            found.append(data.access.malformed)
        return found


def _with_gate_percentiles(ps: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sorted(set(ps) | set(DEFAULT_PERCENTILES)))


def analyse(data: RunData, options: Options | None = None) -> Analysis:
    """Compute every measure of a run."""
    options = options or Options()
    ps = _with_gate_percentiles(options.percentiles)
    info = data.info
    records = data.records
    notes: list[str] = []
    last_log = _last_log_time(data)
    last_log = min(last_log, info.end + LOG_GRACE_S)
    last_request = float(records.start[-1]) if len(records) else info.end
    timeline = Timeline.covering(info.start, info.end, last_request, last_log)
    runtime = data.runtime
    # The runtime logs' measures on a second thread meanwhile: numpy's sorts and
    # partitions let go of the GIL, and the two halves share nothing but input.
    with ThreadPoolExecutor(1) as pool:
        envs_future = (
            pool.submit(environments, runtime.invocations, timeline, ps)
            if runtime is not None and len(runtime.invocations)
            else None
        )
        dns_future = (
            pool.submit(dns_cache, runtime.routes, len(records), timeline, ps)
            if runtime is not None and len(runtime.routes)
            else None
        )
        requests = _requests(records, timeline, ps, info)
        latency = LatencyMetrics(
            overall=percentiles(records.duration_ms, ps),
            mean_ms=float(records.duration_ms.mean()) if len(records) else math.nan,
            max_ms=float(records.duration_ms.max()) if len(records) else math.nan,
            window=sliding_percentiles(
                timeline, records.start, records.duration_ms, ps, options.window_s
            ),
        )
        envs = envs_future.result() if envs_future is not None else None
        dns = dns_future.result() if dns_future is not None else None
    rate = _rate(data.rate, timeline) if data.rate is not None else None
    if rate is None:
        notes.append("no rate.csv: target rate unknown, achieved ratio not measured")
    router = billing = None
    if runtime is None:
        notes.append(
            "no runtime logs (logs/lambda/): router duration, billing, cold starts "
            "and DNS cache not measured"
        )
    else:
        router = _router(runtime, ps, _threshold(info, options)[0])
        billing = _billing(runtime, info, options, notes)
        if envs is None:
            notes.append("no REPORT lines: cold starts and concurrency not measured")
        if dns is None:
            notes.append("no router log lines: DNS cache not measured")
    if data.access is None:
        notes.append("no access log (logs/cloudfront/): edge result types not measured")
    analysis = Analysis(
        data=data,
        options=options,
        timeline=timeline,
        requests=requests,
        latency=latency,
        rate=rate,
        edge=edge_cache(records, data.access, timeline),
        origins=_origins(records, runtime, timeline),
        router=router,
        billing=billing,
        environments=envs,
        dns=dns,
        failovers=None,
        checks=[],
        notes=notes,
    )
    analysis.failovers = analysis.failovers_with(
        options.failover_error_rate, options.failover_stable_s
    )
    if data.faults is not None:
        analysis.fault_windows = fault_windows(
            data.faults,
            records,
            runtime.routes if runtime is not None else None,
            run_start=info.start,
            data_end=timeline.start + timeline.seconds,
        )
    analysis.checks = _checks(data, analysis)
    return analysis


def _last_log_time(data: RunData) -> float:
    times = [data.info.end]
    if data.runtime is not None:
        for column in (data.runtime.invocations.end, data.runtime.routes.time):
            if len(column):
                times.append(float(column[-1]))
    if data.access is not None and len(data.access):
        times.append(float(data.access.time[-1]))
    return max(times)


_KIND = re.compile(r"^([A-Za-z_][\w.]*)(?=\(|:|$)")


def error_kind(text: str, status: int) -> str:
    """A short, stable name for a failure: the exception's name, else the HTTP status."""
    match = _KIND.match(text.strip())
    if match:
        return match.group(1)
    if status == 0:
        return "no response"
    if status >= 400:
        return f"HTTP {status}"
    return text.strip()[:60] or f"HTTP {status}"


def _requests(
    records: RequestRecords, timeline: Timeline, ps: tuple[float, ...], info: RunInfo
) -> RequestMetrics:
    failed = records.failed
    total = len(records)
    failures = int(np.count_nonzero(failed))
    statuses, status_counts = np.unique(records.status, return_counts=True)
    kinds: dict[str, int] = {}
    if failures:
        pairs, pair_counts = np.unique(
            np.stack((records.error.codes[failed].astype(np.int64), records.status[failed])),
            axis=1,
            return_counts=True,
        )
        for (code, status), n in zip(pairs.T, pair_counts, strict=True):
            kind = error_kind(records.error.labels[code], int(status))
            kinds[kind] = kinds.get(kind, 0) + int(n)
    per_second = timeline.counts(records.start)
    failures_per_second = timeline.counts(records.start, failed)
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate_per_second = np.where(
            per_second > 0, failures_per_second / np.maximum(per_second, 1), np.nan
        )
    status = records.status
    classes = {
        "no response": failed & (status == 0),
        "4xx": failed & (status >= 400) & (status < 500),
        "5xx": failed & (status >= 500),
        "other": failed & (status > 0) & (status < 400),
    }
    late = records.late_ms > 0
    duration = max(info.duration_s, 1e-9)
    return RequestMetrics(
        total=total,
        failures=failures,
        error_rate=failures / total if total else math.nan,
        by_status={int(s): int(n) for s, n in zip(statuses, status_counts, strict=True)},
        failures_by_kind=dict(sorted(kinds.items(), key=lambda item: -item[1])),
        bytes=int(records.bytes.sum()),
        late_starts=int(np.count_nonzero(late)),
        late_ms=percentiles(records.late_ms[late], [*ps, 100.0]),
        mean_rps=total / duration,
        peak_rps=int(per_second.max()) if len(per_second) else 0,
        per_second=per_second,
        failures_per_second=failures_per_second,
        error_rate_per_second=error_rate_per_second,
        error_classes_per_second={
            name: timeline.counts(records.start, mask) for name, mask in classes.items()
        },
    )


def _rate(rate: RateSeries, timeline: Timeline) -> RateMetrics:
    inside = (rate.second >= 0) & (rate.second < timeline.seconds)
    target = np.zeros(timeline.seconds)
    achieved = np.zeros(timeline.seconds)
    late = np.zeros(timeline.seconds)
    np.add.at(target, rate.second[inside], rate.target[inside])
    np.add.at(achieved, rate.second[inside], rate.achieved[inside])
    np.add.at(late, rate.second[inside], rate.late[inside])
    target_total = float(rate.target.sum())
    achieved_total = float(rate.achieved.sum())
    asked = target > 0
    return RateMetrics(
        target_total=target_total,
        achieved_total=achieved_total,
        late_total=float(rate.late.sum()),
        achieved_ratio=achieved_total / target_total if target_total > 0 else math.nan,
        short_seconds=int(np.count_nonzero(asked & (achieved < 0.9 * target))),
        target_per_second=target,
        achieved_per_second=achieved,
        late_per_second=late,
        rows_outside=int(np.count_nonzero(~inside)),
    )


def _threshold(info: RunInfo, options: Options) -> tuple[float, str]:
    if options.billing_threshold_ms is not None:
        return options.billing_threshold_ms, "option"
    if info.billing_threshold_ms is not None:
        return info.billing_threshold_ms, "run.json"
    return DEFAULT_THRESHOLD_MS, "router default (run.json has none)"


def _router(runtime: RuntimeLogs, ps: tuple[float, ...], threshold: float) -> RouterMetrics | None:
    invocations = runtime.invocations
    routes = runtime.routes
    if len(invocations):
        source, durations = "REPORT Duration", invocations.duration_ms
    elif len(routes):
        source, durations = "router handler_ms", routes.handler_ms
    else:
        return None
    return RouterMetrics(
        source=source,
        invocations=len(durations),
        duration_ms=percentiles(durations, ps),
        mean_ms=float(durations.mean()),
        max_ms=float(durations.max()),
        threshold_ms=threshold,
        above_threshold=int(np.count_nonzero(durations > threshold)),
        handler_ms=percentiles(routes.handler_ms, ps),
        durations=durations,
    )


def _billing(
    runtime: RuntimeLogs, info: RunInfo, options: Options, notes: list[str]
) -> Billing | None:
    invocations = runtime.invocations
    if not len(invocations):
        notes.append("no REPORT lines: billing not measured")
        return None
    if options.memory_mb is not None:
        memory, memory_source = float(options.memory_mb), "option"
    elif info.memory_mb is not None:
        memory, memory_source = float(info.memory_mb), "run.json"
    else:
        sizes, counts = np.unique(invocations.memory_mb, return_counts=True)
        memory, memory_source = float(sizes[np.argmax(counts)]), "REPORT Memory Size"
    threshold, threshold_source = _threshold(info, options)
    return bill(
        invocations.duration_ms,
        memory_mb=memory,
        memory_source=memory_source,
        threshold_ms=threshold,
        threshold_source=threshold_source,
        reported_billed_ms=invocations.billed_ms,
        prices=options.prices,
    )


def _origins(
    records: RequestRecords, runtime: RuntimeLogs | None, timeline: Timeline
) -> OriginMetrics:
    viewer = {label: n for label, n in records.origin_region.counts().items() if label}
    router: dict[str, int] = {}
    viewer_per_second = {
        label: timeline.counts(records.start, records.origin_region.label_mask(label))
        for label in records.origin_region.labels
        if label
    }
    router_per_second: dict[str, IntArray] = {}
    if runtime is not None and len(runtime.routes):
        routes = runtime.routes
        router = routes.region.counts()
        source = "router lines"
        for label in routes.region.labels:
            name = label or DEFAULT_ORIGIN
            router_per_second[name] = timeline.counts(
                routes.time, routes.region.label_mask(label)
            )
        per_second = router_per_second
    else:
        source = "viewer origin_region"
        per_second = viewer_per_second
    return OriginMetrics(
        viewer=viewer,
        router=router,
        per_second=per_second,
        source=source,
        viewer_per_second=viewer_per_second,
        router_per_second=router_per_second,
    )


def _checks(data: RunData, analysis: Analysis) -> list[Check]:
    """Independent counts of the same things, side by side."""
    info = data.info
    records = data.records
    checks: list[Check] = []

    def add(name: str, expected: float | None, found: float, *, at_least: bool = False) -> None:
        if expected is None:
            return
        ok = found >= expected if at_least else found == expected
        checks.append(Check(name, float(expected), float(found), ok))

    add("run.json requests = requests.csv rows", info.requests, len(records))
    add("run.json failures = failed rows", info.failures, analysis.requests.failures)
    add("run.json late_starts = late rows", info.late_starts, analysis.requests.late_starts)
    if data.rate is not None:
        add("rate.csv achieved = requests.csv rows", len(records), float(data.rate.achieved.sum()))
    if data.locust is not None:
        add("Locust request count = requests.csv rows", len(records), data.locust.requests)
    if data.access is not None:
        add("access-log lines = requests.csv rows", len(records), len(data.access))
    if data.runtime is not None:
        runtime = data.runtime
        add("router lines = REPORT lines", len(runtime.invocations), len(runtime.routes))
        add("START lines = REPORT lines", len(runtime.invocations), runtime.starts)
        misses = int(
            np.count_nonzero(
                records.x_cache.mask(
                    [label.lower().startswith("miss") for label in records.x_cache.labels]
                )
            )
        )
        add("REPORT lines >= edge misses", misses, len(runtime.invocations), at_least=True)
    return checks
