"""The pre-release capacity gate: thresholds over a run, a verdict, JUnit XML.

The thresholds live in ``[tool.edgedrill.gate]`` of ``pyproject.toml`` or in
the ``[gate]`` table of a TOML file given with ``--gate``::

    [tool.edgedrill.gate]
    p99_ms = { max = 800, window_s = 10 }   # viewer latency, worst window
    error_rate = { max = 0.001 }
    achieved_ratio = { min = 0.95 }          # achieved / target requests
    router_p99_ms = { max = 50 }             # the billing threshold
    failover_s = { max = 30 }
    dns_queries_per_1k = { max = 5 }
    cold_starts = { max = 200 }

Keys:

* ``p<N>_ms`` (``p50_ms``, ``p99_ms``, ``"p99.9_ms"`` or ``p99_9_ms``): viewer
  latency percentile; with ``window_s`` the worst window of that many seconds
  (whole windows, each with at least ``min_requests``, default 1), without it
  the whole run.
* ``error_rate``: failed / all requests; with ``window_s``, the worst window.
* ``achieved_ratio`` (``min``): achieved / target requests from ``rate.csv``.
* ``router_p<N>_ms``: percentile of the router's billed ``Duration``.
* ``failover_s``: the slowest fault's failover time. A fault that breaks one
  origin region is measured from the region that answered each miss
  (``requests.csv`` ``origin_region``: until misses stopped reaching it) when
  the run has that column filled and misses fell in the window; every other
  fault by the error rate (back under ``error_rate``, default the
  ``error_rate`` threshold's max or 0.01, for ``stable_s``). The detail says
  which measure each fault took.
* ``dns_queries_per_1k``: DNS queries per 1,000 router invocations.
* ``cold_starts``, ``late_starts``, ``malformed_lines``: counts (``max``).
* ``edge_hit_ratio`` (``min``): share of responses the edge cache answered.
* ``abort_after_s`` (a number, not a table): stop a live drill once a
  latency or error-rate threshold has been breached for that many seconds.

A threshold whose input the run lacks (no fault timeline, no runtime logs,
no ``rate.csv``) is *skipped*, never passed; a threshold that cannot be
measured because the run made no requests fails.

Every report carries a verdict: ``edgedrill report`` and ``edgedrill run``
judge the run by :func:`default_gate`, the ``[tool.edgedrill.gate]`` table of
the nearest ``pyproject.toml`` or, without one, the example above.
"""

from __future__ import annotations

import math
import re
import socket
import textwrap
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from results.errors import GateConfigError
from results.failover import DEFAULT_ERROR_RATE, DEFAULT_STABLE_S
from results.latency import percentiles

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from results.analysis import Analysis


class Bound(StrEnum):
    """Which side of the limit passes."""

    MAX = "max"
    MIN = "min"


class Metric(StrEnum):
    """What a threshold measures."""

    LATENCY = "latency"
    ERROR_RATE = "error_rate"
    ACHIEVED_RATIO = "achieved_ratio"
    ROUTER_LATENCY = "router_latency"
    FAILOVER = "failover_s"
    DNS_QUERIES = "dns_queries_per_1k"
    COLD_STARTS = "cold_starts"
    LATE_STARTS = "late_starts"
    MALFORMED = "malformed_lines"
    EDGE_HIT_RATIO = "edge_hit_ratio"


class Outcome(StrEnum):
    """A threshold's verdict."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


# metric -> (the bound it takes, its extra keys, its unit)
_RULES: dict[Metric, tuple[Bound, frozenset[str], str]] = {
    Metric.LATENCY: (Bound.MAX, frozenset({"window_s", "min_requests"}), "ms"),
    Metric.ERROR_RATE: (Bound.MAX, frozenset({"window_s", "min_requests"}), ""),
    Metric.ACHIEVED_RATIO: (Bound.MIN, frozenset(), ""),
    Metric.ROUTER_LATENCY: (Bound.MAX, frozenset(), "ms"),
    Metric.FAILOVER: (Bound.MAX, frozenset({"error_rate", "stable_s"}), "s"),
    Metric.DNS_QUERIES: (Bound.MAX, frozenset(), ""),
    Metric.COLD_STARTS: (Bound.MAX, frozenset(), ""),
    Metric.LATE_STARTS: (Bound.MAX, frozenset(), ""),
    Metric.MALFORMED: (Bound.MAX, frozenset(), ""),
    Metric.EDGE_HIT_RATIO: (Bound.MIN, frozenset(), ""),
}
_PERCENTILE_KEY = re.compile(r"^(router_)?p(\d{1,2}(?:[._]\d+)?)_ms$")
ABORT_KEY = "abort_after_s"


@dataclass(frozen=True, slots=True)
class Threshold:
    """One gate threshold."""

    key: str
    metric: Metric
    bound: Bound
    limit: float
    percentile: float | None = None
    window_s: int | None = None
    min_requests: int = 1
    error_rate: float | None = None  # failover only
    stable_s: int = DEFAULT_STABLE_S  # failover only

    def passes(self, value: float) -> bool:
        """Whether a measured value meets the limit."""
        return value <= self.limit if self.bound is Bound.MAX else value >= self.limit

    def describe(self) -> str:
        """``max 800 ms over 10 s windows`` etc."""
        unit = _RULES[self.metric][2]
        text = f"{self.bound.value} {self.limit:g}{' ' + unit if unit else ''}"
        if self.window_s is not None:
            text += f" (worst {self.window_s} s window)"
        return text


@dataclass(frozen=True, slots=True)
class Gate:
    """A set of thresholds and where they came from."""

    thresholds: tuple[Threshold, ...]
    source: str
    abort_after_s: float | None = None

    def live_thresholds(self) -> tuple[Threshold, ...]:
        """Thresholds a drill in progress can be checked against (latency, error rate)."""
        return tuple(t for t in self.thresholds if t.metric in (Metric.LATENCY, Metric.ERROR_RATE))


def parse_gate(table: Mapping[str, object], source: str) -> Gate:
    """Validate a gate table; raise GateConfigError naming the key."""
    thresholds: list[Threshold] = []
    abort: float | None = None
    for key, value in table.items():
        if key == ABORT_KEY:
            abort = _positive(value, source, key)
            continue
        thresholds.append(_threshold(key, value, source))
    if not thresholds:
        raise GateConfigError(source, "(table)", "no thresholds")
    return Gate(tuple(thresholds), source, abort)


def _metric(key: str, source: str) -> tuple[Metric, float | None]:
    match = _PERCENTILE_KEY.match(key)
    if match:
        p = float(match.group(2).replace("_", "."))
        if not 0 < p <= 100:
            raise GateConfigError(source, key, "percentile must be in (0, 100]")
        return (Metric.ROUTER_LATENCY if match.group(1) else Metric.LATENCY), p
    try:
        metric = Metric(key)
    except ValueError:
        known = "p<N>_ms, router_p<N>_ms, " + ", ".join(
            m.value for m in Metric if m not in (Metric.LATENCY, Metric.ROUTER_LATENCY)
        )
        raise GateConfigError(
            source, key, f"unknown threshold (known: {known}, {ABORT_KEY})"
        ) from None
    if metric in (Metric.LATENCY, Metric.ROUTER_LATENCY):
        raise GateConfigError(source, key, "unknown threshold")
    return metric, None


def _threshold(key: str, value: object, source: str) -> Threshold:
    metric, percentile = _metric(key, source)
    if not isinstance(value, dict):
        raise GateConfigError(source, key, f"expected a table like {{ max = 1 }}, got {value!r}")
    bound, extras, _unit = _RULES[metric]
    allowed = {bound.value} | extras
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise GateConfigError(
            source,
            key,
            f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
        )
    if bound.value not in value:
        raise GateConfigError(source, key, f"needs '{bound.value}'")
    limit = _number(value[bound.value], source, f"{key}.{bound.value}")
    window = value.get("window_s")
    min_requests = value.get("min_requests", 1)
    stable = value.get("stable_s", DEFAULT_STABLE_S)
    rate = value.get("error_rate")
    return Threshold(
        key=key,
        metric=metric,
        bound=bound,
        limit=limit,
        percentile=percentile,
        window_s=_whole(window, source, f"{key}.window_s") if window is not None else None,
        min_requests=_whole(min_requests, source, f"{key}.min_requests"),
        error_rate=_number(rate, source, f"{key}.error_rate") if rate is not None else None,
        stable_s=_whole(stable, source, f"{key}.stable_s"),
    )


def _number(value: object, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GateConfigError(source, key, f"expected a number, got {value!r}")
    if value < 0:
        raise GateConfigError(source, key, f"must not be negative, got {value!r}")
    return float(value)


def _positive(value: object, source: str, key: str) -> float:
    number = _number(value, source, key)
    if number <= 0:
        raise GateConfigError(source, key, f"must be positive, got {value!r}")
    return number


def _whole(value: object, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GateConfigError(source, key, f"expected a whole number >= 1, got {value!r}")
    return value


def load_gate(path: Path | None = None, *, pyproject: Path | None = None) -> Gate:
    """The gate from ``--gate FILE`` (``[gate]``) or from ``[tool.edgedrill.gate]``."""
    if path is not None:
        document = _read_toml(path)
        table = document.get("gate")
        if table is None:
            tool = document.get("tool")
            edgedrill = tool.get("edgedrill") if isinstance(tool, dict) else None
            table = edgedrill.get("gate") if isinstance(edgedrill, dict) else None
        if not isinstance(table, dict):
            raise GateConfigError(str(path), "gate", "no [gate] table in this file")
        return parse_gate(table, str(path))
    if pyproject is None or not pyproject.exists():
        raise GateConfigError(
            str(pyproject or "pyproject.toml"),
            "tool.edgedrill.gate",
            "no gate: give --gate FILE or add [tool.edgedrill.gate] to pyproject.toml",
        )
    document = _read_toml(pyproject)
    tool = document.get("tool")
    edgedrill = tool.get("edgedrill") if isinstance(tool, dict) else None
    table = edgedrill.get("gate") if isinstance(edgedrill, dict) else None
    if not isinstance(table, dict):
        raise GateConfigError(
            str(pyproject), "tool.edgedrill.gate", "no [tool.edgedrill.gate] table (or use --gate)"
        )
    return parse_gate(table, f"{pyproject} [tool.edgedrill.gate]")


EXAMPLE_SOURCE = "the example gate of results.gate (no [tool.edgedrill.gate] found)"


def example_gate() -> Gate:
    """The example table of this module's docstring, the gate of a run that names none."""
    lines = (__doc__ or "").splitlines()
    header = "    [tool.edgedrill.gate]"
    if header not in lines:  # python -OO drops docstrings
        raise GateConfigError(EXAMPLE_SOURCE, "(table)", "docstrings were stripped (-OO)")
    first = lines.index(header) + 1
    last = lines.index("", first)
    table = tomllib.loads(textwrap.dedent("\n".join(lines[first:last])))
    return parse_gate(table, EXAMPLE_SOURCE)


def default_gate(pyproject: Path | None) -> Gate:
    """``[tool.edgedrill.gate]`` of ``pyproject`` when it has that table, else :func:`example_gate`.

    A table that is there but invalid is an error (GateConfigError), never replaced.
    """
    if pyproject is None or not pyproject.is_file():
        return example_gate()
    tool = _read_toml(pyproject).get("tool")
    edgedrill = tool.get("edgedrill") if isinstance(tool, dict) else None
    if not isinstance(edgedrill, dict) or "gate" not in edgedrill:
        return example_gate()
    return load_gate(pyproject=pyproject)


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise GateConfigError(str(path), "(file)", "not found") from None
    except OSError as exc:
        raise GateConfigError(str(path), "(file)", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start}): a gate file is TOML"
        raise GateConfigError(str(path), "(file)", reason) from None
    except tomllib.TOMLDecodeError as exc:
        raise GateConfigError(str(path), "(file)", f"invalid TOML: {exc}") from None
    except RecursionError:
        raise GateConfigError(str(path), "(file)", "invalid TOML: nested too deeply") from None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One threshold's outcome against a run."""

    threshold: Threshold
    outcome: Outcome
    value: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class GateResult:
    """Every threshold's verdict, and whether the drill was stopped early."""

    gate: Gate
    verdicts: tuple[Verdict, ...]
    aborted: str = ""  # why a live drill was stopped, when it was
    run: str = ""

    @property
    def passed(self) -> bool:
        """No threshold failed (skips do not fail the gate, and do not pass it either)."""
        return not self.failed and not self.aborted

    @property
    def failed(self) -> list[Verdict]:
        """The verdicts that breached."""
        return [v for v in self.verdicts if v.outcome is Outcome.FAIL]

    def counts(self) -> dict[str, int]:
        """How many thresholds passed, failed, were skipped."""
        found = {outcome.value: 0 for outcome in Outcome}
        for verdict in self.verdicts:
            found[verdict.outcome.value] += 1
        return found


def evaluate(gate: Gate, analysis: Analysis, *, aborted: str = "") -> GateResult:
    """Hold a run's analysis against every threshold of the gate."""
    error_rate_max = next((t.limit for t in gate.thresholds if t.metric is Metric.ERROR_RATE), None)
    verdicts = tuple(_judge(t, analysis, error_rate_max) for t in gate.thresholds)
    return GateResult(gate, verdicts, aborted, str(analysis.data.path))


def _verdict(t: Threshold, value: float, detail: str) -> Verdict:
    outcome = Outcome.PASS if t.passes(value) else Outcome.FAIL
    word = "within" if outcome is Outcome.PASS else "breaches"
    return Verdict(t, outcome, value, f"{detail}: {_show(value, t)} {word} {t.describe()}")


def _show(value: float, t: Threshold) -> str:
    unit = _RULES[t.metric][2]
    if t.metric in (Metric.ERROR_RATE, Metric.ACHIEVED_RATIO, Metric.EDGE_HIT_RATIO):
        return f"{value:.4g}"
    return f"{value:,.2f}{' ' + unit if unit else ''}".replace(".00 ", " ")


def _skip(t: Threshold, why: str) -> Verdict:
    return Verdict(t, Outcome.SKIP, None, why)


def _fail(t: Threshold, why: str) -> Verdict:
    return Verdict(t, Outcome.FAIL, None, why)


def _no_requests(t: Threshold, analysis: Analysis, what: str) -> Verdict:
    """No viewer requests: a drill that made none failed; logs fetched alone have none to judge."""
    if analysis.data.info.logs_only:
        return _skip(t, f"router logs only (edgedrill fetch-logs): no viewer {what} recorded")
    return _fail(t, f"no requests were made: {what} cannot be judged")


def _judge(t: Threshold, analysis: Analysis, error_rate_max: float | None) -> Verdict:
    judge = _JUDGES[t.metric]
    return judge(t, analysis, error_rate_max)


def _latency(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    assert t.percentile is not None
    if analysis.requests.total == 0:
        return _no_requests(t, analysis, "latency")
    label = f"p{t.percentile:g} viewer latency"
    if t.window_s is None:
        return _verdict(t, analysis.percentile(t.percentile), f"{label}, whole run")
    series = analysis.window(t.window_s, (t.percentile,))
    worst = series.worst(t.percentile, min_count=t.min_requests)
    if worst is None:
        return _skip(t, f"no whole {t.window_s} s window with >= {t.min_requests} requests")
    value, end, count = worst
    return _verdict(
        t, value, f"{label}, worst {t.window_s} s window (ending at {end} s, {count:,} requests)"
    )


def _error_rate(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    requests = analysis.requests
    if requests.total == 0:
        return _no_requests(t, analysis, "error rate")
    if t.window_s is None:
        return _verdict(
            t, requests.error_rate, f"{requests.failures:,} of {requests.total:,} failed"
        )
    worst = _worst_error_window(analysis, t.window_s, t.min_requests)
    if worst is None:
        return _skip(t, f"no whole {t.window_s} s window with >= {t.min_requests} requests")
    rate, end, count = worst
    return _verdict(t, rate, f"worst {t.window_s} s window (ending at {end} s, {count:,} requests)")


def worst_error_window(
    requests_per_second: np.ndarray,
    failures_per_second: np.ndarray,
    window_s: int,
    min_requests: int,
) -> tuple[float, int, int] | None:
    """``(error rate, window end second, requests)`` of the worst whole window, or None."""
    seconds = len(requests_per_second)
    window_s = min(window_s, seconds)
    kernel = np.ones(window_s, dtype=np.int64)
    made = np.convolve(requests_per_second, kernel, mode="valid")
    failed = np.convolve(failures_per_second, kernel, mode="valid")
    eligible = made >= max(min_requests, 1)
    if not eligible.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(eligible, failed / np.maximum(made, 1), -1.0)
    at = int(np.argmax(rates))
    return float(rates[at]), at + window_s - 1, int(made[at])


def _worst_error_window(
    analysis: Analysis, window_s: int, min_requests: int
) -> tuple[float, int, int] | None:
    requests = analysis.requests
    return worst_error_window(
        requests.per_second, requests.failures_per_second, window_s, min_requests
    )


def _achieved(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    rate = analysis.rate
    if rate is None:
        return _skip(t, "no rate.csv in this run: target rate unknown")
    if not math.isfinite(rate.achieved_ratio):
        return _skip(t, "rate.csv asks for no requests: no target to reach")
    return _verdict(
        t, rate.achieved_ratio, f"{rate.achieved_total:,.0f} of {rate.target_total:,.0f} requests"
    )


def _router(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    assert t.percentile is not None
    router = analysis.router
    if router is None:
        return _skip(t, "no runtime logs in this run: router duration unknown")
    value = router.duration_ms.get(t.percentile)
    if value is None:
        value = percentiles(router.durations, [t.percentile])[t.percentile]
    return _verdict(
        t,
        value,
        f"p{t.percentile:g} router duration ({router.source}, {router.invocations:,} invocations; "
        f"billing threshold {router.threshold_ms:g} ms)",
    )


def _failover(t: Threshold, analysis: Analysis, error_rate_max: float | None) -> Verdict:
    rate = t.error_rate if t.error_rate is not None else (error_rate_max or DEFAULT_ERROR_RATE)
    items = analysis.failovers_with(rate, t.stable_s)
    if not items:
        return _skip(t, "no faults in this run")
    windows = analysis.fault_windows or ()
    # (fault, seconds or None, how it was measured, why None means not failed over)
    measured: list[tuple[str, float | None, str, str]] = []
    for index, item in enumerate(items):
        served = windows[index].served if index < len(windows) else None
        label = item.fault.label
        if served is not None and served.misses:
            measured.append(
                (
                    label,
                    served.failover_s,
                    f"until misses stopped reaching {served.region}: served region, "
                    "requests.csv origin_region",
                    f"misses still reached {served.region} when the fault ended",
                )
            )
        else:
            measured.append(
                (
                    label,
                    item.failover_s,
                    f"until the error rate was back under {rate:g}",
                    f"error rate never back under {rate:g} for {t.stable_s} s",
                )
            )
    stuck = [f"{label}: {why}" for label, value, _, why in measured if value is None]
    if stuck:
        return _fail(t, "not failed over: " + "; ".join(stuck))
    label, value, how, _ = max(measured, key=lambda entry: entry[1] or 0.0)
    assert value is not None
    return _verdict(t, value, f"slowest of {len(items)} fault(s): {label} ({how})")


def _dns(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    dns = analysis.dns
    if dns is None or dns.invocations == 0:
        return _skip(t, "no router log lines in this run: DNS queries unknown")
    return _verdict(
        t,
        dns.queries_per_1k_invocations,
        f"DNS queries: {dns.queries:,} over {dns.invocations:,} invocations "
        "(1,000 per 1,000 without a cache)",
    )


def _cold(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    envs = analysis.environments
    if envs is None:
        return _skip(t, "no REPORT lines in this run: cold starts unknown")
    return _verdict(t, envs.cold_starts, f"cold starts over {envs.invocations:,} invocations")


def _late(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    requests = analysis.requests
    return _verdict(t, requests.late_starts, f"requests started late of {requests.total:,}")


def _malformed(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    return _verdict(t, analysis.malformed_lines, "malformed lines skipped in the run's files")


def _edge(t: Threshold, analysis: Analysis, _: float | None) -> Verdict:
    edge = analysis.edge
    if edge.requests == 0:
        return _skip(t, "no response carried x-cache: edge hit ratio unknown")
    return _verdict(
        t, edge.hit_ratio, f"{edge.hits:,} of {edge.requests:,} responses from the edge cache"
    )


_JUDGES = {
    Metric.LATENCY: _latency,
    Metric.ERROR_RATE: _error_rate,
    Metric.ACHIEVED_RATIO: _achieved,
    Metric.ROUTER_LATENCY: _router,
    Metric.FAILOVER: _failover,
    Metric.DNS_QUERIES: _dns,
    Metric.COLD_STARTS: _cold,
    Metric.LATE_STARTS: _late,
    Metric.MALFORMED: _malformed,
    Metric.EDGE_HIT_RATIO: _edge,
}


def junit_xml(result: GateResult, *, summary_text: str = "") -> str:
    """JUnit XML: one test case per threshold (failure / skipped / passed)."""
    counts = result.counts()
    failures = counts[Outcome.FAIL.value] + (1 if result.aborted else 0)
    tests = len(result.verdicts) + (1 if result.aborted else 0)
    totals = {
        "tests": str(tests),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(counts[Outcome.SKIP.value]),
    }
    suites = ET.Element("testsuites", {"name": "edgedrill", **totals})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {"name": "edgedrill.gate", **totals},
        timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=socket.gethostname(),
        time="0",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="run", value=result.run)
    ET.SubElement(properties, "property", name="gate", value=result.gate.source)
    for verdict in result.verdicts:
        case = ET.SubElement(
            suite, "testcase", classname="edgedrill.gate", name=verdict.threshold.key, time="0"
        )
        if verdict.outcome is Outcome.FAIL:
            failure = ET.SubElement(case, "failure", message=verdict.detail, type="threshold")
            failure.text = f"{verdict.threshold.key}: {verdict.detail}"
        elif verdict.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", message=verdict.detail)
        else:
            ET.SubElement(case, "system-out").text = verdict.detail
    if result.aborted:
        case = ET.SubElement(
            suite, "testcase", classname="edgedrill.gate", name=ABORT_KEY, time="0"
        )
        ET.SubElement(case, "failure", message=result.aborted, type="aborted").text = result.aborted
    if summary_text:
        ET.SubElement(suite, "system-out").text = summary_text
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def gate_json(result: GateResult) -> dict[str, object]:
    """The gate's verdicts for summary.json."""
    return {
        "source": result.gate.source,
        "passed": result.passed,
        "aborted": result.aborted or None,
        "counts": result.counts(),
        "thresholds": [
            {
                "key": v.threshold.key,
                "bound": v.threshold.bound.value,
                "limit": v.threshold.limit,
                "window_s": v.threshold.window_s,
                "outcome": v.outcome.value,
                "value": v.value,
                "detail": v.detail,
            }
            for v in result.verdicts
        ],
    }
