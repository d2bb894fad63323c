"""The run's plots: PNG files, titled, with units and legends, fault windows shaded and named.

Every plot over time shades each fault window and writes the fault's spelling
and target at its start (``bucket:503 s3:eu-west-1``), and marks the load's
phases (baseline, spike, cooldown: :mod:`results.plan`). The gate's thresholds
are drawn where they apply: each viewer-latency limit on the latency plot, the
error-rate limit on the errors plot, each router-duration limit on the router
CDF. Every such mark carries a ``gid`` (``gate-<key>``, ``phase-label-<name>``)
so that it can be found in the figure.

Drawn with matplotlib's object API on the Agg canvas (no display, no pyplot
global state), from per-second series the analysis already holds, so a
million-request run plots as fast as a small one. A plot whose data the run
lacks is not drawn; :func:`write_plots` says why instead.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch
from matplotlib.transforms import blended_transform_factory

from results.analysis import DEFAULT_ORIGIN
from results.billing import billed_ms
from results.gate import Metric
from results.latency import percentile_label
from results.logs import CACHE_STATES
from results.plan import run_plan

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from results.analysis import Analysis
    from results.gate import Gate, Threshold
    from results.plan import Phase
    from results.records import FloatArray, IntArray

SIZE = (10.0, 5.2)
DPI = 100
_STATE_COLOURS = {
    "hit": "#2e7d32",
    "miss": "#1565c0",
    "stale": "#f9a825",
    "negative": "#6a1b9a",
    "fallback": "#c62828",
}
_CLASS_COLOURS = {"no response": "#424242", "4xx": "#ef6c00", "5xx": "#c62828", "other": "#8d6e63"}
_GATE_COLOUR = "#d50000"
_PHASE_COLOUR = "0.35"


@dataclass(frozen=True, slots=True)
class Marks:
    """What the plots draw beside the data: the gate's thresholds and the load's phases."""

    gate: Gate | None = None
    phases: tuple[Phase, ...] = ()

    def thresholds(self, metric: Metric) -> tuple[Threshold, ...]:
        """The gate's thresholds on ``metric`` (none without a gate)."""
        if self.gate is None:
            return ()
        return tuple(t for t in self.gate.thresholds if t.metric is metric)


def marks_for(analysis: Analysis, gate: Gate | None = None) -> Marks:
    """The marks of a run: ``gate``'s thresholds and the phases of its plan or target.

    A plan cut short keeps the phases it reached, cut where the data ends.
    """
    end = float(analysis.timeline.seconds)
    phases = tuple(
        replace(phase, end_s=min(phase.end_s, end))
        for phase in run_plan(analysis).phases
        if phase.start_s < end
    )
    return Marks(gate, phases)


@dataclass(frozen=True, slots=True)
class PlotSpec:
    """One plot: its file name, its title in the report, and how it is drawn."""

    name: str
    title: str
    draw: Callable[[Analysis, Figure, Marks], str | None]  # returns why it cannot be drawn


def _figure() -> Figure:
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


# Fault windows by what they break: the spelling's prefix (docs/formats.md).
_FAULT_COLOURS = {
    "dns": "#7e57c2",
    "origin-dns": "#3949ab",
    "bucket": "#ff7043",
    "lambda": "#8d6e63",
}
_FAULT_COLOUR = "#ff7043"
_LABEL_ROWS = 3  # labels of overlapping windows step down the plot, then start again


def _shade_faults(axes: Axes, analysis: Analysis) -> None:
    """Shade every fault window and write its spelling and target at its start."""
    faults = analysis.data.faults or ()
    start = analysis.timeline.start
    last = analysis.timeline.seconds
    seen: set[str] = set()
    place = blended_transform_factory(axes.transData, axes.transAxes)
    for index, fault in enumerate(faults):
        prefix = fault.fault.split(":", 1)[0]
        colour = _FAULT_COLOURS.get(prefix, _FAULT_COLOUR)
        begin = fault.start - start
        end = fault.end_or(start + last) - start
        legend = f"fault window ({prefix})" if prefix not in seen else None
        seen.add(prefix)
        axes.axvspan(begin, end, color=colour, alpha=0.15, label=legend)
        axes.text(
            max(begin, 0.0),
            0.98 - 0.08 * (index % _LABEL_ROWS),
            f" {fault.label}",
            transform=place,
            ha="left",
            va="top",
            fontsize="small",
            color=colour,
            fontweight="bold",
            clip_on=True,
            zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
            gid=f"fault-label-{index}",
        )


def _mark_phases(axes: Axes, marks: Marks) -> None:
    """A dashed line where each phase begins and its name along the bottom of the plot."""
    place = blended_transform_factory(axes.transData, axes.transAxes)
    for phase in marks.phases:
        if phase.start_s > 0:
            axes.axvline(
                phase.start_s,
                color=_PHASE_COLOUR,
                linestyle=(0, (6, 3)),
                linewidth=0.9,
                zorder=1,
                gid=f"phase-start-{phase.name}",
            )
        axes.text(
            (phase.start_s + phase.end_s) / 2.0,
            0.02,
            phase.name,
            transform=place,
            ha="center",
            va="bottom",
            fontsize="small",
            fontstyle="italic",
            color=_PHASE_COLOUR,
            clip_on=True,
            zorder=5,
            gid=f"phase-label-{phase.name}",
        )


def _over_time(axes: Axes, analysis: Analysis, marks: Marks) -> None:
    """What every plot over time shows: fault windows and the load's phases."""
    _shade_faults(axes, analysis)
    _mark_phases(axes, marks)


def _legend(axes: Axes, *others: Axes) -> None:
    """One legend for the plot and its twin axes, below the plot, clear of the data."""
    handles, labels = _handles(axes)
    for other in others:
        more_handles, more_labels = _handles(other)
        for handle, label in zip(more_handles, more_labels, strict=True):
            if label not in labels:  # panels sharing fault windows name them once
                handles.append(handle)
                labels.append(label)
    if handles:
        figure = axes.get_figure()
        if figure is not None:
            figure.legend(
                handles,
                labels,
                loc="outside lower center",
                ncols=min(4, len(handles)),
                fontsize="small",
                frameon=False,
            )


def _handles(axes: Axes) -> tuple[list[Artist], list[str]]:
    """The legend entries of ``axes``, bars (:func:`_bars`) after the rest, where bars stood."""
    handles, labels = axes.get_legend_handles_labels()
    # matplotlib lists bar containers after every other artist; an outline
    # is listed in drawing order, so it is moved to where its bars were.
    entries = sorted(zip(handles, labels, strict=True), key=lambda e: isinstance(e[0], StepPatch))
    return [handle for handle, _ in entries], [label for _, label in entries]


def _steps(series: FloatArray | IntArray) -> tuple[IntArray, FloatArray]:
    """Edges 0..T and values for a ``where="post"`` step, so the last second shows too."""
    values = np.asarray(series, dtype=np.float64)
    edges = np.arange(len(values) + 1, dtype=np.int64)
    return edges, np.append(values, values[-1] if len(values) else 0.0)


def _bars(
    axes: Axes,
    series: FloatArray | IntArray,
    *,
    bottom: FloatArray | None = None,
    color: str,
    label: str,
    alpha: float = 1.0,
) -> None:
    """One filled bar per second, drawn as a single outline: what ``axes.bar`` shows.

    A bar per second is a patch per second, and a long run's thousands of
    patches took seconds to lay out and draw; one stepped outline takes none.
    """
    values = np.asarray(series, dtype=np.float64)
    base = np.zeros(len(values)) if bottom is None else np.array(bottom, dtype=np.float64)
    axes.stairs(
        values + base,
        np.arange(len(values) + 1, dtype=np.float64),
        baseline=base,
        fill=True,
        color=color,
        alpha=alpha,
        linewidth=0.0,
        label=label,
    )


def _time_axis(axes: Axes) -> None:
    axes.set_xlabel("time since run start (s)")
    axes.grid(True, alpha=0.3)


def draw_latency(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Viewer latency percentiles over sliding windows, with offered and achieved rate."""
    if analysis.requests.total == 0:
        return "no requests in this run"
    window = analysis.latency.window
    axes = figure.add_subplot()
    x = analysis.timeline.axis
    for p in analysis.options.percentiles:
        # Each value belongs to the window that ends with its second.
        axes.plot(x + 1, window.values[p], label=f"{percentile_label(p)} latency", linewidth=1.4)
    for threshold in marks.thresholds(Metric.LATENCY):
        if threshold.limit <= 0:  # no place on a log axis
            continue
        over = f", worst {threshold.window_s} s window" if threshold.window_s else ", whole run"
        axes.axhline(
            threshold.limit,
            color=_GATE_COLOUR,
            linestyle="-.",
            linewidth=1.4,
            zorder=4,
            label=f"gate {threshold.key}: max {threshold.limit:g} ms{over}",
            gid=f"gate-{threshold.key}",
        )
    axes.set_yscale("log")
    axes.set_ylabel(f"latency over a {window.window_s} s window (ms)")
    _over_time(axes, analysis, marks)
    rate_axes = axes.twinx()
    rate_axes.step(
        *_steps(analysis.requests.per_second),
        where="post",
        color="0.6",
        linewidth=1.0,
        label="achieved req/s",
    )
    if analysis.rate is not None:
        # Drawn over the achieved rate: where the two agree the target must still show.
        rate_axes.step(
            *_steps(analysis.rate.target_per_second),
            where="post",
            color="k",
            linestyle="--",
            linewidth=1.1,
            zorder=3,
            label="offered (target) req/s",
        )
    rate_axes.set_ylabel("requests per second")
    rate_axes.set_ylim(bottom=0)
    _time_axis(axes)
    axes.set_title(f"Viewer latency percentiles ({window.window_s} s sliding window) and rate")
    _legend(axes, rate_axes)
    return None


def draw_rate(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Target against achieved rate, and requests that started late."""
    if analysis.requests.total == 0:
        return "no requests in this run"
    axes = figure.add_subplot()
    late = analysis.rate.late_per_second if analysis.rate is not None else None
    if analysis.rate is not None:
        # The achieved rate as an area under the target's line, so that a run that
        # meets its target still shows the target.
        axes.fill_between(
            *_steps(analysis.rate.achieved_per_second),
            step="post",
            color="#1565c0",
            alpha=0.35,
            linewidth=0.0,
            label="achieved req/s (rate.csv)",
        )
        axes.step(
            *_steps(analysis.rate.target_per_second),
            where="post",
            color="k",
            linestyle="--",
            linewidth=1.5,
            zorder=4,
            label="target req/s",
            gid="target-rate",
        )
    else:
        axes.step(
            *_steps(analysis.requests.per_second),
            where="post",
            color="#1565c0",
            label="achieved req/s (requests.csv)",
        )
    if late is None:
        late = _late_per_second(analysis)
    _bars(axes, late, color="#ef6c00", alpha=0.6, label="late starts per second")
    axes.set_ylabel("requests per second")
    axes.set_ylim(bottom=0)
    _over_time(axes, analysis, marks)
    _time_axis(axes)
    axes.set_title("Target vs achieved request rate, and late starts")
    _legend(axes)
    return None


def _late_per_second(analysis: Analysis) -> FloatArray:
    records = analysis.data.records
    late: FloatArray = analysis.timeline.counts(records.start, records.late_ms > 0).astype(float)
    return late


def _cdf_ranks(n: int, points: int = 2000) -> IntArray:
    """The ranks a CDF of ``n`` sorted values is drawn at: all, or ``points`` spread evenly."""
    if n <= points:
        return np.arange(n, dtype=np.int64)
    ranks: IntArray = np.unique(np.linspace(0, n - 1, points).astype(np.int64))
    return ranks


def draw_router_cdf(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Router duration CDF against the billing threshold and the billed durations."""
    router = analysis.router
    if router is None or router.invocations == 0:
        return "no runtime logs: router duration unknown"
    axes = figure.add_subplot()
    ordered = np.sort(router.durations)
    ranks = _cdf_ranks(len(ordered))
    x, y = ordered[ranks], (ranks + 1) / len(ordered)
    axes.step(x, y, where="post", color="#1565c0", linewidth=1.6, label=f"{router.source}")
    for step, colour in ((1, "#2e7d32"), (50, "#6a1b9a")):
        # Billing rounds up, so it keeps the durations' order: sorted once for all three.
        axes.step(
            billed_ms(x, step).astype(np.float64),
            y,
            where="post",
            color=colour,
            linewidth=1.2,
            linestyle="--",
            label=f"billed at {step} ms steps",
        )
    share = router.share_above_threshold
    axes.axvline(
        router.threshold_ms,
        color="#c62828",
        linewidth=1.5,
        label=f"billing threshold {router.threshold_ms:g} ms ({share:.2%} of invocations above)",
    )
    for threshold in marks.thresholds(Metric.ROUTER_LATENCY):
        if threshold.percentile is None or threshold.limit <= 0:  # no place on a log axis
            continue
        # The gate passes when the curve reaches this share at or left of the limit.
        share_at = threshold.percentile / 100.0
        left = min(float(x[0]), threshold.limit) if float(x[0]) > 0 else threshold.limit / 10.0
        axes.plot(
            [threshold.limit, threshold.limit, left],
            [0.0, share_at, share_at],
            color=_GATE_COLOUR,
            linestyle="-.",
            linewidth=1.3,
            zorder=4,
            label=f"gate {threshold.key}: p{threshold.percentile:g} max {threshold.limit:g} ms",
            gid=f"gate-{threshold.key}",
        )
    axes.set_xscale("log")
    axes.set_xlabel("duration per invocation (ms, log scale)")
    axes.set_ylabel("share of invocations at or below")
    axes.set_ylim(0, 1.02)
    axes.grid(True, which="both", alpha=0.3)
    axes.set_title(f"Router duration CDF ({router.invocations:,} invocations)")
    _legend(axes)
    return None


def draw_cache_states(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Router DNS cache states per second, with DNS queries per second."""
    dns = analysis.dns
    if dns is None:
        return "no router log lines: DNS cache states unknown"
    axes = figure.add_subplot()
    x = analysis.timeline.axis
    edges = np.arange(len(x) + 1)
    axes.stackplot(
        edges,
        [_steps(dns.states_per_second[state])[1] for state in CACHE_STATES],
        labels=[f"{state} ({dns.states[state]:,})" for state in CACHE_STATES],
        colors=[_STATE_COLOURS[state] for state in CACHE_STATES],
        step="post",
        alpha=0.85,
    )
    axes.set_ylabel("router invocations per second")
    _over_time(axes, analysis, marks)
    queries = axes.twinx()
    queries.step(
        *_steps(dns.queries_per_second),
        where="post",
        color="k",
        linewidth=1.0,
        label="DNS queries/s",
    )
    queries.set_ylabel("DNS queries per second")
    queries.set_ylim(bottom=0)
    _time_axis(axes)
    axes.set_title(
        f"Router DNS cache states ({dns.queries_per_1k_invocations:.1f} queries per 1,000 "
        "invocations; 1,000 without a cache)"
    )
    _legend(axes, queries)
    return None


def draw_errors(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Failed requests per second by class, with the error rate."""
    requests = analysis.requests
    if requests.total == 0:
        return "no requests in this run"
    axes = figure.add_subplot()
    x = analysis.timeline.axis
    bottom = np.zeros(len(x))
    for name, series in requests.error_classes_per_second.items():
        total = int(series.sum())
        _bars(axes, series, bottom=bottom, color=_CLASS_COLOURS[name], label=f"{name} ({total:,})")
        bottom += series
    axes.set_ylabel("failed requests per second")
    axes.set_ylim(0, max(1.0, float(bottom.max(initial=0)) * 1.1))
    _over_time(axes, analysis, marks)
    rate = axes.twinx()
    rate.plot(
        x + 0.5,
        requests.error_rate_per_second * 100.0,
        color="#c62828",
        linewidth=1.2,
        label="error rate (%)",
    )
    top = max(1.0, float(np.nanmax(requests.error_rate_per_second, initial=0)) * 110)
    for threshold in marks.thresholds(Metric.ERROR_RATE):
        over = f", worst {threshold.window_s} s window" if threshold.window_s else ", whole run"
        rate.axhline(
            threshold.limit * 100.0,
            color=_GATE_COLOUR,
            linestyle="-.",
            linewidth=1.4,
            label=f"gate {threshold.key}: max {threshold.limit * 100:g} %{over}",
            gid=f"gate-{threshold.key}",
        )
        top = max(top, threshold.limit * 100.0 * 1.2)
    rate.set_ylabel("error rate (%)")
    rate.set_ylim(0, top)
    _time_axis(axes)
    axes.set_title(
        f"Errors over time ({requests.failures:,} of {requests.total:,} requests failed)"
    )
    _legend(axes, rate)
    return None


def _region_colours(*names: Iterable[str]) -> dict[str, str]:
    """One colour per region across every panel, the default origin in grey."""
    palette = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457")
    regions = sorted({name for group in names for name in group} - {DEFAULT_ORIGIN})
    colours = {name: palette[i % len(palette)] for i, name in enumerate(regions)}
    colours[DEFAULT_ORIGIN] = "0.55"
    return colours


def _region_stack(
    axes: Axes, series: dict[str, IntArray], colours: dict[str, str], label: str
) -> None:
    names = sorted(series)
    axes.stackplot(
        np.arange(len(next(iter(series.values()))) + 1),
        [_steps(series[name])[1] for name in names],
        labels=[f"{label} {name} ({int(series[name].sum()):,})" for name in names],
        colors=[colours[name] for name in names],
        step="post",
        alpha=0.8,
    )


def draw_origins(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Per second: the region that answered each miss, beside the region the router chose."""
    origins = analysis.origins
    served = origins.viewer_per_second
    chosen = origins.router_per_second
    if not served and not chosen:
        return "no origin region in the records or router lines"
    colours = _region_colours(served, chosen)
    panels = [panel for panel in (served, chosen) if panel]
    figure.set_size_inches(SIZE[0], SIZE[1] * (1.45 if len(panels) == 2 else 1.0))
    grid = figure.subplots(len(panels), 1, sharex=True, squeeze=False)
    axes_list = [row[0] for row in grid]
    twins: list[Axes] = []
    for axes, series in zip(axes_list, panels, strict=True):
        _over_time(axes, analysis, marks)
        axes.grid(True, alpha=0.3)
        if series is served:
            _region_stack(axes, series, colours, "miss answered by")
            axes.set_ylabel("misses per second")
            axes.set_title("Region that answered each miss (requests.csv origin_region)")
            twins.append(_hit_ratio(axes, analysis))
        else:
            _region_stack(axes, series, colours, "router chose")
            axes.set_ylabel("router invocations per second")
            axes.set_title("Region the router chose, per invocation (router log lines)")
    axes_list[-1].set_xlabel("time since run start (s)")
    if len(panels) == 1:
        missing = "router log lines" if served else "requests.csv origin_region"
        axes_list[0].set_title(f"{axes_list[0].get_title()}; no {missing} in this run")
    _legend(axes_list[0], *twins, *axes_list[1:])
    return None


def _hit_ratio(axes: Axes, analysis: Analysis) -> Axes:
    edge = analysis.edge
    ratio = axes.twinx()
    with np.errstate(invalid="ignore", divide="ignore"):
        hit_ratio = np.where(
            edge.with_header_per_second > 0,
            edge.hits_per_second / np.maximum(edge.with_header_per_second, 1),
            np.nan,
        )
    ratio.plot(
        analysis.timeline.axis + 0.5,
        hit_ratio * 100.0,
        color="k",
        linewidth=1.0,
        label="edge hit ratio (%)",
    )
    ratio.set_ylabel("edge hit ratio (%)")
    ratio.set_ylim(0, 105)
    return ratio


def draw_cold_starts(analysis: Analysis, figure: Figure, marks: Marks) -> str | None:
    """Cold starts per second and concurrent executions."""
    envs = analysis.environments
    if envs is None:
        return "no REPORT lines: cold starts and concurrency unknown"
    axes = figure.add_subplot()
    _bars(
        axes,
        envs.cold_per_second,
        color="#1565c0",
        alpha=0.7,
        label=f"cold starts per second ({envs.cold_starts:,})",
    )
    axes.set_ylabel("cold starts per second")
    _over_time(axes, analysis, marks)
    level = axes.twinx()
    level.step(
        *_steps(envs.concurrency_per_second),
        where="post",
        color="#c62828",
        linewidth=1.3,
        label=f"concurrent executions, max per second (peak {envs.max_concurrency})",
    )
    level.step(
        *_steps(envs.environments_per_second),
        where="post",
        color="k",
        linewidth=1.0,
        linestyle="--",
        label="environments created so far",
    )
    level.set_ylabel("execution environments")
    level.set_ylim(bottom=0)
    _time_axis(axes)
    axes.set_title("Cold starts and concurrent execution environments")
    _legend(axes, level)
    return None


PLOTS = (
    PlotSpec("latency", "Viewer latency percentiles and rate", draw_latency),
    PlotSpec("rate", "Target vs achieved rate and late starts", draw_rate),
    PlotSpec("router_cdf", "Router duration against the billing threshold", draw_router_cdf),
    PlotSpec("cache_states", "Router DNS cache states", draw_cache_states),
    PlotSpec("errors", "Errors over time", draw_errors),
    PlotSpec("origins", "Region that answered each miss beside the router's choice", draw_origins),
    PlotSpec("cold_starts", "Cold starts and concurrency", draw_cold_starts),
)


@dataclass(frozen=True, slots=True)
class PlotResult:
    """A drawn plot's file, or why it was not drawn."""

    spec: PlotSpec
    path: Path | None
    missing: str = ""


def render(
    spec: PlotSpec, analysis: Analysis, marks: Marks | None = None
) -> tuple[Figure, str | None]:
    """Draw one plot on a fresh figure; the reason it cannot be drawn, if so.

    ``marks`` defaults to the run's phases and no gate.
    """
    figure = _figure()
    with np.errstate(invalid="ignore"):
        missing = spec.draw(analysis, figure, marks if marks is not None else marks_for(analysis))
    return figure, missing


def write_plots(analysis: Analysis, folder: Path, gate: Gate | None = None) -> list[PlotResult]:
    """Draw every plot the run's data allows into ``folder`` (``<name>.png``)."""
    folder.mkdir(parents=True, exist_ok=True)
    marks = marks_for(analysis, gate)
    results: list[PlotResult] = []
    for spec in PLOTS:
        figure, missing = render(spec, analysis, marks)
        path = folder / f"{spec.name}.png"
        if missing is not None:
            path.unlink(missing_ok=True)
            results.append(PlotResult(spec, None, missing))
            continue
        _save(figure, path)
        results.append(PlotResult(spec, path))
    return results


def _save(figure: Figure, path: Path) -> None:
    """Write ``figure`` as PNG, laid out once and drawn once.

    With any layout engine set, even the placeholder that ``"none"`` leaves,
    ``savefig`` draws the whole figure twice (once unseen, to lay it out).
    Laying it out here and then removing the engine draws it once, and the
    file is the same byte for byte. The rc settings that would bring an engine
    back in place of ``None`` are held off while it is removed.
    """
    engine = figure.get_layout_engine()
    if engine is not None:
        engine.execute(figure)
        with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
            figure.set_layout_engine(None)
    figure.savefig(path, format="png")
