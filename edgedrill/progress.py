"""A running drill's progress on stderr: one line every few seconds while the load runs.

A thread reads the run folder as the drill writes it: ``plan.json`` (written
when the load starts: the schedule's origin and end, the requests asked for
per second, the faults' timeline) and the records appended to
``requests.csv`` (:class:`results.live.RequestsTail`, as the gate's abort
reads them). A line reads::

    edgedrill: 20/55 s | target 100.0/s | achieved 98.6/s | p99 41.3 ms | errors 2 of 812
        | faults: dns:servfail

(one line on the terminal).

Target, achieved and p99 are those of the last few settled seconds: a record
is written when its request ends, in batches, so the newest seconds are
still filling; once the schedule is over they are its last seconds while
the load drains. Errors count the whole run so far. The faults are those whose
planned window covers the moment of the line. Memory stays bounded however
long the drill: only the seconds of the current window are kept.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from edgedrill_formats.run_folder import PLAN_JSON, REQUESTS_CSV, RUN_JSON

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

# A second's records are complete this long after it (batches flush once a second).
SETTLE_S = 2
WINDOW_S = 5
_POLL_S = 0.25
_JOIN_S = 5.0
_MIN_INTERVAL_S = 2.0
_MAX_INTERVAL_S = 10.0


def progress_interval(planned_s: float) -> float:
    """Seconds between lines: about ten lines a drill, every 2 to 10 s."""
    return float(min(_MAX_INTERVAL_S, max(_MIN_INTERVAL_S, round(planned_s / 10))))


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One fault of the drill's timeline, as ``plan.json`` lists it."""

    name: str
    at_s: float
    for_s: float

    def active(self, elapsed_s: float) -> bool:
        """Whether the fault's planned window covers ``elapsed_s``."""
        return self.at_s <= elapsed_s < self.at_s + self.for_s


@dataclass(frozen=True, slots=True)
class PlannedRun:
    """What a running drill asks for (``plan.json``)."""

    t0: float
    duration_s: float
    targets: tuple[float, ...]
    faults: tuple[PlannedFault, ...] = ()

    @classmethod
    def load(cls, path: Path) -> PlannedRun | None:
        """The plan in ``path``; ``None`` while it is not written (or not readable) yet."""
        try:
            return cls.from_document(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PlannedRun:
        """The plan of a ``plan.json`` document (``KeyError``/``ValueError`` if it is not one)."""
        faults = tuple(
            PlannedFault(
                _fault_name(str(f["fault"]), f.get("region")), float(f["at_s"]), float(f["for_s"])
            )
            for f in document.get("faults", ())
        )
        return cls(
            t0=float(document["t0"]),
            duration_s=float(document["duration_s"]),
            targets=tuple(float(t) for t in document.get("targets", ())),
            faults=faults,
        )

    def target_rps(self, seconds: range) -> float:
        """Requests per second asked for over ``seconds`` (of the schedule)."""
        if not seconds:
            return 0.0
        asked = sum(self.targets[s] for s in seconds if 0 <= s < len(self.targets))
        return asked / len(seconds)

    def active_faults(self, elapsed_s: float) -> tuple[str, ...]:
        """The faults planned to be active ``elapsed_s`` into the schedule."""
        return tuple(f.name for f in self.faults if f.active(elapsed_s))


def _fault_name(spelling: str, region: object) -> str:
    return f"{spelling}@{region}" if region else spelling


@dataclass(frozen=True, slots=True)
class ProgressLine:
    """One progress line's figures; ``None`` where the window has no data yet."""

    elapsed_s: float
    planned_s: float
    target_rps: float
    achieved_rps: float | None
    p99_ms: float | None
    errors: int
    requests: int
    faults: tuple[str, ...]

    def render(self) -> str:
        """The line as printed."""
        over = self.elapsed_s - self.planned_s
        draining = f" (draining {over:.0f} s)" if over >= 1 else ""
        elapsed = min(self.elapsed_s, self.planned_s)
        achieved = "-" if self.achieved_rps is None else f"{self.achieved_rps:.1f}/s"
        p99 = "-" if self.p99_ms is None else f"{self.p99_ms:.1f} ms"
        return (
            f"edgedrill: {elapsed:.0f}/{self.planned_s:.0f} s{draining}"
            f" | target {self.target_rps:.1f}/s | achieved {achieved} | p99 {p99}"
            f" | errors {self.errors} of {self.requests}"
            f" | faults: {', '.join(self.faults) or 'none'}"
        )


@dataclass(slots=True)
class ProgressTally:
    """Running totals and the recent seconds' latencies of a drill's records."""

    requests: int = 0
    errors: int = 0
    _durations: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    _floor: int = 0

    def add(self, plan: PlannedRun, rows: Iterable[tuple[float, float, bool]]) -> None:
        """Take new records ``(start, duration_ms, failed)``."""
        for start, duration_ms, failed in rows:
            self.requests += 1
            self.errors += failed
            second = math.floor(start - plan.t0)
            if second >= self._floor:
                self._durations[second].append(duration_ms)

    def line(self, plan: PlannedRun, now: float) -> ProgressLine:
        """The figures ``now``; seconds before the window are forgotten."""
        elapsed = max(0.0, now - plan.t0)
        # While the load drains, the window slides on to the schedule's last seconds.
        settled = min(math.floor(elapsed) - SETTLE_S, math.ceil(plan.duration_s))
        window = range(max(0, settled - WINDOW_S), max(0, settled))
        for second in [s for s in self._durations if s < window.start]:
            del self._durations[second]
        self._floor = window.start
        durations = sorted(d for s in window for d in self._durations.get(s, ()))
        achieved = len(durations) / len(window) if window else None
        p99 = durations[math.ceil(0.99 * len(durations)) - 1] if durations else None
        if window:
            target = plan.target_rps(window)
        else:
            target = plan.target_rps(range(math.floor(elapsed), math.floor(elapsed) + 1))
        return ProgressLine(
            elapsed_s=elapsed,
            planned_s=plan.duration_s,
            target_rps=target,
            achieved_rps=achieved,
            p99_ms=p99,
            errors=self.errors,
            requests=self.requests,
            faults=plan.active_faults(elapsed),
        )


class DrillProgress:
    """Prints a running drill's progress to ``stream`` from a thread, until stopped."""

    def __init__(
        self,
        stream: IO[str],
        *,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.stream: IO[str] | None = stream
        self.interval_s = interval_s
        self.clock = clock
        self.lines = 0
        self._run_dir: Path | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="edgedrill-progress", daemon=True)

    def start(self, run_dir: Path) -> None:
        """Start following the drill writing ``run_dir``."""
        self._run_dir = run_dir
        self._thread.start()

    def stop(self) -> None:
        """Stop printing (idempotent); waits a bounded time for the thread."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=_JOIN_S)

    def _watch(self) -> None:
        from results.live import RequestsTail

        if self._run_dir is None:
            return
        plan: PlannedRun | None = None
        tail = RequestsTail(self._run_dir / REQUESTS_CSV)
        tally = ProgressTally()
        due = math.inf
        while not self._stop.wait(_POLL_S):
            if plan is None:
                plan = PlannedRun.load(self._run_dir / PLAN_JSON)
                if plan is None:
                    continue
                interval = self.interval_s or progress_interval(plan.duration_s)
                due = plan.t0 + interval
            tally.add(plan, tail.read())
            if (self._run_dir / RUN_JSON).exists():
                return  # the run is written: Locust's summary says the rest
            now = self.clock()
            if now >= due:
                self._print(tally.line(plan, now).render())
                # The next line on the interval's grid, however late this one came.
                due += interval * max(1, math.ceil((now - due) / interval))

    def _print(self, text: str) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            # A closed stderr (``edgedrill run 2>&- ``) stops the lines, never the drill.
            self.stream = None
            return
        self.lines += 1

