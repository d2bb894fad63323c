"""``edgedrill run``: the one entry point for a drill.

With no options it runs the default drill: the local distribution, a 20x
spike sized to the machine, the run folder written under ``results/runs/``
and its path printed on stdout (Locust's own output goes to stderr and to the
run folder's ``locust.log``). The run is then analysed into the same folder:
``plots/*.png``, ``report.html``, ``summary.json`` and ``summary.md``, each
opening with the verdict of the default gate (the nearest ``pyproject.toml``'s
``[tool.edgedrill.gate]``, else the example of :mod:`results.gate`). The gate
is read before the drill starts, so a broken table costs no drill; a FAIL does
not change the exit status (that is ``edgedrill check``).

``--fault`` and ``--drill`` put faults on the load's timeline; a drill whose
stop condition fired exits 3 (:class:`DrillAborted`) once its run folder is
analysed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from edgedrill.commands.results import default_gate, judge
from edgedrill.drill import aborted_by_stop_condition, add_drill_arguments, run_drill_from_args
from edgedrill.errors import CliError, DrillAborted

if TYPE_CHECKING:
    import argparse
    from pathlib import Path


def register(subparsers: Any) -> None:
    """Add ``edgedrill run``."""
    parser = subparsers.add_parser(
        "run",
        help="run a drill (default: a 20x spike on the local distribution)",
        description="Run a Locust scenario headless and write its run folder "
        "(results/runs/<UTC stamp>-<scenario>/); prints the folder's path.",
    )
    add_drill_arguments(parser)
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="write the run folder only; analyse it later with `edgedrill report RUN_DIR`",
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run the drill, print its run folder, then write its report and plots there."""
    gate = None if args.no_report else default_gate()
    run_dir = run_drill_from_args(args)
    print(run_dir, flush=True)  # noqa: T201 - the command's output
    aborted = aborted_by_stop_condition(run_dir)
    if args.no_report:
        _raise_if_aborted(run_dir, aborted)
        return 0
    from results.analysis import analyse, load_run  # numpy and matplotlib load late
    from results.errors import ResultsError
    from results.report import write_report

    assert gate is not None
    try:
        analysis = analyse(load_run(run_dir))
        verdict = judge(gate, analysis, aborted=aborted)
        report = write_report(run_dir, gate=verdict, analysis=analysis)
    except ResultsError as exc:
        # The run folder is complete and kept; only its analysis failed.
        message = f"the run is recorded in {run_dir}, but its report failed: {exc}"
        raise CliError(message) from exc
    print(f"report: {report}", file=sys.stderr)  # noqa: T201
    _raise_if_aborted(run_dir, aborted)
    return 0


def _raise_if_aborted(run_dir: Path, reason: str) -> None:
    if reason:
        msg = f"the drill was aborted ({reason}); every fault was rolled back; see {run_dir}"
        raise DrillAborted(msg)
