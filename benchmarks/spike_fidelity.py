"""Spike fidelity: target vs achieved rate through the 20x step, and what the generator costs.

In one run, against one local distribution (started here, stopped at the end):

1. fidelity: the spike scenario (``loadtests/spike.py``), a baseline stepping
   20x, held, and back. Prints target vs achieved requests per second through
   the step and the hold, and the late starts. Target: achieved within ±5 %
   of target in every second of the hold.
2. cost: the generator's CPU time per request against plain Locust
   (``FastHttpUser``) on the same target, the same keys drawn with the same
   Zipf popularity (so the same bytes per request). Target: at most 1.20x
   plain ``FastHttpUser``'s. Two comparisons:

   - at the spike's peak rate, the spike scenario against plain users at a
     constant throughput adding up to the same rate. Locust starts its users
     together, so plain users at a constant throughput send in step, many
     requests per event-loop wake-up; a uniform schedule sends each request
     at its own time, one wake-up each. On a shared virtual machine a
     wake-up costs a few hundred microseconds of CPU (cold caches), which
     outweighs any generator's own work at these rates. So the plain users
     are also run spread evenly over their cycle, the spacing of the
     schedule, and the ratio is taken against those; the in-step figure is
     printed beside it.
   - saturated, 20 users each: plain users with no wait, and the spike
     scenario asked for far more than the target serves (every request
     starts late, so neither ever sleeps). This is the cost that bounds how
     many requests per second one Locust process can make.
3. edgedrill's own work per request, timed directly in this process with no
   network: the next ticket of the schedule, handing it out, the record and
   its line in ``requests.csv``.

How the cost is compared: in each round the generators run at the same time,
pinned to the same CPU (the local distribution gets the others), and each
one's CPU per request is taken over the same stretch of wall-clock time.
Whatever else the machine is doing then slows them alike, so the ratio holds
still from round to round even when the absolute figures do not (on a shared
host, the same plain run taken alone varies by 1.5x between runs). The median
round's ratio is the result; every round is printed.

Each Locust run carries a probe that samples the process's CPU time, its
request count and the event loop's iteration count every half second; costs
are taken over the steady middle of each run, start-up and shutdown excluded.

    python benchmarks/spike_fidelity.py [--baseline-rps 10] [--hold 20] [--rounds 5]
        [--paced-rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.stack import launch

REPO = Path(__file__).resolve().parents[1]
SPIKE = REPO / "loadtests" / "spike.py"
COST_USERS = 20
COST_SECONDS = 12
# The comparison at the spike's peak rate: users at 5 requests/s each, 5 rounds of 16 s.
PACED_USER_RPS = 5.0
PACED_ROUNDS = 5
PACED_SECONDS = 16
# Far above what one local edge serves: every scheduled request starts late.
OVERLOAD_RPS = 50_000

PROBE = textwrap.dedent(
    '''
    """CPU, request and loop-iteration samples of this Locust process (benchmark probe)."""
    import json, os, time
    import gevent
    from locust import events

    _samples = []
    _count = [0, 0]

    @events.request.add_listener
    def _counted(response_length=0, **_):
        _count[0] += 1
        _count[1] += response_length or 0

    def _sample():
        loop = gevent.get_hub().loop
        while True:
            _samples.append(
                (time.time(), time.process_time(), _count[0], loop.iteration, _count[1])
            )
            gevent.sleep(0.5)

    @events.init.add_listener
    def _start(environment, **_):
        gevent.spawn(_sample)

    @events.quitting.add_listener
    def _dump(environment, **_):
        with open(os.environ["EDGEDRILL_PROBE_OUT"], "w") as f:
            json.dump(_samples, f)
    '''
)

PLAIN = textwrap.dedent(
    '''
    """Plain Locust on the same keys, same popularity: FastHttpUser, no wait or a constant
    throughput (users in step, as Locust starts them, or spread evenly over the cycle)."""
    import itertools, os, random, time
    import gevent
    from locust import constant, constant_throughput, task
    from locust.contrib.fasthttp import FastHttpUser
    from loadtests._popularity import ZipfKeys

    KEYS = ZipfKeys(open(os.environ["EDGEDRILL_KEYS"]).read().split(), s=1.0, seed=0)
    PER_USER = float(os.environ.get("EDGEDRILL_PER_USER_RPS", "0"))
    SPREAD = int(os.environ.get("EDGEDRILL_SPREAD_USERS", "0"))
    _order = itertools.count()

    class PlainUser(FastHttpUser):
        wait_time = constant_throughput(PER_USER) if PER_USER else constant(0)
        rng = random.Random(1)

        def on_start(self):
            if SPREAD and PER_USER:
                # User k starts k/SPREAD of a cycle late; constant_pacing counts from here.
                gevent.sleep(next(_order) % SPREAD / SPREAD / PER_USER)
                self._cp_last_run = time.perf_counter()
                self._cp_last_wait_time = 0

        @task
        def get(self):
            self.client.get("/" + KEYS.choose(self.rng), name="plain")
    '''
)


@dataclass(frozen=True)
class Cost:
    """CPU seconds, loop iterations and body bytes per request over a window."""

    cpu: float
    iterations: float
    requests: int
    bytes: float


@dataclass
class Running:
    """A Locust process this benchmark started, and where its probe writes."""

    process: subprocess.Popen[str]
    probe: Path
    output: Path
    timeout: float


class Bench:
    """Locust runs against one local distribution, with the probe."""

    def __init__(self, work: Path, host: str, keys: Path, cpus: set[int] | None = None) -> None:
        self.work = work
        self.host = host
        self.keys = keys
        # The CPUs the load generators run on (None: wherever the kernel puts them).
        self.cpus = cpus
        self.runs = 0
        self.started: list[Running] = []
        (work / "probe.py").write_text(PROBE)
        (work / "plain.py").write_text(PLAIN)

    def start(self, files: str, args: list[str], env: dict[str, str], timeout: float) -> Running:
        """Start a headless Locust run with the probe (stopped by PID if it overruns)."""
        self.runs += 1
        probe_out = self.work / f"probe-{self.runs}.json"
        output = self.work / f"locust-{self.runs}.log"
        environment = dict(os.environ, EDGEDRILL_PROBE_OUT=str(probe_out), PYTHONUNBUFFERED="1")
        environment.update(env, EDGEDRILL_KEYS=str(self.keys))
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), environment.get("PYTHONPATH")) if p
        )
        command = [
            sys.executable, "-m", "locust", "-f", f"{files},{self.work / 'probe.py'}",
            "--headless", "--only-summary", "--host", self.host, *args,
        ]  # fmt: skip
        with output.open("w") as log:
            process = subprocess.Popen(
                command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True
            )
        if self.cpus:
            # At once: long before Locust starts a thread, so every thread inherits it.
            os.sched_setaffinity(process.pid, self.cpus)
        running = Running(process, probe_out, output, timeout)
        self.started.append(running)
        return running

    def stop_all(self) -> None:
        """Kill, by PID, any run still going (the benchmark was interrupted or failed)."""
        for run in self.started:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()

    @staticmethod
    def wait(*runs: Running) -> None:
        """Wait for every run; a failed or overrunning one ends the benchmark."""
        failed: Running | None = None
        for run in runs:
            try:
                code = run.process.wait(timeout=run.timeout)
            except subprocess.TimeoutExpired:
                run.process.kill()
                run.process.wait()
                code = -9
            if code != 0 and failed is None:
                failed = run
        if failed is not None:
            sys.stderr.write(failed.output.read_text()[-6000:])
            msg = f"locust exited with {failed.process.returncode}"
            raise SystemExit(msg)

    def start_spike(self, runs: Path, options: list[str], timeout: float) -> Running:
        """The spike scenario with ``options``, its run folder under ``runs``."""
        return self.start(
            str(SPIKE),
            ["--keys", str(self.keys), "--results-dir", str(runs), *options],
            {},
            timeout,
        )

    def spike(self, runs: Path, options: list[str], timeout: float) -> tuple[Path, Path]:
        """The spike scenario with ``options``; returns its run folder and probe file."""
        before = set(runs.iterdir()) if runs.exists() else set()
        running = self.start_spike(runs, options, timeout)
        self.wait(running)
        (run,) = set(runs.iterdir()) - before
        return run, running.probe

    def start_plain(
        self, users: int, seconds: float, per_user_rps: float = 0.0, *, spread: bool = False
    ) -> Running:
        """Plain FastHttpUser: ``users`` users, no wait or a constant throughput each.

        Locust starts its users together, so users at a constant throughput
        send in step: many requests per wake-up. ``spread`` staggers them
        evenly over the cycle instead, the spacing of a uniform schedule.
        """
        env = {"EDGEDRILL_PER_USER_RPS": str(per_user_rps)} if per_user_rps else {}
        if spread:
            env["EDGEDRILL_SPREAD_USERS"] = str(users)
        return self.start(
            str(self.work / "plain.py"),
            ["-u", str(users), "-r", str(users), "-t", f"{seconds:.0f}s", "--stop-timeout", "2"],
            env,
            seconds + 120,
        )


def cost(probe: Path, start: float, end: float, *, relative: bool = True) -> Cost:
    """Per-request CPU and loop iterations between two times (seconds from the first sample)."""
    samples = json.loads(probe.read_text())
    origin = samples[0][0] if relative else 0.0
    inside = [s for s in samples if origin + start <= s[0] <= origin + end]
    if len(inside) < 2:
        msg = f"too few probe samples in the window of {probe.name}"
        raise SystemExit(msg)
    first, last = inside[0], inside[-1]
    requests = max(int(last[2] - first[2]), 1)
    return Cost(
        (last[1] - first[1]) / requests,
        (last[3] - first[3]) / requests,
        int(last[2] - first[2]),
        (last[4] - first[4]) / requests,
    )


def generator_cpus() -> tuple[set[int] | None, set[int] | None]:
    """(CPUs for the local distribution, the one CPU both generators share), if it can pin."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None, None
    if len(available) < 2:
        return None, None
    return set(available[:-1]), {available[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--baseline-rps", type=float, default=10.0)
    parser.add_argument("--factor", type=float, default=20.0)
    parser.add_argument("--spike-at", type=float, default=5.0)
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=5, help="saturated rounds")
    parser.add_argument("--paced-rounds", type=int, default=PACED_ROUNDS, help="peak-rate rounds")
    parser.add_argument("--objects", type=int, default=200)
    args = parser.parse_args()
    peak = args.baseline_rps * args.factor
    stack_cpus, load_cpus = generator_cpus()
    if stack_cpus:
        # The local distribution's processes inherit this from the benchmark.
        os.sched_setaffinity(0, stack_cpus)

    with tempfile.TemporaryDirectory(prefix="edgedrill-bench-") as tmp:
        work = Path(tmp)
        with launch(work / "state.json", objects=args.objects, log_dir=work / "logs") as stack:
            keys = work / "keys.txt"
            keys.write_text("\n".join(stack.state.sample_keys) + "\n")
            bench = Bench(work, stack.state.edge_url, keys, load_cpus)
            try:
                rate, document = fidelity_run(bench, work / "runs", args)
                # Generators at once on one CPU: at the peak rate, then saturated.
                paced = [paced_round(bench, work / "paced", peak) for _ in range(args.paced_rounds)]
                rounds = [saturated_round(bench, work / "overload") for _ in range(args.rounds)]
            finally:
                bench.stop_all()

    report(args, rate, document, load_cpus)
    report_paced(peak, paced, wake_up_us(load_cpus))
    report_saturated(rounds)
    print(f"edgedrill's own work per request, timed directly: {own_work_us():.1f} us")
    return 0


def fidelity_run(
    bench: Bench, runs: Path, args: argparse.Namespace
) -> tuple[list[dict[str, float]], dict[str, Any]]:
    """The 20x step: the run's ``rate.csv`` rows and its ``run.json``."""
    run, _ = bench.spike(
        runs,
        [
            "--baseline-rps", str(args.baseline_rps), "--spike-factor", str(args.factor),
            "--spike-at", str(args.spike_at), "--spike-hold", str(args.hold),
            "--cooldown", str(args.spike_at),
        ],
        args.hold + 2 * args.spike_at + 120,
    )  # fmt: skip
    document = json.loads((run / "run.json").read_text())
    with (run / "rate.csv").open() as f:
        rate = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return rate, document


def common_window(*runs: Running, settle: float = 3.0, margin: float = 2.0) -> list[Cost]:
    """Each run's cost over the seconds all of them were sending."""
    samples = [json.loads(r.probe.read_text()) for r in runs]
    start = max(s[0][0] for s in samples) + settle
    end = min(s[-1][0] for s in samples) - margin
    return [cost(r.probe, start, end, relative=False) for r in runs]


def paced_round(bench: Bench, runs: Path, rps: float) -> list[Cost]:
    """At ``rps``: the spike scenario, plain users spread, plain users in step; all at once."""
    users = max(int(rps // PACED_USER_RPS), 1)
    seconds = PACED_SECONDS
    ours = bench.start_spike(
        runs,
        [
            "--baseline-rps", str(rps), "--spike-factor", "1", "--spike-at", "0",
            "--spike-hold", str(seconds), "--cooldown", "0", "-u", str(users), "-r", str(users),
        ],
        seconds + 120,
    )  # fmt: skip
    spread = bench.start_plain(users, seconds, rps / users, spread=True)
    in_step = bench.start_plain(users, seconds, rps / users)
    bench.wait(ours, spread, in_step)
    return common_window(ours, spread, in_step)


WAKE_UP = textwrap.dedent(
    """
    import time, gevent
    def per_wake(interval, count):
        started = time.process_time()
        for _ in range(count):
            gevent.sleep(interval)
        return (time.process_time() - started) / count * 1e6
    per_wake(0.005, 50)
    print(per_wake(0.005, 800), per_wake(0, 20000))
    """
)


def wake_up_us(cpus: set[int] | None) -> tuple[float, float]:
    """CPU microseconds of one gevent wake-up every 5 ms, and of one loop turn with no wait."""
    process = subprocess.Popen([sys.executable, "-c", WAKE_UP], stdout=subprocess.PIPE, text=True)
    if cpus:
        os.sched_setaffinity(process.pid, cpus)
    out, _ = process.communicate(timeout=60)
    spaced, busy = (float(x) for x in out.split())
    return spaced, busy


def saturated_round(bench: Bench, runs: Path) -> list[Cost]:
    """The spike scenario and plain FastHttpUser at once; each one's cost over the same seconds."""
    ours = bench.start_spike(
        runs,
        [
            "--baseline-rps", str(OVERLOAD_RPS), "--spike-factor", "1",
            "--spike-at", "0", "--spike-hold", str(COST_SECONDS), "--cooldown", "0",
            "-u", str(COST_USERS), "-r", str(COST_USERS), "--drain-timeout", "0",
        ],
        COST_SECONDS + 120,
    )  # fmt: skip
    plain = bench.start_plain(COST_USERS, COST_SECONDS)
    bench.wait(ours, plain)
    return common_window(ours, plain)


def own_work_us(count: int = 100_000) -> float:
    """Microseconds per request of ticket, hand-out, record and CSV line, no network."""
    from loadtests._dispatch import Dispatcher
    from loadtests._options import add_common_arguments, add_spike_arguments, spike_plan
    from loadtests._recorder import RecordCollector
    from loadtests._records import RecordsWriter

    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    add_spike_arguments(parser)
    options = parser.parse_args(
        ["--baseline-rps", "100000", "--spike-factor", "1", "--spike-at", "0", "--cooldown", "0"]
    )
    plan = spike_plan(options, [f"media/{i:05d}.jpg" for i in range(200)])

    class Response:
        status_code = 200
        headers = {  # noqa: RUF012 - a stand-in response
            "x-cache": "Hit from cloudfront",
            "x-amz-cf-pop": "IAD89-P1",
            "x-amz-cf-id": "0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij==",
        }

    response = Response()
    with tempfile.TemporaryDirectory(prefix="edgedrill-bench-") as tmp:
        writer = RecordsWriter(Path(tmp) / "requests.csv", origin=0.0)
        collector = RecordCollector()
        collector.sink = writer.write
        # Long overdue: every ticket is handed out at once, as at saturation.
        dispatcher = Dispatcher(plan.tickets(0, 1), origin=0.0)
        started = time.process_time()
        for _ in range(count):
            assignment = dispatcher.take()
            if assignment is None:
                break
            collector.on_request(
                "GET", assignment.ticket.name, 1.234, 2048, None,
                {"late_ms": assignment.late_s * 1000.0}, response, 1.0,
            )  # fmt: skip
            dispatcher.done()
        collector.flush()
        spent = time.process_time() - started
        writer.close()
    return spent / count * 1e6


def report(
    args: argparse.Namespace,
    rate: list[dict[str, float]],
    document: dict[str, Any],
    load_cpus: set[int] | None,
) -> None:
    step = int(args.spike_at)
    hold = range(step, step + int(args.hold))
    print(f"spike: {args.baseline_rps:g} rps x{args.factor:g} for {args.hold:g} s")
    print("second  target  achieved  late   achieved/target")
    for row in rate[max(step - 2, 0) : step + int(args.hold) + 2]:
        ratio = row["achieved"] / row["target"] if row["target"] else float("nan")
        marker = "  (hold)" if int(row["second"]) in hold else ""
        print(
            f"{int(row['second']):6d}  {row['target']:6.0f}  {row['achieved']:8.0f}  "
            f"{row['late']:4.0f}   {ratio:6.3f}{marker}"
        )
    errors = [
        abs(row["achieved"] / row["target"] - 1) for row in rate if int(row["second"]) in hold
    ]
    worst = max(errors)
    late_hold = sum(row["late"] for row in rate if int(row["second"]) in hold)
    print(
        f"fidelity: worst |achieved/target - 1| in the hold = {worst:.1%} "
        f"(target <= 5%): {'PASS' if worst <= 0.05 else 'FAIL'}"
    )
    print(
        f"late starts: {document['late_starts']} of {document['requests']} "
        f"({late_hold:.0f} in the hold); unsent {document.get('unsent', 0)}"
    )
    where = f"all on CPU {min(load_cpus)}" if load_cpus else "not pinned (one CPU)"
    print(f"\ngenerator cost: the generators of each round run at once, {where}")


def report_paced(peak: float, rounds: list[list[Cost]], wake_up: tuple[float, float]) -> None:
    print(f"at the peak rate, {peak:g} rps each: us CPU per request (loop iterations per request)")
    print("round  edgedrill      plain, spread   plain, in step  ratio to spread")
    ratios = []
    for number, (ours, spread, in_step) in enumerate(rounds, 1):
        ratios.append(ours.cpu / spread.cpu)
        print(
            f"{number:5d}  "
            + "  ".join(
                f"{c.cpu * 1e6:5.0f} ({c.iterations:4.2f})" for c in (ours, spread, in_step)
            )
            + f"   {ratios[-1]:6.3f}"
        )
    median = statistics.median(ratios)
    print(
        f"  at the same rate and the same spacing, edgedrill / plain FastHttpUser: median "
        f"{median:.2f} (target <= 1.20): {'PASS' if median <= 1.20 else 'FAIL'}"
    )
    print(
        f"  (plain users in step share their wake-ups. On this CPU an idle gevent loop woken "
        f"every 5 ms spends {wake_up[0]:.0f} us per wake-up; turning without waiting, "
        f"{wake_up[1]:.1f} us)"
    )


def report_saturated(rounds: list[list[Cost]]) -> None:
    print(f"saturated, {COST_USERS} users each (every request due at once, neither ever sleeps)")
    print("round  edgedrill us  plain us  KiB/response  requests          ratio")
    ratios = []
    for number, (ours, plain) in enumerate(rounds, 1):
        ratios.append(ours.cpu / plain.cpu)
        print(
            f"{number:5d}  {ours.cpu * 1e6:12.0f}  {plain.cpu * 1e6:8.0f}  "
            f"{ours.bytes / 1024:5.1f}/{plain.bytes / 1024:<5.1f}  "
            f"{ours.requests:7d}/{plain.requests:<7d}  {ratios[-1]:6.3f}"
        )
    median = statistics.median(ratios)
    print(
        f"generator cost per request, edgedrill / plain FastHttpUser, saturated: median of "
        f"{len(ratios)} rounds {median:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}; "
        f"target <= 1.20): {'PASS' if median <= 1.20 else 'FAIL'}"
    )


if __name__ == "__main__":
    sys.exit(main())
