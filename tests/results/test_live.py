"""The gate during a drill: tailing requests.csv and spotting a sustained breach."""

from __future__ import annotations

from typing import TYPE_CHECKING

from results.gate import parse_gate
from results.live import LiveGate, RequestsTail
from results.records import COLUMNS

if TYPE_CHECKING:
    from pathlib import Path

T = 1795714308.0


def _row(start: float, duration: float, status: int = 200) -> str:
    return f"{start:.6f},{duration:.3f},GET,n,{status},10,,,,,0,\n"


def test_tail_reads_whole_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "requests.csv"
    tail = RequestsTail(path)
    assert tail.read() == []  # not there yet
    with path.open("w") as handle:
        handle.write(",".join(COLUMNS) + "\n" + _row(T, 1.5) + _row(T + 0.5, 2.5, 503))
        handle.write(f"{T + 1:.6f},3.0,GE")  # a batch cut mid-row
    assert tail.read() == [(T, 1.5, False), (T + 0.5, 2.5, True)]
    with path.open("a") as handle:
        handle.write("T,n,0,10,,,,,0,ConnectionError\n" + "not,a,row\n")
    assert tail.read() == [(T + 1, 3.0, True)]
    assert tail.read() == []


def _feed(live: LiveGate, seconds: range, duration: float, failed: bool = False) -> None:
    live.add([(T + s + j / 10, duration, failed) for s in seconds for j in range(10)])


def test_a_sustained_latency_breach_is_reported() -> None:
    gate = parse_gate({"p50_ms": {"max": 10}, "cold_starts": {"max": 1}}, "test")
    live = LiveGate(gate, abort_after_s=3, settle_s=2)
    _feed(live, range(5), 5.0)
    _feed(live, range(5, 7), 50.0)  # two bad seconds: not yet sustained
    _feed(live, range(7, 10), 5.0)
    assert live.check() == ""
    _feed(live, range(10, 20), 50.0)
    reason = live.check()
    assert reason.startswith("p50_ms = 50 against max 10 ms for 3 s in a row")
    assert live.check() == reason  # stays reported


def test_an_error_rate_breach_over_its_window() -> None:
    gate = parse_gate({"error_rate": {"max": 0.1, "window_s": 2}}, "test")
    live = LiveGate(gate, abort_after_s=2, settle_s=1)
    _feed(live, range(3), 1.0)
    _feed(live, range(3, 8), 1.0, failed=True)
    assert "error_rate = 1 against max 0.1" in live.check()


def test_a_healthy_drill_is_left_alone() -> None:
    gate = parse_gate({"p99_ms": {"max": 100, "window_s": 5}, "error_rate": {"max": 0.01}}, "t")
    live = LiveGate(gate, abort_after_s=1, settle_s=1)
    _feed(live, range(60), 20.0)
    assert live.check() == ""
    # Old seconds are forgotten once no window reaches them.
    assert min(live._durations) >= 40
