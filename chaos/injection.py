"""Injecting a fault: its handle, its lease renewal, its rollback.

A fault is posted as one or more engine specs, each with a lease: if
whoever injected it stops renewing (a crash, ``kill -9``), every engine drops
it when the lease runs out. While the injector lives, a :class:`LeaseKeeper`
renews every ``lease_s / 3`` seconds, so two renewals in a row can be lost
before the fault lapses.

Each spec gets its id here, before it is posted: when an answer is lost (a
timeout, Ctrl-C mid-request) the spec may be in force without our knowing,
and the id still lets the rollback remove it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from chaos.errors import ChaosError, ControlError, RollbackError
from edge.fault_specs import DEFAULT_LEASE_S

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from chaos.faults import Fault
    from edge.stack import StackState

logger = logging.getLogger(__name__)

MAX_LEASE_S = 86_400.0


class FaultControl(Protocol):
    """Where specs go: :class:`chaos.control.ControlClient` or a test's stand-in."""

    def inject(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Apply one spec."""

    def renew(self, fault_id: str, lease_s: float | None = None) -> dict[str, Any] | None:
        """Extend a lease; None once the fault has ended."""

    def remove(self, fault_id: str) -> bool:
        """Remove a fault (idempotent)."""


class Injection:
    """A fault in force: its specs and ids, when it started and ended, and its rollback.

    Times are epoch seconds on the injection's clock. ``end`` is set by
    :meth:`rollback`: the moment every spec was confirmed removed, or the
    lease's end if that came first (the engines dropped it by then).
    """

    def __init__(
        self,
        fault: Fault,
        specs: list[dict[str, Any]],
        client: FaultControl,
        *,
        lease_s: float,
        start: float,
        clock: Callable[[], float],
    ) -> None:
        self.fault = fault
        self.specs = specs
        self.lease_s = lease_s
        self.start = start
        self.end: float | None = None
        self.expires_at = start + lease_s
        self.detail = ""  # why the last rollback was not confirmed
        self._client = client
        self._clock = clock
        self._pending = [str(spec["id"]) for spec in specs]
        self._rolling_back = False
        self._confirmed = False
        self._lock = threading.Lock()
        self._on_rollback: list[Callable[[], None]] = []

    @property
    def ids(self) -> list[str]:
        """The fault ids of the specs, in injection order."""
        return [str(spec["id"]) for spec in self.specs]

    @property
    def rolled_back(self) -> bool:
        """Whether every spec has been confirmed removed."""
        return self._confirmed

    def lapsed(self) -> bool:
        """Whether the lease has run out since the last confirmed renewal."""
        return self._clock() >= self.expires_at

    def on_rollback(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` as soon as a rollback starts (a keeper stops renewing)."""
        self._on_rollback.append(callback)

    def renew(self) -> bool:
        """Extend every spec's lease; False once any of them has ended (or rollback began).

        Raises:
            ControlError: the control API could not be reached or refused.
        """
        if self._rolling_back:
            return False
        renewed_at = self._clock()
        for fault_id in self.ids:
            if self._client.renew(fault_id, self.lease_s) is None:
                logger.warning("fault %s ended before its rollback (expired or cleared)", fault_id)
                return False
        self.expires_at = renewed_at + self.lease_s
        return True

    def rollback(self) -> bool:
        """Remove every spec, last injected first; True once all are confirmed removed.

        Idempotent: a second call retries only what is not confirmed yet. A
        fault the API no longer knows (expired, cleared) counts as removed.

        Reverse order, as an ``ExitStack`` unwinds: each step leaves the engines
        in a state the injection itself went through (a prefix of its specs),
        so a rollback cut short never leaves a combination nobody injected.
        """
        self._rolling_back = True
        for callback in self._on_rollback:
            callback()
        with self._lock:
            if self._confirmed:
                return True
            for fault_id in reversed(list(self._pending)):
                try:
                    self._client.remove(fault_id)
                except ControlError as exc:
                    self.detail = str(exc)
                    logger.warning("rollback of %s not confirmed: %s", fault_id, exc)
                    continue
                self._pending.remove(fault_id)
            if self._pending:
                self.end = self.expires_at
                return False
            self.detail = ""
            self.end = min(self._clock(), self.expires_at)
            self._confirmed = True
            return True


def inject(
    fault: Fault,
    client: FaultControl,
    state: StackState,
    *,
    lease_s: float = DEFAULT_LEASE_S,
    clock: Callable[[], float] = time.time,
) -> Injection:
    """Post every spec of ``fault``; if one fails, remove the ones posted before it.

    ``start`` is when the control API accepted the first spec.

    Raises:
        ChaosError: the lease is out of range, a target is unknown, or the
            control API refused a spec (the ones before it are rolled back).
    """
    if not 0 < lease_s <= MAX_LEASE_S:
        msg = f"the lease must be within (0, {MAX_LEASE_S:g}] seconds, got {lease_s:g}"
        raise ChaosError(msg)
    specs = fault.specs(state)
    token = uuid.uuid4().hex[:10]
    posted: list[dict[str, Any]] = []
    start: float | None = None
    try:
        for n, spec in enumerate(specs):
            suffix = f".{n}" if len(specs) > 1 else ""
            # No ':' in ids: it is percent-encoded on some paths to the agents, and an
            # id must read the same on every path (inject, renew, remove).
            slug = fault.kind.value.replace(":", "-")
            body = {**spec, "lease_s": lease_s, "id": f"{slug}-{token}{suffix}"}
            posted.append(body)
            client.inject(body)
            if start is None:
                start = clock()
    except BaseException as exc:
        undone = Injection(fault, posted, client, lease_s=lease_s, start=clock(), clock=clock)
        if not undone.rollback():
            exc.add_note(f"not confirmed removed (their lease ends them): {', '.join(undone.ids)}")
        raise
    assert start is not None  # every fault has at least one spec
    return Injection(fault, posted, client, lease_s=lease_s, start=start, clock=clock)


class LeaseKeeper:
    """Renews an injection's leases from a daemon thread until stopped or rolled back."""

    def __init__(self, injection: Injection, interval_s: float | None = None) -> None:
        self.injection = injection
        self.interval_s = interval_s if interval_s is not None else injection.lease_s / 3.0
        self.lapsed = threading.Event()  # the fault ended without our rollback
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{injection.ids[0]}", daemon=True
        )
        injection.on_rollback(self._stop.set)

    def start(self) -> LeaseKeeper:
        """Start renewing."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop renewing (the fault then lasts until its lease or its rollback)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        # Bounded: ends on stop, on rollback, or once the fault has ended on its own.
        while not self._stop.wait(self.interval_s):
            try:
                live = self.injection.renew()
            except ControlError as exc:
                logger.warning("lease renewal failed: %s", exc)
                # Past the lease end the engines have dropped the fault: nothing to keep.
                live = not self.injection.lapsed()
            if not live:
                if not self._stop.is_set():
                    self.lapsed.set()
                return


@contextlib.contextmanager
def injected(
    fault: Fault,
    client: FaultControl,
    state: StackState,
    *,
    lease_s: float = DEFAULT_LEASE_S,
    clock: Callable[[], float] = time.time,
) -> Iterator[Injection]:
    """Hold ``fault`` (renewing its lease) for the ``with`` block; roll it back however it ends.

    Raises:
        RollbackError: the block ended normally but the rollback was not
            confirmed (on an exception, the exception wins and this is logged).
    """
    injection = inject(fault, client, state, lease_s=lease_s, clock=clock)
    keeper = LeaseKeeper(injection).start()
    try:
        yield injection
    except BaseException:
        keeper.stop()
        injection.rollback()
        raise
    keeper.stop()
    if not injection.rollback():
        msg = f"{fault.spelling}: rollback not confirmed ({injection.detail}); its lease ends it"
        raise RollbackError(msg)
