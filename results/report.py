"""A run's report: ``report.html`` (self-contained), ``summary.json``, ``summary.md``, plots.

``report.html`` embeds its plots as data URIs and its style inline: it opens
from a file, attached to a CI job or mailed, with no network and no script.
``summary.md`` is short enough for a pull-request comment.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from typing import TYPE_CHECKING

from results.analysis import Analysis, Options, analyse, load_run
from results.gate import Outcome, gate_json
from results.latency import percentile_label
from results.plots import write_plots
from results.summary import fmt, headline, iso_time, memory_used, pct, summary

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
    plots = write_plots(analysis, run_dir / PLOTS_DIR)
    document = summary(analysis)
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


def markdown(analysis: Analysis, gate: GateResult | None = None) -> str:
    """A short Markdown summary for a pull-request comment."""
    info = analysis.data.info
    word = _verdict_word(gate)
    title = f"### edgedrill `{info.scenario or 'run'}` drill, {iso_time(info.start)}"
    lines = [title + (f": **{word}**" if word else ""), ""]
    lines += ["| measure | value |", "|---|---|"]
    lines += [f"| {label} | {_md(value)} |" for label, value in headline(analysis)]
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

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1a1a1a; background: #fafafa; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 6px 0 12px; background: #fff; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 4px; font-weight: 700;
           color: #fff; margin: 8px 0; }
.verdict.pass { background: #2e7d32; } .verdict.fail { background: #c62828; }
.verdict.aborted { background: #6a1b9a; }
tr.row-fail td { background: #ffebee; } tr.row-skip td { color: #666; background: #f5f5f5; }
figure { margin: 16px 0; background: #fff; border: 1px solid #ddd; padding: 8px; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: 13px; margin-top: 4px; }
.note { background: #fff8e1; border-left: 4px solid #f9a825; padding: 6px 10px; margin: 6px 0; }
code { background: #eee; padding: 1px 4px; border-radius: 3px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: int = 1) -> str:
    """An HTML table; columns from ``numeric`` on are right-aligned."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{_e(cell)}</td>' if i >= numeric else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        return "<p>none</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv(rows: Iterable[tuple[str, object]]) -> str:
    return _table(("", ""), rows, numeric=2)


def _counts(mapping: Mapping[str, int], total: int | None = None) -> list[tuple[str, str, str]]:
    whole = total if total is not None else sum(mapping.values())
    return [
        (name or "(empty)", f"{n:,}", pct(n / whole if whole else float("nan")))
        for name, n in sorted(mapping.items(), key=lambda item: -item[1])
    ]


def _plot_section(analysis: Analysis, plots: Sequence[PlotResult]) -> str:
    parts = ["<h2>Plots</h2>"]
    run_dir = analysis.data.path
    for result in plots:
        if result.path is None:
            parts.append(
                f'<p class="note">{_e(result.spec.title)}: not drawn, {_e(result.missing)}.</p>'
            )
            continue
        data = base64.b64encode(result.path.read_bytes()).decode("ascii")
        parts.append(
            f'<figure id="plot-{_e(result.spec.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{_e(result.spec.title)}"><figcaption>{_e(result.spec.title)} '
            f"(<code>{_e(result.path.relative_to(run_dir))}</code>)</figcaption></figure>"
        )
    return "\n".join(parts)


def _gate_section(gate: GateResult | None) -> str:
    if gate is None:
        return ""
    word = _verdict_word(gate)
    rows = []
    for verdict in gate.verdicts:
        value = "n/a" if verdict.value is None else f"{verdict.value:,.4g}"
        rows.append(
            f'<tr class="row-{verdict.outcome.value}">'
            f"<td><code>{_e(verdict.threshold.key)}</code></td>"
            f'<td>{_e(verdict.threshold.describe())}</td><td class="num">{_e(value)}</td>'
            f"<td>{_e(verdict.outcome.value)}</td><td>{_e(verdict.detail)}</td></tr>"
        )
    aborted = f'<p class="note">Stopped early: {_e(gate.aborted)}</p>' if gate.aborted else ""
    return (
        f'<h2>Gate</h2><div class="verdict {word.lower()}">{_e(word)}</div>'
        f'<p class="meta">Thresholds from {_e(gate.gate.source)}. A skipped threshold is not '
        "passed: the run lacks its input.</p>"
        f"{aborted}<table><thead><tr><th>threshold</th><th>limit</th><th>measured</th>"
        f"<th>result</th><th>detail</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _latency_section(analysis: Analysis) -> str:
    latency = analysis.latency
    window = latency.window
    rows = []
    locust = analysis.data.locust
    for p in analysis.options.percentiles:
        worst = window.worst(p)
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
    return (
        "<h2>Viewer latency</h2>"
        f"<p>Exact nearest-rank percentiles of every request's <code>duration_ms</code>; the worst "
        f"{window.window_s} s sliding window; Locust's own figure (rounded) beside it. "
        f"Mean {_e(fmt(latency.mean_ms, 'ms', 3))}, max {_e(fmt(latency.max_ms, 'ms', 3))}.</p>"
        + _table(
            ("percentile", "whole run", f"worst {window.window_s} s window", "Locust (rounded)"),
            rows,
        )
    )


def _requests_section(analysis: Analysis) -> str:
    requests = analysis.requests
    parts = ["<h2>Requests and errors</h2>"]
    parts.append(
        _kv(
            [
                ("requests", f"{requests.total:,}"),
                ("failed", f"{requests.failures:,} ({pct(requests.error_rate, 3)})"),
                ("bytes received", f"{requests.bytes:,}"),
                (
                    "mean / peak rate",
                    f"{fmt(requests.mean_rps, 'req/s')} / {requests.peak_rps:,} req/s",
                ),
                ("late starts", f"{requests.late_starts:,}"),
                (
                    "lateness (late requests)",
                    " / ".join(
                        f"{percentile_label(p)} {fmt(v, 'ms', 2)}"
                        for p, v in requests.late_ms.items()
                        if p in (50.0, 99.0, 100.0)
                    ),
                ),
            ]
        )
    )
    parts.append("<h3>Responses by status</h3>")
    by_status = {
        ("no response (0)" if k == 0 else str(k)): v for k, v in requests.by_status.items()
    }
    parts.append(_table(("status", "requests", "share"), _counts(by_status, requests.total)))
    parts.append("<h3>Failures by kind</h3>")
    parts.append(
        _table(("kind", "failures", "share of failures"), _counts(requests.failures_by_kind))
    )
    rate = analysis.rate
    parts.append("<h3>Target and achieved rate</h3>")
    if rate is None:
        parts.append('<p class="note">No rate.csv in this run.</p>')
    else:
        parts.append(
            _kv(
                [
                    ("target requests", fmt(rate.target_total, digits=0)),
                    ("achieved requests", fmt(rate.achieved_total, digits=0)),
                    ("achieved / target", pct(rate.achieved_ratio, 2)),
                    ("seconds under 90 % of target", f"{rate.short_seconds:,}"),
                    ("late starts (rate.csv)", fmt(rate.late_total, digits=0)),
                ]
            )
        )
    return "\n".join(parts)


def _edge_section(analysis: Analysis) -> str:
    edge = analysis.edge
    origins = analysis.origins
    parts = [
        "<h2>Edge cache and origins</h2>",
        f"<p>Edge hit ratio (viewers' <code>x-cache</code>): <b>{_e(pct(edge.hit_ratio, 2))}</b> "
        f"({edge.hits:,} of {edge.requests:,}).</p>",
        _table(("x-cache", "responses", "share"), _counts(edge.by_x_cache)),
    ]
    if analysis.data.access is not None:
        parts.append(
            f"<h3>Access log</h3><p>{len(analysis.data.access):,} lines, hit ratio "
            f"{_e(pct(edge.log_hit_ratio, 2))}.</p>"
        )
        parts.append(
            _table(("x-edge-result-type", "lines", "share"), _counts(edge.log_result_types))
        )
        if edge.log_detailed_result_types:
            parts.append(
                _table(
                    ("error detail (x-edge-detailed-result-type)", "lines", "share"),
                    _counts(edge.log_detailed_result_types),
                )
            )
    parts.append(f"<h3>Origin regions</h3><p>Per-second plot from the {_e(origins.source)}.</p>")
    parts.append(_table(("router's choice", "invocations", "share"), _counts(origins.router)))
    parts.append(_table(("viewer origin_region", "requests", "share"), _counts(origins.viewer)))
    return "\n".join(parts)


def _router_section(analysis: Analysis) -> str:
    router = analysis.router
    billing = analysis.billing
    if router is None:
        return '<h2>Router and billing</h2><p class="note">No runtime logs in this run.</p>'
    ps = analysis.options.percentiles
    parts = [
        "<h2>Router and billing</h2>",
        f"<p>{router.invocations:,} invocations; duration from {_e(router.source)}. Billing "
        f"threshold {router.threshold_ms:g} ms: "
        f"<b>{_e(pct(router.share_above_threshold, 3))}</b> of invocations above it "
        f"({router.above_threshold:,}).</p>",
        _table(
            ("percentile", "duration (ms)", "router handler_ms (ms)"),
            [
                (
                    percentile_label(p),
                    fmt(router.duration_ms[p], digits=3),
                    fmt(router.handler_ms.get(p), digits=3),
                )
                for p in ps
            ],
        ),
    ]
    if billing is not None:
        parts.append(
            f"<p>Memory {billing.memory_mb:g} MB ({_e(billing.memory_source)}); prices "
            f"${billing.prices.per_million_requests:g} per million requests and "
            f"${billing.prices.per_gb_second:.8f} per GB-second. Billed duration rounds each "
            "invocation up to the step (1 ms since 2021-04-01, 50 ms before).</p>"
        )
        parts.append(
            _table(
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
            )
        )
        used = memory_used(analysis)
        if used is not None:
            parts.append(
                f"<p>Max Memory Used per invocation: p50 {used['p50']:g} MB, p99 "
                f"{used['p99']:g} MB, max {used['max']:g} MB of {billing.memory_mb:g} MB.</p>"
            )
        if billing.reported_mismatches:
            parts.append(
                f'<p class="note">{billing.reported_mismatches:,} REPORT lines bill a duration '
                "other than the 1 ms rule gives.</p>"
            )
    envs = analysis.environments
    if envs is not None:
        parts.append("<h3>Cold starts and concurrency</h3>")
        parts.append(
            _kv(
                [
                    ("cold starts", f"{envs.cold_starts:,} of {envs.invocations:,} invocations"),
                    (
                        "Init Duration",
                        " / ".join(
                            f"{percentile_label(p)} {fmt(v, 'ms', 1)}"
                            for p, v in envs.init_ms.items()
                            if p in (50.0, 99.0, 100.0)
                        ),
                    ),
                    ("peak concurrent executions", f"{envs.max_concurrency:,}"),
                    (
                        "cold starts by region",
                        ", ".join(f"{k}: {v:,}" for k, v in envs.cold_by_region.items()) or "none",
                    ),
                ]
            )
        )
    return "\n".join(parts)


def _dns_section(analysis: Analysis) -> str:
    dns = analysis.dns
    if dns is None:
        return '<h2>Router DNS cache</h2><p class="note">No router log lines in this run.</p>'
    parts = [
        "<h2>Router DNS cache</h2>",
        f"<p><b>{_e(fmt(dns.queries_per_1k_invocations, digits=2))}</b> DNS queries per 1,000 "
        f"invocations ({_e(fmt(dns.queries_per_1k_requests, digits=2))} per 1,000 viewer "
        f"requests) against 1,000 with one query per invocation: "
        f"{_e(fmt(dns.saving_factor, 'x', 1))} fewer. Query time "
        + " / ".join(
            f"{percentile_label(p)} {fmt(v, 'ms', 2)}"
            for p, v in dns.query_ms.items()
            if p in (50.0, 99.0)
        )
        + f"; oldest stale answer served {dns.max_stale_age_s:g} s past expiry.</p>",
        _table(("cache state", "invocations", "share"), _counts(dns.states, dns.invocations)),
    ]
    if dns.reasons:
        parts.append("<h3>Why (router reasons)</h3>")
        parts.append(_table(("state", "reason", "invocations"), dns.reasons[:20], numeric=2))
    return "\n".join(parts)


def _faults_section(analysis: Analysis) -> str:
    if analysis.failovers is None:
        return "<h2>Faults and failover</h2><p>No faults in this run.</p>"
    rows = []
    start = analysis.data.info.start
    for item in analysis.failovers:
        fault = item.fault
        end = f"{fault.end - start:.1f}" if fault.end is not None else "(open)"
        rows.append(
            (
                fault.fault,
                fault.target or "-",
                f"{fault.start - start:.1f}",
                end,
                f"{item.failover_s:g} s" if item.failover_s is not None else "not recovered",
                pct(item.peak_error_rate, 1),
                f"{item.impact_s}",
            )
        )
    options = analysis.options
    return (
        "<h2>Faults and failover</h2>"
        f"<p>Failover time: from the fault's start until the error rate is back under "
        f"{options.failover_error_rate:g} with {options.failover_stable_s} s observed after.</p>"
        + _table(
            (
                "fault",
                "target",
                "start (s)",
                "end (s)",
                "failover",
                "peak error rate",
                "seconds over threshold",
            ),
            rows,
            numeric=2,
        )
    )


def _checks_section(analysis: Analysis) -> str:
    parts = ["<h2>Consistency</h2>"]
    parts.append(
        _table(
            ("check", "expected", "found", "result"),
            [
                (c.name, f"{c.expected:,.0f}", f"{c.found:,.0f}", "ok" if c.ok else "differs")
                for c in analysis.checks
            ],
        )
    )
    if analysis.malformed_lines:
        parts.append(f"<h3>Malformed lines ({analysis.malformed_lines:,} skipped)</h3><ul>")
        parts += [f"<li><code>{_e(m)}</code></li>" for m in analysis.malformed_examples()]
        parts.append("</ul>")
    if analysis.data.info.malformed_lines:
        parts.append(
            f"<p>The scenario skipped {analysis.data.info.malformed_lines:,} malformed input "
            "line(s) (run.json).</p>"
        )
    return "\n".join(parts)


def render_html(
    analysis: Analysis, plots: Sequence[PlotResult], gate: GateResult | None = None
) -> str:
    """The whole report as one HTML document."""
    info = analysis.data.info
    versions = ", ".join(f"{k} {v}" for k, v in info.versions.items())
    notes = "".join(f'<p class="note">{_e(note)}</p>' for note in analysis.notes)
    sections = [
        f"<h1>edgedrill run report: {_e(info.scenario or 'run')}</h1>",
        f'<p class="meta">{_e(iso_time(info.start))} to {_e(iso_time(info.end))} '
        f"({info.duration_s:,.1f} s) &middot; target {_e(info.host or 'unknown')} "
        f"({'local distribution' if info.local else 'remote'}) &middot; {_e(versions)}<br>"
        f"<code>{_e(analysis.data.path)}</code></p>",
        _gate_section(gate),
        "<h2>Summary</h2>",
        _kv(headline(analysis)),
        notes,
        _plot_section(analysis, plots),
        _latency_section(analysis),
        _requests_section(analysis),
        _edge_section(analysis),
        _router_section(analysis),
        _dns_section(analysis),
        _faults_section(analysis),
        _checks_section(analysis),
    ]
    body = "\n".join(section for section in sections if section)
    title = f"edgedrill {info.scenario} {iso_time(info.start)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )
