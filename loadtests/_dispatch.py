"""Deals scheduled requests to Locust users and holds each until its due time (open model).

One dispatcher runs per Locust process, over that process's share of the
schedule. A user that is free takes the next request of the schedule and
sleeps until it is due, then sends it: while users are free, every request
starts on time, whatever the latency of the ones before it. When every user
is busy, the next request is taken by the first user to come free, after its
due time: it starts late, and how late is measured and recorded, never
hidden. This is the arrival-rate model of k6's ``constant-arrival-rate``
executor, on gevent.

The user waits on its own timer, so a request costs the event loop what a
plain ``constant_throughput`` user costs it: one timer and one socket wake-up
(a central releasing greenlet would add a loop iteration per request).

Due times are in the run's wall-clock frame (epoch seconds, the same on every
worker) and waited for on the monotonic clock.
"""

from __future__ import annotations

import gevent
import gevent.event

import itertools
import math
import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from loadtests._plans import Ticket

# Waiting for less than this is not worth a timer: the request is sent now.
_MIN_SLEEP_S = 0.0005
# Tickets are drawn from the schedule this many at a time: one tight loop
# instead of a generator step (and its cold code) between every two requests.
_BATCH = 256


class Assignment(NamedTuple):
    """A ticket a user is to send now, with how late it is (seconds, >= 0)."""

    ticket: Ticket
    late_s: float


class Dispatcher:
    """Hands the schedule's tickets to users in order, each at its due time."""

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
        self._batch: list[Ticket] = []
        self._batch_next = 0
        self._clock = clock
        # The run starts at wall time ``origin``; map it onto the monotonic clock once.
        self._origin = clock() + (origin - wall())
        self._late_threshold_s = late_threshold_s
        self._limit = math.inf
        self._exhausted = False
        self._stopped = False
        self._waiting: dict[int, float] = {}  # user id -> offset of the ticket it holds
        self._changed = gevent.event.Event()
        self._unsent: int | None = None
        self.released = 0
        self.taken = 0
        self.in_flight = 0
        self.abandoned = 0
        self.late = 0

    def start(self) -> None:
        """Begin the schedule (tickets are dealt as users ask for them)."""
        self._changed.set()

    @property
    def finished(self) -> bool:
        """Every ticket before the end has been sent and answered (once stopped: every sent one)."""
        if self.in_flight:
            return False
        if self._stopped:
            return True
        if not self._exhausted:
            return False
        return all(offset >= self._limit for offset in self._waiting.values())

    def _next(self) -> Ticket | None:
        if self._exhausted or self._stopped:
            return None
        if self._batch_next >= len(self._batch):
            self._batch = list(itertools.islice(self._tickets, _BATCH))
            self._batch_next = 0
        ticket = self._batch[self._batch_next] if self._batch else None
        self._batch_next += 1
        if ticket is None or ticket.offset >= self._limit:
            self._exhausted = True
            self._changed.set()
            return None
        return ticket

    def take(self) -> Assignment | None:
        """The calling user's next request, once it is due; ``None`` when the schedule is over."""
        ticket = self._next()
        if ticket is None:
            return None
        due = self._origin + ticket.offset
        delay = due - self._clock()
        if delay > _MIN_SLEEP_S:
            key = id(gevent.getcurrent())
            self._waiting[key] = ticket.offset
            try:
                gevent.sleep(delay)
            finally:
                del self._waiting[key]
            if self._stopped or ticket.offset >= self._limit:
                self._changed.set()
                return None
        late_s = self._clock() - due
        if late_s <= self._late_threshold_s:
            late_s = 0.0
        else:
            self.late += 1
        self.released += 1
        self.taken += 1
        self.in_flight += 1
        return Assignment(ticket, late_s)

    def done(self, *, completed: bool = True) -> None:
        """The calling user is through with the request of its last :meth:`take`.

        ``completed=False``: the request was cut off (its user was killed)
        before it ended, so no record of it exists, yet the target may have
        served it. It is counted, never hidden.
        """
        self.in_flight -= 1
        if not completed:
            self.abandoned += 1
        if self.in_flight == 0:
            self._changed.set()

    def drain(self, timeout: float) -> bool:
        """Wait until every ticket has been sent and answered, at most ``timeout`` s."""
        deadline = self._clock() + timeout
        while not self.finished:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._changed.clear()
            self._changed.wait(min(remaining, 0.1))
        return True

    def close_at(self, offset: float) -> None:
        """Send no ticket due at or after ``offset`` (the run was cut short)."""
        self._limit = min(self._limit, offset)
        self._changed.set()

    @property
    def unsent(self) -> int:
        """Tickets due before the end that were never sent (counted once stopped)."""
        if self._unsent is not None:
            return self._unsent
        return sum(1 for offset in self._waiting.values() if offset < self._limit)

    def stop(self) -> None:
        """Deal no more tickets; count those left unsent (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        now = self._clock() - self._origin
        end = min(self._limit, now)
        left = sum(1 for offset in self._waiting.values() if offset < end)
        if not self._exhausted:
            for ticket in itertools.chain(self._batch[self._batch_next :], self._tickets):
                if ticket.offset >= end:
                    break
                left += 1
            self._exhausted = True
        self._unsent = left
        self._changed.set()
