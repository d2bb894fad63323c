"""Scenario options: the flags each locustfile adds to Locust's parser, and their plans.

The flags are added through Locust's ``init_command_line_parser`` event, so
they appear in ``locust --help``, in the web UI (editable before each start)
and in ``locust.conf`` (``baseline-rps = 5``). Defaults are concrete values,
never ``None``: the web UI converts an edited value to the type of the
current one.

The default spike is sized for one machine running the local distribution
(two moto S3 regions at roughly 500 GETs/s each, shared cores): 5 requests/s
stepping 20x to 100 requests/s.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests._cloudfront_log import LogError, log_files, read_log
from loadtests._errors import CliError
from loadtests._plans import ReplayPlan, SpikePlan
from loadtests._popularity import ZipfKeys
from loadtests._replay_schedule import WindowError, parse_window
from loadtests._run_folder import DEFAULT_RESULTS_DIR
from loadtests._schedule import Arrivals, spike_profile

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from loadtests._cloudfront_log import ParsedLog

SPIKE_DEFAULTS: dict[str, float] = {
    "baseline_rps": 5.0,
    "spike_factor": 20.0,
    "spike_at": 15.0,
    "spike_hold": 25.0,
    "ramp": 0.0,
    "cooldown": 15.0,
}


class ScenarioError(CliError):
    """A scenario option or input file is not usable."""


class _Group:
    """Adds options under a titled group of ``--help``, marked for Locust's web UI.

    Locust shows an option in its web UI when the action carries
    ``include_in_web_ui``; its parser sets that in ``add_argument`` but an
    argument group does not, so the marks are set here.
    """

    def __init__(self, parser: Any, title: str) -> None:
        add_group = getattr(parser, "add_argument_group", None)
        self._target = add_group(title) if add_group else parser

    def add_argument(self, *flags: str, include_in_web_ui: bool = True, **kwargs: Any) -> Any:
        action = self._target.add_argument(*flags, **kwargs)
        action.include_in_web_ui = include_in_web_ui
        action.is_secret = False
        action.is_required = False
        action.is_multiple = False
        return action


def _group(parser: Any, title: str) -> _Group:
    return _Group(parser, title)


def add_common_arguments(parser: Any) -> None:
    """Options every edgedrill scenario takes (run folder, pool, records, local distribution)."""
    group = _group(parser, "edgedrill")
    group.add_argument(
        "--run-dir",
        default="",
        help="write the run folder here "
        "(default: a new <UTC stamp>-<scenario> under --results-dir)",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--results-dir",
        default=str(DEFAULT_RESULTS_DIR),
        help="where new run folders are created (default: %(default)s)",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--keys",
        default="",
        help="file of object keys, one per line, to request from a distribution given "
        "with --host (the local distribution brings its own)",
    )
    group.add_argument(
        "--pool-latency",
        type=float,
        default=0.5,
        help="response time in seconds the user pool absorbs at the peak rate before "
        "requests start late; users = peak rps x this (default: %(default)s; -u overrides)",
    )
    group.add_argument(
        "--late-threshold-ms",
        type=float,
        default=10.0,
        help="a request that starts more than this after its due time counts as late "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--drain-timeout",
        type=float,
        default=15.0,
        help="seconds to wait at the end for late and in-flight requests (default: %(default)s)",
    )
    group.add_argument(
        "--seed", type=int, default=0, help="seed for arrivals and key choice (default: 0)"
    )
    group.add_argument(
        "--objects",
        type=int,
        default=200,
        help="objects in the local distribution's corpus, when it is started (default: 200)",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--memory-mb",
        type=int,
        default=128,
        help="the router's memory size, reported in run.json for billing (default: 128)",
    )
    group.add_argument(
        "--origin-region-header",
        default="x-edgedrill-origin-region",
        help="response header that names the origin region, when the edge reports it",
        include_in_web_ui=False,
    )


def flag_given(argv: Sequence[str], flag: str) -> bool:
    """Whether ``argv`` gives ``flag``, as ``--flag VALUE`` or ``--flag=VALUE``."""
    return any(arg == flag or arg.startswith(flag + "=") for arg in argv)


def local_workers_on_loopback(parser: Any, argv: Sequence[str]) -> None:
    """With ``--processes``, the master listens on 127.0.0.1, on a free port.

    Locust's ``--processes`` forks its workers on this machine and points them
    at 127.0.0.1, yet its master listens on every interface at port 5557: open
    to the network, and a second drill on the same machine fails to bind.
    Explicit ``--master-bind-host``/``--master-bind-port`` (or their
    ``LOCUST_*`` variables, or ``locust.conf``) still win: these are defaults.
    """
    if not flag_given(argv, "--processes"):
        return
    defaults: dict[str, Any] = {"master_bind_host": "127.0.0.1"}
    if not (flag_given(argv, "--master-bind-port") or flag_given(argv, "--master-port")):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        defaults.update(master_bind_port=port, master_port=port)
    parser.set_defaults(**defaults)


def add_spike_arguments(parser: Any) -> None:
    """Options of ``spike.py``."""
    group = _group(parser, "spike")
    d = SPIKE_DEFAULTS
    group.add_argument(
        "--baseline-rps",
        type=float,
        default=d["baseline_rps"],
        help="baseline request rate, requests/s (default: %(default)s)",
    )
    group.add_argument(
        "--spike-factor",
        type=float,
        default=d["spike_factor"],
        help="the spike is this many times the baseline (default: %(default)s)",
    )
    group.add_argument(
        "--spike-at",
        type=float,
        default=d["spike_at"],
        help="seconds of baseline before the spike (default: %(default)s)",
    )
    group.add_argument(
        "--spike-hold",
        type=float,
        default=d["spike_hold"],
        help="seconds the spike holds at its peak (default: %(default)s)",
    )
    group.add_argument(
        "--ramp",
        type=float,
        default=d["ramp"],
        help="seconds to ramp up to the peak and back down; 0 is a step (default: %(default)s)",
    )
    group.add_argument(
        "--cooldown",
        type=float,
        default=d["cooldown"],
        help="seconds of baseline after the spike (default: %(default)s)",
    )
    group.add_argument(
        "--arrivals",
        choices=[a.value for a in Arrivals],
        default=Arrivals.UNIFORM.value,
        help="evenly spaced arrivals, or a Poisson process of the same rate (default: uniform)",
    )
    group.add_argument(
        "--zipf-s",
        type=float,
        default=1.0,
        help="Zipf exponent of object popularity; 0 is uniform (default: %(default)s)",
    )


def add_replay_arguments(parser: Any) -> None:
    """Options of ``replay.py``."""
    group = _group(parser, "replay")
    group.add_argument(
        "--log",
        default="",
        help="CloudFront standard access log: a file (plain or .gz) or a folder of them",
    )
    group.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="compress time by this factor (2: twice as fast) (default: %(default)s)",
    )
    group.add_argument(
        "--multiply",
        type=float,
        default=1.0,
        help="scale the request rate by this factor (default: %(default)s)",
    )
    group.add_argument(
        "--window",
        default="",
        help="replay only START:END seconds since the log's first request, "
        "or START/END in ISO 8601 UTC (default: the whole log)",
    )
    group.add_argument(
        "--multiply-window",
        default="",
        help="apply --multiply only within START:END (or START/END), in log time "
        "(default: everywhere)",
    )


def _number(options: argparse.Namespace, name: str, *, minimum: float, strict: bool) -> float:
    value = float(getattr(options, name))
    flag = "--" + name.replace("_", "-")
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        msg = f"{flag} must be a finite number {bound}, got {value}"
        raise ScenarioError(msg)
    return value


def common_checks(options: argparse.Namespace) -> None:
    """Reject common options that cannot work."""
    _number(options, "pool_latency", minimum=0.0, strict=True)
    _number(options, "late_threshold_ms", minimum=0.0, strict=False)
    _number(options, "drain_timeout", minimum=0.0, strict=False)
    _number(options, "memory_mb", minimum=128, strict=False)
    if int(options.objects) < 1:
        msg = f"--objects must be at least 1, got {options.objects}"
        raise ScenarioError(msg)


def read_keys(path_text: str) -> list[str]:
    """Object keys from a ``--keys`` file: one per line, ``#`` comments and blanks skipped."""
    path = Path(path_text)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        msg = f"--keys: cannot read {path}: {exc.strerror or exc}"
        raise ScenarioError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"--keys: {path} is not UTF-8 text: {exc}"
        raise ScenarioError(msg) from exc
    keys = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        msg = f"--keys: {path} holds no keys"
        raise ScenarioError(msg)
    return keys


def spike_plan(options: argparse.Namespace, keys: Sequence[str] | None) -> SpikePlan:
    """The spike described by ``options``, over ``keys`` (or those of ``--keys``)."""
    common_checks(options)
    if keys is None:
        if not options.keys:
            msg = "--keys FILE is required with --host: the object keys to request"
            raise ScenarioError(msg)
        keys = read_keys(options.keys)
    baseline = _number(options, "baseline_rps", minimum=0.0, strict=True)
    factor = _number(options, "spike_factor", minimum=0.0, strict=True)
    at = _number(options, "spike_at", minimum=0.0, strict=False)
    hold = _number(options, "spike_hold", minimum=0.0, strict=False)
    ramp = _number(options, "ramp", minimum=0.0, strict=False)
    cooldown = _number(options, "cooldown", minimum=0.0, strict=False)
    zipf_s = _number(options, "zipf_s", minimum=0.0, strict=False)
    try:
        profile = spike_profile(
            baseline=baseline, factor=factor, spike_at=at, hold=hold, ramp=ramp, after=cooldown
        )
        kind = Arrivals(options.arrivals)
        popularity = ZipfKeys(keys, s=zipf_s, seed=int(options.seed))
    except ValueError as exc:
        raise ScenarioError(str(exc)) from exc
    return SpikePlan(profile, popularity, kind, int(options.seed))


_LAST_LOG: tuple[object, ParsedLog] | None = None


def _log_signature(path: Path) -> object:
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in log_files(path))


def parse_replay_log(options: argparse.Namespace) -> ParsedLog:
    """Read the ``--log`` of a replay (the last one read is kept while its files are unchanged)."""
    global _LAST_LOG
    if not options.log:
        msg = "--log PATH is required: the CloudFront access log to replay"
        raise ScenarioError(msg)
    path = Path(options.log)
    try:
        signature = (str(path.resolve()), _log_signature(path))
        if _LAST_LOG is not None and _LAST_LOG[0] == signature:
            return _LAST_LOG[1]
        parsed = read_log(path)
    except LogError as exc:
        raise ScenarioError(str(exc)) from exc
    except OSError as exc:
        msg = f"--log: cannot read {path}: {exc.strerror or exc}"
        raise ScenarioError(msg) from exc
    _LAST_LOG = (signature, parsed)
    return parsed


def validate_spike(options: argparse.Namespace, local: bool) -> None:
    """Reject spike options that cannot work, before anything starts."""
    spike_plan(options, ["validation"] if local else None)


def validate_replay(options: argparse.Namespace, local: bool) -> None:
    """Reject replay options and logs that cannot work, before anything starts."""
    del local
    replay_plan(options)


def replay_plan(options: argparse.Namespace, log: ParsedLog | None = None) -> ReplayPlan:
    """The replay described by ``options`` (the log read now unless given)."""
    common_checks(options)
    speedup = _number(options, "speedup", minimum=0.0, strict=True)
    multiply = _number(options, "multiply", minimum=0.0, strict=True)
    try:
        window = parse_window(options.window, "--window")
        multiply_window = parse_window(options.multiply_window, "--multiply-window")
    except WindowError as exc:
        raise ScenarioError(str(exc)) from exc
    parsed = log if log is not None else parse_replay_log(options)
    if not parsed.requests:
        msg = f"--log: no valid request in {options.log} ({len(parsed.malformed)} malformed lines)"
        raise ScenarioError(msg)
    plan = ReplayPlan.from_log(
        parsed,
        speedup=speedup,
        multiply=multiply,
        window=window,
        multiply_window=multiply_window,
    )
    if not plan.requests:
        msg = f"--window {options.window!r}: no request of the log falls inside it"
        raise ScenarioError(msg)
    return plan
