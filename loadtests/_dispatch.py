"""Hands scheduled requests to Locust users at their due time (open model).

One dispatcher runs per Locust process. Its greenlet walks the process's
share of the schedule and, when a request falls due, gives it to an idle user
(the most recently idle one first, so that a low rate keeps few users and
few connections busy). When every user is busy the request waits in a
backlog and the next user to come free takes it at once: it starts late, and
how late is measured and recorded, never hidden. This is the arrival-rate
model of k6's ``constant-arrival-rate`` executor, on gevent.

Due times are in the run's wall-clock frame (epoch seconds, the same on every
worker) and waited for on the monotonic clock.
"""

from __future__ import annotations

import gevent
import gevent.event
from gevent.hub import Waiter, get_hub

import collections
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from loadtests._plans import Ticket

logger = logging.getLogger(__name__)

# Waiting for less than this is not worth a timer: the request is handed out now.
_MIN_SLEEP_S = 0.0005


@dataclass(frozen=True, slots=True)
class Assignment:
    """A ticket given to a user, with how late it was handed out (seconds, >= 0)."""

    ticket: Ticket
    late_s: float


class Dispatcher:
    """Releases tickets at their due time to users waiting in :meth:`take`."""

    def __init__(
        self,
        tickets: Iterator[Ticket],
        *,
        origin: float,
        late_threshold_s: float = 0.010,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._tickets = tickets
        self._clock = clock
        # The run starts at wall time ``origin``; map it onto the monotonic clock once.
        self._origin = clock() + (origin - wall())
        self._late_threshold_s = late_threshold_s
        self._idle: list[Waiter] = []
        self._backlog: collections.deque[tuple[Ticket, float]] = collections.deque()
        self._greenlet: gevent.Greenlet | None = None
        self._released_all = False
        self._stopped = False
        self._limit = float("inf")
        self._pending_offset = 0.0
        self._idle_changed = gevent.event.Event()
        self.released = 0
        self.taken = 0
        self.in_flight = 0
        self.late = 0

    def start(self) -> None:
        """Start releasing tickets."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    @property
    def finished(self) -> bool:
        """Every ticket has been released and taken, and no request is still running."""
        return self._released_all and not self._backlog and self.in_flight == 0

    @property
    def backlog(self) -> int:
        """Tickets that are due but no user has taken yet."""
        return len(self._backlog)

    def _run(self) -> None:
        clock = self._clock
        origin = self._origin
        for ticket in self._tickets:
            if self._stopped or ticket.offset >= self._limit:
                break
            self._pending_offset = ticket.offset
            due = origin + ticket.offset
            delay = due - clock()
            if delay > _MIN_SLEEP_S:
                gevent.sleep(delay)
            self._release(ticket, due)
        self._released_all = True
        self._wake_idle()

    def _release(self, ticket: Ticket, due: float) -> None:
        self.released += 1
        self._offer(ticket, due)

    def _offer(self, ticket: Ticket, due: float) -> None:
        if self._idle:
            waiter = self._idle.pop()
            # A Waiter may only be switched to from the hub: schedule the hand-over.
            get_hub().loop.run_callback(self._hand_over, waiter, ticket, due)
        else:
            self._backlog.append((ticket, due))

    def _hand_over(self, waiter: Waiter, ticket: Ticket, due: float) -> None:
        if waiter.greenlet is None:
            # The user was stopped between being picked and being woken.
            self._offer(ticket, due)
            return
        waiter.switch(self._assign(ticket, due))

    def _assign(self, ticket: Ticket, due: float) -> Assignment:
        late_s = self._clock() - due
        if late_s <= self._late_threshold_s:
            late_s = 0.0
        else:
            self.late += 1
        self.taken += 1
        self.in_flight += 1
        return Assignment(ticket, late_s)

    def take(self) -> Assignment | None:
        """The next due ticket for the calling user, waiting for it; ``None`` once all are out."""
        if self._backlog:
            ticket, due = self._backlog.popleft()
            return self._assign(ticket, due)
        if self._released_all or self._stopped:
            return None
        waiter = Waiter()
        self._idle.append(waiter)
        try:
            assignment: Assignment | None = waiter.get()
        finally:
            # Killed while idle (the user is being stopped): leave the idle list.
            if waiter in self._idle:
                self._idle.remove(waiter)
        return assignment

    def done(self) -> None:
        """The calling user finished the request of its last :meth:`take`."""
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle_changed.set()

    def _wake_idle(self) -> None:
        idle, self._idle = self._idle, []
        loop = get_hub().loop
        for waiter in idle:
            loop.run_callback(waiter.switch, None)
        self._idle_changed.set()

    def drain(self, timeout: float) -> bool:
        """Wait until every ticket has been sent and answered, at most ``timeout`` s."""
        deadline = self._clock() + timeout
        while not self.finished:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._idle_changed.clear()
            self._idle_changed.wait(min(remaining, 0.1))
        return True

    @property
    def unsent(self) -> int:
        """Tickets released but never taken (the backlog), for the run's summary."""
        return len(self._backlog)

    def close_at(self, offset: float) -> None:
        """Release no ticket due at or after ``offset`` (the run was cut short)."""
        self._limit = min(self._limit, offset)
        greenlet = self._greenlet
        if self._released_all or greenlet is None or greenlet.dead:
            return
        if self._pending_offset >= self._limit:
            # Asleep until a ticket that will never be released.
            greenlet.kill(block=False)
            self._released_all = True
            self._wake_idle()

    def stop(self) -> None:
        """Stop releasing; idle users get ``None`` (idempotent)."""
        self._stopped = True
        if self._greenlet is not None and not self._greenlet.dead:
            self._greenlet.kill(block=False)
        self._wake_idle()
