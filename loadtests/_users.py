"""The Locust user that sends scheduled requests.

A :class:`ScheduledUser` has no think time of its own: it asks the dispatcher
of its environment's controller for the next due request, sends it, and asks
again. The schedule, not the user count, decides the request rate; users are
only the pool of concurrency that carries it. Scenarios subclass it (``SpikeUser``,
``ReplayUser``) so that ``locust -f loadtests/`` can tell them apart.
"""

from __future__ import annotations

import gevent
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests._controller import controller_of

# How long a user idles between looks when no schedule is running (before the
# test starts, or once this process's share of the schedule is over).
_IDLE_POLL_S = 1.0


class ScheduledUser(FastHttpUser):
    """Sends the requests of the running schedule at their due time."""

    abstract = True
    wait_time = constant(0)
    # A drill measures the edge as a viewer sees it: no client-side retries, and
    # the origin-request trigger's 30 s limit bounds any sane response.
    max_retries = 0
    network_timeout = 60.0
    connection_timeout = 10.0

    @task
    def scheduled_requests(self) -> None:
        """Take each due request and send it, for as long as the user runs.

        The loop stays inside the task: returning to Locust between requests
        would cost a ``wait()`` (a ``gevent.sleep(0)``, one more turn of the
        event loop) per request.
        """
        # The dispatcher is looked up on every turn: each run starts a new one.
        controller = controller_of(self.environment)
        while True:
            dispatcher = controller.dispatcher
            assignment = dispatcher.take() if dispatcher is not None else None
            if dispatcher is None or assignment is None:
                # No schedule yet, or this process's share of it is over.
                gevent.sleep(_IDLE_POLL_S)
                continue
            ticket = assignment.ticket
            # Locust records a request that fails; one whose user is killed
            # mid-request (GreenletExit) has no record, and the dispatcher counts it.
            completed = False
            try:
                self.client.request(
                    ticket.method,
                    ticket.path,
                    name=ticket.name,
                    context={"late_ms": assignment.late_s * 1000.0},
                )
                completed = True
            finally:
                dispatcher.done(completed=completed)
