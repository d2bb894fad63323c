"""Locust event hooks that make a locustfile an edgedrill drill.

Every scenario imports this module; on first import it adds its listeners to
``locust.events``. Each Locust process has one :class:`Controller`, in one of
three roles:

```
local   (one process)            plans, dispatches, records, writes the run folder
master  (--processes, --master)  plans, deals slots, gathers records, writes the run folder
worker                           dispatches its slot of the schedule, records, ships to the master
```

A run, from start to stop:

1. The shape's first tick plans the scenario from the options (as they stand
   when the test starts, web UI edits included) and asks for the user pool.
2. ``test_start``: the run's origin ``t0`` is set a moment ahead so users
   exist before the first request is due, and the run folder is made. The
   master puts ``{run, t0, slots}`` into its parsed options, which Locust ships
   to every worker with its spawn message; each worker takes its slot.
3. Each request fires Locust's ``request`` event; the hook keeps a tuple per
   request and, once a second, writes the batch (local) or sends it to the
   master (worker), so recording costs the request path almost nothing.
4. When the schedule is over, the shape waits (``--drain-timeout``) for late
   and in-flight requests, on every worker, then ends the test.
5. ``test_stop``: ``rate.csv``, ``run.json``, Locust's CSVs and the local
   distribution's logs join ``requests.csv`` in the run folder. A master
   stopped early (Ctrl-C) first has its workers stop and ship what they hold.

Without ``--host`` the local distribution is started in ``init`` and stopped
on every way out (end of test, Ctrl-C, SIGTERM, an error in a later ``init``
listener): in ``quitting`` and, as a backstop, at interpreter exit.
"""

from __future__ import annotations

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

import atexit
import logging
import math
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests import _options
from loadtests._dispatch import Dispatcher
from loadtests._errors import CliError
from loadtests._locust_csv import LocustCsv
from loadtests._plans import pool_size
from loadtests._recorder import RecordCollector
from loadtests._records import RecordsWriter, rate_rows, write_rate_csv
from loadtests._run_folder import (
    LOCUST_CSV_PREFIX,
    MALFORMED_TXT,
    RATE_CSV,
    REQUESTS_CSV,
    claim_run_dir,
    copy_logs,
    create_run_dir,
    versions,
    write_run_json,
)
from loadtests._schedule import count_per_second

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from loadtests._local import LocalDistribution
    from loadtests._plans import Plan

logger = logging.getLogger(__name__)

PLAN_OPTION = "edgedrill_plan"
MSG_RECORDS = "edgedrill_records"
MSG_DRAIN = "edgedrill_drain"
MSG_DRAINED = "edgedrill_drained"
# The first request is due this long after the test starts, so that users exist.
START_LEAD_S = 1.0
MAX_SPAWN_RATE_PER_WORKER = 100.0
MALFORMED_SHOWN = 20
# How long a master whose run was cut short waits for its workers' final reports.
GATHER_TIMEOUT_S = 5.0
# Keys of a worker's report that are not its dispatch counts.
_NOT_DISPATCH = frozenset({"run", "slot", "records_dropped"})


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A scenario the hooks can run: its plan builder and its user class."""

    name: str
    build: Callable[[argparse.Namespace, Sequence[str] | None], Plan]
    user_class: type[Any]
    add_arguments: Callable[[Any], None]
    validate: Callable[[argparse.Namespace, bool], None]
    prepare_local: Callable[[Plan, LocalDistribution], None] | None = None


_SCENARIOS: dict[str, ScenarioSpec] = {}
_ARGUMENT_ADDERS: list[Callable[[Any], None]] = []


def register_scenario(spec: ScenarioSpec) -> None:
    """Make a scenario known by name, and its options known to Locust's parser.

    Registering twice (a locustfile run as a script is imported a second time
    by Locust) adds its options once.
    """
    _SCENARIOS[spec.name] = spec
    if spec.add_arguments not in _ARGUMENT_ADDERS:
        _ARGUMENT_ADDERS.append(spec.add_arguments)


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


@dataclass(slots=True)
class _Run:
    """The run in progress, on the master or the single local process."""

    id: str
    scenario: str
    plan: Plan
    t0: float
    started: float
    end: float
    run_dir: Path
    writer: RecordsWriter
    slots: dict[str, int]
    users: int
    spawn_rate: float
    local: bool
    host: str
    drained: dict[int, dict[str, Any]] = field(default_factory=dict)
    drain_complete: bool = False
    locust_csv: LocustCsv | None = None


class Controller:
    """The drill's state in one Locust process."""

    def __init__(self) -> None:
        self.environment: Any = None
        self.runner: Any = None
        self.role = "local"
        self.local: LocalDistribution | None = None
        self.local_keys: list[str] | None = None
        self.collector = RecordCollector()
        self.dispatcher: Dispatcher | None = None
        self.run: _Run | None = None
        self.worker_run: str | None = None
        self.worker_slot: int | None = None
        self._plans: dict[str, tuple[str, Plan]] = {}
        self._explicit_users: int | None = None
        self._explicit_spawn_rate: float | None = None
        self._run_dir_used = False
        self._next_scenario: str | None = None
        self._flusher: Any = None

    # -- init ----------------------------------------------------------------

    def on_init(self, environment: Any, runner: Any, **_: Any) -> None:
        """Set the process up; on the master or local process, start the local distribution."""
        self.environment = environment
        self.runner = runner
        options = environment.parsed_options
        if isinstance(runner, WorkerRunner):
            self.role = "worker"
        elif isinstance(runner, MasterRunner):
            self.role = "master"
        else:
            self.role = "local"
        if options is not None:
            self.collector.origin_header = str(options.origin_region_header).lower()
            self._explicit_users = options.num_users
            self._explicit_spawn_rate = options.spawn_rate
        if self.role == "worker":
            runner.register_message(MSG_DRAIN, self._on_drain, concurrent=True)
            # A worker that is itself interrupted (Ctrl-C reaches the whole process
            # group) says "quit" to its master in a quitting listener, before its
            # test_stop. Added after that listener, this one runs before it
            # (quitting fires in reverse) and ships the worker's last records first.
            environment.events.quitting.add_listener(self._finish_worker)
        else:
            if self.role == "master":
                runner.register_message(MSG_RECORDS, self._on_records)
                runner.register_message(MSG_DRAINED, self._on_drained)
            self._prepare(environment)
        if self.role != "master":
            environment.events.request.add_listener(self.collector.on_request)
            self._flusher = gevent.spawn(self.collector.run_forever)

    def _prepare(self, environment: Any) -> None:
        options = environment.parsed_options
        if options is None:
            return
        scenario = self._default_scenario()
        # A headless run checks its input before the local distribution starts,
        # and plans (for a replay, seeds) before the test starts; the web UI
        # plans when a test is started from it, with the options edited there.
        eager = scenario is not None and bool(options.headless or options.autostart)
        local = environment.host is None
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            _options.common_checks(options)
            if eager and scenario is not None:
                _SCENARIOS[scenario].validate(options, local)
            if local:
                self._start_local(options)
            if eager and scenario is not None:
                self.plan_for(scenario)
        except CliError as exc:
            logger.error("edgedrill: %s", exc)
            self.stop_local()
            raise SystemExit(exc.exit_code) from None
        except BaseException:
            self.stop_local()
            raise
        finally:
            # Locust installs its own SIGTERM handler once init is over.
            signal.signal(signal.SIGTERM, previous)

    def _default_scenario(self) -> str | None:
        shape = getattr(self.environment, "shape_class", None)
        return self._chosen(getattr(shape, "scenario", None))

    def _chosen(self, shape_scenario: str | None) -> str | None:
        """The scenario to run: the one whose user class was named, else the shape's.

        ``locust -f loadtests/`` loads every scenario and Locust runs the first
        shape; naming a user class (``locust -f loadtests/ SpikeUser``) picks
        that scenario instead.
        """
        options = self.environment.parsed_options
        named = set(getattr(options, "user_classes", None) or ())
        picked = [s.name for s in _SCENARIOS.values() if s.user_class.__name__ in named]
        if len(picked) == 1:
            return picked[0]
        if shape_scenario in _SCENARIOS:
            return shape_scenario
        if len(_SCENARIOS) == 1:
            return next(iter(_SCENARIOS))
        return None

    def _start_local(self, options: argparse.Namespace) -> None:
        from loadtests._local import start_local

        logger.info("edgedrill: no --host given, starting the local distribution")
        atexit.register(self.stop_local)
        self.local = start_local(objects=int(options.objects), memory_mb=int(options.memory_mb))
        self.local_keys = list(self.local.keys)
        self.environment.host = self.local.edge_url
        logger.info("edgedrill: local distribution at %s", self.local.edge_url)

    def stop_local(self) -> None:
        """Stop the local distribution if this process started it (idempotent)."""
        local, self.local = self.local, None
        if local is not None:
            logger.info("edgedrill: stopping the local distribution")
            local.stop()

    # -- planning --------------------------------------------------------------

    def plan_for(self, scenario: str) -> Plan:
        """The plan of ``scenario`` for the current options (rebuilt only when they change)."""
        spec = _SCENARIOS[scenario]
        options = self.environment.parsed_options
        locust_own = _locust_option_names()
        key = repr(
            sorted(
                (k, repr(v))
                for k, v in vars(options).items()
                if k != PLAN_OPTION and k not in locust_own
            )
        )
        cached = self._plans.get(scenario)
        if cached is not None and cached[0] == key:
            return cached[1]
        plan = spec.build(options, self.local_keys)
        if self.local is not None and spec.prepare_local is not None:
            spec.prepare_local(plan, self.local)
        self._report_malformed(plan)
        self._plans[scenario] = (key, plan)
        return plan

    def _report_malformed(self, plan: Plan) -> None:
        malformed = _malformed(plan)
        if not malformed:
            return
        for line in malformed[:MALFORMED_SHOWN]:
            logger.warning("edgedrill: skipped malformed log line %s", line)
        if len(malformed) > MALFORMED_SHOWN:
            logger.warning(
                "edgedrill: ... and %d more malformed lines (all in the run folder's %s)",
                len(malformed) - MALFORMED_SHOWN,
                MALFORMED_TXT,
            )

    def _pool(self, plan: Plan, slots: int) -> tuple[int, float]:
        options = self.environment.parsed_options
        users = self._explicit_users or pool_size(plan.peak_rps, float(options.pool_latency), slots)
        users = max(users, slots)
        spawn_rate = self._explicit_spawn_rate or min(
            float(users), MAX_SPAWN_RATE_PER_WORKER * slots
        )
        return users, spawn_rate

    def _slots(self) -> dict[str, int]:
        if self.role != "master":
            return {"local": 0}
        clients = self.runner.clients
        ids = [c.id for c in (*clients.ready, *clients.spawning, *clients.running)]
        ids.sort(key=self.runner.get_worker_index)
        return {client_id: index for index, client_id in enumerate(ids)}

    # -- the shape ---------------------------------------------------------------

    def shape_tick(self, shape_scenario: str) -> tuple[int, float, list[Any]] | None:
        """The scenario shape's tick: the pool while the schedule runs, ``None`` after the drain."""
        run = self.run
        scenario = (run.scenario if run else self._chosen(shape_scenario)) or shape_scenario
        user_class = _SCENARIOS[scenario].user_class
        if run is None:
            try:
                plan = self.plan_for(scenario)
            except CliError as exc:
                logger.error("edgedrill: %s", exc)
                return None
            self._next_scenario = scenario
            users, spawn_rate = self._pool(plan, len(self._slots()))
            return users, spawn_rate, [user_class]
        if time.time() < run.end:
            return run.users, run.spawn_rate, [user_class]
        self._drain(run)
        return None

    def _drain(self, run: _Run) -> None:
        timeout = float(self.environment.parsed_options.drain_timeout)
        limit = run.end - run.t0
        if self.role == "local":
            if self.dispatcher is not None:
                self.dispatcher.close_at(limit)
                run.drain_complete = self.dispatcher.drain(timeout)
                self.dispatcher.stop()
                run.drained[0] = self._dispatcher_report(drained=run.drain_complete)
            self.collector.flush()
            return
        reported = self._ask_workers(run, timeout=timeout, limit=limit, wait=timeout + 5.0)
        run.drain_complete = reported and all(r.get("drained") for r in run.drained.values())

    def _ask_workers(self, run: _Run, *, timeout: float, limit: float, wait: float) -> bool:
        """Have every worker drain (up to ``timeout``) and report; wait ``wait`` s for all."""
        self.runner.send_message(MSG_DRAIN, {"run": run.id, "timeout": timeout, "limit": limit})
        deadline = time.monotonic() + wait
        while len(run.drained) < len(run.slots) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        return len(run.drained) >= len(run.slots)

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
        }

    # -- test start ------------------------------------------------------------------

    def on_test_start(self, environment: Any, **_: Any) -> None:
        """Begin a run (master, local) or take this worker's slot of it."""
        if self.role == "worker":
            self._begin_worker(environment)
            return
        try:
            self._begin_run(environment)
        except (CliError, OSError) as exc:
            logger.error("edgedrill: cannot start the run: %s", exc)
            self.run = None
            runner = environment.runner
            if runner is not None:
                headless = bool(getattr(environment.parsed_options, "headless", False))
                gevent.spawn(runner.quit if headless else runner.stop)

    def _begin_run(self, environment: Any) -> None:
        options = environment.parsed_options
        scenario = self._next_scenario or self._default_scenario()
        self._next_scenario = None
        if scenario is None:
            msg = "no edgedrill scenario is selected"
            raise _options.ScenarioError(msg)
        plan = self.plan_for(scenario)
        slots = self._slots()
        users, spawn_rate = self._pool(plan, len(slots))
        now = time.time()
        t0 = now + START_LEAD_S
        end = t0 + plan.duration
        if options.run_time:
            # --run-time cuts the schedule, counted from its start.
            end = min(end, t0 + float(options.run_time))
        run_dir = self._new_run_dir(options, scenario)
        run = _Run(
            id=uuid.uuid4().hex,
            scenario=scenario,
            plan=plan,
            t0=t0,
            started=now,
            end=end,
            run_dir=run_dir,
            writer=RecordsWriter(run_dir / REQUESTS_CSV, origin=t0),
            slots=slots,
            users=users,
            spawn_rate=spawn_rate,
            local=self.local is not None,
            host=str(environment.host or ""),
        )
        self.run = run
        _write_malformed(run_dir, plan)
        self._start_locust_csv(run, options)
        setattr(
            options,
            PLAN_OPTION,
            {
                "run": run.id,
                "t0": t0,
                "limit": end - t0,
                "slots": slots,
                "scenario": scenario,
                "keys": self.local_keys,
            },
        )
        logger.info(
            "edgedrill: %s run in %s: %.0f s scheduled, peak %.1f requests/s, %d users",
            scenario,
            run_dir,
            min(plan.duration, end - t0),
            plan.peak_rps,
            users,
        )
        if self.role == "local":
            self.collector.discard()
            self.collector.sink = run.writer.write
            self._start_dispatcher(plan, 0, 1, t0, end - t0, options)

    def _new_run_dir(self, options: argparse.Namespace, scenario: str) -> Path:
        if options.run_dir and not self._run_dir_used:
            self._run_dir_used = True
            return claim_run_dir(Path(options.run_dir))
        base = Path(options.run_dir).parent if options.run_dir else Path(options.results_dir)
        return create_run_dir(base, scenario)

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

    def _begin_worker(self, environment: Any) -> None:
        options = environment.parsed_options
        info = getattr(options, PLAN_OPTION, None)
        if not isinstance(info, dict):
            logger.warning("edgedrill: the master sent no schedule; this worker stays idle")
            return
        slot = info["slots"].get(self.runner.client_id)
        if slot is None:
            logger.warning("edgedrill: joined after the run started; this worker stays idle")
            return
        spec = _SCENARIOS.get(info["scenario"])
        if spec is None:
            logger.error("edgedrill: unknown scenario %r from the master", info["scenario"])
            return
        try:
            plan = spec.build(options, info.get("keys"))
        except CliError as exc:
            logger.error("edgedrill: cannot plan this worker's share: %s", exc)
            return
        self.worker_run = str(info["run"])
        self.worker_slot = int(slot)
        run_id = self.worker_run
        self.collector.discard()
        self.collector.sink = lambda rows: self.runner.send_message(
            MSG_RECORDS, {"run": run_id, "rows": rows}
        )
        self._start_dispatcher(
            plan,
            int(slot),
            len(info["slots"]),
            float(info["t0"]),
            float(info.get("limit", math.inf)),
            options,
        )

    # -- messages --------------------------------------------------------------------

    def _on_records(self, environment: Any, msg: Any, **_: Any) -> None:
        run = self.run
        if run is None or msg.data.get("run") != run.id:
            return
        run.writer.write(msg.data["rows"])

    def _on_drained(self, environment: Any, msg: Any, **_: Any) -> None:
        run = self.run
        if run is None or msg.data.get("run") != run.id:
            return
        # The first report of a slot stands (a worker's test_stop may send a second).
        run.drained.setdefault(int(msg.data["slot"]), dict(msg.data))

    def _on_drain(self, environment: Any, msg: Any, **_: Any) -> None:
        if msg.data.get("run") != self.worker_run or self.dispatcher is None:
            return
        self.dispatcher.close_at(float(msg.data.get("limit", math.inf)))
        drained = self.dispatcher.drain(float(msg.data.get("timeout", 10.0)))
        self.dispatcher.stop()
        self._report_to_master(drained=drained)

    def _report_to_master(self, *, drained: bool) -> None:
        """Ship the buffered records, then this worker's counts (in that order, one channel).

        The counts are taken before the records are handed over, with no switch
        in between: a request that ends while they are sent is still in flight
        in the report, so ``released - in_flight`` are exactly the records shipped.
        """
        report = self._dispatcher_report(drained=drained)
        self.collector.flush()
        report.update(
            run=self.worker_run, slot=self.worker_slot, records_dropped=self.collector.dropped
        )
        self.runner.send_message(MSG_DRAINED, report)

    # -- test stop -------------------------------------------------------------------

    def on_test_stop(self, environment: Any, **_: Any) -> None:
        """Finish the run: stop dispatching, flush records, write the run folder."""
        if self.role == "worker":
            self._finish_worker()
            return
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.role == "master":
            self._gather_workers()
        self.finish_run()

    def _finish_worker(self, *_: Any, **__: Any) -> None:
        """This worker's share is over: ship its last records and counts (once)."""
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.worker_run is not None and self.dispatcher is not None:
            self._report_to_master(drained=False)
        self.collector.flush()
        self.collector.sink = None
        self.worker_run = None

    def _gather_workers(self) -> None:
        """On a run cut short, have every worker stop now and ship what it holds (bounded).

        When Locust quits (Ctrl-C, ``--run-time``) the master's ``test_stop``
        comes before the workers hear of it: without this, their last second of
        records and their counts would reach a master whose run is over.
        """
        run = self.run
        if run is None or len(run.drained) >= len(run.slots):
            return
        limit = max(time.time() - run.t0, 0.0)
        if not self._ask_workers(run, timeout=0.0, limit=limit, wait=GATHER_TIMEOUT_S):
            missing = sorted(set(run.slots.values()) - set(run.drained))
            logger.warning(
                "edgedrill: no final report from worker slot(s) %s; their last records may be lost",
                ", ".join(map(str, missing)),
            )

    def finish_run(self) -> None:
        """Write what the run folder still lacks (idempotent)."""
        run, self.run = self.run, None
        if run is None:
            return
        if self.role == "local":
            self.collector.flush()
            self.collector.sink = None
            if not run.drained:
                run.drained[0] = self._dispatcher_report(drained=False)
        run.writer.close()
        counts = run.writer.counts
        targets = _targets(run)
        write_rate_csv(run.run_dir / RATE_CSV, rate_rows(targets, counts))
        if run.locust_csv is not None:
            run.locust_csv.close()
        if self.local is not None:
            try:
                self.local.flush_logs()
                copy_logs(self.local.log_dir, run.run_dir)
            except OSError as exc:
                logger.warning("edgedrill: could not copy the local logs: %s", exc)
        write_run_json(run.run_dir, self._run_document(run, sum(targets)))
        logger.info(
            "edgedrill: %d requests, %d failures, %d late starts; run folder %s",
            counts.requests,
            counts.failures,
            counts.late_starts,
            run.run_dir,
        )

    def _run_document(self, run: _Run, scheduled: float) -> dict[str, Any]:
        options = self.environment.parsed_options
        counts = run.writer.counts
        reports = run.drained
        args = {k: v for k, v in vars(options).items() if k != PLAN_OPTION}
        return {
            "scenario": run.scenario,
            "args": args,
            "versions": versions(),
            "start": run.t0,
            "end": time.time(),
            "host": run.host,
            "local": run.local,
            "requests": counts.requests,
            "failures": counts.failures,
            "late_starts": counts.late_starts,
            "malformed_lines": len(_malformed(run.plan)),
            "memory_mb": self._memory_mb(options),
            "billing_threshold_ms": _billing_threshold_ms(),
            "scheduled": round(scheduled),
            "unsent": sum(int(r.get("unsent", 0)) for r in reports.values()),
            "in_flight_at_end": sum(int(r.get("in_flight", 0)) for r in reports.values()),
            "complete": run.drain_complete,
            "workers": len(run.slots) if self.role == "master" else 0,
            "users": run.users,
            "duration_s": run.plan.duration,
            "plan": run.plan.summary(),
            "records_dropped": self.collector.dropped
            + sum(int(r.get("records_dropped", 0)) for r in reports.values()),
            "dispatch": [
                {k: v for k, v in reports[slot].items() if k not in _NOT_DISPATCH}
                for slot in sorted(reports)
            ],
        }

    def _memory_mb(self, options: argparse.Namespace) -> int:
        if self.local is not None:
            return self.local.memory_mb
        return int(options.memory_mb)

    # -- Locust's CSVs in the run folder ------------------------------------------------

    def _start_locust_csv(self, run: _Run, options: argparse.Namespace) -> None:
        prefix = run.run_dir / LOCUST_CSV_PREFIX
        given = getattr(options, "csv_prefix", None)
        if given and Path(given).resolve() == prefix.resolve():
            return  # Locust writes them there itself
        full = bool(getattr(options, "stats_history_enabled", False))
        run.locust_csv = LocustCsv(self.environment, prefix, full_history=full)

    # -- quitting ------------------------------------------------------------------------

    def on_quitting(self, environment: Any, **_: Any) -> None:
        """Locust is exiting: finish any run, stop the local distribution."""
        try:
            if self.run is not None:
                if self.dispatcher is not None:
                    self.dispatcher.stop()
                if self.role == "master":
                    self._gather_workers()
                self.finish_run()
        finally:
            if self._flusher is not None:
                self._flusher.kill(block=False)
            self.stop_local()


def _targets(run: _Run) -> list[float]:
    """Requests asked for per second, up to where the run was cut short if it was."""
    slots = len(run.slots)
    limit = run.end - run.t0
    if limit >= run.plan.duration:
        return run.plan.targets(slots)
    offsets = (
        ticket.offset
        for slot in range(slots)
        for ticket in run.plan.tickets(slot, slots)
        if ticket.offset < limit
    )
    return [float(c) for c in count_per_second(offsets, math.ceil(max(limit, 0.0)))]


_LOCUST_OPTIONS: frozenset[str] | None = None


def _locust_option_names() -> frozenset[str]:
    """Names of Locust's own options (not a scenario's)."""
    global _LOCUST_OPTIONS
    if _LOCUST_OPTIONS is None:
        from locust.argument_parser import default_args_dict

        _LOCUST_OPTIONS = frozenset(default_args_dict())
    return _LOCUST_OPTIONS


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM while the local distribution starts: exit through the clean-up paths."""
    raise SystemExit(128 + signum)


def _malformed(plan: Plan) -> list[str]:
    log = getattr(plan, "log", None)
    if log is None:
        return []
    return [str(line) for line in log.malformed]


def _write_malformed(run_dir: Path, plan: Plan) -> None:
    malformed = _malformed(plan)
    if malformed:
        (run_dir / MALFORMED_TXT).write_text("\n".join(malformed) + "\n", encoding="utf-8")


def _billing_threshold_ms() -> float:
    from router.config import load_config

    try:
        return float(load_config().billing_threshold_ms)
    except Exception:
        return math.nan


_CONTROLLER: Controller | None = None


def controller() -> Controller:
    """This process's controller."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = Controller()
    return _CONTROLLER


def reset_controller() -> None:
    """Forget the controller (tests that build Locust environments in-process)."""
    global _CONTROLLER
    _CONTROLLER = None


def current_dispatcher() -> Dispatcher | None:
    """The dispatcher of this process's running schedule, if any."""
    return controller().dispatcher


def _add_arguments(parser: Any, **_: Any) -> None:
    _options.add_common_arguments(parser)
    for add in _ARGUMENT_ADDERS:
        add(parser)
    _options.local_workers_on_loopback(parser, sys.argv[1:])


def _on_init(environment: Any, runner: Any, **kwargs: Any) -> None:
    controller().on_init(environment, runner, **kwargs)


def _on_test_start(environment: Any, **kwargs: Any) -> None:
    controller().on_test_start(environment, **kwargs)


def _on_test_stop(environment: Any, **kwargs: Any) -> None:
    controller().on_test_stop(environment, **kwargs)


def _on_quitting(environment: Any, **kwargs: Any) -> None:
    controller().on_quitting(environment, **kwargs)


def listen(hook: Any, listener: Callable[..., None]) -> None:
    """Add ``listener`` to one of Locust's event hooks (``locust.events.<name>``)."""
    hook.add_listener(listener)


listen(events.init_command_line_parser, _add_arguments)
listen(events.init, _on_init)
listen(events.test_start, _on_test_start)
listen(events.test_stop, _on_test_stop)
listen(events.quitting, _on_quitting)
