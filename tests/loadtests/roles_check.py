"""Builds three Locust environments in one process and reports their controllers; a subprocess.

Locust monkey-patches the process that imports it, so ``test_roles.py`` runs
this script and reads the JSON it prints. The environments are a local one
(``-u 7``), another local one (``-u 11``) and a master with one worker, all
on 127.0.0.1 and against a host nothing listens on: nothing is sent. The run
folder goes into the folder given as the one argument.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402
import locust  # noqa: E402
from locust.argument_parser import get_parser  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.runners import Runner  # noqa: E402

import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from loadtests import spike  # noqa: E402
from loadtests._controller import controller_of  # noqa: E402

WORK = Path(sys.argv[1])
KEYS = WORK / "keys.txt"


def environment(*args: str) -> tuple[Environment, spike.SpikeShape]:
    # No config files: a locust.conf where the test runs must not change the options.
    options = get_parser(default_config_files=[]).parse_args(
        [
            "-f", "loadtests/spike.py", "--headless", "--host", "http://127.0.0.1:9",
            "--keys", str(KEYS), "--results-dir", str(WORK), *args,
        ]
    )  # fmt: skip
    shape = spike.SpikeShape()
    env = Environment(
        user_classes=[spike.SpikeUser],
        shape_class=shape,
        events=locust.events,
        host=options.host,
        parsed_options=options,
    )
    return env, shape


def init(env: Environment, runner: Runner) -> Runner:
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    return runner


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pool(shape: spike.SpikeShape) -> tuple[int, list[str]]:
    tick = shape.tick()
    if tick is None or tick[2] is None:
        return 0, []
    return tick[0], [cls.__name__ for cls in tick[2]]


def main() -> None:
    KEYS.write_text("a\nb\nc\n", encoding="utf-8")
    (first, first_shape), (second, second_shape) = environment("-u", "7"), environment("-u", "11")
    runners = [init(first, first.create_local_runner()), init(second, second.create_local_runner())]
    port = free_port()
    master, _ = environment()
    runners.append(init(master, master.create_master_runner("127.0.0.1", port)))
    worker, _ = environment()
    runners.append(init(worker, worker.create_worker_runner("127.0.0.1", port)))
    controllers = [controller_of(env) for env in (first, second, master, worker)]

    pools = [pool(first_shape), pool(second_shape)]
    spike.SpikeUser.host = first.host  # Locust's main sets it from --host
    users = [spike.SpikeUser(first), spike.SpikeUser(second)]
    # Only the first environment starts a run.
    first.events.test_start.fire(environment=first)
    started = [controller_of(user.environment).dispatcher is not None for user in users]
    first.events.test_stop.fire(environment=first)

    result = {
        "roles": [type(c).__name__ for c in controllers],
        "distinct": len({id(c) for c in controllers}),
        "pools": pools,
        "started": started,
        "run_folders": sorted(path.parent.name for path in WORK.glob("*/run.json")),
    }
    for runner in reversed(runners):
        runner.quit()
    gevent.sleep(0.1)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # Locust's greenlets (heartbeats, stats) would keep the loop alive.
    os._exit(0)


if __name__ == "__main__":
    main()
