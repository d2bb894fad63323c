"""Analysis at scale: 1M per-request records and 1M REPORT lines -> report and plots.

Generates a synthetic run folder (docs/formats.md, with the router's own EMF
lines and a 33-field access log) once, then measures in fresh processes:

* baseline: reading ``requests.csv``'s numeric columns with ``numpy.loadtxt``,
  the least any analysis of the file must do;
* analysis: ``results.analysis`` alone (every reader and measure);
* report: ``results.report.write_report`` (analysis, 7 plots, summary.json,
  summary.md, report.html), what ``edgedrill report`` does.

Each prints wall time, peak resident memory and its ratio to the baseline.
Targets for the report: <= 20 s and <= 1.5 GB.

    python benchmarks/analysis_scale.py [--requests 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 20.0
TARGET_MB = 1536.0


def _child(step: str, run_dir: Path) -> None:
    """Run one measured step in this (fresh) process."""
    if step == "baseline":
        import numpy as np

        np.loadtxt(
            run_dir / "requests.csv",
            delimiter=",",
            skiprows=1,
            usecols=(0, 1, 4, 5, 10),
            quotechar='"',
        )
    elif step == "analysis":
        from results.analysis import analyse, load_run

        analyse(load_run(run_dir))
    elif step == "report":
        from results.report import write_report

        write_report(run_dir)
    else:
        raise SystemExit(f"unknown step {step}")


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


def _measure(step: str, run_dir: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB, all its processes) of one step."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, "--child", step, str(run_dir)], cwd=ROOT)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{step} failed with exit code {process.returncode}")
    return elapsed, peak


def _generate(run_dir: Path, requests: int) -> None:
    from tests.results.synthetic import Drill, FaultSpec, generate

    if (run_dir / "run.json").exists():
        print(f"reusing {run_dir}")
        return
    started = time.perf_counter()
    seconds = 600
    truth = generate(
        run_dir,
        Drill(
            seconds=seconds,
            spike_at_s=150,
            spike_hold_s=300,
            hit_ratio=0.0,  # every request reaches the router: one REPORT line each
            total_requests=requests,
            faults=(FaultSpec("s3:unavailable", "us-east-1", 300.0, 330.0, error_rate=0.3),),
        ),
    )
    print(
        f"generated {truth.requests:,} requests, {truth.invocations:,} invocations "
        f"in {time.perf_counter() - started:.1f} s ({run_dir})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "RUN_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    with tempfile.TemporaryDirectory(prefix="edgedrill-bench-") as scratch:
        run_dir = args.keep or Path(scratch) / "20261126T173148Z-spike"
        _generate(run_dir, args.requests)
        sizes = {p.name: p.stat().st_size for p in run_dir.rglob("*") if p.is_file()}
        print(
            f"run folder: {sum(sizes.values()) / 1e6:,.0f} MB "
            f"(requests.csv {sizes['requests.csv'] / 1e6:,.0f} MB)"
        )
        base_s, base_mb = _measure("baseline", run_dir)
        print(f"{'step':<10} {'seconds':>8} {'peak MB':>8} {'x time':>7} {'x memory':>8}")
        print(f"{'baseline':<10} {base_s:>8.2f} {base_mb:>8.0f} {1.0:>7.2f} {1.0:>8.2f}")
        results = {}
        for step in ("analysis", "report"):
            seconds, mb = _measure(step, run_dir)
            results[step] = (seconds, mb)
            print(
                f"{step:<10} {seconds:>8.2f} {mb:>8.0f} {seconds / base_s:>7.2f} "
                f"{mb / base_mb:>8.2f}"
            )
        seconds, mb = results["report"]
        verdict = "meets" if seconds <= TARGET_S and mb <= TARGET_MB else "MISSES"
        print(
            f"report {verdict} the targets (<= {TARGET_S:.0f} s, <= {TARGET_MB:.0f} MB) "
            f"on {os.cpu_count()} CPUs; memory is the sum over the step's processes"
        )


if __name__ == "__main__":
    main()
