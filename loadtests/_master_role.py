"""The controller of a distributed run's master: it plans, deals slots and gathers records.

At ``test_start`` the master puts ``{run, t0, slots}`` into its parsed
options, which Locust ships to every worker with its spawn message; each
worker takes its slot. Workers send their records (``MSG_RECORDS``) once a
second; when the schedule is over the master asks every worker to drain
(``MSG_DRAIN``) and waits for each one's counts (``MSG_DRAINED``). A master
stopped early (Ctrl-C) first has its workers stop and ship what they hold.
"""

from __future__ import annotations

import gevent

import logging
import time
from typing import Any

from loadtests._controller import MSG_DRAIN, MSG_DRAINED, MSG_RECORDS
from loadtests._run_owner import Run, RunOwner

logger = logging.getLogger(__name__)

# How long a master whose run was cut short waits for its workers' final reports.
GATHER_TIMEOUT_S = 5.0


class MasterController(RunOwner):
    """The drill on a Locust master: the run is its own, the requests are its workers'."""

    def on_init(self) -> None:
        """Listen for the workers' records and reports, then prepare the run as its owner."""
        self.runner.register_message(MSG_RECORDS, self._on_records)
        self.runner.register_message(MSG_DRAINED, self._on_drained)
        super().on_init()

    def _slots(self) -> dict[str, int]:
        clients = self.runner.clients
        ids = [c.id for c in (*clients.ready, *clients.spawning, *clients.running)]
        ids.sort(key=self.runner.get_worker_index)
        return {client_id: index for index, client_id in enumerate(ids)}

    def _workers(self, run: Run) -> int:
        return len(run.slots)

    def _drain(self, run: Run) -> None:
        timeout = float(self.environment.parsed_options.drain_timeout)
        limit = run.end - run.t0
        reported = self._ask_workers(run, timeout=timeout, limit=limit, wait=timeout + 5.0)
        run.drain_complete = reported and all(r.get("drained") for r in run.drained.values())

    def _ask_workers(
        self, run: Run, *, timeout: float, limit: float, wait: float, stop: bool = False
    ) -> bool:
        """Have every worker drain (up to ``timeout``) and report; wait ``wait`` s for all.

        ``stop``: the run is cut short; workers send nothing more and only wait
        for the requests they have in flight.
        """
        self.runner.send_message(
            MSG_DRAIN, {"run": run.id, "timeout": timeout, "limit": limit, "stop": stop}
        )
        deadline = time.monotonic() + wait
        while len(run.drained) < len(run.slots) and time.monotonic() < deadline:
            gevent.sleep(0.05)
        return len(run.drained) >= len(run.slots)

    def _cut_short(self) -> None:
        """On a run cut short, have every worker stop now and ship what it holds (bounded).

        When Locust quits (Ctrl-C, ``--run-time``) the master's ``test_stop``
        comes before the workers hear of it: without this, their last second of
        records and their counts would reach a master whose run is over.
        """
        run = self.run
        if run is None or len(run.drained) >= len(run.slots):
            return
        limit = max(time.time() - run.t0, 0.0)
        grace = self._stop_grace()
        if not self._ask_workers(
            run, timeout=grace, limit=limit, wait=grace + GATHER_TIMEOUT_S, stop=True
        ):
            missing = sorted(set(run.slots.values()) - set(run.drained))
            logger.warning(
                "edgedrill: no final report from worker slot(s) %s; their last records may be lost",
                ", ".join(map(str, missing)),
            )

    # -- messages from the workers ------------------------------------------------------

    def _on_records(self, environment: Any, msg: Any, **_: Any) -> None:
        run = self.run
        if run is None or msg.data.get("run") != run.id:
            return
        if msg.data.get("slot") in run.drained:
            # Sent after the slot's report, which counts these requests in flight.
            return
        self.write_records(run, msg.data["rows"])

    def _on_drained(self, environment: Any, msg: Any, **_: Any) -> None:
        run = self.run
        if run is None or msg.data.get("run") != run.id:
            return
        # The first report of a slot stands (a worker's test_stop may send a second).
        run.drained.setdefault(int(msg.data["slot"]), dict(msg.data))
