"""The load shape of a scheduled scenario: how long the test runs, and its user pool.

The request rate is not the shape's to set: the schedule sets it (see
:mod:`loadtests._dispatch`). The shape starts the pool of users that carries
the schedule, keeps it while the schedule runs, waits for late and in-flight
requests at the end, then stops the test. It honours Locust's common options:
``--run-time`` cuts the schedule short, ``-u`` sets the pool size and ``-r``
the rate it is spawned at. The web UI's user count is the pool too, never the
request rate: it can raise the pool the peak rate needs, never shrink it
(Locust fills the field with 1).
"""

from __future__ import annotations

from locust import LoadTestShape, User

from typing import ClassVar

from loadtests._controller import controller_of


class ScheduleShape(LoadTestShape):
    """Runs one registered scenario's schedule from start to drain."""

    abstract = True
    use_common_options = True
    scenario: ClassVar[str]

    def tick(self) -> tuple[int, float, list[type[User]] | None] | None:
        """Locust asks once a second: the pool to keep, or ``None`` when the run is over."""
        return controller_of(getattr(self.runner, "environment", None)).shape_tick(self.scenario)
