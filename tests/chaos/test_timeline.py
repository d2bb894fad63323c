"""Timed faults (``--fault``), drill files (``--drill``) and stop conditions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from chaos.faults import FaultKind
from chaos.stop import StopCondition, StopWatch, parse_stop
from chaos.timeline import TimelineError, load_drill, parse_timed_fault

if TYPE_CHECKING:
    from pathlib import Path


def test_timeline_keys_are_taken_and_the_rest_is_the_faults_spelling() -> None:
    timed = parse_timed_fault("dns:delay=200ms,jitter=50ms,at=20s,for=30s,probability=0.5")
    assert timed.at_s == 20.0
    assert timed.for_s == 30.0
    assert timed.spelling == "dns:delay=200ms,jitter=50ms"
    assert timed.fault.kind is FaultKind.DNS_DELAY
    assert timed.fault.delay_s == pytest.approx(0.2)
    assert timed.fault.jitter_s == pytest.approx(0.05)
    assert timed.fault.probability == 0.5
    assert timed.planned() == {
        "fault": "dns:delay=200ms,jitter=50ms",
        "at_s": 20.0,
        "for_s": 30.0,
        "region": None,
        "probability": 0.5,
    }


def test_region_goes_to_the_fault_and_at_defaults_to_zero() -> None:
    timed = parse_timed_fault("bucket:503,for=1.5s,region=eu-west-1")
    assert timed.at_s == 0.0
    assert timed.for_s == 1.5
    assert timed.fault.region == "eu-west-1"
    assert timed.region == "eu-west-1"
    assert timed.fault.probability == 1.0


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("bucket:503,at=3s", "'for' is missing"),
        ("bucket:503,at=soon,for=3s", "'at'"),
        ("bucket:503,at=3s,for=0s", "'for' must be more than 0"),
        ("bucket:503,at=-1,for=3s", "'at'"),
        ("bucket:503,for=3s,probability=2", "'probability'"),
        ("bucket:503,for=3s,for=4s", "'for' is given twice"),
        ("at=3s,for=4s", "no fault"),
        ("bucket:999,for=3s", "unknown fault"),
        ("dns:servfail,for=3s,region=eu-west-1", "a region applies to bucket"),
    ],
)
def test_bad_timed_faults_name_the_entry_and_the_key(text: str, names: str) -> None:
    with pytest.raises(TimelineError) as caught:
        parse_timed_fault(text)
    message = str(caught.value)
    assert f"--fault {text!r}" in message
    assert names in message


DRILL = """
[[fault]]
fault = "dns:servfail"
at = "5s"
for = 10

[[fault]]
fault = "bucket:503"
at = "20s"
for = "30s"
region = "eu-west-1"
probability = 0.25

[gate]
error_rate = { max = 0.001 }

[stop]
error_rate = 0.05
for = "10s"
"""


def test_a_drill_file_has_faults_gate_and_stop(tmp_path: Path) -> None:
    path = tmp_path / "drill.toml"
    path.write_text(DRILL, encoding="utf-8")
    drill = load_drill(path)
    assert [(t.spelling, t.at_s, t.for_s) for t in drill.faults] == [
        ("dns:servfail", 5.0, 10.0),
        ("bucket:503", 20.0, 30.0),
    ]
    assert drill.faults[1].fault.region == "eu-west-1"
    assert drill.faults[1].fault.probability == 0.25
    assert drill.gate == {"error_rate": {"max": 0.001}}
    assert drill.stop == StopCondition(for_s=10.0, error_rate=0.05)
    assert drill.source == str(path)


def test_the_drill_files_gate_is_one_the_capacity_gate_accepts(tmp_path: Path) -> None:
    from results.gate import load_gate

    path = tmp_path / "drill.toml"
    path.write_text(DRILL, encoding="utf-8")
    gate = load_gate(path)
    assert [t.key for t in gate.thresholds] == ["error_rate"]


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b"[[fault]]\nfault = \n", "invalid TOML"),
        (b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "invalid TOML"),
        (b"[fault]\nfault = 'bucket:503'\n", "[[fault]]"),
        (b"[[fault]]\nfault = 'bucket:503'\nat = 1\n", "'for' is missing"),
        (b"[[fault]]\nfault = 'bucket:503'\nfor = 1\nwhen = 2\n", "unknown key(s) when"),
        (b"[[fault]]\nat = 1\nfor = 2\n", "'fault' is missing"),
        (b"[[fault]]\nfault = 'bucket:503'\nfor = nan\n", "'for'"),
        (b"[faults]\n", "unknown table(s) faults"),
        (b"gate = 3\n", "'gate' must be a table"),
        (b"[stop]\nfor = '3s'\n", "give error_rate or p99_ms"),
        (b"[stop]\nerror_rate = 0.1\n", "'for' is missing"),
        (b"[stop]\nerror_rate = 5\nfor = 1\n", "'error_rate' is a share"),
        (b"[stop]\np99_ms = 'fast'\nfor = 1\n", "'p99_ms'"),
        (b"[stop]\np99_ms = 1\nfor = 1\nmin_requests = 0\n", "'min_requests'"),
    ],
)
def test_bad_drill_files_are_clear_errors_naming_the_file(
    tmp_path: Path, content: bytes, names: str
) -> None:
    path = tmp_path / "drill.toml"
    path.write_bytes(content)
    with pytest.raises(TimelineError) as caught:
        load_drill(path)
    assert str(path) in str(caught.value)
    assert names in str(caught.value)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "drill.toml"
    path.write_text("[[fault]]\nfault = 'bucket:503'\nfor = \n", encoding="utf-8")
    with pytest.raises(TimelineError, match="line 3"):
        load_drill(path)


def test_a_missing_drill_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TimelineError, match="cannot read the drill file"):
        load_drill(tmp_path / "absent.toml")


# -- the stop condition, with a fake clock -----------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _second(
    start: int, requests: int, failures: int, latency_ms: float = 10.0
) -> list[tuple[float, bool, float]]:
    return [(start + i / (requests + 1), i < failures, latency_ms) for i in range(requests)]


def test_a_breach_held_for_its_duration_stops_and_a_shorter_one_does_not() -> None:
    clock = FakeClock(1000.0)
    watch = StopWatch(
        parse_stop({"error_rate": 0.05, "for": "3s"}, "test"), settle_s=2.0, clock=clock
    )
    watch.add(_second(1000, 20, 0))
    watch.add(_second(1001, 20, 5))  # 25 % for two seconds...
    watch.add(_second(1002, 20, 5))
    watch.add(_second(1003, 20, 0))  # ...then healthy: the streak resets
    watch.add(_second(1004, 20, 2))
    watch.add(_second(1005, 20, 2))
    clock.now = 1006.5
    assert watch.check() == ""  # 1004 is judged, 1005 has not settled
    watch.add(_second(1006, 20, 3))
    clock.now = 1008.99
    assert watch.check() == ""  # 1005 and 1006 settle only at 1009
    clock.now = 1009.0
    assert watch.check() == "error rate 0.15 > 0.05 for 3 s in a row"
    assert watch.check() == "error rate 0.15 > 0.05 for 3 s in a row"


def test_p99_breaches_and_too_few_requests_prove_nothing() -> None:
    clock = FakeClock(0.0)
    condition = StopCondition(for_s=2.0, p99_ms=500.0, min_requests=5)
    watch = StopWatch(condition, settle_s=0.0, clock=clock)
    watch.add(_second(10, 4, 0, latency_ms=900.0))  # slow, but only 4 requests
    watch.add(_second(11, 10, 0, latency_ms=900.0))
    clock.now = 12.0
    assert watch.check() == ""
    watch.add(_second(12, 100, 0, latency_ms=900.0))
    clock.now = 13.0
    assert watch.check() == "p99 900 ms > 500 ms for 2 s in a row"


def test_one_slow_request_in_a_hundred_is_under_the_p99() -> None:
    clock = FakeClock(0.0)
    watch = StopWatch(StopCondition(for_s=1.0, p99_ms=500.0), settle_s=0.0, clock=clock)
    rows = [(5.0 + i / 200, False, 10.0) for i in range(99)] + [(5.5, False, 9000.0)]
    watch.add(rows)
    clock.now = 6.0
    assert watch.check() == ""
