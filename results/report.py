"""A run's report: ``report.html`` (self-contained), ``summary.json``, ``summary.md``, plots.

``report.html`` embeds its plots as data URIs and its style inline: it opens
from a file, attached to a CI job or mailed, with no network and no script.
Its markup is ``templates/report.html.j2``; this module hands it text and numbers.
``summary.md`` is short enough for a pull-request comment.

Given a gate verdict, both open with it (PASS, FAIL or ABORTED), the plots draw
its thresholds and ``summary.json`` carries it (``verdict``, ``gate``). Which
gate judges a run is the command's choice (``edgedrill report`` and
``edgedrill run`` take :func:`results.gate.default_gate`).
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgedrill_formats.run_folder import LOCUST_HTML
from results.analysis import Analysis, Options, analyse, load_run
from results.gate import Outcome, gate_json
from results.latency import percentile_label
from results.plan import run_plan
from results.plots import write_plots
from results.summary import (
    bytes_per_second,
    fmt,
    headline,
    iso_time,
    memory_used,
    pct,
    size,
    summary,
    window_minimum,
)
from results.templates import render

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from results.gate import GateResult
    from results.plots import PlotResult

logger = logging.getLogger(__name__)

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
REPORT_HTML = "report.html"
PLOTS_DIR = "plots"


def write_report(
    run_dir: Path,
    *,
    options: Options | None = None,
    gate: GateResult | None = None,
    analysis: Analysis | None = None,
) -> Path:
    """Analyse ``run_dir`` and write its summary, plots and report; return report.html."""
    if analysis is None:
        options = options or Options()
        analysis = analyse(
            load_run(run_dir, strict=options.strict, workers=options.workers), options
        )
    minimum = window_minimum(gate.gate if gate is not None else None)
    plots = write_plots(analysis, run_dir / PLOTS_DIR, gate.gate if gate is not None else None)
    document = summary(analysis, min_window_requests=minimum)
    document["verdict"] = _verdict_word(gate) or None
    document["plots"] = {
        result.spec.name: (
            str(result.path.relative_to(run_dir)) if result.path is not None else None
        )
        for result in plots
    }
    if gate is not None:
        document["gate"] = gate_json(gate)  # type: ignore[assignment]
    (run_dir / SUMMARY_JSON).write_text(
        json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    (run_dir / SUMMARY_MD).write_text(markdown(analysis, gate), encoding="utf-8")
    path = run_dir / REPORT_HTML
    path.write_text(render_html(analysis, plots, gate), encoding="utf-8")
    logger.info("wrote %s", path)
    return path


# --- summary.md -------------------------------------------------------------


def _verdict_word(gate: GateResult | None) -> str:
    if gate is None:
        return ""
    if gate.aborted:
        return "ABORTED"
    return "PASS" if gate.passed else "FAIL"


def verdict_text(gate: GateResult) -> str:
    """``2 of 7 thresholds breached: p99_ms, error_rate`` (or how many passed)."""
    counts = gate.counts()
    total = len(gate.verdicts)
    if gate.failed:
        keys = ", ".join(v.threshold.key for v in gate.failed)
        text = f"{counts['fail']} of {total} thresholds breached: {keys}"
    else:
        text = f"{counts['pass']} of {total} thresholds passed"
    if counts["skip"]:
        text += f" ({counts['skip']} skipped: the run lacks their input)"
    if gate.aborted:
        text = f"stopped early ({gate.aborted}); " + text
    return text


def markdown(analysis: Analysis, gate: GateResult | None = None) -> str:
    """A short Markdown summary for a pull-request comment."""
    info = analysis.data.info
    word = _verdict_word(gate)
    title = f"### edgedrill `{info.scenario or 'run'}` drill, {iso_time(info.start)}"
    lines = [title + (f": **{word}**" if word else ""), ""]
    if gate is not None:
        lines += [f"**{word}**: {_md(verdict_text(gate))}.", ""]
    minimum = window_minimum(gate.gate if gate is not None else None)
    lines += ["| measure | value |", "|---|---|"]
    lines += [
        f"| {label} | {_md(value)} |"
        for label, value in headline(analysis, min_window_requests=minimum)
    ]
    if gate is not None:
        counts = gate.counts()
        lines += [
            "",
            f"**Gate** ({_md(gate.gate.source)}): {counts['pass']} passed, "
            f"{counts['fail']} failed, {counts['skip']} skipped"
            + (f"; stopped early: {_md(gate.aborted)}" if gate.aborted else ""),
            "",
            "| threshold | limit | measured | result |",
            "|---|---|---|---|",
        ]
        for verdict in gate.verdicts:
            value = "n/a" if verdict.value is None else f"{verdict.value:,.4g}"
            result = verdict.outcome.value
            if verdict.outcome is not Outcome.PASS:
                result += f": {_md(verdict.detail)}"
            lines.append(
                f"| `{verdict.threshold.key}` | {_md(verdict.threshold.describe())} | {value} | "
                f"{result} |"
            )
    if analysis.notes:
        lines += ["", "Not measured: " + "; ".join(_md(note) for note in analysis.notes) + "."]
    if analysis.malformed_lines:
        lines += ["", f"{analysis.malformed_lines:,} malformed line(s) skipped (see the report)."]
    lines += ["", f"Full report: `{analysis.data.path / REPORT_HTML}`", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- report.html ------------------------------------------------------------
#
# The page itself is results/templates/report.html.j2. What follows turns an
# Analysis into plain text and numbers for it: every figure formatted here, every
# tag and sentence there, every value escaped by the template.


@dataclass(frozen=True, slots=True)
class Table:
    """A table of text cells; columns from ``numeric`` on are right-aligned."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: int = 1


@dataclass(frozen=True, slots=True)
class Plot:
    """One plot: its PNG as base64 for a data URI, or why it was not drawn."""

    name: str
    title: str
    png_base64: str | None
    path: str
    missing: str


@dataclass(frozen=True, slots=True)
class GateRow:
    """One threshold of the gate and its verdict."""

    key: str
    limit: str
    measured: str
    outcome: str
    detail: str


@dataclass(frozen=True, slots=True)
class GateSection:
    """The gate's verdict, first on the page."""

    word: str
    text: str  # how many thresholds breached, which
    source: str
    aborted: str
    rows: tuple[GateRow, ...]


@dataclass(frozen=True, slots=True)
class LatencySection:
    """Viewer latency percentiles, whole run and worst window."""

    window_s: int
    mean: str
    max: str
    min_requests: str
    skipped: str  # whole windows under min_requests, left out of worst
    table: Table


@dataclass(frozen=True, slots=True)
class RequestsSection:
    """Request counts, statuses, failures and the achieved rate."""

    summary: Table
    by_status: Table
    failures: Table
    rate: Table | None  # None: no rate.csv


@dataclass(frozen=True, slots=True)
class AccessLogSection:
    """What the CloudFront access log says about the edge."""

    lines: str
    hit_ratio: str
    result_types: Table
    detailed_result_types: Table | None


@dataclass(frozen=True, slots=True)
class EdgeSection:
    """Edge cache hits and the origin regions chosen."""

    hit_ratio: str
    hits: str
    requests: str
    by_x_cache: Table
    access: AccessLogSection | None
    origins_source: str
    router_regions: Table
    viewer_regions: Table


@dataclass(frozen=True, slots=True)
class BillingSection:
    """What the router's invocations cost under both billing rules."""

    memory_mb: str
    memory_source: str
    per_million_requests: str
    per_gb_second: str
    rules: Table
    memory_used: Mapping[str, str] | None  # p50, p99, max in MB
    reported_mismatches: str  # empty when every REPORT line agrees


@dataclass(frozen=True, slots=True)
class RouterSection:
    """Router duration against the billing threshold, cost, cold starts."""

    invocations: str
    source: str
    threshold_ms: str
    share_above_threshold: str
    above_threshold: str
    durations: Table
    billing: BillingSection | None
    environments: Table | None


@dataclass(frozen=True, slots=True)
class DnsSection:
    """The router's DNS cache: queries saved, query time, states and reasons."""

    per_1k_invocations: str
    per_1k_requests: str
    saving_factor: str
    query_times: str
    max_stale_age_s: str
    states: Table
    reasons: Table | None


@dataclass(frozen=True, slots=True)
class FaultsSection:
    """Each fault and how long the path took to fail over."""

    error_rate: str
    stable_s: int
    table: Table


@dataclass(frozen=True, slots=True)
class ChecksSection:
    """Cross-checks between the run's files, and the lines that did not parse."""

    table: Table
    malformed_lines: str  # empty when none were skipped
    malformed_examples: tuple[str, ...]
    scenario_malformed_lines: str  # empty when run.json counts none


@dataclass(frozen=True, slots=True)
class ReportPage:
    """Everything report.html shows, as text and numbers."""

    title: str
    scenario: str
    start: str
    end: str
    duration_s: str
    host: str
    local: bool
    versions: str
    path: str
    locust_report: str  # Locust's own HTML report beside this one, "" when absent
    gate: GateSection | None
    headline: Table
    notes: tuple[str, ...]
    plots: tuple[Plot, ...]
    latency: LatencySection
    requests: RequestsSection
    edge: EdgeSection
    router: RouterSection | None
    dns: DnsSection | None
    faults: FaultsSection | None
    checks: ChecksSection


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: int = 1) -> Table:
    return Table(tuple(headers), tuple(tuple(str(cell) for cell in row) for row in rows), numeric)


def _kv(rows: Iterable[tuple[str, object]]) -> Table:
    return _table(("", ""), rows, numeric=2)


def _counts(mapping: Mapping[str, int], total: int | None = None) -> list[tuple[str, str, str]]:
    whole = total if total is not None else sum(mapping.values())
    return [
        (name or "(empty)", f"{n:,}", pct(n / whole if whole else float("nan")))
        for name, n in sorted(mapping.items(), key=lambda item: -item[1])
    ]


def _percentiles(values: Mapping[float, float], keep: Iterable[float], digits: int) -> str:
    """``p50 1.2 ms / p99 3.4 ms``: the percentiles in ``keep``, in ``values``' order."""
    wanted = set(keep)
    return " / ".join(
        f"{percentile_label(p)} {fmt(v, 'ms', digits)}" for p, v in values.items() if p in wanted
    )


def _plots(analysis: Analysis, plots: Sequence[PlotResult]) -> tuple[Plot, ...]:
    run_dir = analysis.data.path
    return tuple(
        Plot(
            name=result.spec.name,
            title=result.spec.title,
            png_base64=(
                base64.b64encode(result.path.read_bytes()).decode("ascii")
                if result.path is not None
                else None
            ),
            path=str(result.path.relative_to(run_dir)) if result.path is not None else "",
            missing=result.missing,
        )
        for result in plots
    )


def _gate(gate: GateResult | None) -> GateSection | None:
    if gate is None:
        return None
    return GateSection(
        word=_verdict_word(gate),
        text=verdict_text(gate),
        source=gate.gate.source,
        aborted=gate.aborted,
        rows=tuple(
            GateRow(
                key=verdict.threshold.key,
                limit=verdict.threshold.describe(),
                measured="n/a" if verdict.value is None else f"{verdict.value:,.4g}",
                outcome=verdict.outcome.value,
                detail=verdict.detail,
            )
            for verdict in gate.verdicts
        ),
    )


def _latency(analysis: Analysis, min_requests: int) -> LatencySection:
    latency = analysis.latency
    window = latency.window
    locust = analysis.data.locust
    rows = []
    for p in analysis.options.percentiles:
        worst = window.worst(p, min_count=min_requests)
        locust_value = locust.percentiles_ms.get(f"{p:g}%") if locust is not None else None
        rows.append(
            (
                percentile_label(p),
                fmt(latency.overall[p], "ms", 3),
                f"{fmt(worst[0], 'ms', 3)} (ending at {worst[1]} s, {worst[2]:,} requests)"
                if worst
                else "n/a",
                fmt(locust_value, "ms", 0) if locust_value is not None else "n/a",
            )
        )
    return LatencySection(
        window_s=window.window_s,
        mean=fmt(latency.mean_ms, "ms", 3),
        max=fmt(latency.max_ms, "ms", 3),
        min_requests=f"{min_requests:,}",
        skipped=f"{window.sparse(min_requests):,}",
        table=_table(
            ("percentile", "whole run", f"worst {window.window_s} s window", "Locust (rounded)"),
            rows,
        ),
    )


def _requests(analysis: Analysis) -> RequestsSection:
    requests = analysis.requests
    rate = analysis.rate
    plan = run_plan(analysis)
    by_status = {
        ("no response (0)" if k == 0 else str(k)): v for k, v in requests.by_status.items()
    }
    return RequestsSection(
        summary=_kv(
            [
                ("requests", f"{requests.total:,}"),
                ("failed", f"{requests.failures:,} ({pct(requests.error_rate, 3)})"),
                ("planned / sent", plan.describe()),
                (
                    "bytes received",
                    f"{requests.bytes:,} ({size(requests.bytes)}, "
                    f"{size(bytes_per_second(analysis))}/s mean)",
                ),
                (
                    "mean / peak rate",
                    f"{fmt(requests.mean_rps, 'req/s')} / {requests.peak_rps:,} req/s",
                ),
                ("late starts", f"{requests.late_starts:,}"),
                (
                    "lateness (late requests)",
                    _percentiles(requests.late_ms, (50.0, 99.0, 100.0), 2),
                ),
            ]
        ),
        by_status=_table(("status", "requests", "share"), _counts(by_status, requests.total)),
        failures=_table(
            ("kind", "failures", "share of failures"), _counts(requests.failures_by_kind)
        ),
        rate=None
        if rate is None
        else _kv(
            [
                ("target requests", fmt(rate.target_total, digits=0)),
                ("achieved requests", fmt(rate.achieved_total, digits=0)),
                (
                    "achieved / target",
                    pct(rate.achieved_ratio, 2)
                    + (" (of the schedule up to the stop: the plan was cut)" if plan.cut else ""),
                ),
                ("seconds under 90 % of target", f"{rate.short_seconds:,}"),
                ("late starts (rate.csv)", fmt(rate.late_total, digits=0)),
            ]
        ),
    )


def _edge(analysis: Analysis) -> EdgeSection:
    edge = analysis.edge
    origins = analysis.origins
    access = None
    if analysis.data.access is not None:
        access = AccessLogSection(
            lines=f"{len(analysis.data.access):,}",
            hit_ratio=pct(edge.log_hit_ratio, 2),
            result_types=_table(
                ("x-edge-result-type", "lines", "share"), _counts(edge.log_result_types)
            ),
            detailed_result_types=_table(
                ("error detail (x-edge-detailed-result-type)", "lines", "share"),
                _counts(edge.log_detailed_result_types),
            )
            if edge.log_detailed_result_types
            else None,
        )
    return EdgeSection(
        hit_ratio=pct(edge.hit_ratio, 2),
        hits=f"{edge.hits:,}",
        requests=f"{edge.requests:,}",
        by_x_cache=_table(("x-cache", "responses", "share"), _counts(edge.by_x_cache)),
        access=access,
        origins_source=origins.source,
        router_regions=_table(("router's choice", "invocations", "share"), _counts(origins.router)),
        viewer_regions=_table(
            ("viewer origin_region", "requests", "share"), _counts(origins.viewer)
        ),
    )


def _billing(analysis: Analysis) -> BillingSection | None:
    billing = analysis.billing
    if billing is None:
        return None
    used = memory_used(analysis)
    return BillingSection(
        memory_mb=f"{billing.memory_mb:g}",
        memory_source=billing.memory_source,
        per_million_requests=f"{billing.prices.per_million_requests:g}",
        per_gb_second=f"{billing.prices.per_gb_second:.8f}",
        rules=_table(
            (
                "rule",
                "mean billed (ms)",
                "GB-seconds",
                "cost of this run ($)",
                "cost per million invocations ($)",
            ),
            [
                (
                    f"{rule.step_ms} ms steps",
                    fmt(rule.mean_billed_ms, digits=2),
                    fmt(rule.gb_seconds, digits=4),
                    fmt(rule.cost_usd, digits=6),
                    fmt(rule.cost_per_million_usd, digits=4),
                )
                for rule in billing.rules
            ],
        ),
        memory_used=None if used is None else {k: f"{v:g}" for k, v in used.items()},
        reported_mismatches=(
            f"{billing.reported_mismatches:,}" if billing.reported_mismatches else ""
        ),
    )


def _environments(analysis: Analysis) -> Table | None:
    envs = analysis.environments
    if envs is None:
        return None
    return _kv(
        [
            ("cold starts", f"{envs.cold_starts:,} of {envs.invocations:,} invocations"),
            ("Init Duration", _percentiles(envs.init_ms, (50.0, 99.0, 100.0), 1)),
            ("peak concurrent executions", f"{envs.max_concurrency:,}"),
            (
                "cold starts by region",
                ", ".join(f"{k}: {v:,}" for k, v in envs.cold_by_region.items()) or "none",
            ),
        ]
    )


def _router(analysis: Analysis) -> RouterSection | None:
    router = analysis.router
    if router is None:
        return None
    return RouterSection(
        invocations=f"{router.invocations:,}",
        source=router.source,
        threshold_ms=f"{router.threshold_ms:g}",
        share_above_threshold=pct(router.share_above_threshold, 3),
        above_threshold=f"{router.above_threshold:,}",
        durations=_table(
            ("percentile", "duration (ms)", "router handler_ms (ms)"),
            [
                (
                    percentile_label(p),
                    fmt(router.duration_ms[p], digits=3),
                    fmt(router.handler_ms.get(p), digits=3),
                )
                for p in analysis.options.percentiles
            ],
        ),
        billing=_billing(analysis),
        environments=_environments(analysis),
    )


def _dns(analysis: Analysis) -> DnsSection | None:
    dns = analysis.dns
    if dns is None:
        return None
    return DnsSection(
        per_1k_invocations=fmt(dns.queries_per_1k_invocations, digits=2),
        per_1k_requests=fmt(dns.queries_per_1k_requests, digits=2),
        saving_factor=fmt(dns.saving_factor, "x", 1),
        query_times=_percentiles(dns.query_ms, (50.0, 99.0), 2),
        max_stale_age_s=f"{dns.max_stale_age_s:g}",
        states=_table(
            ("cache state", "invocations", "share"), _counts(dns.states, dns.invocations)
        ),
        reasons=_table(("state", "reason", "invocations"), dns.reasons[:20], numeric=2)
        if dns.reasons
        else None,
    )


def _faults(analysis: Analysis) -> FaultsSection | None:
    if analysis.failovers is None:
        return None
    rows = []
    start = analysis.data.info.start
    windows = analysis.fault_windows or ()
    for index, item in enumerate(analysis.failovers):
        fault = item.fault
        window = windows[index] if index < len(windows) else None
        served = window.served if window is not None else None
        dns = window.router_dns if window is not None else None
        rows.append(
            (
                fault.fault,
                fault.target or "-",
                f"{fault.start - start:.1f}",
                f"{fault.end - fault.start:.1f}" if fault.end is not None else "(open)",
                _seconds(served.failover_s, "misses still reached it")
                if served is not None and served.misses
                else "-",
                _seconds(served.failback_s, "never") if served is not None else "-",
                f"{item.failover_s:g} s" if item.failover_s is not None else "not recovered",
                f"{window.errors:,} of {window.requests:,}" if window is not None else "-",
                pct(dns.absorbed_share, 1) if dns is not None else "-",
                pct(item.peak_error_rate, 1),
            )
        )
    options = analysis.options
    return FaultsSection(
        error_rate=f"{options.failover_error_rate:g}",
        stable_s=options.failover_stable_s,
        table=_table(
            (
                "fault",
                "target",
                "start (s)",
                "duration (s)",
                "failover, served region",
                "failback, served region",
                "failover, error rate",
                "errors in the window",
                "router DNS stale/fallback",
                "peak error rate",
            ),
            rows,
            numeric=2,
        ),
    )


def _seconds(value: float | None, missing: str) -> str:
    return f"{value:.3f} s" if value is not None else missing


def _checks(analysis: Analysis) -> ChecksSection:
    scenario_malformed = analysis.data.info.malformed_lines
    return ChecksSection(
        table=_table(
            ("check", "expected", "found", "result"),
            [
                (c.name, f"{c.expected:,.0f}", f"{c.found:,.0f}", "ok" if c.ok else "differs")
                for c in analysis.checks
            ],
        ),
        malformed_lines=f"{analysis.malformed_lines:,}" if analysis.malformed_lines else "",
        malformed_examples=tuple(analysis.malformed_examples()) if analysis.malformed_lines else (),
        scenario_malformed_lines=f"{scenario_malformed:,}" if scenario_malformed else "",
    )


def report_page(
    analysis: Analysis, plots: Sequence[PlotResult], gate: GateResult | None = None
) -> ReportPage:
    """What report.html shows of ``analysis``, its plots and its gate verdict."""
    info = analysis.data.info
    minimum = window_minimum(gate.gate if gate is not None else None)
    return ReportPage(
        title=f"edgedrill {info.scenario} {iso_time(info.start)}",
        scenario=info.scenario or "run",
        start=iso_time(info.start),
        end=iso_time(info.end),
        duration_s=f"{info.duration_s:,.1f}",
        host=info.host or "unknown",
        local=info.local,
        versions=", ".join(f"{k} {v}" for k, v in info.versions.items()),
        path=str(analysis.data.path),
        locust_report=LOCUST_HTML if (analysis.data.path / LOCUST_HTML).is_file() else "",
        gate=_gate(gate),
        headline=_kv(headline(analysis, min_window_requests=minimum)),
        notes=tuple(analysis.notes),
        plots=_plots(analysis, plots),
        latency=_latency(analysis, minimum),
        requests=_requests(analysis),
        edge=_edge(analysis),
        router=_router(analysis),
        dns=_dns(analysis),
        faults=_faults(analysis),
        checks=_checks(analysis),
    )


def render_html(
    analysis: Analysis, plots: Sequence[PlotResult], gate: GateResult | None = None
) -> str:
    """The whole report as one HTML document."""
    return render("report.html.j2", page=report_page(analysis, plots, gate))
