"""Analysis at scale: `edgedrill report` on 1M records against a plain polars reading.

Generates synthetic run folders (docs/formats.md, with the router's own EMF
lines, cf_request_id included as a real run writes it, and a 33-field access
log) once, then measures in fresh processes,
side by side and ``--repeat`` times each (medians printed):

* anchor: a plain polars reading of the same three files computing the same
  percentiles (viewer latency, whole run and per 10 s window; REPORT
  Duration; router handler_ms; edge time-taken), no validation, no plots;
* report: ``python -m edgedrill.cli report RUN_DIR``, what a user runs
  (every reader and measure, the plots, summary.json, summary.md, report.html),
  its runtime logs read by the compiled scanner (results/_logscan.c) when it
  was built, as the first line printed says;
* with ``--fallback``, also the report as it runs without the scanner
  (``EDGEDRILL_NO_LOGSCAN=1``: runtime logs parsed with polars).

Each prints wall time, peak resident memory summed over the step's
processes and CPU seconds (user + system; steadier than wall time on a busy
machine, so printed beside it). Goals: report within 2x of the anchor's
time, <= 800 MB, and a run twice as long (``--requests`` doubled) peaking at
<= 1.3x the memory.

    python benchmarks/analysis_scale.py [--requests 1000000] [--repeat 3] [--keep DIR]
                                        [--no-growth] [--fallback]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_RATIO = 2.0
TARGET_MB = 800.0
TARGET_GROWTH = 1.3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def _anchor(run_dir: Path) -> None:
    """The same percentiles from the same files, read the plainest way polars allows."""
    import polars as pl

    def nearest_rank(name: str) -> list[pl.Expr]:
        ranks = [(pl.len() * p / 100).ceil().cast(pl.Int64) - 1 for p in PERCENTILES]
        return [pl.col(name).sort().gather(rank).first().alias(f"p{p:g}") for p, rank in
                zip(PERCENTILES, ranks, strict=True)]  # fmt: skip

    requests = pl.scan_csv(run_dir / "requests.csv").select("start", "duration_ms")
    start = pl.col("start")
    windows = (
        requests.with_columns(second=(start - start.min()).floor().cast(pl.Int64))
        .sort("start")
        .group_by_dynamic("second", every="1i", period="10i", offset="-9i", closed="left")
        .agg(
            pl.col("duration_ms").quantile(p / 100, interpolation="higher").alias(f"p{p:g}")
            for p in PERCENTILES
        )
    )
    lines = pl.concat(
        pl.scan_csv(
            path,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"line": pl.String},
        )
        for path in sorted((run_dir / "logs" / "lambda").glob("*.log"))
    )
    duration = pl.col("line").str.extract(r"\tDuration: ([0-9.]+) ms", 1).cast(pl.Float64)
    handler = pl.col("line").str.extract(r'"handler_ms":([0-9.]+)', 1).cast(pl.Float64)
    access_path = run_dir / "logs" / "cloudfront" / "access.log"
    with access_path.open() as handle:
        names = next(line for line in handle if line.startswith("#Fields:")).split()[1:]
    access = pl.scan_csv(
        access_path,
        separator="\t",
        comment_prefix="#",
        has_header=False,
        quote_char=None,
        schema=dict.fromkeys(names, pl.String),
    ).select(pl.col("time-taken").cast(pl.Float64).alias("taken"))
    pl.collect_all(
        [
            requests.select(nearest_rank("duration_ms")),
            windows,
            lines.select(duration.alias("d")).drop_nulls().select(nearest_rank("d")),
            lines.select(handler.alias("h")).drop_nulls().select(nearest_rank("h")),
            access.select(nearest_rank("taken")),
        ],
        engine="streaming",
    )


def _child(step: str, run_dir: Path) -> None:
    """Run one measured step in this (fresh) process."""
    if step == "anchor":
        _anchor(run_dir)
    else:
        raise SystemExit(f"unknown step {step}")


def _command(step: str, run_dir: Path) -> list[str]:
    if step in ("report", "polars"):
        return [sys.executable, "-m", "edgedrill.cli", "report", str(run_dir)]
    return [sys.executable, __file__, "--child", step, str(run_dir)]


def _tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue  # the process ended meanwhile
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total / (1 << 20)


def _measure(step: str, run_dir: Path) -> tuple[float, float, float]:
    """Wall seconds, peak resident memory (MB, all its processes) and CPU seconds of one step.

    CPU seconds (user + system, the step's processes) hardly change with what
    else the machine runs, which wall seconds do.
    """
    from results.logscan import DISABLE

    environment = {**os.environ, DISABLE: "1" if step == "polars" else ""}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        _command(step, run_dir), cwd=ROOT, stdout=subprocess.DEVNULL, env=environment
    )
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"{step} failed with exit code {process.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, peak, cpu


def _generate(run_dir: Path, requests: int) -> None:
    from tests.results.synthetic import Drill, FaultSpec, generate

    if (run_dir / "run.json").exists():
        print(f"reusing {run_dir}")
        return
    started = time.perf_counter()
    seconds = 600 * max(1, requests // 1_000_000)  # the same rate, a longer run
    truth = generate(
        run_dir,
        Drill(
            seconds=seconds,
            spike_at_s=seconds // 4,
            spike_hold_s=seconds // 2,
            hit_ratio=0.0,  # every request reaches the router: one REPORT line each
            total_requests=requests,
            faults=(FaultSpec("s3:unavailable", "us-east-1", 300.0, 330.0, error_rate=0.3),),
        ),
    )
    print(
        f"generated {truth.requests:,} requests, {truth.invocations:,} invocations "
        f"in {time.perf_counter() - started:.1f} s ({run_dir})"
    )


def _medians(step: str, run_dir: Path, repeat: int) -> tuple[float, float, float]:
    runs = [_measure(step, run_dir) for _ in range(repeat)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        statistics.median(r[2] for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (medians)")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) folders here")
    parser.add_argument("--no-growth", action="store_true", help="skip the doubled run")
    parser.add_argument(
        "--fallback", action="store_true", help="also the report without the compiled scanner"
    )
    parser.add_argument("--child", nargs=2, metavar=("STEP", "RUN_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory(prefix="edgedrill-bench-") as scratch:
        base = args.keep or Path(scratch)
        sizes = [args.requests] if args.no_growth else [args.requests, 2 * args.requests]
        folders = {n: base / f"{n // 1000}k" / "20261126T173148Z-spike" for n in sizes}
        for n, run_dir in folders.items():
            _generate(run_dir, n)
        from results.logscan import scanner

        engine = "the compiled scanner" if scanner() is not None else "polars (scanner NOT built)"
        print(f"runtime logs read by {engine}")
        print(f"{args.repeat} runs each, medians; memory summed over each step's processes")
        print(f"{'records':>9} {'step':<8} {'seconds':>8} {'peak MB':>8} {'CPU s':>8}")
        peaks: dict[int, float] = {}
        ratio = 0.0
        for n, run_dir in folders.items():
            # Interleaved, so that a busy machine slows both alike.
            anchor = _medians("anchor", run_dir, args.repeat)
            report = _medians("report", run_dir, args.repeat)
            steps = [("anchor", anchor), ("report", report)]
            if args.fallback and n == args.requests:
                steps.append(("polars", _medians("polars", run_dir, args.repeat)))
            for name, (wall, peak, cpu) in steps:
                print(f"{n:>9,} {name:<8} {wall:>8.2f} {peak:>8.0f} {cpu:>8.2f}")
            peaks[n] = report[1]
            if n == args.requests:
                ratio = report[0] / anchor[0]
                print(f"report / anchor time: {ratio:.2f}x (goal <= {TARGET_RATIO:.1f}x)")
                print(f"report / anchor CPU seconds: {report[2] / anchor[2]:.2f}x")
                if args.fallback:
                    fallback = steps[-1][1]
                    print(f"without the scanner: {fallback[0] / anchor[0]:.2f}x the anchor's time")
        growth = peaks[2 * args.requests] / peaks[args.requests] if len(peaks) == 2 else None
        if growth is not None:
            print(f"report peak memory, 2x records / 1x: {growth:.2f} (goal <= {TARGET_GROWTH})")
        met = (
            ratio <= TARGET_RATIO
            and peaks[args.requests] <= TARGET_MB
            and (growth is None or growth <= TARGET_GROWTH)
        )
        print(
            f"report {'meets' if met else 'MISSES'} the goals on {os.cpu_count()} CPUs "
            f"(<= {TARGET_RATIO:.0f}x the anchor, <= {TARGET_MB:.0f} MB, growth <= {TARGET_GROWTH})"
        )


if __name__ == "__main__":
    main()
