"""Exercises :class:`loadtests._dispatch.Dispatcher` under gevent; run as a subprocess.

The test process must not be monkey-patched, so ``test_dispatch.py`` runs this
script and reads the JSON it prints.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from loadtests._dispatch import Dispatcher  # noqa: E402
from loadtests._plans import Ticket  # noqa: E402


def tickets(count: int, spacing: float):
    for i in range(count):
        yield Ticket(i * spacing, "GET", f"/k{i}", "check")


def run(users: int, count: int, spacing: float, service: float, close_at: float | None = None):
    dispatcher = Dispatcher(tickets(count, spacing), origin=time.time() + 0.1)
    used: set[int] = set()
    lates: list[float] = []
    offsets: list[float] = []

    def user(number: int) -> None:
        while True:
            assignment = dispatcher.take()
            if assignment is None:
                return
            used.add(number)
            lates.append(assignment.late_s)
            offsets.append(assignment.ticket.offset)
            gevent.sleep(service)
            dispatcher.done()

    dispatcher.start()
    group = [gevent.spawn(user, n) for n in range(users)]
    if close_at is not None:
        gevent.sleep(0.3)
        dispatcher.close_at(close_at)
    drained = dispatcher.drain(timeout=10)
    gevent.joinall(group, timeout=5)
    dispatcher.stop()
    return {
        "drained": drained,
        "released": dispatcher.released,
        "taken": dispatcher.taken,
        "late": dispatcher.late,
        "users_used": len(used),
        "max_late": max(lates, default=0.0),
        "offsets_sorted": offsets == sorted(offsets),
        "max_offset": max(offsets, default=0.0),
        "users_done": all(g.dead for g in group),
    }


def main() -> None:
    results = {
        "enough": run(users=20, count=100, spacing=0.005, service=0.002),
        "too_few": run(users=2, count=60, spacing=0.005, service=0.05),
        "closed": run(users=5, count=1000, spacing=0.01, service=0.001, close_at=0.5),
    }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
