"""Replay of a CloudFront distribution's real traffic from its standard access logs.

``locust -f loadtests/replay.py --headless --log LOG`` sends the log's
requests (same paths, methods and query strings) at their original
inter-arrival times, to the local distribution, seeded first with the log's
objects at their logged sizes, or to ``--host``. ``LOG`` is a file (plain or
gzip) or a folder of them; fields are found by each file's ``#Fields:`` line
and lines need not be in time order. ``--speedup`` compresses time,
``--multiply`` scales the rate (everywhere, or inside ``--multiply-window``),
``--window`` replays a part of the log.

Malformed lines are skipped, reported as ``file:line: reason`` in the log of
the run and in the run folder's ``malformed_lines.txt``, and counted in
``run.json``'s ``malformed_lines``. ``python loadtests/replay.py --help``
lists the scenario's options with Locust's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loadtests import _hooks, _options
from loadtests._controller import ScenarioSpec
from loadtests._plans import REPLAY_NAME, ReplayPlan
from loadtests._seed import objects_from_log, seed_regions
from loadtests._shapes import ScheduleShape
from loadtests._users import ScheduledUser

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from loadtests._local import LocalDistribution
    from loadtests._plans import Plan


def _plan(options: argparse.Namespace, keys: Sequence[str] | None) -> Plan:
    del keys  # a replay asks for the log's own paths
    return _options.replay_plan(options)


def _seed_local(plan: Plan, local: LocalDistribution) -> None:
    if isinstance(plan, ReplayPlan):
        seed_regions(local.regions, local.bucket, objects_from_log(plan.log.requests))


class ReplayUser(ScheduledUser):
    """Sends the log's requests when they are due."""


class ReplayShape(ScheduleShape):
    """Runs the replay from the log's first request to its last, then ends the test."""

    scenario = REPLAY_NAME


_hooks.register_scenario(
    ScenarioSpec(
        REPLAY_NAME,
        build=_plan,
        user_class=ReplayUser,
        validate=_options.validate_replay,
        add_arguments=_options.add_replay_arguments,
        prepare_local=_seed_local,
    )
)

if __name__ == "__main__":
    _hooks.locust_main(__file__)
