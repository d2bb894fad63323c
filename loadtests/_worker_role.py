"""The controller of a distributed run's worker: it dispatches its slot and ships records.

The worker reads its slot of the schedule from the options its master ships
with the spawn message, dispatches that share, and sends its records to the
master once a second. Asked to drain, or stopping, it ships its last records
and then its counts, once.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from loadtests._controller import MSG_DRAIN, MSG_DRAINED, MSG_RECORDS, PLAN_OPTION, Controller
from loadtests._errors import LoadtestError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from loadtests._controller import ScenarioSpec

logger = logging.getLogger(__name__)


class WorkerController(Controller):
    """The drill on a Locust worker: one slot of its master's run."""

    def __init__(
        self, environment: Any, runner: Any, scenarios: Mapping[str, ScenarioSpec]
    ) -> None:
        super().__init__(environment, runner, scenarios)
        self.worker_run: str | None = None
        self.worker_slot: int | None = None
        self._reported = False

    def on_init(self) -> None:
        """Answer the master's drain, ship the last records on quitting, record requests."""
        super().on_init()
        self.runner.register_message(MSG_DRAIN, self._on_drain, concurrent=True)
        # A worker that is itself interrupted (Ctrl-C reaches the whole process
        # group) says "quit" to its master in a quitting listener, before its
        # test_stop. Added after that listener, this one runs before it
        # (quitting fires in reverse) and ships the worker's last records first.
        self.environment.events.quitting.add_listener(self._finish_worker)
        self._start_recording()

    def on_test_start(self) -> None:
        """Take this worker's slot of the master's run and start dispatching it."""
        options = self.environment.parsed_options
        info = getattr(options, PLAN_OPTION, None)
        if not isinstance(info, dict):
            logger.warning("edgedrill: the master sent no schedule; this worker stays idle")
            return
        slot = info["slots"].get(self.runner.client_id)
        if slot is None:
            logger.warning("edgedrill: joined after the run started; this worker stays idle")
            return
        spec = self.scenarios.get(info["scenario"])
        if spec is None:
            logger.error("edgedrill: unknown scenario %r from the master", info["scenario"])
            return
        try:
            plan = spec.build(options, info.get("keys"))
        except LoadtestError as exc:
            logger.error("edgedrill: cannot plan this worker's share: %s", exc)
            return
        self.worker_run = str(info["run"])
        self.worker_slot = int(slot)
        self._reported = False
        run_id, slot_id = self.worker_run, self.worker_slot
        self.collector.discard()
        self.collector.sink = lambda rows: self.runner.send_message(
            MSG_RECORDS, {"run": run_id, "slot": slot_id, "rows": rows}
        )
        self._start_dispatcher(
            plan,
            int(slot),
            len(info["slots"]),
            float(info["t0"]),
            float(info.get("limit", math.inf)),
            options,
        )

    def on_test_stopping(self) -> None:
        """Ship the last records and counts before Locust kills this worker's users."""
        self._finish_worker()

    def on_test_stop(self) -> None:
        """This worker's share is over: ship its last records and counts."""
        self._finish_worker()

    def _on_drain(self, environment: Any, msg: Any, **_: Any) -> None:
        dispatcher = self.dispatcher
        if msg.data.get("run") != self.worker_run or dispatcher is None:
            return
        dispatcher.close_at(float(msg.data.get("limit", math.inf)))
        if msg.data.get("stop"):
            # Cut short: send nothing more, only let what is in flight end.
            dispatcher.stop()
        drained = dispatcher.drain(float(msg.data.get("timeout", 10.0)))
        dispatcher.stop()
        self._report_to_master(drained=drained)

    def _report_to_master(self, *, drained: bool) -> None:
        """Ship the buffered records, then this worker's counts (in that order, one channel), once.

        The counts are taken before the records are handed over, with no switch
        in between: a request that ends while they are sent is still in flight
        in the report, so ``released - in_flight - abandoned`` are exactly the
        records shipped. The master keeps no record of this slot sent after
        its report; a second report (the master's drain and this worker's own
        quitting both asked) would add nothing.
        """
        if self._reported or self.worker_run is None:
            return
        self._reported = True
        report = self._dispatcher_report(drained=drained)
        self.collector.flush()
        report.update(
            run=self.worker_run, slot=self.worker_slot, records_dropped=self.collector.dropped
        )
        self.runner.send_message(MSG_DRAINED, report)

    def _finish_worker(self, *_: Any, **__: Any) -> None:
        """This worker's share is over: ship its last records and counts (once)."""
        dispatcher = self.dispatcher
        if dispatcher is not None:
            dispatcher.stop()
            if self.worker_run is not None and not self._reported:
                # Requests already sent end on their own, recorded, if given the time.
                dispatcher.drain(self._stop_grace())
                self._report_to_master(drained=False)
        self.collector.flush()
        self.collector.sink = None
        self.worker_run = None
