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

import argparse
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.settings import (
    MEMORY_MB,
    OBJECTS,
    ROUTER_MIN_TTL,
    TXT_TTL,
    Setting,
    SettingError,
    setting,
)
from loadtests._cloudfront_log import LogError, log_files, read_log
from loadtests._errors import LoadtestError
from loadtests._plans import ReplayPlan, SpikePlan
from loadtests._popularity import ZipfKeys
from loadtests._replay_schedule import WindowError, parse_window
from loadtests._run_folder import DEFAULT_RESULTS_DIR
from loadtests._schedule import Arrivals, spike_profile

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chaos.stop import StopCondition
    from chaos.timeline import TimedFault
    from loadtests._cloudfront_log import ParsedLog

_WEEK_S = 7 * 86_400.0

# Scenario settings, each declared once (``edgedrill run`` passes some of them on).
POOL_LATENCY = setting(
    "--pool-latency",
    float,
    0.5,
    (0, 3600),
    "response time in seconds the user pool absorbs at the peak rate before requests start "
    "late; users = peak rps x this. The request rate is the scenario's, never the user "
    "count's: users are the pool that sends it (-u sets the pool; the web UI's user count "
    "only raises it)",
    open_bounds="<",
)
LATE_THRESHOLD_MS = setting(
    "--late-threshold-ms",
    float,
    10.0,
    (0, 3_600_000),
    "a request that starts more than this after its due time counts as late",
)
DRAIN_TIMEOUT = setting(
    "--drain-timeout",
    float,
    15.0,
    (0, 3600),
    "seconds to wait at the end for late and in-flight requests",
)
BASELINE_RPS = setting(
    "--baseline-rps",
    float,
    5.0,
    (0, 1_000_000),
    "baseline request rate, requests/s",
    open_bounds="<",
)
SPIKE_FACTOR = setting(
    "--spike-factor",
    float,
    20.0,
    (0, 10_000),
    "the spike is this many times the baseline",
    open_bounds="<",
)
SPIKE_AT = setting("--spike-at", float, 15.0, (0, _WEEK_S), "seconds of baseline before the spike")
SPIKE_HOLD = setting(
    "--spike-hold", float, 25.0, (0, _WEEK_S), "seconds the spike holds at its peak"
)
RAMP = setting(
    "--ramp", float, 0.0, (0, _WEEK_S), "seconds to ramp up to the peak and back down; 0 is a step"
)
COOLDOWN = setting("--cooldown", float, 15.0, (0, _WEEK_S), "seconds of baseline after the spike")
ZIPF_S = setting(
    "--zipf-s", float, 1.0, (0, 100), "Zipf exponent of object popularity; 0 is uniform"
)
SPEEDUP = setting(
    "--speedup",
    float,
    1.0,
    (0, 1_000_000),
    "compress time by this factor (2: twice as fast)",
    open_bounds="<",
)
MULTIPLY = setting(
    "--multiply",
    float,
    1.0,
    (0, 1_000_000),
    "scale the request rate by this factor",
    open_bounds="<",
)
SPIKE_SETTINGS = (BASELINE_RPS, SPIKE_FACTOR, SPIKE_AT, SPIKE_HOLD, RAMP, COOLDOWN)
# Passed on to the local distribution a scenario starts (``edgedrill up`` takes them too).
LOCAL_SETTINGS: tuple[Setting[int], ...] = (TXT_TTL, ROUTER_MIN_TTL)


class ScenarioError(LoadtestError):
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
        help=f"where new run folders are created (default: {DEFAULT_RESULTS_DIR})",
        include_in_web_ui=False,
    )
    group.add_argument(
        "--keys",
        default="",
        help="file of object keys, one per line, to request from a distribution given "
        "with --host (the local distribution and --state FILE bring their own)",
    )
    for declared in (POOL_LATENCY, LATE_THRESHOLD_MS, DRAIN_TIMEOUT):
        declared.add_to(group)
    group.add_argument(
        "--seed", type=int, default=0, help="seed for arrivals and key choice (default: 0)"
    )
    OBJECTS.add_to(group, include_in_web_ui=False)
    MEMORY_MB.add_to(group)
    for local in LOCAL_SETTINGS:
        local.add_to(group, include_in_web_ui=False)
    group.add_argument(
        "--origin-region-header",
        default="x-edgedrill-origin-region",
        help="response header that names the origin region, when the edge reports it",
        include_in_web_ui=False,
    )
    add_chaos_arguments(parser)


class _AddFault(argparse.Action):
    """``--fault`` is repeatable, its value one string of faults separated by spaces.

    Locust's web UI edits an option as text and converts it back to the type
    of its current value; a list is split at commas there, which every timed
    fault holds (``bucket:503,at=20s,for=30s``). A string of space-separated
    faults survives the web UI, ``locust.conf`` and ``LOCUST_FAULT`` alike.
    """

    def __call__(
        self, parser: Any, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        current = str(getattr(namespace, self.dest, "") or "")
        setattr(namespace, self.dest, f"{current} {values}".strip())


def add_chaos_arguments(parser: Any) -> None:
    """Faults on the run's timeline (``--fault``, ``--drill``) and the distribution they hit."""
    group = _group(parser, "chaos")
    group.add_argument(
        "--fault",
        action=_AddFault,
        default="",
        help="a fault on the run's timeline: FAULT,at=S,for=S[,region=R][,probability=P], "
        "e.g. bucket:503,at=20s,for=30s; repeatable (in the web UI: separated by spaces)",
    )
    group.add_argument(
        "--drill",
        default="",
        help="drill file (TOML): [[fault]] entries and an optional [stop] condition",
    )
    group.add_argument(
        "--state",
        default="",
        help="state file of a distribution started with `edgedrill up`: drive it (and inject "
        "its faults) instead of starting a local one",
        include_in_web_ui=False,
    )


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults of a run's options: the timeline, the stop condition, where they came from."""

    timeline: tuple[TimedFault, ...]
    stop: StopCondition | None
    drill: str

    def __bool__(self) -> bool:
        """Whether there is anything for an experiment to do."""
        return bool(self.timeline) or self.stop is not None


def fault_plan(options: argparse.Namespace) -> FaultPlan:
    """Parse ``--fault`` and ``--drill``; a bad one is a :class:`ScenarioError` naming it."""
    from chaos.errors import ChaosError
    from chaos.timeline import COMMAND_LINE, load_drill, parse_timed_fault

    texts = str(getattr(options, "fault", "") or "").replace(";", " ").split()
    drill_file = str(getattr(options, "drill", "") or "")
    try:
        timeline = [parse_timed_fault(text) for text in texts]
        drill = load_drill(drill_file) if drill_file else None
    except ChaosError as exc:
        raise ScenarioError(str(exc)) from exc
    if drill is None:
        return FaultPlan(tuple(timeline), None, COMMAND_LINE)
    return FaultPlan((*timeline, *drill.faults), drill.stop, drill.source)


def flag_given(argv: Sequence[str], flag: str) -> bool:
    """Whether ``argv`` gives ``flag``, as ``--flag VALUE`` or ``--flag=VALUE``."""
    return any(arg == flag or arg.startswith(flag + "=") for arg in argv)


# Locust's master options this module defaults differently with --processes.
_MASTER_KEYS = ("master_bind_host", "master_bind_port", "master_port")


class _NotGiven:
    """The parser default of a master option, so that a value given in any source shows."""

    def __repr__(self) -> str:
        return "<not given>"


_NOT_GIVEN = _NotGiven()


def local_workers_on_loopback(parser: Any) -> None:
    """With ``--processes``, the master listens on 127.0.0.1, on a free port.

    Locust's ``--processes`` forks its workers on this machine and points them
    at 127.0.0.1, yet its master listens on every interface at port 5557: open
    to the network, and a second drill on the same machine fails to bind.

    ``--processes`` may come from the command line, a ``LOCUST_*`` variable or
    ``locust.conf``, and only Locust's own parse knows which: the parser's
    ``parse_known_args`` is wrapped to decide on the parsed options. The master
    options default to a marker, so a value given in any source (even
    Locust's own default spelled out) still wins: these are defaults.
    """
    if parser.get_default(_MASTER_KEYS[0]) is _NOT_GIVEN:
        return  # this parser is already wrapped
    locust_defaults = {key: parser.get_default(key) for key in _MASTER_KEYS}
    parser.set_defaults(**dict.fromkeys(_MASTER_KEYS, _NOT_GIVEN))
    parse_known_args = parser.parse_known_args

    def parse_then_default(*args: Any, **kwargs: Any) -> tuple[argparse.Namespace, list[str]]:
        options, rest = parse_known_args(*args, **kwargs)
        _default_master_options(options, locust_defaults)
        return options, rest

    parser.parse_known_args = parse_then_default


def _default_master_options(options: argparse.Namespace, locust_defaults: dict[str, Any]) -> None:
    """Fill the master options no source gave: on loopback for ``--processes``, else Locust's."""
    given = {key for key in _MASTER_KEYS if getattr(options, key, None) is not _NOT_GIVEN}
    # A --worker --processes parent forks workers only: its master is elsewhere.
    processes = bool(getattr(options, "processes", None))
    forks_master = processes and not getattr(options, "worker", False)
    chosen = dict(locust_defaults)
    if forks_master:
        chosen["master_bind_host"] = "127.0.0.1"
        if not given & {"master_bind_port", "master_port"}:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            chosen.update(master_bind_port=port, master_port=port)
    for key in set(_MASTER_KEYS) - given:
        setattr(options, key, chosen[key])


def add_spike_arguments(parser: Any) -> None:
    """Options of ``spike.py``."""
    group = _group(parser, "spike")
    for declared in SPIKE_SETTINGS:
        declared.add_to(group)
    group.add_argument(
        "--arrivals",
        choices=[a.value for a in Arrivals],
        default=Arrivals.UNIFORM.value,
        help="evenly spaced arrivals, or a Poisson process of the same rate (default: uniform)",
    )
    ZIPF_S.add_to(group)


def add_replay_arguments(parser: Any) -> None:
    """Options of ``replay.py``."""
    group = _group(parser, "replay")
    group.add_argument(
        "--log",
        default="",
        help="CloudFront standard access log: a file (plain or .gz) or a folder of them",
    )
    SPEEDUP.add_to(group)
    MULTIPLY.add_to(group)
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


def _value(options: argparse.Namespace, declared: Setting[Any]) -> Any:
    """An option's value checked against its declaration (the web UI bypasses the parser)."""
    try:
        return declared.check(getattr(options, declared.dest))
    except SettingError as exc:
        raise ScenarioError(str(exc)) from exc


def local_settings(options: argparse.Namespace) -> tuple[str, ...]:
    """The ``up`` arguments of :data:`LOCAL_SETTINGS` for the local distribution."""
    args: list[str] = []
    for declared in LOCAL_SETTINGS:
        args += [declared.flag, str(_value(options, declared))]
    return tuple(args)


def common_checks(options: argparse.Namespace) -> None:
    """Reject common options that cannot work."""
    for declared in (POOL_LATENCY, LATE_THRESHOLD_MS, DRAIN_TIMEOUT, MEMORY_MB, OBJECTS):
        _value(options, declared)
    fault_plan(options)


def check_host(host: str) -> str:
    """``host`` without a trailing ``/``; a ``ScenarioError`` if it is not an http(s) URL.

    Without a scheme every request of the run would fail; with a trailing
    slash every path would start with ``//``, which the HTTP client refuses.
    """
    if not host:
        return host
    parts = urllib.parse.urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        msg = (
            f"--host must be an http:// or https:// URL, got {host!r} "
            f"(e.g. http://{parts.netloc or host.split('/')[0]})"
        )
        raise ScenarioError(msg)
    return host.rstrip("/")


def same_host(host: str, other: str) -> bool:
    """Whether two base URLs name the same distribution (scheme, host and port)."""
    first, second = urllib.parse.urlsplit(host), urllib.parse.urlsplit(other)
    return (first.scheme.lower(), first.netloc.lower()) == (
        second.scheme.lower(),
        second.netloc.lower(),
    )


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
            msg = (
                "--keys FILE is required with --host: the object keys to request "
                "(or --state FILE of `edgedrill up` for that distribution)"
            )
            raise ScenarioError(msg)
        keys = read_keys(options.keys)
    baseline, factor, at, hold, ramp, cooldown = (
        _value(options, declared) for declared in SPIKE_SETTINGS
    )
    zipf_s = _value(options, ZIPF_S)
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
    speedup = _value(options, SPEEDUP)
    multiply = _value(options, MULTIPLY)
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
