"""Injection handles, rollback order and idempotence, lease keeping (control faked at its seam)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from chaos.errors import ChaosError, ControlError, RollbackError
from chaos.faults import Fault, FaultKind, parse_fault
from chaos.injection import LeaseKeeper, inject, injected
from edge.stack import StackState

URL = "http://127.0.0.1:9"


@dataclass
class FakeControl:
    """Records calls; ``fail`` maps a call to the error it raises (once per listed id)."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    live: set[str] = field(default_factory=set)
    fail_inject_at: int | None = None  # the n-th inject (0-based) fails
    lose_answer: bool = False  # ...after the API accepted it (the answer was lost)
    fail_remove: set[str] = field(default_factory=set)
    renewed: threading.Event = field(default_factory=threading.Event)

    def inject(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("inject", spec["id"]))
        if self.fail_inject_at == sum(1 for c in self.calls if c[0] == "inject") - 1:
            if self.lose_answer:
                self.live.add(spec["id"])
                raise ControlError(URL, None, "timed out")
            raise ControlError(URL, 400, "fault spec field 'kind': no")
        self.live.add(spec["id"])
        return {"id": spec["id"], "expires_in_s": spec["lease_s"]}

    def renew(self, fault_id: str, lease_s: float | None = None) -> dict[str, Any] | None:
        self.calls.append(("renew", fault_id))
        self.renewed.set()
        return {"id": fault_id} if fault_id in self.live else None

    def remove(self, fault_id: str) -> bool:
        self.calls.append(("remove", fault_id))
        if fault_id in self.fail_remove:
            self.fail_remove.discard(fault_id)
            raise ControlError(URL, None, "connection refused")
        was = fault_id in self.live
        self.live.discard(fault_id)
        return was

    def removed(self) -> list[str]:
        return [i for c, i in self.calls if c == "remove"]


@dataclass(frozen=True, slots=True)
class ThreeSpecFault(Fault):
    """A fault of several specs (no spelling maps to more than one yet)."""

    def specs(self, state: StackState) -> list[dict[str, Any]]:
        return [{"target": f"s3:r-{n}", "kind": "slowdown", "probability": 1.0} for n in range(3)]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state() -> StackState:
    return StackState.from_json(
        {
            "edge_url": "",
            "dns": "127.0.0.1:1",
            "routing_name": "origins.edgedrill.test",
            "regions": {"us-east-1": "", "eu-west-1": ""},
            "sample_keys": [],
            "log_dir": "",
            "pids": {},
            "control_url": URL,
            "control_token": "t" * 43,
            "bucket": "b",
            "function": "f",
            "pop": "p",
        }
    )


THREE = ThreeSpecFault("three", FaultKind.BUCKET_503)


def test_inject_posts_each_spec_with_its_id_and_lease(state: StackState) -> None:
    control, clock = FakeControl(), Clock()
    injection = inject(parse_fault("bucket:503"), control, state, lease_s=12.0, clock=clock)
    assert injection.start == 1_000.0
    assert injection.expires_at == 1_012.0
    assert len(injection.ids) == 1
    assert injection.ids[0].startswith("bucket-503-")
    assert injection.specs[0] == {
        "target": "s3:us-east-1",
        "kind": "slowdown",
        "probability": 1.0,
        "lease_s": 12.0,
        "id": injection.ids[0],
    }
    assert control.live == set(injection.ids)
    assert injection.end is None
    assert not injection.rolled_back


def test_rollback_runs_in_reverse_and_is_idempotent(state: StackState) -> None:
    control, clock = FakeControl(), Clock()
    injection = inject(THREE, control, state, clock=clock)
    clock.now = 1_005.0
    assert injection.rollback() is True
    assert control.removed() == list(reversed(injection.ids))
    assert injection.end == 1_005.0
    assert injection.rolled_back
    clock.now = 1_009.0
    assert injection.rollback() is True  # nothing left to remove: no call, same end
    assert len(control.removed()) == 3
    assert injection.end == 1_005.0


def test_a_fault_already_gone_counts_as_removed(state: StackState) -> None:
    control = FakeControl()
    injection = inject(parse_fault("dns:servfail"), control, state)
    control.live.clear()  # expired or cleared by someone else
    assert injection.rollback() is True


def test_an_unconfirmed_rollback_is_retried_and_ends_at_the_lease(state: StackState) -> None:
    control, clock = FakeControl(), Clock()
    injection = inject(THREE, control, state, lease_s=30.0, clock=clock)
    control.fail_remove = {injection.ids[1]}
    clock.now = 1_002.0
    assert injection.rollback() is False
    assert injection.end == 1_030.0  # not confirmed: the lease's end is when it stops
    assert "connection refused" in injection.detail
    assert control.live == {injection.ids[1]}
    clock.now = 1_003.0
    assert injection.rollback() is True
    assert control.removed()[-1] == injection.ids[1]
    assert injection.end == 1_003.0
    assert not control.live


def test_a_refused_spec_rolls_back_the_ones_before_it(state: StackState) -> None:
    control = FakeControl(fail_inject_at=2)
    with pytest.raises(ControlError, match="400") as caught:
        inject(THREE, control, state)
    posted = [i for c, i in control.calls if c == "inject"]
    assert control.removed() == list(reversed(posted))
    assert not control.live
    assert caught.value.exit_code == 2


def test_a_lost_answer_is_rolled_back_by_its_id(state: StackState) -> None:
    # The API took the spec but the answer never came: the id still finds it.
    control = FakeControl(fail_inject_at=0, lose_answer=True)
    with pytest.raises(ControlError, match="unreachable"):
        inject(parse_fault("bucket:500"), control, state)
    assert not control.live


def test_an_interrupt_mid_injection_rolls_back(state: StackState) -> None:
    class Interrupting(FakeControl):
        def inject(self, spec: dict[str, Any]) -> dict[str, Any]:
            super().inject(spec)
            if len(self.live) == 2:
                raise KeyboardInterrupt
            return {"id": spec["id"]}

    control = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        inject(THREE, control, state)
    assert not control.live
    assert len(control.removed()) == 2


def test_a_failed_undo_is_noted_on_the_error(state: StackState) -> None:
    control = FakeControl(fail_inject_at=1)

    def remove(fault_id: str) -> bool:
        raise ControlError(URL, None, "refused")

    control.remove = remove  # type: ignore[method-assign]
    with pytest.raises(ControlError) as caught:
        inject(THREE, control, state)
    posted = [i for c, i in control.calls if c == "inject"]
    assert len(posted) == 2
    (note,) = caught.value.__notes__
    assert "not confirmed removed" in note
    assert all(fault_id in note for fault_id in posted)


def test_lease_out_of_range_is_refused(state: StackState) -> None:
    with pytest.raises(ChaosError, match="lease"):
        inject(parse_fault("bucket:503"), FakeControl(), state, lease_s=0)


def test_renew_extends_the_lease_and_reports_a_lapse(state: StackState) -> None:
    control, clock = FakeControl(), Clock()
    injection = inject(parse_fault("bucket:503"), control, state, lease_s=10.0, clock=clock)
    clock.now = 1_004.0
    assert injection.renew() is True
    assert injection.expires_at == 1_014.0
    control.live.clear()
    assert injection.renew() is False
    assert not injection.lapsed()
    clock.now = 1_014.0
    assert injection.lapsed()


def test_the_keeper_renews_until_rollback_then_stops(state: StackState) -> None:
    control = FakeControl()
    injection = inject(parse_fault("bucket:503"), control, state, lease_s=30.0)
    keeper = LeaseKeeper(injection, interval_s=0.01).start()
    assert control.renewed.wait(5)
    injection.rollback()
    keeper._thread.join(5)
    assert not keeper._thread.is_alive()
    assert not keeper.lapsed.is_set()
    renewals = sum(1 for c, _ in control.calls if c == "renew")
    assert renewals >= 1
    assert control.calls[-1][0] in ("remove", "renew")
    assert renewals == sum(1 for c, _ in control.calls if c == "renew")


def test_the_keeper_notices_a_fault_that_ended_on_its_own(state: StackState) -> None:
    control = FakeControl()
    injection = inject(parse_fault("bucket:503"), control, state, lease_s=30.0)
    keeper = LeaseKeeper(injection, interval_s=0.01).start()
    control.live.clear()
    assert keeper.lapsed.wait(5)
    keeper._thread.join(5)
    assert not keeper._thread.is_alive()


def test_the_default_keeper_renews_every_third_of_the_lease(state: StackState) -> None:
    injection = inject(parse_fault("bucket:503"), FakeControl(), state, lease_s=2.0)
    assert LeaseKeeper(injection).interval_s == pytest.approx(2.0 / 3)


def test_injected_rolls_back_on_normal_exit(state: StackState) -> None:
    control = FakeControl()
    with injected(parse_fault("dns:servfail"), control, state) as injection:
        assert control.live == set(injection.ids)
    assert not control.live
    assert injection.rolled_back


def test_injected_rolls_back_on_exception(state: StackState) -> None:
    control = FakeControl()
    seen: list[int] = []

    def fail_inside() -> None:
        with injected(THREE, control, state):
            seen.append(len(control.live))
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail_inside()
    assert seen == [3]
    assert not control.live
    posted = [i for c, i in control.calls if c == "inject"]
    assert control.removed() == list(reversed(posted))


def test_injected_raises_when_its_rollback_is_not_confirmed(state: StackState) -> None:
    control = FakeControl()
    with (
        pytest.raises(RollbackError, match="lease ends it"),
        injected(parse_fault("bucket:404"), control, state) as injection,
    ):
        control.fail_remove = set(injection.ids)
