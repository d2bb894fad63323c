"""A 20x traffic spike, specified and checked as an arrival rate.

``locust -f loadtests/spike.py --headless`` starts the local distribution,
runs a baseline of ``--baseline-rps`` requests per second, steps (or ramps,
``--ramp``) to ``--spike-factor`` times it at ``--spike-at`` seconds, holds it
for ``--spike-hold`` seconds, and comes back down for ``--cooldown`` seconds.
Each request asks for one of the distribution's objects, drawn with Zipf
popularity (``--zipf-s``), so the edge cache sees a realistic hit ratio.

Rates are requests per second, not users: requests are sent when they are
due whatever the target's latency, and one that starts late because every
user was busy is counted late (``rate.csv``, ``requests.csv``), never
dropped. ``--host https://dxxxx.cloudfront.net --keys keys.txt`` drives a
real distribution instead. Every Locust option works (``--processes``,
``--csv``, ``--html``, ``--run-time``, the web UI, ``locust.conf``); the run
folder is printed at the end. ``python loadtests/spike.py --help`` lists the
scenario's options with Locust's.
"""

from __future__ import annotations

from loadtests import _hooks, _options
from loadtests._controller import ScenarioSpec
from loadtests._plans import SPIKE_NAME
from loadtests._shapes import ScheduleShape
from loadtests._users import ScheduledUser


class SpikeUser(ScheduledUser):
    """Sends the spike's requests when they are due."""


class SpikeShape(ScheduleShape):
    """Runs the spike from baseline to cooldown, then ends the test."""

    scenario = SPIKE_NAME


_hooks.register_scenario(
    ScenarioSpec(
        SPIKE_NAME,
        build=_options.spike_plan,
        user_class=SpikeUser,
        validate=_options.validate_spike,
        add_arguments=_options.add_spike_arguments,
    )
)

if __name__ == "__main__":
    _hooks.locust_main(__file__)
