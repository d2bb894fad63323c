"""``edgedrill report``, ``edgedrill compare`` and ``edgedrill check`` (the capacity gate).

``check`` runs the default drill (or any scenario, with the options of
``edgedrill run``) or, with ``--run DIR``, takes a finished run folder, and
holds it against the gate's thresholds: exit 0 when none is breached, 1 when
one is (:class:`GateFailed`), 2 for a usage or input error. With
``--abort-after S`` (or ``abort_after_s`` in the gate) a drill whose latency or
error rate stays over its threshold for S seconds is stopped early, the same
way Ctrl-C stops it, and fails the gate.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests._drill import positive_float
from loadtests._errors import CliError, GateFailed

if TYPE_CHECKING:
    from results.analysis import Analysis, Options
    from results.gate import Gate, GateResult

_POLL_S = 0.5


def register(subparsers: Any) -> None:
    """Add ``report``, ``compare`` and ``check``."""
    report = subparsers.add_parser(
        "report",
        help="analyse a run folder: plots, report.html, summary.json, summary.md",
        description="Analyse RUN_DIR and (re)write its plots/, report.html, summary.json and "
        "summary.md; prints the report's path.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    _add_analysis_arguments(report)
    report.add_argument(
        "--markdown", action="store_true", help="print summary.md instead of the report's path"
    )
    report.set_defaults(func=report_command)

    compare = subparsers.add_parser(
        "compare",
        help="two runs side by side (before/after a release)",
        description="Analyse RUN_A (before) and RUN_B (after) and print each measure of both, "
        "the change and whether it is for the better.",
    )
    compare.add_argument("before", type=Path, metavar="RUN_A")
    compare.add_argument("after", type=Path, metavar="RUN_B")
    compare.add_argument(
        "--html", type=Path, metavar="FILE", help="also write a self-contained comparison page"
    )
    _add_analysis_arguments(compare)
    compare.set_defaults(func=compare_command)

    fetch = subparsers.add_parser(
        "fetch-logs",
        help="copy a real distribution's router logs from CloudWatch into a run folder",
        description="Copy the router's CloudWatch log events of RUN_DIR's time span (run.json) "
        "from /aws/lambda/us-east-1.FUNCTION in each region into "
        "RUN_DIR/logs/lambda/<region>.FUNCTION.log, for edgedrill report and check.",
    )
    fetch.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    fetch.add_argument("--function", required=True, help="the Lambda@Edge function's name")
    fetch.add_argument(
        "--regions",
        required=True,
        help="comma-separated regions whose edge locations ran the function",
    )
    fetch.add_argument("--endpoint-url", default=None, help="CloudWatch Logs endpoint (testing)")
    fetch.set_defaults(func=fetch_logs_command)

    check = subparsers.add_parser(
        "check",
        help="the capacity gate: run a drill (or take --run DIR) and judge it",
        description="Run the default drill (or the scenario given) or take a finished run "
        "folder with --run, and evaluate the thresholds of [tool.edgedrill.gate] in "
        "pyproject.toml or of [gate] in --gate FILE. Exit 0: pass; 1: a threshold breached; "
        "2: usage or input error.",
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
    from loadtests._drill import add_drill_arguments

    add_drill_arguments(check)
    _add_analysis_arguments(check, strict_default=True)
    check.set_defaults(func=check_command)


def _percentile_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        msg = f"--percentiles: {text!r} is not a comma-separated list of numbers"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or any(not 0 < v <= 100 for v in values):
        msg = f"--percentiles: each must be in (0, 100], got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return values


def _add_analysis_arguments(
    parser: argparse.ArgumentParser, *, strict_default: bool = False
) -> None:
    group = parser.add_argument_group("analysis")
    group.add_argument(
        "--window",
        type=int,
        default=10,
        metavar="S",
        help="sliding window of the latency percentiles, seconds (default: 10)",
    )
    group.add_argument(
        "--percentiles",
        type=_percentile_list,
        default=None,
        metavar="LIST",
        help="latency percentiles to show (default: 50,90,95,99,99.9)",
    )
    group.add_argument(
        "--memory-mb",
        type=int,
        default=None,
        metavar="MB",
        help="router memory for billing (default: run.json, else the REPORT lines)",
    )
    group.add_argument(
        "--threshold-ms",
        type=positive_float("--threshold-ms"),
        default=None,
        metavar="MS",
        help="billing threshold (default: run.json's billing_threshold_ms, else 50)",
    )
    group.add_argument(
        "--price-requests",
        type=positive_float("--price-requests"),
        default=None,
        metavar="USD",
        help="price per million invocations (default: 0.60)",
    )
    group.add_argument(
        "--price-gb-s",
        type=positive_float("--price-gb-s"),
        default=None,
        metavar="USD",
        help="price per GB-second (default: 0.00005001)",
    )
    group.add_argument(
        "--failover-error-rate",
        type=float,
        default=None,
        metavar="R",
        help="error rate a fault's failover must get back under (default: 0.01)",
    )
    if strict_default:
        group.add_argument(
            "--lenient",
            dest="strict",
            action="store_false",
            help="skip malformed lines (counted and reported) instead of failing with exit 2",
        )
    else:
        group.add_argument(
            "--strict",
            action="store_true",
            help="fail on the first malformed line (exit 2) instead of skipping it",
        )
    parser.set_defaults(strict=strict_default)


def _options(args: argparse.Namespace) -> Options:
    from results.analysis import Options
    from results.billing import Prices

    if args.window < 1:
        raise CliError(f"--window must be >= 1 second, got {args.window}")
    if args.memory_mb is not None and args.memory_mb <= 0:
        raise CliError(f"--memory-mb must be positive, got {args.memory_mb}")
    prices = Prices()
    prices = Prices(
        per_million_requests=args.price_requests or prices.per_million_requests,
        per_gb_second=args.price_gb_s or prices.per_gb_second,
    )
    options = Options(
        window_s=args.window,
        memory_mb=args.memory_mb,
        billing_threshold_ms=args.threshold_ms,
        prices=prices,
        strict=bool(args.strict),
    )
    if args.percentiles is not None:
        options = _replace(options, percentiles=tuple(sorted(set(args.percentiles))))
    if args.failover_error_rate is not None:
        if not 0 <= args.failover_error_rate < 1:
            raise CliError(
                f"--failover-error-rate must be in [0, 1), got {args.failover_error_rate}"
            )
        options = _replace(options, failover_error_rate=args.failover_error_rate)
    return options


def _replace(options: Options, **changes: Any) -> Options:
    import dataclasses

    return dataclasses.replace(options, **changes)


def _analyse(run_dir: Path, options: Options) -> Analysis:
    from results.analysis import analyse, load_run
    from results.errors import ResultsError

    try:
        return analyse(load_run(run_dir, strict=options.strict, workers=options.workers), options)
    except ResultsError as exc:
        raise CliError(str(exc)) from exc


def report_command(args: argparse.Namespace) -> int:
    """Analyse a run folder and write its report."""
    from results.report import SUMMARY_MD, write_report

    analysis = _analyse(args.run_dir, _options(args))
    path = write_report(args.run_dir, analysis=analysis)
    if args.markdown:
        print((args.run_dir / SUMMARY_MD).read_text(encoding="utf-8"), end="")  # noqa: T201
    else:
        print(path)  # noqa: T201
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Print two runs side by side."""
    from results.compare import compare, markdown, render_html

    options = _options(args)
    before = _analyse(args.before, options)
    after = _analyse(args.after, options)
    rows = compare(before, after)
    print(markdown(before, after, rows), end="")  # noqa: T201
    if args.html is not None:
        try:
            args.html.write_text(render_html(before, after, rows), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{args.html}: cannot write: {exc}") from exc
        print(f"comparison page: {args.html}", file=sys.stderr)  # noqa: T201
    return 0


def fetch_logs_command(args: argparse.Namespace) -> int:
    """Write the router's CloudWatch events of a run into its logs/lambda/ folder."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from results.analysis import LOG_GRACE_S
    from results.cloudwatch import edge_log_group, fetch_events, write_events
    from results.errors import ResultsError
    from results.run_folder import RUN_JSON, read_run_info

    try:
        info = read_run_info(args.run_dir / RUN_JSON)
    except ResultsError as exc:
        raise CliError(str(exc)) from exc
    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    if not regions:
        raise CliError("--regions: give at least one region")
    group = edge_log_group(args.function)
    start_ms = int((info.start - 1.0) * 1000)
    end_ms = int((info.end + LOG_GRACE_S) * 1000)
    for region in regions:
        client = boto3.client("logs", region_name=region, endpoint_url=args.endpoint_url)
        path = args.run_dir / "logs" / "lambda" / f"{region}.{args.function}.log"
        try:
            count = write_events(fetch_events(client, group, start_ms, end_ms), path)
        except client.exceptions.ResourceNotFoundException:
            path.unlink(missing_ok=True)
            note = f"{region}: no log group {group} (the function did not run there)"
            print(note, file=sys.stderr)  # noqa: T201
            continue
        except (BotoCoreError, ClientError, ResultsError) as exc:
            raise CliError(f"{region} {group}: {exc}") from exc
        print(f"{path} ({count:,} events)")  # noqa: T201
    return 0


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

    try:
        return load_gate(args.gate, pyproject=find_pyproject(Path.cwd()))
    except GateConfigError as exc:
        raise CliError(str(exc)) from exc


def _drill_options_given(args: argparse.Namespace) -> list[str]:
    given = []
    for name in (
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
    options = _options(args)
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
    return _judge(run_dir, gate, options, args.junit, aborted)


def _judge(run_dir: Path, gate: Gate, options: Options, junit: Path | None, aborted: str) -> int:
    from results.gate import evaluate, junit_xml
    from results.report import SUMMARY_MD, write_report

    analysis = _analyse(run_dir, options)
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
    from loadtests._drill import run_drill_from_args
    from loadtests._run_folder import DEFAULT_RESULTS_DIR

    abort_after = args.abort_after if args.abort_after is not None else gate.abort_after_s
    if abort_after is None or not gate.live_thresholds():
        return run_drill_from_args(args), ""
    watcher = DrillWatcher(Path(args.out or DEFAULT_RESULTS_DIR), args.scenario, gate, abort_after)
    watcher.start()
    try:
        try:
            run_dir = run_drill_from_args(args)
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
    from loadtests._run_folder import RUN_JSON

    if not (run_dir / RUN_JSON).exists():
        raise GateFailed(
            f"gate failed: drill stopped early ({reason}); it left no {RUN_JSON} in {run_dir}"
        )
    return run_dir, reason


class DrillWatcher:
    """Watches a drill's run folder from a thread; interrupts the drill on a sustained breach.

    The drill stops the way Ctrl-C stops it (SIGINT to this process, which
    ``run_drill`` turns into an orderly stop of Locust and the local
    distribution), so every cleanup path is the one Ctrl-C already takes.
    """

    def __init__(self, base: Path, scenario: str, gate: Gate, abort_after_s: float) -> None:
        from results.live import LiveGate

        self.base = base
        self.scenario = scenario
        self.live = LiveGate(gate, abort_after_s)
        self.known = {path.name for path in base.iterdir()} if base.is_dir() else set()
        self.run_dir: Path | None = None
        self.reason = ""
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._armed = True
        self._thread = threading.Thread(target=self._watch, name="edgedrill-gate", daemon=True)

    def start(self) -> None:
        """Start watching."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def disarm(self) -> None:
        """The drill is over: never interrupt from now on."""
        with self._lock:
            self._armed = False

    def _find_run_dir(self) -> Path | None:
        if not self.base.is_dir():
            return None
        fresh = [
            path
            for path in self.base.iterdir()
            if path.is_dir() and path.name not in self.known and path.name.endswith(self.scenario)
        ]
        return max(fresh, key=lambda path: path.stat().st_mtime) if fresh else None

    def _watch(self) -> None:
        from results.live import RequestsTail
        from results.run_folder import REQUESTS_CSV

        tail: RequestsTail | None = None
        while not self._stop.wait(_POLL_S):
            if tail is None:
                self.run_dir = self._find_run_dir()
                if self.run_dir is None:
                    continue
                tail = RequestsTail(self.run_dir / REQUESTS_CSV)
            self.live.add(tail.read())
            reason = self.live.check()
            if reason:
                self._interrupt(reason)
                return

    def _interrupt(self, reason: str) -> None:
        with self._lock:
            if not self._armed:
                return
            self.reason = reason
            print(f"edgedrill check: stopping the drill: {reason}", file=sys.stderr)  # noqa: T201
            os.kill(os.getpid(), signal.SIGINT)
