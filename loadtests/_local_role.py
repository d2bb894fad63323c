"""The controller of a single-process run: it plans, dispatches, records and writes the folder.

Each request fires Locust's ``request`` event; the collector keeps a tuple per
request and writes the batch to the run's ``requests.csv`` once a second.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from loadtests._run_owner import Run, RunOwner

if TYPE_CHECKING:
    import argparse


class LocalController(RunOwner):
    """The drill in one Locust process, without master or workers."""

    def on_init(self) -> None:
        """Prepare the run as its owner, then record this process's requests."""
        super().on_init()
        self._start_recording()

    def _slots(self) -> dict[str, int]:
        return {"local": 0}

    def _run_started(self, run: Run, options: argparse.Namespace) -> None:
        self.collector.discard()
        self.collector.sink = functools.partial(self.write_records, run)
        self._start_dispatcher(run.plan, 0, 1, run.t0, run.end - run.t0, options)

    def _drain(self, run: Run) -> None:
        if self.dispatcher is not None:
            timeout = float(self.environment.parsed_options.drain_timeout)
            self.dispatcher.close_at(run.end - run.t0)
            run.drain_complete = self.dispatcher.drain(timeout)
            self.dispatcher.stop()
            run.drained[0] = self._dispatcher_report(drained=run.drain_complete)
        self.collector.flush()

    def _cut_short(self) -> None:
        dispatcher = self.dispatcher
        if dispatcher is None:
            return
        dispatcher.stop()
        if self.run is not None:
            # Requests already sent end on their own, recorded, if given the time.
            dispatcher.drain(self._stop_grace())

    def _last_records(self, run: Run) -> None:
        """The counts and the last records, taken together (no switch between them).

        A request that ends after this is in flight in ``run.json``; were the
        counts taken first and the records later, it could be in both or neither.
        """
        report = self._dispatcher_report(drained=run.drain_complete)
        self.collector.flush()
        self.collector.sink = None
        report["records_dropped"] = self.collector.dropped
        run.drained[0] = report
