"""The drill's controller in one Locust process: what every role shares.

Each Locust process has one controller, in the role of its runner, chosen at
``init`` (see :mod:`loadtests._hooks`) and attached to the process's Locust
``Environment``. The shape reaches it through ``self.runner.environment``, a
user through ``self.environment``, so two environments never share one.

```
Controller                  every role: options, the records collector, the dispatcher
├── RunOwner                owns the run: plans, local distribution, run folder, run.json
│   ├── LocalController     (one process) dispatches and records itself
│   └── MasterController    (--processes, --master) deals slots, gathers records
└── WorkerController        dispatches its slot of the schedule, ships records to the master
```

Master and worker talk over Locust's message channel (``MSG_*``) and the
parsed options Locust ships with each spawn message (``PLAN_OPTION``).
"""

from __future__ import annotations

import gevent

import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadtests._dispatch import Dispatcher
from loadtests._recorder import RecordCollector

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping, Sequence

    from loadtests._local import LocalDistribution
    from loadtests._plans import Plan

PLAN_OPTION = "edgedrill_plan"
MSG_RECORDS = "edgedrill_records"
MSG_DRAIN = "edgedrill_drain"
MSG_DRAINED = "edgedrill_drained"
# The Environment attribute that holds the process's controller.
_ATTRIBUTE = "edgedrill_controller"
# A test stopped early (Ctrl-C, the web UI's stop) waits this long at most, and
# never longer than --drain-timeout, for the requests already sent to end.
STOP_GRACE_S = 5.0

Tick = tuple[int, float, list[Any]]


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A scenario the controllers can run: its plan builder and its user class."""

    name: str
    build: Callable[[argparse.Namespace, Sequence[str] | None], Plan]
    user_class: type[Any]
    add_arguments: Callable[[Any], None]
    validate: Callable[[argparse.Namespace, bool], None]
    prepare_local: Callable[[Plan, LocalDistribution], None] | None = None


class Controller:
    """The drill's state in one Locust process; subclasses are its roles."""

    def __init__(
        self, environment: Any, runner: Any, scenarios: Mapping[str, ScenarioSpec]
    ) -> None:
        self.environment = environment
        self.runner = runner
        self.scenarios = scenarios
        self.collector = RecordCollector()
        self.dispatcher: Dispatcher | None = None
        self._flusher: Any = None

    def on_init(self) -> None:
        """Set this process up (Locust's ``init``)."""
        options = self.environment.parsed_options
        if options is not None:
            self.collector.origin_header = str(options.origin_region_header).lower()
        interrupt_main_greenlet_only()

    def on_test_start(self) -> None:
        """A test starts (Locust's ``test_start``)."""

    def on_test_stopping(self) -> None:
        """A test is about to stop, its users still alive (Locust's ``test_stopping``)."""

    def on_test_stop(self) -> None:
        """A test stops (Locust's ``test_stop``)."""

    def on_quitting(self) -> None:
        """Locust is exiting (Locust's ``quitting``)."""
        self._stop_recording()

    def shape_tick(self, shape_scenario: str) -> Tick | None:
        """The scenario shape's tick; only the roles that own a run have a shape to drive."""
        del shape_scenario
        return None

    # -- recording and dispatching --------------------------------------------------

    def _start_recording(self) -> None:
        """Keep a record of every request this process makes, flushed once a second."""
        self.environment.events.request.add_listener(self.collector.on_request)
        self._flusher = gevent.spawn(self.collector.run_forever)

    def _stop_grace(self) -> float:
        """How long a test stopped early waits for its requests in flight (<= --drain-timeout)."""
        options = self.environment.parsed_options
        drain = float(getattr(options, "drain_timeout", STOP_GRACE_S))
        return max(min(drain, STOP_GRACE_S), 0.0)

    def _stop_recording(self) -> None:
        if self._flusher is not None:
            self._flusher.kill(block=False)

    def _start_dispatcher(
        self,
        plan: Plan,
        slot: int,
        slots: int,
        t0: float,
        limit: float,
        options: argparse.Namespace,
    ) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.dispatcher = Dispatcher(
            plan.tickets(slot, slots),
            origin=t0,
            late_threshold_s=float(options.late_threshold_ms) / 1000.0,
        )
        # A run cut short by --run-time sends nothing due after the cut.
        self.dispatcher.close_at(limit)
        self.dispatcher.start()

    def _dispatcher_report(self, *, drained: bool) -> dict[str, Any]:
        dispatcher = self.dispatcher
        if dispatcher is None:
            return {"drained": False}
        return {
            "drained": drained,
            "released": dispatcher.released,
            "taken": dispatcher.taken,
            "late": dispatcher.late,
            "unsent": dispatcher.unsent,
            "in_flight": dispatcher.in_flight,
            "abandoned": dispatcher.abandoned,
        }


def interrupt_main_greenlet_only() -> None:
    """Ctrl-C raises ``KeyboardInterrupt`` in the main greenlet only, never in a user's.

    Python raises it in whatever code runs when SIGINT arrives: in a gevent
    process that is any greenlet, often a user's amid a request the target
    has already served, or the collector's amid a batch, and what that
    greenlet held is lost unrecorded. Here the signal only schedules the
    exception, and the hub throws it into the main greenlet (where Locust
    waits for it) the way gevent raises its own system errors there.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # someone chose another handler (Locust's --processes parent, a test)

    def on_sigint(_signum: int, _frame: object) -> None:
        hub = gevent.get_hub()
        hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)

    signal.signal(signal.SIGINT, on_sigint)


def attach(environment: Any, controller: Controller) -> None:
    """Make ``controller`` the one of ``environment``'s process."""
    setattr(environment, _ATTRIBUTE, controller)


def find_controller(environment: Any) -> Controller | None:
    """The controller attached to ``environment``, if any."""
    found = getattr(environment, _ATTRIBUTE, None)
    return found if isinstance(found, Controller) else None


def controller_of(environment: Any) -> Controller:
    """The controller attached to ``environment`` at ``init``."""
    found = find_controller(environment)
    if found is None:
        msg = "this Locust environment has no edgedrill controller (is loadtests._hooks imported?)"
        raise LookupError(msg)
    return found
