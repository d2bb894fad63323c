"""Start and stop the whole local distribution.

``python -m edge.stack up`` (and ``edgedrill up``) is the supervisor: it
starts the DNS zone, one process per S3 region and the edge, each bound to
127.0.0.1 on a free port, serves the control API, writes the state file, and
runs until SIGINT, SIGTERM, end of stdin (with ``--watch-stdin``) or a child
dying. Every exit path stops every child by PID (children also die with the
supervisor on their own: see :mod:`edge.process`), then removes the state
file.

One ``up`` per state file: before starting anything it takes an exclusive
``flock`` on ``<state>.lock`` beside the state file and holds it for its whole
life (the kernel drops it when the process ends, however it ends), so a
second ``up`` on the same file stops at once, naming the PID that holds it.

The state file is created with mode 0600: it holds ``control_token``, the
bearer token of the control API and of every agent.

From Python, :func:`launch` runs the supervisor in a process of its own and
returns a :class:`RunningStack`::

    with launch(Path(".edgedrill/state.json"), objects=50) as stack:
        requests.get(f"{stack.state.edge_url}/{stack.state.sample_keys[0]}")
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from edge import settings
from edge.process import (
    READY_TIMEOUT_S,
    Child,
    ChildError,
    create_time,
    is_ours,
    kill_pid,
    pid_alive,
    stop_process,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

DEFAULT_STATE = Path(".edgedrill/state.json")
DEFAULT_REGIONS = ("us-east-1", "eu-west-1")
ROUTING_NAME = "origins.edgedrill.test"
BUCKET = "edgedrill-media"
FUNCTION = "edgedrill-router"
POP = "IAD89-P1"
POP_REGION = "us-east-1"
LAUNCH_TIMEOUT_S = 120.0
_SUPERVISE_POLL_S = 0.2
# Far above any real state file (100,000 sample keys is about 3 MB).
_MAX_STATE_BYTES = 64 << 20
# How long a refused `up` waits for the holder to have written its PID.
_HOLDER_WAIT_S = 1.0


class StackError(RuntimeError):
    """The local distribution could not start, or its state file is unusable."""


def _check_numbers(data: dict[str, Any], source: str) -> None:
    """``pids`` must hold integers and ``create_times`` numbers: ``down`` signals by them."""
    for key, kinds in (("pids", (int,)), ("create_times", (int, float))):
        for name, value in data.get(key, {}).items():
            if isinstance(value, bool) or not isinstance(value, kinds):
                msg = f"{source}: state field {key!r}: {name!r} must be a number"
                raise StackError(msg)


@dataclass(frozen=True, slots=True)
class StackState:
    """The state file's fields (docs/formats.md); extra fields are kept in ``extra``."""

    edge_url: str
    dns: str
    routing_name: str
    regions: dict[str, str]
    sample_keys: list[str]
    log_dir: str
    pids: dict[str, int]
    control_url: str
    bucket: str
    function: str
    pop: str
    control_token: str  # bearer token of the control API and the agents
    origins: dict[str, str] = field(default_factory=dict)  # region -> S3 domain name
    # name -> start time of the process in ``pids``: a PID alone may name a stranger by now
    create_times: dict[str, float] = field(default_factory=dict)
    s3_direct: dict[str, str] = field(default_factory=dict)  # region -> moto URL, no fault proxy
    # "dns", "edge", "s3:<region>" -> that process's agent URL (same bearer token)
    agents: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _REQUIRED = (
        "edge_url",
        "dns",
        "routing_name",
        "regions",
        "sample_keys",
        "log_dir",
        "pids",
        "control_url",
        "bucket",
        "function",
        "pop",
        "control_token",
    )

    @classmethod
    def from_json(cls, data: object, source: str = "<state>") -> StackState:
        """Check and build from a decoded state document."""
        if not isinstance(data, dict):
            msg = f"{source}: the state file must hold a JSON object"
            raise StackError(msg)
        for key in cls._REQUIRED:
            if key not in data:
                msg = f"{source}: state field {key!r} is missing"
                raise StackError(msg)
        for key in ("regions", "pids", "create_times", "origins", "s3_direct", "agents"):
            if not isinstance(data.get(key, {}), dict):
                msg = f"{source}: state field {key!r} must be an object"
                raise StackError(msg)
        if not isinstance(data["sample_keys"], list):
            msg = f"{source}: state field 'sample_keys' must be a list"
            raise StackError(msg)
        if not isinstance(data["control_token"], str) or not data["control_token"]:
            msg = f"{source}: state field 'control_token' must be a non-empty string"
            raise StackError(msg)
        _check_numbers(data, source)
        known = set(cls._REQUIRED) | {"origins", "create_times", "s3_direct", "agents"}
        return cls(
            **{key: data[key] for key in cls._REQUIRED},
            origins=dict(data.get("origins", {})),
            create_times=dict(data.get("create_times", {})),
            s3_direct=dict(data.get("s3_direct", {})),
            agents=dict(data.get("agents", {})),
            extra={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def load(cls, path: str | Path) -> StackState:
        """Read a state file; anything but one is a :class:`StackError` naming the file."""
        source = Path(path)
        try:
            with source.open("rb") as handle:
                raw = handle.read(_MAX_STATE_BYTES + 1)
        except OSError as exc:
            msg = f"{source}: cannot read the state file: {exc.strerror or exc}"
            raise StackError(msg) from exc
        if len(raw) > _MAX_STATE_BYTES:
            msg = f"{source}: not a state file (larger than {_MAX_STATE_BYTES >> 20} MB)"
            raise StackError(msg)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = (
                f"{source}: not a state file (not UTF-8 text: byte 0x{raw[exc.start]:02x} "
                f"at offset {exc.start})"
            )
            raise StackError(msg) from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"{source}: not valid JSON at line {exc.lineno}: {exc.msg}"
            raise StackError(msg) from exc
        except RecursionError as exc:
            msg = f"{source}: not a state file (JSON nested too deeply)"
            raise StackError(msg) from exc
        return cls.from_json(data, str(source))

    def to_json(self) -> dict[str, Any]:
        """The state document."""
        data = asdict(self)
        extra = data.pop("extra")
        return {**data, **extra}

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a file), readable by its owner only."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
        # mkstemp creates 0600 already; say so explicitly before the token is written.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, indent=2)
            handle.write("\n")
        Path(tmp).replace(path)


# -- one `up` per state file -------------------------------------------------------


def lock_path(state_path: Path) -> Path:
    """The lock file of ``state_path``: ``<state>.lock`` beside it."""
    return state_path.with_name(state_path.name + ".lock")


class StateLock:
    """The exclusive ``flock`` on ``<state>.lock`` that the ``up`` owning a state file holds.

    The lock file is never removed: removing it would let a second ``up`` lock
    a new file while a third still waits on the old one.
    """

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.path = lock_path(state_path)
        self._fd: int | None = None

    def _open_locked(self) -> int:
        """Open and lock the file, or raise :class:`StackError` naming the holder."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            msg = f"{self.state_path}: cannot open its lock file {self.path}: {exc.strerror}"
            raise StackError(msg) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            msg = (
                f"{self.state_path}: a local distribution is already running or starting on "
                f"this state file (pid {holder} holds {self.path}); stop it first "
                f"(`edgedrill down --state {self.state_path}`)"
            )
            raise StackError(msg) from None
        except OSError as exc:
            os.close(fd)
            msg = f"{self.state_path}: cannot lock {self.path}: {exc.strerror}"
            raise StackError(msg) from exc
        return fd

    def acquire(self) -> StateLock:
        """Take the lock for this process's life and write its PID into the lock file."""
        fd = self._open_locked()
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def check_free(self) -> None:
        """Raise :class:`StackError` if another process holds the lock (taking it only briefly)."""
        os.close(self._open_locked())

    def release(self) -> None:
        """Let the next ``up`` have the state file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _holder(fd: int) -> str:
    """The PID written by the lock's holder (it writes it right after taking the lock)."""
    deadline = time.monotonic() + _HOLDER_WAIT_S
    while True:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.02)


# -- the supervisor ---------------------------------------------------------------


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``up`` (shared by ``python -m edge.stack up`` and ``edgedrill up``)."""
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="state file to write")
    parser.add_argument(
        "--regions",
        default=",".join(DEFAULT_REGIONS),
        help="comma-separated S3 regions (primary first)",
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="log directory (default: beside the state)"
    )
    for declared in settings.UP_SETTINGS:
        declared.add_to(parser)
    parser.add_argument(
        "--no-origin-group", action="store_true", help="no secondary origin (no failover)"
    )
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin closes")
    parser.add_argument("--quiet", action="store_true", help="print nothing once up")


def _check(args: argparse.Namespace) -> list[str]:
    """What the options' own ranges cannot say: the region list and the TTL order."""
    regions = [r.strip() for r in str(args.regions).split(",") if r.strip()]
    problems = []
    if not 1 <= len(regions) <= 8:
        problems.append("--regions: give one to eight regions, primary first")
    if len(set(regions)) != len(regions):
        problems.append("--regions: a region is listed twice")
    if not 0 <= args.min_ttl <= args.default_ttl <= args.max_ttl:
        problems.append("--min-ttl/--default-ttl/--max-ttl: need min <= default <= max")
    return problems


class Supervisor:
    """Runs the children of one local distribution."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state_path = Path(args.state).resolve()
        self.log_dir: Path = (args.log_dir or self.state_path.parent / "logs").resolve()
        self.run_dir = self.state_path.parent / f"run-{os.getpid()}"
        self.regions = [r.strip() for r in str(args.regions).split(",") if r.strip()]
        self.children: dict[str, Child] = {}
        self.control: Any = None
        # 32 random bytes: the control API's and every agent's bearer token.
        self.token = secrets.token_urlsafe(32)
        self.state: StackState | None = None
        self._stop = threading.Event()

    def request_stop(self, *_: object) -> None:
        """Ask the supervisor to shut down (signal handlers, stdin watch)."""
        self._stop.set()

    def start(self) -> StackState:
        """Start every child, the control API, and write the state file."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The children's config files hold the token.
        self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for sub in ("lambda", "cloudfront"):
            folder = self.log_dir / sub
            folder.mkdir(exist_ok=True)
            for old in folder.glob("*.log"):
                old.unlink()
        deadline = time.monotonic() + READY_TIMEOUT_S
        domains = {region: f"{BUCKET}.s3.{region}.amazonaws.com" for region in self.regions}
        self.children["dns"] = Child(
            "dns",
            "edge.dns_service",
            {
                "txt": [
                    {
                        "name": ROUTING_NAME,
                        "values": list(domains.values()),
                        "ttl": self.args.txt_ttl,
                    }
                ],
                "a": [
                    {"name": d, "address": "127.0.0.1", "ttl": self.args.a_ttl}
                    for d in domains.values()
                ],
                "control_token": self.token,
            },
            self.run_dir,
        )
        for region in self.regions:
            self.children[f"s3:{region}"] = Child(
                f"s3:{region}",
                "edge.s3_regions",
                {
                    "region": region,
                    "bucket": BUCKET,
                    "objects": self.args.objects,
                    "seed": self.args.seed,
                    "control_token": self.token,
                },
                self.run_dir,
            )
        dns = self.children["dns"].wait_ready(deadline)
        regions = {
            name: child.wait_ready(deadline)
            for name, child in self.children.items()
            if name != "dns"
        }
        router_config = self._router_config(dns["dns"], domains)
        edge_ready = self._start_edge(dns["dns"], domains, regions, router_config, deadline)
        from edge.control import ControlApi

        agents = {"dns": dns["agent"], "edge": edge_ready["agent"]}
        agents.update({name: ready["agent"] for name, ready in regions.items()})
        self.control = ControlApi(agents, self.token).serve(self.args.control_port)
        first = regions[f"s3:{self.regions[0]}"]
        self.state = StackState(
            edge_url=edge_ready["edge_url"],
            dns=dns["dns"],
            routing_name=ROUTING_NAME,
            regions={r: regions[f"s3:{r}"]["endpoint"] for r in self.regions},
            sample_keys=list(first["keys"]),
            log_dir=str(self.log_dir),
            pids={"up": os.getpid(), **{name: child.pid for name, child in self.children.items()}},
            create_times={
                "up": create_time(os.getpid()),
                **{name: child.create_time for name, child in self.children.items()},
            },
            control_url=self.control.url,
            bucket=BUCKET,
            function=FUNCTION,
            pop=POP,
            control_token=self.token,
            origins=domains,
            s3_direct={r: regions[f"s3:{r}"]["backend"] for r in self.regions},
            agents=agents,
            extra={"router_config": str(router_config), "pop_region": POP_REGION},
        )
        self.state.write(self.state_path)
        return self.state

    def _router_config(self, dns: str, domains: dict[str, str]) -> Path:
        config = {
            "routing_name": ROUTING_NAME,
            "nameservers": [dns],
            "origins": [{"region": r, "domain": d, "weight": 1} for r, d in domains.items()],
            "lookup_timeout_ms": self.args.lookup_timeout_ms,
            "min_ttl": self.args.router_min_ttl,
        }
        from router.config import parse_config

        parse_config(config)
        path: Path = self.run_dir / "router-config.json"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return path

    def _start_edge(
        self,
        dns: str,
        domains: dict[str, str],
        regions: dict[str, dict[str, Any]],
        router_config: Path,
        deadline: float,
    ) -> dict[str, Any]:
        a = self.args
        origins = []
        for region in self.regions:
            port = int(str(regions[f"s3:{region}"]["endpoint"]).rsplit(":", 1)[1])
            origins.append(
                {"id": f"s3-{region}", "domain": domains[region], "region": region, "port": port}
            )
        config = {
            "origins": origins,
            "dns": dns,
            "log_dir": str(self.log_dir),
            "pop": POP,
            "port": a.edge_port,
            "origin_group": not a.no_origin_group and len(origins) > 1,
            "cache": {
                "min_ttl": a.min_ttl,
                "default_ttl": a.default_ttl,
                "max_ttl": a.max_ttl,
                "error_ttl": a.error_ttl,
                "max_bytes": a.cache_mb << 20,
            },
            "origin_settings": {
                "connection_attempts": a.connection_attempts,
                "connection_timeout_s": a.connection_timeout_s,
                "response_timeout_s": a.response_timeout_s,
            },
            "function": {
                "name": FUNCTION,
                "memory_mb": a.memory_mb,
                "timeout_s": a.trigger_timeout_s,
                "concurrency_limit": a.concurrency_limit,
                "idle_reap_s": a.idle_reap_s,
                "region": POP_REGION,
                "router_config": str(router_config),
            },
            "control_token": self.token,
        }
        self.children["edge"] = Child("edge", "edge.server", config, self.run_dir)
        return self.children["edge"].wait_ready(deadline)

    def supervise(self) -> int:
        """Wait for a stop request or a child's death; 0 on a requested stop."""
        while not self._stop.wait(_SUPERVISE_POLL_S):
            for name, child in self.children.items():
                if not child.alive():
                    logger.error("%s (pid %d) died: %s", name, child.pid, child.tail_stderr())
                    sys.stderr.write(f"edgedrill up: {name} died unexpectedly; stopping\n")
                    return 1
        return 0

    def shutdown(self) -> None:
        """Stop the control API and every child, then remove the state file."""
        if self.control is not None:
            with contextlib.suppress(Exception):
                self.control.stop()
        for child in reversed(list(self.children.values())):
            with contextlib.suppress(Exception):
                child.stop()
        with contextlib.suppress(OSError, ValueError, RecursionError, AttributeError):
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            if state.get("pids", {}).get("up") == os.getpid():
                self.state_path.unlink()
        with contextlib.suppress(OSError):
            for path in self.run_dir.iterdir():
                path.unlink()
            self.run_dir.rmdir()


def _existing_stack(state_path: Path) -> int | None:
    """The ``up`` PID of a live stack using ``state_path``, else None (a stale file is removed)."""
    if not state_path.exists():
        return None
    try:
        data = json.loads(state_path.read_text(encoding="utf-8"))
        pid = int(data["pids"]["up"])
        started = data.get("create_times", {}).get("up")
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if is_ours(pid, None if started is None else float(started)):
        return pid
    with contextlib.suppress(OSError):
        state_path.unlink()
    return None


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_up(args: argparse.Namespace) -> int:
    """Run the supervisor in this process until it is told to stop."""
    problems = _check(args)
    if problems:
        raise StackError("; ".join(problems))
    # Before anything starts: a second `up` on this file must not get as far as a child.
    lock = StateLock(args.state.resolve()).acquire()
    try:
        return _run_locked(args)
    finally:
        lock.release()


def _run_locked(args: argparse.Namespace) -> int:
    running = _existing_stack(args.state.resolve())
    if running is not None:
        msg = (
            f"{args.state}: a local distribution is already running (up pid {running}); "
            "run `edgedrill down` first"
        )
        raise StackError(msg)
    supervisor = Supervisor(args)
    previous = {
        sig: signal.signal(sig, supervisor.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    if args.watch_stdin:
        from edge.process import watch_stdin

        watch_stdin(supervisor.request_stop)
    try:
        try:
            state = supervisor.start()
        except (ChildError, OSError, ValueError) as exc:
            raise StackError(f"could not start the local distribution: {exc}") from exc
        if not args.quiet:
            _say(_banner(state, supervisor.state_path))
        return supervisor.supervise()
    finally:
        supervisor.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _banner(state: StackState, state_path: Path) -> str:
    lines = [
        f"edgedrill local distribution is up (state: {state_path})",
        f"  edge      {state.edge_url}   (POP {state.pop})",
        f"  control   {state.control_url}   (bearer token: control_token in the state file)",
        f"  dns       {state.dns}   (TXT {state.routing_name})",
    ]
    lines += [f"  s3 {region:<10} {url}" for region, url in state.regions.items()]
    lines += [
        f"  logs      {state.log_dir}",
        f"  try       curl -i {state.edge_url}/{state.sample_keys[0]}",
        f"Ctrl-C or `edgedrill down --state {state_path}` stops it.",
    ]
    return "\n".join(lines)


def down(state_path: Path, timeout: float = 20.0) -> list[str]:
    """Stop the distribution of ``state_path`` by PID and start time; returns what was stopped.

    A PID that now names another process (the state file is stale and the PID
    was reused, or the file has no start times) is left alone, with a warning.
    """
    state = StackState.load(state_path)
    stopped = []
    # The supervisor first: it stops its children in order, and none restarts.
    names = sorted(state.pids, key=lambda name: name != "up")
    for name in names:
        pid = int(state.pids[name])
        if not pid_alive(pid):
            continue
        if not is_ours(pid, state.create_times.get(name)):
            logger.warning(
                "%s: pid %d (%s) is not the process it recorded (another process has that pid "
                "now); left it alone",
                state_path,
                pid,
                name,
            )
            continue
        if kill_pid(pid, state.create_times.get(name), timeout):
            stopped.append(f"{name} ({pid})")
    with contextlib.suppress(OSError):
        state_path.unlink()
    return stopped


# -- launching from Python --------------------------------------------------------


class RunningStack:
    """A local distribution started by :func:`launch`; stop it with :meth:`stop` or ``with``."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        state: StackState,
        state_path: Path,
        stderr: IO[bytes],
    ) -> None:
        self.process = process
        self.state = state
        self.state_path = state_path
        self._stderr = stderr
        self._stopped = False
        atexit.register(self.stop)

    @property
    def pids(self) -> dict[str, int]:
        """Every process of the distribution."""
        return dict(self.state.pids)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the supervisor and make sure no child is left (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        stop_process(self.process, timeout)
        for name, pid in self.state.pids.items():
            started = self.state.create_times.get(name)
            if name != "up" and is_ours(pid, started):
                logger.warning("%s (pid %d) outlived the supervisor; killing it", name, pid)
                kill_pid(pid, started)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        self._stderr.close()
        with contextlib.suppress(OSError):
            if _existing_stack(self.state_path) is None and self.state_path.exists():
                self.state_path.unlink()
        atexit.unregister(self.stop)

    def __enter__(self) -> RunningStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def launch(
    state_path: Path,
    *,
    objects: int = settings.OBJECTS.default,
    regions: Sequence[str] = DEFAULT_REGIONS,
    log_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = LAUNCH_TIMEOUT_S,
) -> RunningStack:
    """Start the local distribution in its own processes and wait (bounded) for its state file."""
    state_path = Path(state_path).resolve()
    # The child takes the lock for good; this only fails fast, before a process starts.
    StateLock(state_path).check_free()
    running = _existing_stack(state_path)
    if running is not None:
        msg = f"{state_path}: a local distribution is already running (up pid {running})"
        raise StackError(msg)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "edge.stack",
        "up",
        "--state",
        str(state_path),
        "--objects",
        str(objects),
        "--regions",
        ",".join(regions),
        "--watch-stdin",
        "--quiet",
    ]
    if log_dir is not None:
        command += ["--log-dir", str(Path(log_dir).resolve())]
    command += list(extra_args)
    stderr_path = state_path.with_name(state_path.stem + ".up.stderr.log")
    stderr = stderr_path.open("wb")
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                detail = stderr_path.read_text(encoding="utf-8", errors="replace").strip()[-2000:]
                code = process.returncode
                msg = f"the local distribution exited with {code} during start-up: {detail}"
                raise StackError(msg)
            if state_path.exists():
                with contextlib.suppress(StackError):
                    state = StackState.load(state_path)
                    if state.pids.get("up") == process.pid:
                        return RunningStack(process, state, state_path, stderr)
            if time.monotonic() > deadline:
                msg = f"the distribution did not start within {timeout:.0f} s (see {stderr_path})"
                raise StackError(msg)
            time.sleep(0.05)
    except BaseException:
        stop_process(process)
        if process.stdin is not None:
            process.stdin.close()
        stderr.close()
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge.stack up|down ...``."""
    parser = argparse.ArgumentParser(prog="python -m edge.stack")
    commands = parser.add_subparsers(dest="command", required=True)
    add_up_arguments(commands.add_parser("up", help="start the local distribution"))
    down_parser = commands.add_parser("down", help="stop it")
    down_parser.add_argument("--state", type=Path, default=DEFAULT_STATE)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s up %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "up":
            return run_up(args)
        for line in down(args.state):
            _say(f"stopped {line}")
    except StackError as exc:
        sys.stderr.write(f"edge.stack {args.command}: error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
