"""Timelines: when each fault of a drill starts and how long it holds.

A timed fault is a fault's spelling with the timeline's own keys after it::

    bucket:503,at=20s,for=30s,region=eu-west-1,probability=0.5
    dns:delay=200ms,jitter=50ms,at=5s,for=10s

``at`` (default 0), ``for`` (required: a drill never leaves a fault behind),
``region`` and ``probability`` belong to the timeline; every other comma part
is the fault's own (``jitter=50ms`` above). A drill file is TOML::

    [[fault]]
    fault = "bucket:503"
    at = "20s"
    for = "30s"
    region = "eu-west-1"     # optional
    probability = 1.0        # optional

    [gate]                   # optional: the capacity gate's thresholds (results.gate)
    error_rate = { max = 0.001 }

    [stop]                   # optional: abort the drill on a sustained breach
    error_rate = 0.05
    for = "10s"
"""

from __future__ import annotations

import contextlib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.errors import ChaosError
from chaos.faults import parse_duration, parse_fault

if TYPE_CHECKING:
    from collections.abc import Mapping

    from chaos.faults import Fault
    from chaos.stop import StopCondition

_TIMELINE_KEYS = frozenset({"at", "for", "region", "probability"})
_FAULT_TABLE_KEYS = frozenset({"fault", *_TIMELINE_KEYS})
_DRILL_KEYS = frozenset({"fault", "gate", "stop"})
# A drill longer than a week is a typo, not a drill.
MAX_OFFSET_S = 7 * 86_400.0
MAX_FAULTS = 256
COMMAND_LINE = "command line"


class TimelineError(ChaosError):
    """A timed fault, a drill file or its stop condition is not valid."""


@dataclass(frozen=True, slots=True)
class TimedFault:
    """A fault on a drill's timeline: injected ``at_s`` after the start, held ``for_s``."""

    fault: Fault
    at_s: float
    for_s: float
    spelling: str = ""
    region: str | None = None
    probability: float | None = None

    def planned(self) -> dict[str, object]:
        """The entry as the journal lists it."""
        return {
            "fault": self.spelling,
            "at_s": self.at_s,
            "for_s": self.for_s,
            "region": self.region,
            "probability": self.probability,
        }


@dataclass(frozen=True, slots=True)
class Drill:
    """A drill file: its faults, the gate it is held to and the condition that stops it."""

    faults: tuple[TimedFault, ...]
    gate: dict[str, object] | None
    stop: StopCondition | None
    source: str


def parse_seconds(value: object, where: str) -> float:
    """A duration (``"200ms"``, ``"2s"``, ``"1.5s"``, ``"5m"``, a plain number of seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        try:
            seconds = parse_duration(value) if isinstance(value, str) else math.nan
        except ChaosError:
            seconds = math.nan
        if math.isnan(seconds):
            msg = f"{where}: expected a duration like 200ms, 30s, 5m or seconds, got {value!r}"
            raise TimelineError(msg)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_OFFSET_S:
        msg = f"{where}: must be between 0 and {MAX_OFFSET_S:g} s, got {value!r}"
        raise TimelineError(msg)
    return seconds


def _probability(value: object, where: str) -> float:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        msg = f"{where}: expected a number within [0, 1], got {value!r}"
        raise TimelineError(msg)
    return float(value)


def _region(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        msg = f"{where}: expected a region name like eu-west-1, got {value!r}"
        raise TimelineError(msg)
    return value.strip()


def timed_fault(
    spelling: str,
    *,
    at: object = 0,
    for_: object = None,
    region: object = None,
    probability: object = None,
    entry: str,
) -> TimedFault:
    """Build a timed fault from its parts; errors name ``entry`` and the key."""
    if for_ is None:
        msg = f"{entry}: 'for' is missing: a drill's fault needs an end (e.g. for=30s)"
        raise TimelineError(msg)
    at_s = parse_seconds(at, f"{entry}: 'at'")
    for_s = parse_seconds(for_, f"{entry}: 'for'")
    if for_s <= 0:
        msg = f"{entry}: 'for' must be more than 0 s, got {for_!r}"
        raise TimelineError(msg)
    where_region = None if region is None else _region(region, f"{entry}: 'region'")
    chance = None if probability is None else _probability(probability, f"{entry}: 'probability'")
    try:
        fault = parse_fault(spelling, region=where_region, probability=chance)
    except ChaosError as exc:
        msg = f"{entry}: {exc}"
        raise TimelineError(msg) from exc
    return TimedFault(fault, at_s, for_s, spelling, where_region, chance)


def parse_timed_fault(text: str) -> TimedFault:
    """``FAULT[,PARAM=V...],at=20s,for=30s[,region=R][,probability=P]`` as a timed fault."""
    entry = f"--fault {text!r}"
    own: list[str] = []
    keys: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        name = key.strip().lower()
        if sep and name in _TIMELINE_KEYS:
            if name in keys:
                msg = f"{entry}: {name!r} is given twice"
                raise TimelineError(msg)
            keys[name] = value.strip()
        else:
            own.append(part.strip())
    spelling = ",".join(own)
    if not spelling:
        msg = f"{entry}: no fault before the timeline's keys (e.g. bucket:503,at=20s,for=30s)"
        raise TimelineError(msg)
    return timed_fault(
        spelling,
        at=keys.get("at", 0),
        for_=keys.get("for"),
        region=keys.get("region"),
        probability=keys.get("probability"),
        entry=entry,
    )


def _fault_entry(table: object, index: int, source: str) -> TimedFault:
    entry = f"{source}: [[fault]] #{index + 1}"
    if not isinstance(table, dict):
        msg = f"{entry}: expected a table with fault, at and for, got {table!r}"
        raise TimelineError(msg)
    unknown = sorted(set(table) - _FAULT_TABLE_KEYS)
    if unknown:
        msg = (
            f"{entry}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(_FAULT_TABLE_KEYS))})"
        )
        raise TimelineError(msg)
    spelling = table.get("fault")
    if not isinstance(spelling, str) or not spelling.strip():
        msg = f"{entry}: 'fault' is missing (e.g. fault = \"bucket:503\")"
        raise TimelineError(msg)
    return timed_fault(
        spelling.strip(),
        at=table.get("at", 0),
        for_=table.get("for"),
        region=table.get("region"),
        probability=table.get("probability"),
        entry=f"{entry} ({spelling.strip()})",
    )


def _read(path: Path) -> dict[str, object]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read the drill file: {exc.strerror or exc}"
        raise TimelineError(msg) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{path}: not UTF-8 text (byte {exc.start}): a drill file is TOML"
        raise TimelineError(msg) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)".
        msg = f"{path}: invalid TOML: {exc}"
        raise TimelineError(msg) from None
    except RecursionError:
        msg = f"{path}: invalid TOML: nested too deeply"
        raise TimelineError(msg) from None


def parse_drill(document: Mapping[str, object], source: str) -> Drill:
    """Check a decoded drill document."""
    unknown = sorted(set(document) - _DRILL_KEYS)
    if unknown:
        msg = (
            f"{source}: unknown table(s) {', '.join(unknown)} "
            "(a drill file has [[fault]], [gate] and [stop])"
        )
        raise TimelineError(msg)
    entries = document.get("fault", [])
    if not isinstance(entries, list):
        msg = f"{source}: 'fault' must be an array of tables: write [[fault]], not [fault]"
        raise TimelineError(msg)
    if len(entries) > MAX_FAULTS:
        msg = f"{source}: {len(entries)} faults; a drill holds at most {MAX_FAULTS}"
        raise TimelineError(msg)
    faults = tuple(_fault_entry(table, i, source) for i, table in enumerate(entries))
    gate = document.get("gate")
    if gate is not None and not isinstance(gate, dict):
        msg = f"{source}: 'gate' must be a table ([gate])"
        raise TimelineError(msg)
    stop_table = document.get("stop")
    if stop_table is not None and not isinstance(stop_table, dict):
        msg = f"{source}: 'stop' must be a table ([stop])"
        raise TimelineError(msg)
    from chaos.stop import parse_stop

    stop = parse_stop(stop_table, f"{source}: [stop]") if stop_table is not None else None
    return Drill(faults, dict(gate) if gate is not None else None, stop, source)


def load_drill(path: str | Path) -> Drill:
    """Read and check a drill file (TOML)."""
    source = Path(path)
    return parse_drill(_read(source), str(source))
