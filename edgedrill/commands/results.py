"""``edgedrill report`` and ``edgedrill compare``: a run's analysis.

The analysis options are shared with ``edgedrill check`` (:mod:`edgedrill.commands.gate`).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.settings import MEMORY_MB, setting
from edgedrill.errors import CliError

if TYPE_CHECKING:
    from results.analysis import Analysis, Options
    from results.gate import Gate, GateResult

_POLL_S = 0.5

# The numeric analysis options. Those passed on only when given (default=None)
# fall back to run.json or to results' own defaults, which the help shows.
WINDOW = setting("--window", int, 10, (1, 86_400), "sliding window of the latency percentiles, s")
# An origin-request trigger runs 30 s at the most (the Lambda@Edge quotas page).
THRESHOLD_MS = setting(
    "--threshold-ms",
    float,
    50.0,
    (0, 30_000),
    "billing threshold when run.json names none, ms",
    open_bounds="<",
)
PRICE_REQUESTS = setting(
    "--price-requests", float, 0.60, (0, 1_000), "price per million invocations", open_bounds="<"
)
PRICE_GB_S = setting(
    "--price-gb-s", float, 0.00005001, (0, 1), "price per GB-second", open_bounds="<"
)
FAILOVER_ERROR_RATE = setting(
    "--failover-error-rate",
    float,
    0.01,
    (0, 1),
    "error rate a fault's failover must get back under",
    open_bounds=">",
)


def register(subparsers: Any) -> None:
    """Add ``report``, ``compare`` and ``check``."""
    report = subparsers.add_parser(
        "report",
        help="analyse a run folder: plots, report.html, summary.json, summary.md",
        description="Analyse RUN_DIR and (re)write its plots/, report.html, summary.json and "
        "summary.md; prints the report's path. The report opens with a PASS/FAIL verdict "
        "against [tool.edgedrill.gate] of the nearest pyproject.toml (else the example gate "
        "of results.gate); only `edgedrill check` exits non-zero on a FAIL.",
    )
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    add_analysis_arguments(report)
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
    add_analysis_arguments(compare)
    compare.set_defaults(func=compare_command)


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


def add_analysis_arguments(
    parser: argparse.ArgumentParser, *, strict_default: bool = False
) -> None:
    """Add the options every analysing command takes (report, compare, check)."""
    group = parser.add_argument_group("analysis")
    WINDOW.add_to(group, metavar="S")
    group.add_argument(
        "--percentiles",
        type=_percentile_list,
        default=None,
        metavar="LIST",
        help="latency percentiles to show (default: 50,90,95,99,99.9)",
    )
    group.add_argument(
        "--memory-mb",
        type=MEMORY_MB.parse,
        default=None,
        metavar="MB",
        help="router memory for billing (default: run.json, else the REPORT lines; "
        f"{MEMORY_MB.describe_range()})",
    )
    THRESHOLD_MS.add_to(group, default=None, metavar="MS")
    PRICE_REQUESTS.add_to(group, default=None, metavar="USD")
    PRICE_GB_S.add_to(group, default=None, metavar="USD")
    FAILOVER_ERROR_RATE.add_to(group, default=None, metavar="R")
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


def analysis_options(args: argparse.Namespace) -> Options:
    """The analysis options the parsed flags describe."""
    from results.analysis import Options
    from results.billing import Prices

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
        options = _replace(options, failover_error_rate=args.failover_error_rate)
    return options


def _replace(options: Options, **changes: Any) -> Options:
    import dataclasses

    return dataclasses.replace(options, **changes)


def analyse_run(run_dir: Path, options: Options) -> Analysis:
    """Load and analyse ``run_dir``; a bad run folder is a usage error naming it."""
    from results.analysis import analyse, load_run
    from results.errors import ResultsError

    try:
        return analyse(load_run(run_dir, strict=options.strict, workers=options.workers), options)
    except ResultsError as exc:
        raise CliError(str(exc)) from exc


def default_gate() -> Gate:
    """The gate every report is judged by: the nearest pyproject.toml's, else the example."""
    from edgedrill.commands.gate import find_pyproject  # it imports this module
    from results.errors import GateConfigError
    from results.gate import default_gate as gate_of

    try:
        return gate_of(find_pyproject(Path.cwd()))
    except GateConfigError as exc:
        raise CliError(str(exc)) from exc


def judge(gate: Gate, analysis: Analysis, *, aborted: str = "") -> GateResult:
    """The verdict of ``gate`` on ``analysis``; one line of it on stderr."""
    from results.gate import evaluate
    from results.report import verdict_text

    result = evaluate(gate, analysis, aborted=aborted)
    word = "ABORTED" if result.aborted else ("PASS" if result.passed else "FAIL")
    print(f"verdict: {word}, {verdict_text(result)}", file=sys.stderr)  # noqa: T201
    return result


@functools.cache
def _freeze_at_exit() -> None:
    """Have the interpreter's last collections skip what is alive at exit.

    A report leaves matplotlib's, polars' and numpy's objects by the
    hundred thousand, and the collections at exit walked them all: 0.35 s of
    a 1M-record report's 6.5 s. Nothing of ours waits on them to be finalized
    (every file is closed by then); the process ends and its memory with it.
    """
    atexit.register(gc.freeze)


def report_command(args: argparse.Namespace) -> int:
    """Analyse a run folder, judge it by the default gate and write its report."""
    from results.report import SUMMARY_MD, write_report

    _freeze_at_exit()
    gate = default_gate()
    analysis = analyse_run(args.run_dir, analysis_options(args))
    path = write_report(args.run_dir, gate=judge(gate, analysis), analysis=analysis)
    if args.markdown:
        print((args.run_dir / SUMMARY_MD).read_text(encoding="utf-8"), end="")  # noqa: T201
    else:
        print(path)  # noqa: T201
    return 0


def compare_command(args: argparse.Namespace) -> int:
    """Print two runs side by side."""
    from results.compare import compare, markdown, render_html

    options = analysis_options(args)
    before = analyse_run(args.before, options)
    after = analyse_run(args.after, options)
    rows = compare(before, after)
    print(markdown(before, after, rows), end="")  # noqa: T201
    if args.html is not None:
        try:
            args.html.write_text(render_html(before, after, rows), encoding="utf-8")
        except OSError as exc:
            raise CliError(f"{args.html}: cannot write: {exc}") from exc
        print(f"comparison page: {args.html}", file=sys.stderr)  # noqa: T201
    return 0
