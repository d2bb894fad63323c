"""The default drill: a scenario run headless in a Locust subprocess, its run folder returned.

``edgedrill run`` and ``edgedrill check`` share these options and this entry
point. Locust runs as ``python -m locust -f loadtests/<scenario>.py
--headless ...`` in its own process, so the calling process is never
monkey-patched by gevent; the subprocess starts and stops the local
distribution itself (no ``--host``), writes the run folder named here, and
its output is kept in the run folder's ``locust.log``.

The default spike is sized for a small machine running the local
distribution (2 cores; each moto S3 region serves about 500 GETs/s): 5
requests/s stepping 20x to 100 requests/s, 55 s of schedule, about a minute
in all with the distribution's start and stop.

The default drill is a chaos drill too (:func:`default_faults`): inside the
spike, the primary region's bucket answers 503, then the router's DNS
lookups get SERVFAIL, each for about a third of the peak. Misses reaching
the 503 fail over to the secondary region; the routing record's TTL is
shortened so that the router's cached answer expires during the DNS fault
(it serves the stale answer, RFC 8767). ``--no-faults`` runs the load alone.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import loadtests
from edge.settings import OBJECTS, ROUTER_MIN_TTL
from edgedrill.errors import CliError, DrillError
from edgedrill.progress import DrillProgress
from edgedrill_formats.run_folder import (
    LOCUST_CSV_PREFIX,
    LOCUST_HTML,
    LOCUST_LOG,
    REQUESTS_CSV,
    RUN_JSON,
)
from loadtests._options import (
    BASELINE_RPS,
    SPIKE_AT,
    SPIKE_FACTOR,
    SPIKE_HOLD,
    ScenarioError,
    check_host,
    flag_given,
)
from loadtests._run_folder import DEFAULT_RESULTS_DIR, create_run_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from chaos.timeline import Drill

SCENARIOS = ("spike", "replay")
# The locustfiles: ``python -m locust -f`` loads them by path, as a user does.
_LOCUSTFILES = Path(loadtests.__file__).resolve().parent
# Locust gets this long past the drill's own length to start, drain and write.
_GRACE_S = 300.0
_STOP_WAIT_S = 30.0
# prctl(2): the signal a child gets when its parent dies.
_PR_SET_PDEATHSIG = 1
_NO_DURATION_LIMIT_S = 24 * 3600.0


def locustfile(scenario: str) -> Path:
    """The locustfile of ``scenario``."""
    if scenario not in SCENARIOS:
        msg = f"--scenario must be one of {', '.join(SCENARIOS)}, got {scenario!r}"
        raise CliError(msg)
    return _LOCUSTFILES / f"{scenario}.py"


def add_drill_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the run options of a drill (``edgedrill run`` and ``edgedrill check``)."""
    group = parser.add_argument_group("drill")
    group.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="spike",
        help="spike: a 20x arrival-rate spike; replay: a CloudFront log (default: spike)",
    )
    group.add_argument(
        "--duration",
        type=positive_float("--duration"),
        default=None,
        metavar="S",
        help="seconds of load: the spike's baseline, hold and cooldown in the ratio 1:2:1, "
        "or the first S seconds of a replay (default: a 55 s spike, the whole log)",
    )
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"create the run folder under DIR (default: {DEFAULT_RESULTS_DIR})",
    )
    group.add_argument(
        "--host",
        default=None,
        help="drive this distribution (https://dxxxx.cloudfront.net) instead of the local one",
    )
    group.add_argument("--keys", default=None, help="object keys to request from --host")
    group.add_argument("--log", default=None, help="replay: the CloudFront access log")
    BASELINE_RPS.add_to(group, default=None, metavar="RPS")
    SPIKE_FACTOR.add_to(group, default=None, metavar="X")
    group.add_argument("--processes", type=int, default=None, metavar="N")
    group.add_argument(
        "--fault",
        action="append",
        default=None,
        metavar="FAULT,at=S,for=S",
        help="inject FAULT at S s into the load for S s, e.g. bucket:503,at=20s,for=30s "
        "(optional region=R, probability=P); repeatable",
    )
    group.add_argument(
        "--drill",
        type=Path,
        default=None,
        metavar="FILE",
        help="drill file (TOML): [[fault]] entries, an optional [gate] and [stop] condition",
    )
    group.add_argument(
        "--no-faults",
        action="store_true",
        help="no default faults: the default drill's load alone (see README, Drills)",
    )
    # Passed on to the local distribution only: a --host run has its own objects.
    OBJECTS.add_to(group, metavar="N")
    group.add_argument(
        "--quiet",
        action="store_true",
        help="no progress lines; keep Locust's output in the run folder only",
    )
    group.add_argument(
        "locust_args",
        nargs=argparse.REMAINDER,
        metavar="-- LOCUST_ARGS",
        help="after --: further Locust or scenario options (e.g. -- --arrivals poisson)",
    )


def positive_float(flag: str) -> Callable[[str], float]:
    """An argparse type for ``flag``: a finite number above zero."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            msg = f"{flag}: {text!r} is not a number"
            raise argparse.ArgumentTypeError(msg) from None
        if not math.isfinite(value) or value <= 0:
            msg = f"{flag}: must be a finite number > 0, got {text}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return convert


def spike_timeline(duration: float) -> list[str]:
    """Spike options for ``duration`` seconds: baseline, hold and cooldown as 1:2:1."""
    quarter = duration / 4
    return [
        "--spike-at",
        f"{quarter:g}",
        "--spike-hold",
        f"{2 * quarter:g}",
        "--cooldown",
        f"{quarter:g}",
        "--ramp",
        "0",
    ]


def drill_args(args: argparse.Namespace) -> list[str]:
    """Locust arguments for the options of :func:`add_drill_arguments` (``--duration`` aside)."""
    extra: list[str] = []
    for flag, value in (
        ("--host", args.host),
        ("--keys", args.keys),
        ("--log", args.log),
        ("--baseline-rps", args.baseline_rps),
        ("--spike-factor", args.spike_factor),
        ("--processes", args.processes),
    ):
        if value is not None:
            extra += [flag, str(value)]
    if args.host is None:
        extra += ["--objects", str(OBJECTS.check(args.objects))]
    for fault in getattr(args, "fault", None) or ():
        extra += ["--fault", fault]
    if getattr(args, "drill", None) is not None:
        extra += ["--drill", str(Path(args.drill).resolve())]
    if wants_default_faults(args):
        extra += default_drill_args(args.duration)
    rest = list(args.locust_args or [])
    if rest and rest[0] != "--" and not rest[0].startswith("-"):
        # Locust would take it for a user class and fail with "Unknown User(s)".
        hint = "; a finished run folder is judged with --run DIR" if Path(rest[0]).is_dir() else ""
        msg = f"unexpected argument {rest[0]!r}: Locust options go after --{hint}"
        raise CliError(msg)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return extra + rest


def duration_args(scenario: str, duration: float) -> list[str]:
    """Locust arguments that make ``scenario`` last ``duration`` seconds."""
    if scenario == "spike":
        return spike_timeline(duration)
    # Locust takes whole seconds (or 1h30m forms): a fraction rounds up.
    return ["--run-time", f"{math.ceil(duration)}s"]


def log_passed_on(locust_args: Sequence[str] | None) -> bool:
    """Whether the arguments after ``--`` give ``--log`` (as ``--log FILE`` or ``--log=FILE``)."""
    return flag_given(locust_args or (), "--log")


def check_faults(args: argparse.Namespace) -> Drill | None:
    """Parse ``--fault`` and ``--drill`` before anything starts; the drill file, if given.

    A bad spelling or drill file is a usage error (exit 2) naming the entry.
    Faults drive the local distribution's control API: a real distribution
    (``--host``) has none yet.
    """
    from chaos.errors import ChaosError
    from chaos.timeline import load_drill, parse_timed_fault

    try:
        timeline = [parse_timed_fault(text) for text in getattr(args, "fault", None) or ()]
        drill = load_drill(args.drill) if getattr(args, "drill", None) is not None else None
    except ChaosError as exc:
        raise CliError(str(exc)) from exc
    if drill is not None:
        timeline += drill.faults
    if timeline and args.host is not None:
        msg = "--fault/--drill faults apply to the local distribution only; drop --host"
        raise CliError(msg)
    return drill


# Options that move the spike or bring faults of their own: the default faults
# would no longer fall inside the spike, or would double up.
_OWN_TIMELINE = ("--spike-at", "--spike-hold", "--cooldown", "--ramp", "--fault", "--drill")


# Below this DNS fault length the default drill's TTL is the fault's length.
_PHASED_TTL_MIN_SPAN_S = 5.0


def default_faults(duration: float | None) -> tuple[list[str], int]:
    """The default drill's timed faults inside the spike's hold, and its routing TTL.

    The bucket fault starts a tenth into the hold and the DNS fault a bit past
    its middle, each lasting about a third of it, so the two windows never
    overlap and each ends before the cooldown (``--duration`` scales them).
    The routing record's TTL is set so that the answer the router cached at
    its first miss (the schedule's first request) expires in the middle of the
    DNS fault: the fault reaches the router's first environment once.

    The DNS fault comes second so that the router's next query after its
    failed refresh, ``failure_recheck_s`` (30 s, RFC 8767 §5) later, falls
    after the default drill's end, by about 8 s for the first environment
    and at least 3.8 s for any other: the run's DNS queries do not depend on
    when the last misses arrive (one environment asks twice in a default
    drill, about 3 queries per 1,000 invocations against the gate's 5).
    A short drill's TTL is the fault's length instead.
    """
    if duration is None:
        at, hold = SPIKE_AT.default, SPIKE_HOLD.default
    else:
        at, hold = duration / 4, duration / 2
    span = round(0.35 * hold, 1)
    dns_at = round(at + 0.55 * hold, 1)
    faults = [
        f"bucket:503,at={at + 0.1 * hold:.1f}s,for={span:g}s",
        f"dns:servfail,at={dns_at:g}s,for={span:g}s",
    ]
    if span < _PHASED_TTL_MIN_SPAN_S:
        # A short drill has DNS queries to spare: a TTL no longer than the fault
        # expires inside it whenever the router first asked.
        return faults, max(1, math.floor(span))
    return faults, round(dns_at + span / 2)


def default_drill_args(duration: float | None) -> list[str]:
    """The scenario arguments that make a spike the default (chaos) drill."""
    faults, txt_ttl = default_faults(duration)
    extra: list[str] = []
    for fault in faults:
        extra += ["--fault", fault]
    extra += ["--txt-ttl", str(txt_ttl)]
    if txt_ttl < ROUTER_MIN_TTL.default:
        # A short drill: the router must not stretch the TTL past the DNS fault.
        extra += ["--router-min-ttl", str(txt_ttl)]
    return extra


def wants_default_faults(args: argparse.Namespace) -> bool:
    """Whether this is the default drill: a local spike with no faults or timeline of its own."""
    if args.scenario != "spike" or args.host is not None or getattr(args, "no_faults", False):
        return False
    if getattr(args, "fault", None) or getattr(args, "drill", None) is not None:
        return False
    rest = args.locust_args or ()
    return not any(flag_given(rest, flag) for flag in (*_OWN_TIMELINE, "--txt-ttl"))


def aborted_by_stop_condition(run_dir: Path) -> str:
    """Why the drill's stop condition aborted it (``run.json``'s ``aborted``), else ``""``.

    A drill stopped another way (Ctrl-C, the gate's ``--abort-after``) has no
    ``aborted`` there, though its journal says ``aborted`` too.
    """
    try:
        document = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    reason = document.get("aborted") if isinstance(document, dict) else None
    return str(reason) if reason else ""


def run_drill_from_args(
    args: argparse.Namespace, *, started: Callable[[Path], None] | None = None
) -> Path:
    """Run the drill the parsed options describe; returns its run folder."""
    if args.scenario == "replay" and not args.log and not log_passed_on(args.locust_args):
        msg = "--log is required with --scenario replay"
        raise CliError(msg)
    if args.host is not None:
        try:
            check_host(args.host)
        except ScenarioError as exc:
            raise CliError(str(exc)) from exc
    check_faults(args)
    return run_drill(
        scenario=args.scenario,
        duration=args.duration,
        out=args.out,
        extra_args=drill_args(args),
        quiet=bool(args.quiet),
        started=started,
    )


def run_drill(
    *,
    scenario: str = "spike",
    duration: float | None = None,
    out: Path | None = None,
    extra_args: Sequence[str] = (),
    quiet: bool = False,
    started: Callable[[Path], None] | None = None,
) -> Path:
    """Run a drill on the embedded local distribution (or ``--host``); returns the run folder.

    ``started`` is called with the run folder once it exists, before Locust
    starts. Unless ``quiet``, a progress line goes to stderr every few seconds
    of the load (:mod:`edgedrill.progress`); Locust's own periodic stats only
    when asked for with ``--print-stats`` after ``--``.
    """
    script = locustfile(scenario)
    if duration is not None and (not math.isfinite(duration) or duration <= 0):
        msg = f"--duration must be a finite number > 0, got {duration}"
        raise CliError(msg)
    run_dir = create_run_dir(out or DEFAULT_RESULTS_DIR, scenario)
    # Locust's periodic stats table, unless asked for, would bury the progress lines.
    summary = [] if flag_given(extra_args, "--print-stats") else ["--only-summary"]
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(script),
        "--headless",
        *summary,
        "--run-dir",
        str(run_dir),
        "--csv",
        str(run_dir / LOCUST_CSV_PREFIX),
        "--html",
        str(run_dir / LOCUST_HTML),
        # A drill that measured failing requests still ran: the analysis judges it.
        "--exit-code-on-error",
        "0",
    ]
    if duration is not None:
        command += duration_args(scenario, duration)
    command += list(extra_args)
    # Without --duration the schedule's length is the scenario's (a replay may be
    # hours long): a day bounds a stuck Locust all the same.
    limit = duration + _GRACE_S if duration is not None else _NO_DURATION_LIMIT_S
    progress = None if quiet else DrillProgress(sys.stderr)
    try:
        if progress is not None:
            progress.start(run_dir)
        if started is not None:
            started(run_dir)
        code, tail = _run_locust(command, run_dir / LOCUST_LOG, quiet=quiet, limit=limit)
    except KeyboardInterrupt:
        # Locust has stopped and written what it had: say where.
        if (run_dir / RUN_JSON).exists():
            print(f"the run so far (stopped early): {run_dir}", file=sys.stderr)  # noqa: T201
        raise
    finally:
        if progress is not None:
            progress.stop()
    if code != 0 or not (run_dir / RUN_JSON).exists():
        what = f"Locust exited with code {code}" if code != 0 else f"the drill wrote no {RUN_JSON}"
        if _remove_unless_recorded(run_dir):
            msg = f"{what}; no run folder was kept; Locust's output ended with:\n{tail}"
        else:
            msg = f"{what}; see {run_dir / LOCUST_LOG}\n{tail}"
        raise DrillError(msg)
    return run_dir


def _remove_unless_recorded(run_dir: Path) -> bool:
    """Remove the run folder of a drill that failed before it recorded anything; True if removed.

    A folder holding only Locust's output (a usage error, a log with no valid
    request) is no run: left behind, it would be listed among the runs and
    picked as the latest one. Its output goes into the error message instead.
    A folder with records (a run that broke midway) is kept for its analysis.
    """
    if (run_dir / REQUESTS_CSV).exists() or (run_dir / RUN_JSON).exists():
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return not run_dir.exists()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    root = str(_LOCUSTFILES.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _run_locust(
    command: list[str], log_path: Path, *, quiet: bool, limit: float
) -> tuple[int, str]:
    """Run Locust, teeing its output to ``log_path`` (and stderr); returns code and last lines."""
    tail: list[str] = []
    with (
        log_path.open("w", encoding="utf-8") as log,
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_child_env(),
            text=True,
            errors="replace",
            # Its own session: a terminal's Ctrl-C reaches edgedrill only, which
            # passes on exactly one SIGINT (a second one would cut Locust's own
            # shutdown short, before the run folder is written).
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        ) as process,
    ):
        output = process.stdout
        if output is None:  # pragma: no cover - stdout=PIPE
            msg = "Locust's output pipe is missing"
            raise DrillError(msg)
        reader = threading.Thread(
            target=_tee, args=(output, log, None if quiet else sys.stderr, tail), daemon=True
        )
        reader.start()
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _stop(process)
            reader.join(timeout=_STOP_WAIT_S)
            msg = f"Locust ran past {limit:.0f} s and was stopped; see {log_path}"
            raise DrillError(msg) from None
        except BaseException:
            # Ctrl-C, SIGTERM (see _cli) or an error here: Locust stops as on its own Ctrl-C.
            _stop(process, first=signal.SIGINT)
            reader.join(timeout=_STOP_WAIT_S)
            raise
        reader.join(timeout=_STOP_WAIT_S)
    return code, "".join(tail[-15:])


def _die_with_parent() -> None:
    """In the child, before Locust starts: SIGTERM it if edgedrill dies unannounced (SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _tee(source: IO[str], log: IO[str] | None, echo: IO[str] | None, tail: list[str]) -> None:
    """Copy Locust's output to the log and the echo until it ends.

    The pipe is drained to the end whatever happens to the copies: a closed
    echo (``edgedrill run | head``) or a full disk stops that copy only, never
    Locust, which would block on a full pipe.
    """
    for line in source:
        if log is not None:
            try:
                log.write(line)
            except (OSError, ValueError):
                log = None
        if echo is not None:
            try:
                echo.write(line)
                echo.flush()
            except (OSError, ValueError):
                echo = None
        tail.append(line)
        if len(tail) > 200:
            del tail[:100]


def _stop(process: subprocess.Popen[str], first: signal.Signals = signal.SIGTERM) -> None:
    """Stop Locust by its PID: ``first``, then SIGTERM, then SIGKILL."""
    for sig in (first, signal.SIGTERM):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        deadline = time.monotonic() + _STOP_WAIT_S
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=_STOP_WAIT_S)
