"""A run's numbers as ``summary.json`` and as a pull-request-sized ``summary.md``.

``summary.json`` (``"schema": 1``) holds every figure of the analysis, one
section per measure, ``null`` where the run lacks the input (``notes`` says
why). Not-a-number values (a ratio over nothing) are written as ``null`` so
the file is strict JSON. Percentiles are keyed ``"p50"``, ``"p99.9"``.

A worst window is one that holds at least :func:`window_minimum` requests: a
window of one straggler after the load stopped (or of the cold start alone)
says nothing about a percentile, so it is counted as skipped instead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from results.billing import BILLING_STEPS_MS
from results.cache_metrics import NO_CACHE_QUERIES_PER_1K
from results.gate import Metric
from results.latency import percentile_label, percentiles
from results.plan import RunPlan, run_plan

if TYPE_CHECKING:
    from collections.abc import Mapping

    from results.analysis import Analysis
    from results.failover import Failover
    from results.fault_windows import FaultWindow
    from results.gate import Gate

SCHEMA = 1
# Fewest requests a window needs to be reported as the worst when the gate sets no
# min_requests: 20 requests put p95 on a request of its own.
MIN_WINDOW_REQUESTS = 20
JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def clean(value: object) -> JsonValue:
    """Make ``value`` strict JSON: NaN and infinities become null, numpy scalars Python ones."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        return clean(item())
    return str(value)


def _ps(values: Mapping[float, float]) -> dict[str, float]:
    return {percentile_label(p): v for p, v in values.items()}


def iso_time(epoch: float) -> str:
    """UTC ISO 8601 with seconds and a Z."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failover_json(item: Failover) -> dict[str, object]:
    """One fault and its failover, for JSON."""
    fault = item.fault
    return {
        "fault": fault.fault,
        "target": fault.target,
        "start": fault.start,
        "end": fault.end,
        "failover_s": item.failover_s,
        "recovered": item.recovered,
        "peak_error_rate": item.peak_error_rate,
        "seconds_over_threshold": item.impact_s,
        "error_rate_threshold": item.error_rate_threshold,
        "stable_s": item.stable_s,
        "recovered_after_fault_end": item.after_fault_end,
    }


# summary.json's "faults_measures": which failover figure is which.
FAULT_MEASURES = {
    "failover_s": (
        "error rate: seconds from the fault's start until the viewers' error rate was back "
        "under error_rate_threshold with stable_s clean seconds after"
    ),
    "served_region.failover_s": (
        "served region: seconds from the fault's start to the last cache miss answered by "
        "the faulted region before the fault's end (requests.csv origin_region); null when "
        "misses still reached it at the end"
    ),
    "served_region.failback_s": (
        "served region: seconds from the fault's end to the first cache miss answered by the "
        "faulted region again; null when none did within the run"
    ),
    "router_dns.stale_or_fallback_share": (
        "router DNS: share of router invocations in the window served stale or on the "
        "fallback origin (router log lines)"
    ),
}


def fault_json(item: Failover, window: FaultWindow | None) -> dict[str, object]:
    """One fault: its error-rate failover, then what its window measured (additive keys)."""
    document = failover_json(item)
    fault = item.fault
    document |= {
        "kind": fault.kind,
        "region": fault.region,
        "probability": fault.probability,
        "id": fault.id,
        "label": fault.label,
        "error_rate_failover_s": item.failover_s,
    }
    if window is None:
        return document
    served = window.served
    dns = window.router_dns
    document |= {
        "start_offset_s": window.start_offset_s,
        "duration_s": window.duration_s,
        "window": {
            "requests": window.requests,
            "errors": window.errors,
            "error_rate": window.error_rate,
        },
        "served_region": None
        if served is None
        else {
            "region": served.region,
            "failover_s": served.failover_s,
            "failback_s": served.failback_s,
            "misses": served.misses,
            "misses_to_region": served.misses_to_region,
        },
        "failback_s": served.failback_s if served is not None else None,
        "router_dns": None
        if dns is None
        else {
            "invocations": dns.invocations,
            "stale": dns.stale,
            "fallback": dns.fallback,
            "stale_or_fallback_share": dns.absorbed_share,
        },
    }
    return document


def _faults(analysis: Analysis) -> list[dict[str, object]] | None:
    if analysis.failovers is None:
        return None
    windows = analysis.fault_windows or ()
    return [
        fault_json(item, windows[index] if index < len(windows) else None)
        for index, item in enumerate(analysis.failovers)
    ]


def window_minimum(gate: Gate | None, p: float = 99.0) -> int:
    """Requests a window needs to be the worst: the gate's ``p<N>_ms`` min_requests if above 1."""
    if gate is not None:
        for threshold in gate.thresholds:
            if (
                threshold.metric is Metric.LATENCY
                and threshold.percentile == p
                and threshold.window_s is not None
                and threshold.min_requests > 1
            ):
                return threshold.min_requests
    return MIN_WINDOW_REQUESTS


def bytes_per_second(analysis: Analysis) -> float:
    """Mean bytes received per second over the run (k6's ``data_received`` rate)."""
    duration = analysis.data.info.duration_s
    return analysis.requests.bytes / duration if duration > 0 else math.nan


def summary(
    analysis: Analysis, *, min_window_requests: int = MIN_WINDOW_REQUESTS
) -> dict[str, JsonValue]:
    """Every figure of the analysis as a JSON document."""
    data = analysis.data
    info = data.info
    requests = analysis.requests
    document: dict[str, object] = {
        "schema": SCHEMA,
        "run": {
            "folder": str(data.path),
            "scenario": info.scenario,
            "start": info.start,
            "end": info.end,
            "start_utc": iso_time(info.start),
            "duration_s": info.duration_s,
            "host": info.host,
            "local": info.local,
            "versions": dict(info.versions),
            "args": info.args,
        },
        "options": {
            "window_s": analysis.options.window_s,
            "percentiles": list(analysis.options.percentiles),
            "failover_error_rate": analysis.options.failover_error_rate,
            "failover_stable_s": analysis.options.failover_stable_s,
        },
        "requests": {
            "total": requests.total,
            "failures": requests.failures,
            "error_rate": requests.error_rate,
            "by_status": {str(k): v for k, v in requests.by_status.items()},
            "failures_by_kind": requests.failures_by_kind,
            "bytes": requests.bytes,
            "bytes_per_s": bytes_per_second(analysis),
            "late_starts": requests.late_starts,
            "late_ms": _ps(requests.late_ms),
            "mean_rps": requests.mean_rps,
            "peak_rps": requests.peak_rps,
        },
        "rate": _rate(analysis),
        "plan": plan_json(run_plan(analysis)),
        "latency_ms": _latency(analysis, min_window_requests),
        "edge": _edge(analysis),
        "origins": {
            "source": analysis.origins.source,
            "viewer": analysis.origins.viewer,
            "router": analysis.origins.router,
        },
        "router": _router(analysis),
        "billing": _billing(analysis),
        "cold_starts": _cold_starts(analysis),
        "dns": _dns(analysis),
        "faults": _faults(analysis),
        "faults_note": "no faults in this run" if analysis.failovers is None else None,
        "faults_measures": FAULT_MEASURES if analysis.failovers is not None else None,
        "locust": _locust(analysis),
        "checks": [
            {"name": c.name, "expected": c.expected, "found": c.found, "ok": c.ok}
            for c in analysis.checks
        ],
        "malformed_lines": {
            "count": analysis.malformed_lines,
            "examples": analysis.malformed_examples(),
            "skipped_by_scenario": info.malformed_lines,
        },
        "notes": list(analysis.notes),
    }
    cleaned = clean(document)
    assert isinstance(cleaned, dict)
    return cleaned


def _rate(analysis: Analysis) -> dict[str, object] | None:
    rate = analysis.rate
    if rate is None:
        return None
    return {
        "target_total": rate.target_total,
        "achieved_total": rate.achieved_total,
        "late_total": rate.late_total,
        "achieved_ratio": rate.achieved_ratio,
        "seconds_under_90pct_of_target": rate.short_seconds,
    }


def plan_json(plan: RunPlan) -> dict[str, object]:
    """Planned against sent, and the load's phases, for JSON."""
    return {
        "planned": plan.planned,
        "scheduled": plan.scheduled,
        "sent": plan.sent,
        "unsent": plan.unsent,
        "planned_s": plan.planned_s,
        "ran_s": plan.ran_s,
        "cut": plan.cut,
        "text": plan.describe(),
        "phases": [
            {"name": phase.name, "start_s": phase.start_s, "end_s": phase.end_s}
            for phase in plan.phases
        ],
        "phases_from": plan.phase_source or None,
    }


def _latency(analysis: Analysis, min_requests: int) -> dict[str, object]:
    latency = analysis.latency
    window = latency.window
    worst: dict[str, object] = {}
    for p in analysis.options.percentiles:
        found = window.worst(p, min_count=min_requests)
        worst[percentile_label(p)] = (
            {"value": found[0], "window_end_s": found[1], "requests": found[2]} if found else None
        )
    shown = analysis.options.percentiles
    return {
        "overall": {percentile_label(p): latency.overall[p] for p in shown},
        "mean": latency.mean_ms,
        "max": latency.max_ms,
        "window_s": window.window_s,
        "worst_window": worst,
        "worst_window_min_requests": min_requests,
        "windows_skipped": window.sparse(min_requests),
    }


def _edge(analysis: Analysis) -> dict[str, object]:
    edge = analysis.edge
    access = analysis.data.access
    return {
        "hit_ratio": edge.hit_ratio,
        "hits": edge.hits,
        "responses_with_x_cache": edge.requests,
        "by_x_cache": edge.by_x_cache,
        "access_log": (
            {
                "lines": len(access),
                "hit_ratio": edge.log_hit_ratio,
                "result_types": edge.log_result_types,
                "error_detailed_result_types": edge.log_detailed_result_types,
            }
            if access is not None
            else None
        ),
    }


def _router(analysis: Analysis) -> dict[str, object] | None:
    router = analysis.router
    if router is None:
        return None
    return {
        "source": router.source,
        "invocations": router.invocations,
        "duration_ms": _ps(router.duration_ms),
        "mean_ms": router.mean_ms,
        "max_ms": router.max_ms,
        "threshold_ms": router.threshold_ms,
        "above_threshold": router.above_threshold,
        "share_above_threshold": router.share_above_threshold,
        "handler_ms": _ps(router.handler_ms),
    }


def _billing(analysis: Analysis) -> dict[str, object] | None:
    billing = analysis.billing
    if billing is None:
        return None
    return {
        "invocations": billing.invocations,
        "memory_mb": billing.memory_mb,
        "memory_source": billing.memory_source,
        "threshold_ms": billing.threshold_ms,
        "threshold_source": billing.threshold_source,
        "share_above_threshold": billing.share_above_threshold,
        "prices_usd": {
            "per_million_requests": billing.prices.per_million_requests,
            "per_gb_second": billing.prices.per_gb_second,
        },
        "rules": {
            f"{rule.step_ms}ms": {
                "mean_billed_ms": rule.mean_billed_ms,
                "gb_seconds": rule.gb_seconds,
                "cost_usd": rule.cost_usd,
                "cost_per_million_usd": rule.cost_per_million_usd,
            }
            for rule in billing.rules
        },
        "reported_billed_mismatches": billing.reported_mismatches,
        "max_memory_used_mb": memory_used(analysis),
    }


def memory_used(analysis: Analysis) -> dict[str, float] | None:
    """REPORT Max Memory Used: how much of the configured memory the router needs."""
    runtime = analysis.data.runtime
    if runtime is None or not len(runtime.invocations):
        return None
    used = runtime.invocations.max_memory_mb.astype(float)
    found = percentiles(used, [50.0, 99.0, 100.0])
    return {"p50": found[50.0], "p99": found[99.0], "max": found[100.0]}


def _cold_starts(analysis: Analysis) -> dict[str, object] | None:
    envs = analysis.environments
    if envs is None:
        return None
    return {
        "invocations": envs.invocations,
        "count": envs.cold_starts,
        "init_ms": _ps(envs.init_ms),
        "max_concurrency": envs.max_concurrency,
        "by_region": envs.cold_by_region,
    }


def _dns(analysis: Analysis) -> dict[str, object] | None:
    dns = analysis.dns
    if dns is None:
        return None
    total = max(dns.invocations, 1)
    return {
        "invocations": dns.invocations,
        "states": dns.states,
        "shares": {state: n / total for state, n in dns.states.items()},
        "queries": dns.queries,
        "queries_per_1k_invocations": dns.queries_per_1k_invocations,
        "queries_per_1k_requests": dns.queries_per_1k_requests,
        "no_cache_queries_per_1k": NO_CACHE_QUERIES_PER_1K,
        "saving_factor": dns.saving_factor,
        "query_ms": _ps(dns.query_ms),
        "max_stale_age_s": dns.max_stale_age_s,
        "reasons": [
            {"cache_state": state, "reason": reason, "count": n}
            for state, reason, n in dns.reasons[:20]
        ],
    }


def _locust(analysis: Analysis) -> dict[str, object] | None:
    locust = analysis.data.locust
    if locust is None:
        return None
    return {
        "requests": locust.requests,
        "failures": locust.failures,
        "percentiles_ms": dict(locust.percentiles_ms),
        "failures_by_error": dict(locust.failures_by_error),
        "exceptions": locust.exceptions,
    }


def fmt(value: float | None, unit: str = "", digits: int = 1) -> str:
    """A number for people: ``n/a`` for missing, thousands separators, the unit."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".rstrip() if unit else text


def pct(value: float | None, digits: int = 2) -> str:
    """A ratio as a percentage (``n/a`` when missing)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value * 100:.{digits}f} %"


def size(count: float) -> str:
    """Bytes for people, in decimal units as k6 prints them (``1.2 MB``)."""
    if not math.isfinite(count):
        return "n/a"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"  # pragma: no cover - the loop returns at GB


def headline(
    analysis: Analysis, *, min_window_requests: int = MIN_WINDOW_REQUESTS
) -> list[tuple[str, str]]:
    """The key figures as (label, value) rows, for summary.md and the report."""
    requests = analysis.requests
    latency = analysis.latency
    plan = run_plan(analysis)
    rows = [
        (
            "requests",
            f"{requests.total:,} ({fmt(requests.mean_rps, 'req/s')} mean, "
            f"{requests.peak_rps:,} peak)",
        ),
    ]
    if plan.planned is not None:
        rows.append(("planned / sent", plan.describe()))
    rows.append(("error rate", f"{pct(requests.error_rate, 3)} ({requests.failures:,} failed)"))
    if analysis.rate is not None:
        ratio = pct(analysis.rate.achieved_ratio, 1)
        if plan.cut:
            ratio += " of the schedule up to the stop, not of the plan"
        rows.append(("achieved / target", ratio))
    rows.append(
        (
            "data received",
            f"{size(requests.bytes)} ({size(bytes_per_second(analysis))}/s mean)",
        )
    )
    rows.append(("late starts", f"{requests.late_starts:,}"))
    overall = latency.overall
    rows.append(
        (
            "viewer latency",
            " / ".join(
                f"{percentile_label(p)} {fmt(overall[p], 'ms')}"
                for p in analysis.options.percentiles
            ),
        )
    )
    rows.append(
        (
            f"worst {latency.window.window_s} s p99",
            worst_window_text(analysis, 99.0, min_window_requests),
        )
    )
    rows.append(("edge hit ratio", pct(analysis.edge.hit_ratio, 1)))
    if analysis.router is not None:
        router = analysis.router
        rows.append(
            (
                "router p99 / threshold",
                f"{fmt(router.duration_ms[99.0], 'ms', 2)} / {router.threshold_ms:g} ms "
                f"({pct(router.share_above_threshold)} above)",
            )
        )
    if analysis.billing is not None:
        rules = {rule.step_ms: rule for rule in analysis.billing.rules}
        rows.append(
            (
                "cost per million invocations",
                " vs ".join(
                    f"${rules[step].cost_per_million_usd:.4f} at {step} ms"
                    for step in BILLING_STEPS_MS
                ),
            )
        )
    if analysis.environments is not None:
        envs = analysis.environments
        rows.append(
            ("cold starts", f"{envs.cold_starts:,} (peak concurrency {envs.max_concurrency:,})")
        )
    if analysis.dns is not None:
        rows.append(
            (
                "DNS queries per 1,000 invocations",
                f"{fmt(analysis.dns.queries_per_1k_invocations, digits=2)} (1,000 without a cache)",
            )
        )
    rows.append(("failover", _failover_text(analysis)))
    return rows


def worst_window_text(analysis: Analysis, p: float, min_requests: int) -> str:
    """``812 ms (ending at 25 s, 950 requests; 3 windows under 20 requests skipped)``."""
    window = analysis.latency.window
    worst = window.worst(p, min_count=min_requests)
    skipped = window.sparse(min_requests)
    text = (
        f"{fmt(worst[0], 'ms')} (ending at {worst[1]} s, {worst[2]:,} requests"
        if worst is not None
        else f"n/a (no whole window of {min_requests:,} requests or more"
    )
    if skipped:
        text += f"; {skipped:,} window(s) under {min_requests:,} requests skipped"
    return text + ")"


def _failover_text(analysis: Analysis) -> str:
    if analysis.failovers is None:
        return "no faults in this run"
    windows = analysis.fault_windows or ()
    parts = []
    for index, item in enumerate(analysis.failovers):
        value = f"{item.failover_s:g} s" if item.failover_s is not None else "not recovered"
        text = f"{item.fault.fault} -> {value} by error rate"
        window = windows[index] if index < len(windows) else None
        if window is not None and window.served is not None and window.served.misses:
            text += f" ({served_text(window)})"
        elif window is not None and window.router_dns is not None:
            share = pct(window.router_dns.absorbed_share, 1)
            text += f" ({share} of router lookups stale/fallback)"
        parts.append(text)
    return "; ".join(parts) or "no faults in this run"


def served_text(window: FaultWindow) -> str:
    """``misses off eu-west-1 after 2.3 s, back 1.1 s after the end`` for one fault."""
    served = window.served
    if served is None:
        return "no origin_region data"
    if served.failover_s is None:
        text = f"misses still reached {served.region} at the end"
    else:
        text = f"misses off {served.region} after {served.failover_s:.1f} s"
    if window.fault.end is None:
        return text
    if served.failback_s is None:
        return text + ", never back"
    return text + f", back {served.failback_s:.1f} s after the end"
