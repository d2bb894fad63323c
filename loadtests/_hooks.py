"""Locust event hooks that make a locustfile an edgedrill drill.

Every scenario imports this module and registers itself
(:func:`register_scenario`); on first import the module adds its listeners
to ``locust.events``. At ``init`` each Locust process gets one controller, in
the role of its runner, attached to its ``Environment``:

```
local   (one process)            plans, dispatches, records, writes the run folder   _local_role
master  (--processes, --master)  plans, deals slots, gathers records, writes it      _master_role
worker                           dispatches its slot of the schedule, records, ships  _worker_role
```

The later events go to the controller of the environment they fire for. How
a run goes from start to stop is told in :mod:`loadtests._run_owner`.

The scenarios are a module-level registry, the one piece of state here: Locust
imports the locustfiles and then fires ``init_command_line_parser`` with a
parser alone, before any ``Environment`` exists, so their options can only be
found here. It holds each locustfile's constant :class:`ScenarioSpec` (a
locustfile imported twice registers the same one again), never run state.
"""

from __future__ import annotations

from locust import events
from locust.runners import MasterRunner, WorkerRunner

import sys
from typing import TYPE_CHECKING, Any

from loadtests import _options
from loadtests._controller import Controller, ScenarioSpec, attach, find_controller
from loadtests._local_role import LocalController
from loadtests._master_role import MasterController
from loadtests._worker_role import WorkerController

if TYPE_CHECKING:
    from collections.abc import Callable

_SCENARIOS: dict[str, ScenarioSpec] = {}


def register_scenario(spec: ScenarioSpec) -> None:
    """Make a scenario known by name, and its options known to Locust's parser."""
    _SCENARIOS[spec.name] = spec


def locust_main(locustfile: str) -> None:
    """``python loadtests/<scenario>.py [LOCUST OPTIONS]``: Locust on that scenario.

    The same as ``locust -f loadtests/<scenario>.py``, except that ``--help``
    lists the scenario's options too: Locust prints its help before it imports
    a locustfile (locustio/locust#2917), so its own ``--help`` cannot.
    """
    from locust import main as locust_entry

    entry: Any = locust_entry  # untyped module
    args = sys.argv[1:]
    sys.argv = ["locust", "-f", locustfile, *args]
    if "-h" in args or "--help" in args:
        from locust.argument_parser import get_parser

        get_parser().parse_args(["-f", locustfile, *args])
    entry.main()


def role_for(runner: Any) -> type[Controller]:
    """The controller class for a process with this Locust runner."""
    if isinstance(runner, WorkerRunner):
        return WorkerController
    if isinstance(runner, MasterRunner):
        return MasterController
    return LocalController


def _add_arguments(parser: Any, **_: Any) -> None:
    _options.add_common_arguments(parser)
    # A locustfile run as a script is imported a second time by Locust: its
    # options are added once.
    for add in dict.fromkeys(spec.add_arguments for spec in _SCENARIOS.values()):
        add(parser)
    _options.local_workers_on_loopback(parser)


def _on_init(environment: Any, runner: Any, **_: Any) -> None:
    controller = role_for(runner)(environment, runner, _SCENARIOS)
    attach(environment, controller)
    controller.on_init()


def _on_test_start(environment: Any, **_: Any) -> None:
    controller = find_controller(environment)
    if controller is not None:
        controller.on_test_start()


def _on_test_stopping(environment: Any, **_: Any) -> None:
    controller = find_controller(environment)
    if controller is not None:
        controller.on_test_stopping()


def _on_test_stop(environment: Any, **_: Any) -> None:
    controller = find_controller(environment)
    if controller is not None:
        controller.on_test_stop()


def _on_quitting(environment: Any, **_: Any) -> None:
    controller = find_controller(environment)
    if controller is not None:
        controller.on_quitting()


def listen(hook: Any, listener: Callable[..., None]) -> None:
    """Add ``listener`` to one of Locust's event hooks (``locust.events.<name>``)."""
    hook.add_listener(listener)


listen(events.init_command_line_parser, _add_arguments)
listen(events.init, _on_init)
listen(events.test_start, _on_test_start)
listen(events.test_stopping, _on_test_stopping)
listen(events.test_stop, _on_test_stop)
listen(events.quitting, _on_quitting)
