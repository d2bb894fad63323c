"""The roles that own a run (local, master): plan it, drive the shape, write the run folder.

A run, from start to stop, as its owner sees it:

1. The shape's first tick plans the scenario from the options (as they stand
   when the test starts, web UI edits included) and asks for the user pool.
2. ``test_start``: the run's origin ``t0`` is set a moment ahead so users
   exist before the first request is due, and the run folder is made.
3. When the schedule is over, the shape waits (``--drain-timeout``) for late
   and in-flight requests, then ends the test.
4. ``test_stopping`` (or ``quitting``, which comes first on Ctrl-C), while
   the users still live: a run cut short sends nothing more and gives the
   requests in flight a bounded grace to end; then ``rate.csv``,
   ``run.json``, Locust's CSVs and the local distribution's logs join
   ``requests.csv`` in the run folder.

Every request sent is accounted for: it is a record in ``requests.csv``, or
``run.json`` counts it (``in_flight_at_end``: sent, with no record when the
folder was written; ``records_dropped``: recorded but not written).

With ``--fault`` or ``--drill`` the owner also runs the drill's timeline
(:class:`chaos.experiment.Experiment`) from the schedule's origin, against the
distribution it drives (its own local one, or ``--state FILE``'s), and feeds
it every batch of records for the stop condition; the faults are rolled back
when the run is finished, whichever way it ends (``journal.json`` says
``completed``, or ``aborted`` when cut short). A stop condition that fires
stops the load and names its reason in ``run.json`` (``aborted``).

Without ``--host`` the local distribution is started in ``init`` and stopped
on every way out (end of test, Ctrl-C, SIGTERM, an error in a later ``init``
listener): in ``quitting`` and, as a backstop, at interpreter exit.
"""

from __future__ import annotations

import gevent

import abc
import atexit
import contextlib
import functools
import json
import logging
import math
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill_formats.run_folder import PLAN_JSON
from loadtests import _options
from loadtests._controller import PLAN_OPTION, Controller, Tick
from loadtests._errors import LoadtestError
from loadtests._locust_csv import LocustCsv
from loadtests._plans import pool_size
from loadtests._records import (
    DURATION_MS,
    ERROR,
    START,
    STATUS,
    RecordsWriter,
    rate_rows,
    write_rate_csv,
)
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
    from collections.abc import Mapping, Sequence

    from chaos.experiment import Experiment
    from edge.stack import StackState
    from loadtests._controller import ScenarioSpec
    from loadtests._local import LocalDistribution
    from loadtests._plans import Plan

logger = logging.getLogger(__name__)

# The first request is due this long after the test starts, so that users exist.
START_LEAD_S = 1.0
MAX_SPAWN_RATE_PER_WORKER = 100.0
MALFORMED_SHOWN = 20
# Keys of a worker's report that are not its dispatch counts.
_NOT_DISPATCH = frozenset({"run", "slot", "records_dropped"})


@dataclass(slots=True)
class Run:
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
    experiment: Experiment | None = None
    aborted: str = ""  # why the drill's stop condition stopped the load


class RunOwner(Controller, abc.ABC):
    """The controller of the process that plans the run and writes its folder."""

    def __init__(
        self, environment: Any, runner: Any, scenarios: Mapping[str, ScenarioSpec]
    ) -> None:
        super().__init__(environment, runner, scenarios)
        self.local: LocalDistribution | None = None
        self.local_keys: list[str] | None = None
        self.run: Run | None = None
        self._plans: dict[str, tuple[str, Plan]] = {}
        self._explicit_users: int | None = None
        self._explicit_spawn_rate: float | None = None
        self._run_dir_used = False
        self._next_scenario: str | None = None
        # --state FILE: a running distribution to drive and inject faults into.
        self.state_file: tuple[Path, StackState] | None = None

    # -- what each role does its own way -----------------------------------------

    @abc.abstractmethod
    def _slots(self) -> dict[str, int]:
        """The run's slots of the schedule: one per process that dispatches, by id."""

    @abc.abstractmethod
    def _drain(self, run: Run) -> None:
        """The schedule is over: wait for late and in-flight requests, everywhere."""

    def _run_started(self, run: Run, options: argparse.Namespace) -> None:
        """The run folder is made: start whatever sends or receives its records."""

    def _cut_short(self) -> None:
        """The test stops: stop sending, give the requests in flight a grace, collect them."""

    def _last_records(self, run: Run) -> None:
        """Before the folder is written: the records and counts this process holds."""

    def _workers(self, run: Run) -> int:
        """The number of workers of ``run``, for ``run.json``."""
        del run
        return 0

    # -- init ----------------------------------------------------------------

    def on_init(self) -> None:
        """Read the pool options; check the input and start the local distribution."""
        super().on_init()
        options = self.environment.parsed_options
        if options is not None:
            self._explicit_users = options.num_users
            self._explicit_spawn_rate = options.spawn_rate
        self._prepare()

    def _prepare(self) -> None:
        options = self.environment.parsed_options
        if options is None:
            return
        scenario = self._default_scenario()
        # A headless run checks its input before the local distribution starts,
        # and plans (for a replay, seeds) before the test starts; the web UI
        # plans when a test is started from it, with the options edited there.
        eager = scenario is not None and bool(options.headless or options.autostart)
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            _options.common_checks(options)
            if self.environment.host is not None:
                self.environment.host = _options.check_host(str(self.environment.host))
            self._attach_state(options)
            local = self.environment.host is None
            if eager and scenario is not None:
                # --state brings its distribution's keys, as the local one does.
                self.scenarios[scenario].validate(options, local or self.local_keys is not None)
            if local:
                self._start_local(options)
            if eager and scenario is not None:
                self.plan_for(scenario)
            self._announce_control()
        except LoadtestError as exc:
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
        picked = [s.name for s in self.scenarios.values() if s.user_class.__name__ in named]
        if len(picked) == 1:
            return picked[0]
        if shape_scenario in self.scenarios:
            return shape_scenario
        if len(self.scenarios) == 1:
            return next(iter(self.scenarios))
        return None

    def _start_local(self, options: argparse.Namespace) -> None:
        from loadtests._local import start_local

        logger.info("edgedrill: no --host given, starting the local distribution")
        atexit.register(self.stop_local)
        self.local = start_local(
            objects=int(options.objects),
            memory_mb=int(options.memory_mb),
            extra_args=_options.local_settings(options),
        )
        self.local_keys = list(self.local.keys)
        self.environment.host = self.local.edge_url
        logger.info("edgedrill: local distribution at %s", self.local.edge_url)

    def _attach_state(self, options: argparse.Namespace) -> None:
        """``--state FILE``: drive that distribution (unless ``--host`` names another)."""
        path = str(getattr(options, "state", "") or "")
        if not path:
            if _options.fault_plan(options).timeline and self.environment.host is not None:
                msg = (
                    "--fault/--drill: faults need a distribution with a control API: "
                    "drop --host (the local one) or give --state FILE of `edgedrill up`"
                )
                raise _options.ScenarioError(msg)
            return
        from edge.stack import StackError, StackState

        try:
            state = StackState.load(path)
        except StackError as exc:
            raise _options.ScenarioError(f"--state: {exc}") from exc
        self.state_file = (Path(path).resolve(), state)
        if self.environment.host is None:
            self.environment.host = state.edge_url
        # The state lists its distribution's keys: --host naming that same
        # distribution needs no --keys (a --keys file, if given, still wins).
        same = _options.same_host(str(self.environment.host), state.edge_url)
        if same and not getattr(options, "keys", ""):
            self.local_keys = list(state.sample_keys)

    def fault_state(self) -> tuple[Path, StackState] | None:
        """The state file (path and content) of the distribution faults go to, if any."""
        if self.state_file is not None:
            return self.state_file
        if self.local is not None:
            from loadtests._local import STATE_FILE

            return self.local.workdir / STATE_FILE, self.local.state
        return None

    def _announce_control(self) -> None:
        """Say where another terminal can inject faults into this run's distribution."""
        found = self.fault_state()
        if found is not None:
            path, state = found
            logger.info(
                "edgedrill: control API %s; inject from another terminal with "
                "`edgedrill chaos inject FAULT --state %s`",
                state.control_url,
                path,
            )

    def stop_local(self) -> None:
        """Stop the local distribution if this process started it (idempotent)."""
        local, self.local = self.local, None
        if local is not None:
            logger.info("edgedrill: stopping the local distribution")
            local.stop()

    # -- planning --------------------------------------------------------------

    def plan_for(self, scenario: str) -> Plan:
        """The plan of ``scenario`` for the current options (rebuilt only when they change)."""
        spec = self.scenarios[scenario]
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
        _report_malformed(plan)
        self._plans[scenario] = (key, plan)
        return plan

    def _pool(self, plan: Plan, slots: int) -> tuple[int, float]:
        """The user pool that carries ``plan``, and the rate it is spawned at.

        The request rate is the schedule's, never the user count's: users are
        the pool that sends it, sized by Little's law from the peak rate.
        ``-u`` on the command line sets the pool exactly (an edit of it in the
        web UI too); without it, the web UI form's user count (Locust fills in
        1) can raise the pool but never starve the schedule of users.
        """
        options = self.environment.parsed_options
        needed = pool_size(plan.peak_rps, float(options.pool_latency), slots)
        asked = getattr(options, "num_users", None) or self._explicit_users
        if self._explicit_users:
            users = int(asked or self._explicit_users)
        else:
            users = max(needed, int(asked or 0))
        users = max(users, slots)
        spawn_rate = self._explicit_spawn_rate or min(
            float(users), MAX_SPAWN_RATE_PER_WORKER * slots
        )
        return users, spawn_rate

    # -- the shape ---------------------------------------------------------------

    def shape_tick(self, shape_scenario: str) -> Tick | None:
        """The scenario shape's tick: the pool while the schedule runs, ``None`` after the drain."""
        run = self.run
        scenario = (run.scenario if run else self._chosen(shape_scenario)) or shape_scenario
        user_class = self.scenarios[scenario].user_class
        if run is None:
            try:
                plan = self.plan_for(scenario)
            except LoadtestError as exc:
                logger.error("edgedrill: %s", exc)
                return None
            self._next_scenario = scenario
            users, spawn_rate = self._pool(plan, len(self._slots()))
            return users, spawn_rate, [user_class]
        if time.time() < run.end:
            return run.users, run.spawn_rate, [user_class]
        self._drain(run)
        return None

    # -- test start ------------------------------------------------------------------

    def on_test_start(self) -> None:
        """Begin a run; a run that cannot begin ends the test."""
        environment = self.environment
        try:
            self._begin_run()
        except (LoadtestError, OSError) as exc:
            logger.error("edgedrill: cannot start the run: %s", exc)
            self.run = None
            runner = environment.runner
            if runner is not None:
                headless = bool(getattr(environment.parsed_options, "headless", False))
                gevent.spawn(runner.quit if headless else runner.stop)

    def _begin_run(self) -> None:
        environment = self.environment
        options = environment.parsed_options
        scenario = self._next_scenario or self._default_scenario()
        self._next_scenario = None
        if scenario is None:
            msg = "no edgedrill scenario is selected"
            raise _options.ScenarioError(msg)
        # The web UI's host field bypasses the option checks of init.
        if environment.host:
            environment.host = _options.check_host(str(environment.host))
        plan = self.plan_for(scenario)
        faults = _options.fault_plan(options)
        slots = self._slots()
        now = time.time()
        t0 = now + START_LEAD_S
        end = t0 + plan.duration
        if options.run_time:
            # --run-time cuts the schedule, counted from its start.
            end = min(end, t0 + float(options.run_time))
        run_dir = self._new_run_dir(options, scenario)
        try:
            self._open_run(run_dir, scenario, plan, faults, slots, (now, end))
        except BaseException:
            self.run = None
            _remove_if_empty(run_dir)
            raise

    def _open_run(
        self,
        run_dir: Path,
        scenario: str,
        plan: Plan,
        faults: _options.FaultPlan,
        slots: dict[str, int],
        span: tuple[float, float],
    ) -> None:
        """Open the run in ``run_dir``: records, Locust's CSVs, the workers' plan, the faults."""
        now, end = span
        environment = self.environment
        options = environment.parsed_options
        users, spawn_rate = self._pool(plan, len(slots))
        t0 = now + START_LEAD_S
        run = Run(
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
            "edgedrill: %s run in %s: %.0f s scheduled, peak %.1f requests/s "
            "(the schedule's rate, not the user count's), a pool of %d users",
            scenario,
            run_dir,
            min(plan.duration, end - t0),
            plan.peak_rps,
            users,
        )
        if faults:
            run.experiment = self._start_experiment(run, faults)
        self._run_started(run, options)
        _write_plan_json(run, faults)

    def _start_experiment(self, run: Run, faults: _options.FaultPlan) -> Experiment:
        from chaos.control import ControlClient
        from chaos.experiment import Experiment

        found = self.fault_state()
        if found is None:
            msg = "--fault/--drill: no distribution to inject into (give --state FILE)"
            raise _options.ScenarioError(msg)
        state = found[1]
        experiment = Experiment(
            faults.timeline,
            ControlClient.from_state(state),
            state,
            run.run_dir,
            drill=faults.drill,
            stop_condition=faults.stop,
            on_abort=functools.partial(self._abort_run, run),
        )
        # Offsets count from the schedule's origin, the time axis of requests.csv.
        experiment.start(origin=run.t0)
        logger.info("edgedrill: drill %s: %d fault(s)", faults.drill, len(faults.timeline))
        return experiment

    def _abort_run(self, run: Run, reason: str) -> None:
        """The drill's stop condition fired: its faults are rolled back; stop the load."""
        run.aborted = reason
        logger.error("edgedrill: drill aborted: %s", reason)
        runner = self.environment.runner
        if runner is not None:
            headless = bool(getattr(self.environment.parsed_options, "headless", False))
            gevent.spawn(runner.quit if headless else runner.stop)

    def write_records(self, run: Run, rows: Sequence[Any]) -> None:
        """Write a batch of records to the run; the drill's stop condition sees them too."""
        run.writer.write(rows)
        experiment = run.experiment
        if experiment is not None and experiment.watch is not None:
            experiment.observe(
                (
                    float(row[START]),
                    int(row[STATUS]) == 0 or int(row[STATUS]) >= 400 or bool(row[ERROR]),
                    float(row[DURATION_MS]),
                )
                for row in rows
            )

    def _stop_experiment(self, run: Run) -> None:
        """Roll back the run's faults: completed if the schedule ran out, else aborted."""
        from chaos.journal import Status

        experiment, run.experiment = run.experiment, None
        if experiment is None:
            return
        if time.time() < run.end:
            experiment.stop(Status.ABORTED, "the load was stopped before the end of its schedule")
        else:
            experiment.stop(Status.COMPLETED)

    def _new_run_dir(self, options: argparse.Namespace, scenario: str) -> Path:
        if options.run_dir and not self._run_dir_used:
            self._run_dir_used = True
            return claim_run_dir(Path(options.run_dir))
        base = Path(options.run_dir).parent if options.run_dir else Path(options.results_dir)
        return create_run_dir(base, scenario)

    def _start_locust_csv(self, run: Run, options: argparse.Namespace) -> None:
        prefix = run.run_dir / LOCUST_CSV_PREFIX
        given = getattr(options, "csv_prefix", None)
        if given and Path(given).resolve() == prefix.resolve():
            return  # Locust writes them there itself
        full = bool(getattr(options, "stats_history_enabled", False))
        run.locust_csv = LocustCsv(self.environment, prefix, full_history=full)

    # -- test stop -------------------------------------------------------------------

    def on_test_stopping(self) -> None:
        """Finish the run before Locust kills the users, whose requests would end unrecorded."""
        if self.run is not None:
            self._cut_short()
            self.finish_run()

    def on_test_stop(self) -> None:
        """Finish the run if ``test_stopping`` did not: stop dispatching, write the run folder."""
        self._cut_short()
        self.finish_run()

    def finish_run(self) -> None:
        """Write what the run folder still lacks (idempotent)."""
        run, self.run = self.run, None
        if run is None:
            return
        self._stop_experiment(run)
        self._last_records(run)
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

    def _run_document(self, run: Run, scheduled: float) -> dict[str, Any]:
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
            # Sent and never recorded: still in flight, or cut off mid-request.
            "in_flight_at_end": sum(
                int(r.get("in_flight", 0)) + int(r.get("abandoned", 0)) for r in reports.values()
            ),
            "complete": run.drain_complete,
            "workers": self._workers(run),
            "users": run.users,
            "duration_s": run.plan.duration,
            "plan": run.plan.summary(),
            **({"aborted": run.aborted} if run.aborted else {}),
            # As each dispatching process counted it with its last records.
            "records_dropped": sum(int(r.get("records_dropped", 0)) for r in reports.values()),
            "dispatch": [
                {k: v for k, v in reports[slot].items() if k not in _NOT_DISPATCH}
                for slot in sorted(reports)
            ],
        }

    def _memory_mb(self, options: argparse.Namespace) -> int:
        if self.local is not None:
            return self.local.memory_mb
        return int(options.memory_mb)

    # -- quitting ------------------------------------------------------------------------

    def on_quitting(self) -> None:
        """Locust is exiting: finish any run, stop the local distribution."""
        try:
            if self.run is not None:
                self._cut_short()
                self.finish_run()
        finally:
            super().on_quitting()
            self.stop_local()


def _write_plan_json(run: Run, faults: _options.FaultPlan) -> None:
    """Write ``plan.json``: what the run will ask for, for a live progress display.

    Atomic (a reader polls for it): the schedule's origin and end, the
    requests asked for per second up to that end, and the faults' timeline.
    A folder without it is still a complete run; only progress goes unshown.
    """
    limit = run.end - run.t0
    targets = _targets(run)[: max(0, math.ceil(limit))]
    document = {
        "schema": 1,
        "scenario": run.scenario,
        "t0": run.t0,
        "end": run.end,
        "duration_s": min(run.plan.duration, limit),
        "users": run.users,
        "targets": [round(t, 3) for t in targets],
        "faults": [timed.planned() for timed in faults.timeline],
    }
    target = run.run_dir / PLAN_JSON
    partial = target.with_suffix(".json.partial")
    try:
        partial.write_text(json.dumps(document, allow_nan=False), encoding="utf-8")
        partial.replace(target)
    except (OSError, ValueError) as exc:
        logger.warning("edgedrill: could not write %s: %s", target, exc)


def _remove_if_empty(run_dir: Path) -> None:
    """Remove a run folder a failed start left empty (one holding anything stays)."""
    with contextlib.suppress(OSError):  # not empty, or gone: nothing of a run is thrown away
        run_dir.rmdir()


def _targets(run: Run) -> list[float]:
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


@functools.cache
def _locust_option_names() -> frozenset[str]:
    """Names of Locust's own options (not a scenario's)."""
    from locust.argument_parser import default_args_dict

    return frozenset(default_args_dict())


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM while the local distribution starts: exit through the clean-up paths."""
    raise SystemExit(128 + signum)


def _malformed(plan: Plan) -> list[str]:
    log = getattr(plan, "log", None)
    if log is None:
        return []
    return [str(line) for line in log.malformed]


def _report_malformed(plan: Plan) -> None:
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
