"""Two runs side by side: before and after a release.

Each row is one measure of both runs, the change, and whether the change is
for the better (lower latency, errors, cost, cold starts, DNS queries and
failover time; higher achieved ratio and edge hit ratio). ``compare.html``
puts the two runs' plots next to each other as well.
"""

from __future__ import annotations

import base64
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from results.latency import percentile_label
from results.plots import write_plots
from results.summary import iso_time
from results.templates import render

if TYPE_CHECKING:
    from collections.abc import Callable

    from results.analysis import Analysis
    from results.plots import PlotResult


@dataclass(frozen=True, slots=True)
class Row:
    """One measure of both runs."""

    label: str
    before: float | None
    after: float | None
    unit: str
    lower_is_better: bool | None  # None: neither direction is better (the request count)

    @property
    def change(self) -> float | None:
        """``after - before`` when both are known."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def relative(self) -> float | None:
        """The change as a share of ``before``."""
        change = self.change
        if change is None or not self.before:
            return None
        return change / abs(self.before)

    @property
    def verdict(self) -> str:
        """``better``, ``worse``, ``same``, ``changed`` or ``n/a``."""
        change = self.change
        if change is None:
            return "n/a"
        if math.isclose(change, 0.0, abs_tol=1e-12) or (
            self.relative is not None and abs(self.relative) < 0.01
        ):
            return "same"
        if self.lower_is_better is None:
            return "changed"
        better = change < 0 if self.lower_is_better else change > 0
        return "better" if better else "worse"


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


Getter = tuple[str, str, bool | None, "Callable[[Analysis], float | None]"]


def _getters(analysis: Analysis) -> list[Getter]:
    getters: list[Getter] = [
        ("requests", "", None, lambda a: a.requests.total),
        ("error rate", "%", True, lambda a: a.requests.error_rate * 100),
        ("achieved / target", "%", False,
         lambda a: a.rate.achieved_ratio * 100 if a.rate is not None else None),
        ("late starts", "", True, lambda a: a.requests.late_starts),
    ]  # fmt: skip
    for p in analysis.options.percentiles:
        getters.append((f"viewer {percentile_label(p)}", "ms", True, _overall(p)))
    getters += [
        (f"worst {analysis.options.window_s} s p99", "ms", True, _worst_p99),
        ("edge hit ratio", "%", False, lambda a: a.edge.hit_ratio * 100),
        ("router p50", "ms", True,
         lambda a: a.router.duration_ms.get(50.0) if a.router is not None else None),
        ("router p99", "ms", True,
         lambda a: a.router.duration_ms.get(99.0) if a.router is not None else None),
        ("invocations over the billing threshold", "%", True,
         lambda a: a.router.share_above_threshold * 100 if a.router is not None else None),
        ("cost per million invocations, 1 ms rule", "$", True,
         lambda a: a.billing.rule(1).cost_per_million_usd if a.billing is not None else None),
        ("cost per million invocations, 50 ms rule", "$", True,
         lambda a: a.billing.rule(50).cost_per_million_usd if a.billing is not None else None),
        ("cold starts", "", True,
         lambda a: a.environments.cold_starts if a.environments is not None else None),
        ("peak concurrent executions", "", True,
         lambda a: a.environments.max_concurrency if a.environments is not None else None),
        ("DNS queries per 1,000 invocations", "", True,
         lambda a: a.dns.queries_per_1k_invocations if a.dns is not None else None),
        ("slowest failover", "s", True, _slowest_failover),
    ]  # fmt: skip
    return getters


def _overall(p: float) -> Callable[[Analysis], float | None]:
    def get(analysis: Analysis) -> float | None:
        return analysis.latency.overall.get(p)

    return get


def _worst_p99(analysis: Analysis) -> float | None:
    worst = analysis.latency.window.worst(99.0)
    return worst[0] if worst is not None else None


def _slowest_failover(analysis: Analysis) -> float | None:
    if not analysis.failovers:
        return None
    times = [item.failover_s for item in analysis.failovers]
    if any(value is None for value in times):
        return math.inf
    return max(value for value in times if value is not None)


def compare(before: Analysis, after: Analysis) -> list[Row]:
    """Every measure of two runs, side by side."""
    rows = []
    for label, unit, lower, get in _getters(before):
        rows.append(Row(label, _finite(get(before)), _finite(get(after)), unit, lower))
    return rows


def _show(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "$":
        return f"${value:,.4f}"
    text = f"{value:,.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:,.0f}"
    return f"{text} {unit}".rstrip() if unit != "%" else f"{text} %"


def _show_change(row: Row) -> str:
    change = row.change
    if change is None:
        return "n/a"
    sign = "+" if change > 0 else ""
    relative = row.relative
    rel = f" ({'+' if relative > 0 else ''}{relative:.1%})" if relative is not None else ""
    if row.unit == "$":
        return f"{sign}{change:,.4f} ${rel}"
    return (
        f"{sign}{change:,.3f}".rstrip("0").rstrip(".") + (f" {row.unit}" if row.unit else "") + rel
    )


def _name(analysis: Analysis) -> str:
    info = analysis.data.info
    return f"{analysis.data.path.name} ({info.scenario}, {iso_time(info.start)})"


def markdown(before: Analysis, after: Analysis, rows: list[Row]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "### edgedrill: before vs after",
        "",
        f"before: `{_name(before)}`  ",
        f"after: `{_name(after)}`",
        "",
        "| measure | before | after | change | |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {_show(row.before, row.unit)} | {_show(row.after, row.unit)} | "
            f"{_show_change(row)} | {row.verdict} |"
        )
    worse = [row.label for row in rows if row.verdict == "worse"]
    lines += ["", f"Worse after: {', '.join(worse)}." if worse else "Nothing got worse.", ""]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CompareLine:
    """One row of compare.html's table, formatted."""

    label: str
    before: str
    after: str
    change: str
    verdict: str


@dataclass(frozen=True, slots=True)
class PlotSide:
    """One run's plot in a pair: its PNG as base64 for a data URI, or why it was not drawn."""

    side: str
    title: str
    png_base64: str | None
    missing: str


@dataclass(frozen=True, slots=True)
class PlotPair:
    """The same plot of both runs, side by side."""

    title: str
    sides: tuple[PlotSide, PlotSide]


@dataclass(frozen=True, slots=True)
class ComparePage:
    """Everything compare.html shows, as text."""

    before: str
    after: str
    lines: tuple[CompareLine, ...]
    pairs: tuple[PlotPair, ...]


def _side(result: PlotResult, side: str) -> PlotSide:
    png = result.path.read_bytes() if result.path is not None else None
    return PlotSide(
        side=side,
        title=result.spec.title,
        png_base64=base64.b64encode(png).decode("ascii") if png is not None else None,
        missing=result.missing,
    )


def compare_page(before: Analysis, after: Analysis, rows: list[Row]) -> ComparePage:
    """What compare.html shows: the rows formatted, each plot of both runs inlined."""
    lines = tuple(
        CompareLine(
            label=row.label,
            before=_show(row.before, row.unit),
            after=_show(row.after, row.unit),
            change=_show_change(row),
            verdict=row.verdict,
        )
        for row in rows
    )
    with tempfile.TemporaryDirectory(prefix="edgedrill-compare-") as scratch:
        left = write_plots(before, Path(scratch) / "before")
        right = write_plots(after, Path(scratch) / "after")
        # Read inside the with: the PNGs go with the scratch folder.
        pairs = tuple(
            PlotPair(a.spec.title, (_side(a, "before"), _side(b, "after")))
            for a, b in zip(left, right, strict=True)
        )
    return ComparePage(_name(before), _name(after), lines, pairs)


def render_html(before: Analysis, after: Analysis, rows: list[Row]) -> str:
    """A self-contained comparison page: the table, then each plot of both runs side by side."""
    return render("compare.html.j2", page=compare_page(before, after, rows))
