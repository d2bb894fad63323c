"""What the run set out to do against what it did: planned vs sent, and the load's phases.

``run.json`` keeps the scenario's plan (docs/formats.md): ``plan.scheduled``
requests over ``duration_s`` seconds, while ``scheduled`` counts only the
requests due before the run stopped and ``unsent`` those left undealt. A run
stopped early (``-t 30s`` on a 55 s spike) reached its cut schedule and still
fell short of its plan; :class:`RunPlan` says both.

Phases (baseline, spike, cooldown) come from the plan's rate profile when
``run.json`` has one, else from ``rate.csv``'s target: the spike is where the
target, smoothed over 3 s, stands above halfway between its low level (10th
percentile) and its peak. A target that never rises 1.5x above its low level,
or whose seconds above that level are scattered rather than one stretch (a
flat Poisson-drawn target), has no spike and no phases.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgedrill_formats.run_folder import RUN_JSON

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from results.analysis import Analysis
    from results.records import FloatArray

BASELINE = "baseline"
SPIKE = "spike"
COOLDOWN = "cooldown"
SPIKE_RATIO = 1.5  # peak over low level below which a target has no spike
SPIKE_FILL = 0.8  # share of the spike's seconds that must stand above the midway level
# A run that ends this close to its planned length ran its plan (the end is stamped
# after the drain, the plan's duration at the last request due).
CUT_TOLERANCE_S = 1.0


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of the load, in seconds since the run's start."""

    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class RunPlan:
    """The plan against the run: requests planned and sent, seconds planned and run."""

    sent: int  # requests recorded
    ran_s: float
    planned: int | None  # the whole plan's requests (run.json plan.scheduled)
    scheduled: int | None  # requests due before the run stopped (run.json scheduled)
    unsent: int | None
    planned_s: float | None  # the plan's length (run.json duration_s)
    phases: tuple[Phase, ...]
    phase_source: str  # "run.json plan", "rate.csv target" or "" (no phases)

    @property
    def cut(self) -> bool:
        """Whether the run stopped before its plan was done."""
        if self.planned_s is not None and self.ran_s + CUT_TOLERANCE_S < self.planned_s:
            return True
        return self.planned is not None and self.scheduled is not None and (
            self.scheduled < self.planned
        )

    def describe(self) -> str:
        """``sent 2,100 of 2,650 planned (the run stopped at 30 s of 55 s)``."""
        if self.planned is None:
            return f"sent {self.sent:,} (run.json has no plan)"
        text = f"sent {self.sent:,} of {self.planned:,} planned"
        if self.cut:
            stopped = f"{self.ran_s:,.0f} s"
            if self.planned_s is not None:
                stopped += f" of {self.planned_s:,.0f} s"
            text += f" (the plan was cut: the run stopped at {stopped}"
            if self.unsent:
                text += f", {self.unsent:,} never sent"
            text += ")"
        return text


def run_plan(analysis: Analysis) -> RunPlan:
    """The run's plan from ``run.json``, its phases from the plan or ``rate.csv``."""
    document = _run_document(analysis.data.path / RUN_JSON)
    plan = document.get("plan")
    plan = plan if isinstance(plan, dict) else {}
    phases = _profile_phases(plan.get("profile"))
    source = "run.json plan" if phases else ""
    if not phases and analysis.rate is not None:
        phases = target_phases(analysis.rate.target_per_second)
        source = "rate.csv target" if phases else ""
    return RunPlan(
        sent=analysis.requests.total,
        ran_s=analysis.data.info.duration_s,
        planned=_count(plan.get("scheduled")),
        scheduled=_count(document.get("scheduled")),
        unsent=_count(document.get("unsent")),
        planned_s=_seconds(document.get("duration_s")),
        phases=phases,
        phase_source=source,
    )


def _run_document(path: Path) -> Mapping[str, object]:
    # The analysis has read and checked run.json already; this reads the keys it keeps not.
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, json.JSONDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _count(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else None


def _seconds(value: object) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _phases(spike_start: float, spike_end: float, end: float) -> tuple[Phase, ...]:
    found = (
        Phase(BASELINE, 0.0, spike_start),
        Phase(SPIKE, spike_start, spike_end),
        Phase(COOLDOWN, spike_end, end),
    )
    return tuple(phase for phase in found if phase.end_s > phase.start_s)


def _profile_phases(profile: object) -> tuple[Phase, ...]:
    """Phases of ``plan.profile``: the spike from the first rise above the start rate on."""
    if not isinstance(profile, list) or not profile:
        return ()
    segments: list[tuple[float, float, float, float]] = []
    for item in profile:
        if not isinstance(item, dict):
            return ()
        values = [_number(item.get(key)) for key in ("start", "end", "rate_start", "rate_end")]
        if any(value is None for value in values):
            return ()
        start, end, rate_start, rate_end = (float(value or 0.0) for value in values)
        segments.append((start, end, rate_start, rate_end))
    base = segments[0][2]
    peak = max(max(s[2], s[3]) for s in segments)
    if peak <= base * SPIKE_RATIO or peak <= 0:
        return ()
    above = [s for s in segments if max(s[2], s[3]) > base]
    return _phases(above[0][0], above[-1][1], segments[-1][1])


def target_phases(target: FloatArray) -> tuple[Phase, ...]:
    """Phases of a per-second target: the spike where it stands above its midway level."""
    asked = np.flatnonzero(target > 0)
    if not len(asked):
        return ()
    first, last = int(asked[0]), int(asked[-1])
    span = np.asarray(target[first : last + 1], dtype=np.float64)
    # A centred 3 s mean steadies Poisson-drawn targets without moving a step.
    padded = np.pad(span, 1, mode="edge")
    smooth = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
    low = float(np.percentile(smooth, 10))
    peak = float(smooth.max())
    if peak <= max(low, 1e-9) * SPIKE_RATIO:
        return ()
    above = smooth >= (low + peak) / 2.0
    high = np.flatnonzero(above)
    # A spike stands above the midway level throughout; noise crosses it here and there.
    if np.count_nonzero(above[high[0] : high[-1] + 1]) < SPIKE_FILL * (high[-1] - high[0] + 1):
        return ()
    return _phases(float(first + high[0]), float(first + high[-1] + 1), float(last + 1))
