"""A drill's timeline run beside the load: inject each fault on time, always roll it back.

An :class:`Experiment` runs in a background thread (inside Locust the thread
module is gevent's, so the loop sleeps in short steps and every wait is
cooperative). From :meth:`Experiment.start` it injects each fault at its
offset and rolls it back after its ``for``; each fault that was applied gets
its ``faults.jsonl`` line as soon as it ends. :meth:`Experiment.stop` rolls
back whatever is still active at once, newest first (a later fault may have
been planned on top of an earlier one, as a stack is unwound), and writes
``journal.json``.

A fault that cannot be injected is journaled and the drill goes on: the load
never dies of its chaos. The drill's status is ``completed`` unless no planned
fault could be applied (``failed``) or its stop condition fired (``aborted``).
Every injected fault also has a lease, renewed from the timeline's loop: if
this process dies, the faults end on their own within ``lease_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chaos.errors import ChaosError
from chaos.injection import inject
from chaos.journal import Journal, Status
from chaos.stop import StopWatch
from chaos.timeline import COMMAND_LINE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from chaos.injection import FaultControl, Injection
    from chaos.stop import Outcome, StopCondition
    from chaos.timeline import TimedFault
    from edge.stack import StackState

logger = logging.getLogger(__name__)

# The loop never sleeps longer than this: a stop or a due fault waits at most this long.
STEP_S = 0.05
DEFAULT_LEASE_S = 10.0
_JOIN_S = 30.0


class AbortHandler(Protocol):
    """Told once when the stop condition aborts the drill (stops the load)."""

    def __call__(self, reason: str) -> object:
        """Stop the load; ``reason`` says which breach held."""


@dataclass(slots=True)
class _Active:
    timed: TimedFault
    injection: Injection
    ends_at: float
    line: dict[str, Any]
    renewed_at: float


class Experiment:
    """Runs a timeline of faults against a distribution, journaled in ``run_dir``."""

    def __init__(
        self,
        timeline: Sequence[TimedFault],
        client: FaultControl,
        state: StackState,
        run_dir: Path,
        *,
        drill: str = COMMAND_LINE,
        stop_condition: StopCondition | None = None,
        on_abort: AbortHandler | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.timeline = sorted(timeline, key=lambda t: t.at_s)
        self.client = client
        self.state = state
        self.run_dir = run_dir
        self.lease_s = lease_s
        self.on_abort = on_abort
        self.journal = Journal(run_dir, drill, [t.planned() for t in self.timeline])
        self.watch = StopWatch(stop_condition, clock=clock) if stop_condition else None
        self.status: Status | None = None
        self.reason = ""
        self.origin = 0.0
        self._clock = clock
        self._sleep = sleep
        self._pending = list(self.timeline)
        self._active: list[_Active] = []
        self._tried = 0
        self._applied = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self, origin: float | None = None) -> None:
        """Start the timeline: offsets count from ``origin`` (epoch seconds, default now)."""
        self.origin = self._clock() if origin is None else origin
        self._thread = threading.Thread(target=self._run, name="edgedrill-chaos", daemon=True)
        self._thread.start()

    def observe(self, outcomes: Iterable[Outcome]) -> None:
        """Requests' outcomes for the stop condition (cheap; judged by the timeline's thread)."""
        if self.watch is not None:
            self.watch.add(outcomes)

    def stop(self, status: Status = Status.COMPLETED, reason: str = "") -> Status:
        """Roll back every active fault at once, newest first, and write the journal.

        Idempotent: the first call decides the status. Returns it.
        """
        with self._lock:
            if self.status is not None:
                return self.status
            self._stopping.set()
            for active in reversed(self._active):
                self._roll_back(active)
            self._active.clear()
            self._pending.clear()
            if status is Status.COMPLETED and self._tried and not self._applied:
                status, reason = Status.FAILED, reason or "no planned fault could be applied"
            self.status, self.reason = status, reason
            try:
                self.journal.write(
                    start=self.origin, end=self._clock(), status=status, reason=reason
                )
            except OSError as exc:
                logger.error("edgedrill: cannot write the drill's journal: %s", exc)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=_JOIN_S)
        return status

    def __enter__(self) -> Experiment:
        """Start now; the block's end stops it (an exception aborts it)."""
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: object, _tb: object) -> None:
        """Roll everything back whatever happened in the block."""
        if kind is None:
            self.stop()
        else:
            self.stop(Status.ABORTED, f"{kind.__name__}: {error}")

    # -- the timeline's thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._step()
                self._sleep(STEP_S)
        except BaseException:
            # Whatever breaks the loop, no fault stays behind it.
            logger.exception("edgedrill: the drill's timeline failed")
            self.stop(Status.FAILED, "the timeline's thread failed (see the log)")

    def _step(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            now = self._clock()
            for active in [a for a in self._active if a.ends_at <= now]:
                self._active.remove(active)
                self._roll_back(active)
            while self._pending and self.origin + self._pending[0].at_s <= now:
                self._inject(self._pending.pop(0))
            for active in self._active:
                if now - active.renewed_at >= self.lease_s / 3.0:
                    self._renew(active, now)
        if self.watch is not None:
            breach = self.watch.check()
            if breach:
                self._abort(breach)

    def _abort(self, breach: str) -> None:
        reason = f"stop condition: {breach}"
        logger.warning("edgedrill: aborting the drill: %s", reason)
        self.stop(Status.ABORTED, reason)
        if self.on_abort is not None:
            try:
                self.on_abort(reason)
            except Exception:
                logger.exception("edgedrill: could not stop the load after the abort")

    def _inject(self, timed: TimedFault) -> None:
        self._tried += 1
        spelling = timed.spelling or str(timed.fault)
        try:
            injection = inject(
                timed.fault, self.client, self.state, lease_s=self.lease_s, clock=self._clock
            )
        except (ChaosError, OSError, ValueError) as exc:
            logger.error("edgedrill: could not inject %s: %s", spelling, exc)
            self.journal.injection_failed(spelling, self._clock(), str(exc))
            return
        self._applied += 1
        first = injection.specs[0] if injection.specs else {}
        line = {
            "fault": spelling,
            "target": str(first.get("target", "")),
            "region": _region_of(str(first.get("target", ""))) or timed.region,
            "kind": str(first.get("kind", "")),
            "probability": float(first.get("probability", 1.0)),
            "start": injection.start,
            "end": None,
            "id": ",".join(injection.ids),
        }
        logger.info("edgedrill: fault %s injected for %g s", spelling, timed.for_s)
        # The fault holds for its own duration from when the control API took it.
        self._active.append(
            _Active(timed, injection, injection.start + timed.for_s, line, injection.start)
        )

    def _renew(self, active: _Active, now: float) -> None:
        # Renewed from this loop (no thread per fault): inside Locust it is one greenlet.
        try:
            if not active.injection.renew():
                logger.warning("edgedrill: fault %s ended early", active.line["fault"])
        except ChaosError as exc:
            logger.warning("edgedrill: lease renewal of %s failed: %s", active.line["fault"], exc)
        active.renewed_at = now

    def _roll_back(self, active: _Active) -> None:
        spelling = str(active.line["fault"])
        try:
            ok = active.injection.rollback()
            detail = active.injection.detail
        except (ChaosError, OSError) as exc:
            ok, detail = False, str(exc)
        if not ok:
            logger.error("edgedrill: rollback of %s failed (lease ends it): %s", spelling, detail)
        now = self._clock()
        end = active.injection.end
        line = {**active.line, "end": end if end is not None else now}
        for fault_id in active.injection.ids:
            self.journal.rolled_back(fault_id, spelling, now, ok=ok, detail=detail)
        try:
            self.journal.fault_applied(line)
        except OSError as exc:
            logger.error("edgedrill: cannot write %s's line of faults.jsonl: %s", spelling, exc)
        logger.info("edgedrill: fault %s rolled back", spelling)


def _region_of(target: str) -> str | None:
    return target.split(":", 1)[1] if target.startswith("s3:") else None
