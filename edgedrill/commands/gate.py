"""``edgedrill check``: the capacity gate.

``check`` runs the default drill (or any scenario, with the options of
``edgedrill run``) or, with ``--run DIR``, takes a finished run folder, and
holds it against the gate's thresholds: exit 0 when none is breached, 1 when
one is (:class:`GateFailed`), 2 for a usage or input error. With
``--abort-after S`` (or ``abort_after_s`` in the gate) a drill whose latency or
error rate stays over its threshold for S seconds is stopped early, the same
way Ctrl-C stops it, and fails the gate.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill.commands.results import add_analysis_arguments, analyse_run, analysis_options
from edgedrill.drill import (
    aborted_by_stop_condition,
    add_drill_arguments,
    check_faults,
    positive_float,
    run_drill_from_args,
)
from edgedrill.errors import CliError, DrillAborted, GateFailed
from edgedrill.watch import DrillWatcher
from edgedrill_formats.run_folder import RUN_JSON

if TYPE_CHECKING:
    import argparse

    from results.analysis import Options
    from results.gate import Gate, GateResult


def register(subparsers: Any) -> None:
    """Add ``check``."""
    check = subparsers.add_parser(
        "check",
        help="the capacity gate: run a drill (or take --run DIR) and judge it",
        description="Run the default drill (or the scenario given) or take a finished run "
        "folder with --run, and evaluate the thresholds of [tool.edgedrill.gate] in "
        "pyproject.toml or of [gate] in --gate FILE (or in the --drill file). Exit 0: pass; "
        "1: a threshold breached; 2: usage or input error; 3: the drill's stop condition "
        "aborted it.",
    )
    check.add_argument("--gate", type=Path, metavar="FILE", help="TOML file with a [gate] table")
    check.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    check.add_argument(
        "--run", type=Path, metavar="DIR", help="judge this finished run folder (no drill)"
    )
    check.add_argument(
        "--abort-after",
        type=positive_float("--abort-after"),
        metavar="S",
        help="stop the drill once a latency or error-rate threshold is breached S s in a row",
    )
    add_drill_arguments(check)
    add_analysis_arguments(check, strict_default=True)
    check.set_defaults(func=check_command)


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _load_gate(args: argparse.Namespace) -> Gate:
    from results.errors import GateConfigError
    from results.gate import load_gate

    path = args.gate
    if path is None and args.run is None:
        drill = check_faults(args)
        if drill is not None and drill.gate is not None:
            path = Path(drill.source)  # its [gate] table
    try:
        return load_gate(path, pyproject=find_pyproject(Path.cwd()))
    except GateConfigError as exc:
        raise CliError(str(exc)) from exc


def _drill_options_given(args: argparse.Namespace) -> list[str]:
    given = []
    for name in (
        "fault",
        "drill",
        "duration",
        "out",
        "host",
        "keys",
        "log",
        "baseline_rps",
        "spike_factor",
        "processes",
    ):
        if getattr(args, name, None) is not None:
            given.append("--" + name.replace("_", "-"))
    if args.locust_args:
        given.append("-- LOCUST_ARGS")
    if args.scenario != "spike":
        given.append("--scenario")
    return given


def check_command(args: argparse.Namespace) -> int:
    """Run (or take) a drill, judge it against the gate, write the report and JUnit XML."""
    gate = _load_gate(args)
    options = analysis_options(args)
    aborted = ""
    if args.run is not None:
        given = _drill_options_given(args)
        if given:
            raise CliError(
                f"--run judges a finished run; drill options do not apply: {', '.join(given)}"
            )
        run_dir = args.run
    else:
        run_dir, aborted = _run_drill(args, gate)
    stopped = aborted_by_stop_condition(run_dir) if args.run is None else ""
    try:
        code = _judge(run_dir, gate, options, args.junit, aborted or stopped)
    except GateFailed as exc:
        if stopped:
            raise _aborted(run_dir, stopped) from exc
        raise
    if stopped:
        raise _aborted(run_dir, stopped)
    return code


def _aborted(run_dir: Path, reason: str) -> DrillAborted:
    return DrillAborted(
        f"the drill was aborted ({reason}); every fault was rolled back; see {run_dir}"
    )


def _judge(run_dir: Path, gate: Gate, options: Options, junit: Path | None, aborted: str) -> int:
    from results.gate import evaluate, junit_xml
    from results.report import SUMMARY_MD, write_report

    analysis = analyse_run(run_dir, options)
    result = evaluate(gate, analysis, aborted=aborted)
    report = write_report(run_dir, gate=result, analysis=analysis)
    summary_text = (run_dir / SUMMARY_MD).read_text(encoding="utf-8")
    if junit is not None:
        try:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(junit_xml(result, summary_text=summary_text), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{junit}: cannot write JUnit XML: {exc}") from exc
    print(summary_text, end="")  # noqa: T201
    print(f"report: {report}", file=sys.stderr)  # noqa: T201
    if result.passed:
        return 0
    raise GateFailed(_failure_message(result))


def _failure_message(result: GateResult) -> str:
    parts = [f"{v.threshold.key}: {v.detail}" for v in result.failed]
    if result.aborted:
        parts.insert(0, f"drill stopped early: {result.aborted}")
    return "gate failed: " + "; ".join(parts)


def _run_drill(args: argparse.Namespace, gate: Gate) -> tuple[Path, str]:
    abort_after = args.abort_after if args.abort_after is not None else gate.abort_after_s
    if abort_after is None or not gate.live_thresholds():
        return run_drill_from_args(args), ""
    watcher = DrillWatcher(gate, abort_after)
    try:
        try:
            run_dir = run_drill_from_args(args, started=watcher.start)
        finally:
            watcher.disarm()
    except KeyboardInterrupt:
        if not watcher.reason or watcher.run_dir is None:
            raise
        return _after_abort(watcher.run_dir, watcher.reason)
    finally:
        watcher.stop()
    return run_dir, ""


def _after_abort(run_dir: Path, reason: str) -> tuple[Path, str]:
    if not (run_dir / RUN_JSON).exists():
        raise GateFailed(
            f"gate failed: drill stopped early ({reason}); it left no {RUN_JSON} in {run_dir}"
        )
    return run_dir, reason
