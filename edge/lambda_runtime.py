"""Lambda execution environments for the origin-request function.

What a drill depends on, as Lambda does it:

* One invocation per environment at a time. Each environment is a thread of
  its own holding one router :class:`~router.handler.Environment`, so a slow
  DNS lookup in one never blocks another.
* A new environment is a cold start through the router's own initialisation
  path (``load_config`` then ``create_environment``), timed as Init Duration.
  Idle environments are reused, most recently used first, and reaped after
  ``idle_reap_s``.
* A per-region concurrency limit (1,000 by default): an invocation that
  would need one more environment than the limit is throttled.
* The origin-trigger timeout (30 s): the invocation fails and its
  environment is discarded.
* Per invocation, the log group ``/aws/lambda/us-east-1.<function>`` of the
  region the function ran in receives ``START``, the function's own lines
  (its EMF line and anything it logs), ``END`` and ``REPORT`` in Lambda's
  exact format (docs/formats.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import random
import resource
import subprocess
import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from edge.fault_specs import LambdaFault, LambdaFaultKind
from edge.linefile import LineFile, PerSecond
from router.config import load_config
from router.handler import create_environment

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

logger = logging.getLogger(__name__)

ORIGIN_TRIGGER_TIMEOUT_S = 30.0
# A warm invocation whose DNS answer stays cached this long runs on the
# caller's thread: it cannot block on the network.
_INLINE_MARGIN_S = 1.0
DEFAULT_CONCURRENCY_LIMIT = 1_000
_INIT_TIMEOUT_S = 10.0  # Lambda's limit on the init phase


class Outcome(StrEnum):
    """How an invocation ended, as CloudFront sees it."""

    OK = "ok"
    ERROR = "error"  # the function raised (LambdaExecutionError, 503)
    TIMEOUT = "timeout"  # ran past the trigger timeout (LambdaExecutionError, 503)
    THROTTLED = "throttled"  # over the concurrency limit (LambdaLimitExceeded, 503)


@dataclass(frozen=True, slots=True)
class FunctionSettings:
    """The deployed function as the local distribution runs it."""

    name: str = "edgedrill-router"
    version: str = "1"
    memory_mb: int = 128
    timeout_s: float = ORIGIN_TRIGGER_TIMEOUT_S
    concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT
    idle_reap_s: float = 300.0
    region: str = "us-east-1"  # where the function runs: the POP's region
    router_config: Path | None = None  # the config bundled with the function

    @property
    def log_group(self) -> str:
        """``/aws/lambda/us-east-1.<function>`` (Lambda@Edge replicas keep the home region)."""
        return f"/aws/lambda/us-east-1.{self.name}"


@dataclass(slots=True)
class Invocation:
    """The result of one invocation."""

    outcome: Outcome
    value: Any = None
    error: str = ""
    request_id: str = ""
    duration_ms: float = 0.0
    init_ms: float | None = None
    environment: int = 0


class LambdaContext:
    """The context object the Python runtime passes to the handler."""

    __slots__ = (
        "_deadline",
        "aws_request_id",
        "function_name",
        "function_version",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
    )

    def __init__(
        self, settings: FunctionSettings, request_id: str, stream: str, deadline: float
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = f"us-east-1.{settings.name}"
        self.function_version = settings.version
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{settings.name}:{settings.version}"
        )
        self.memory_limit_in_mb = str(settings.memory_mb)
        self.log_group_name = settings.log_group
        self.log_stream_name = stream
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the trigger timeout."""
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def _iso_second(second: int) -> str:
    m = datetime.fromtimestamp(second, UTC)
    # Formatted field by field: strftime costs more than the rest of a log line.
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"


_iso_seconds = PerSecond(_iso_second)


def iso_timestamp(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds and ``Z`` (the log files' timestamp)."""
    # Rounded to the microsecond as datetime.fromtimestamp does, then cut to ms.
    fraction, whole = math.modf(epoch)
    second, within = int(whole), round(fraction * 1_000_000)
    if within >= 1_000_000:
        second, within = second + 1, within - 1_000_000
    return f"{_iso_seconds(second)}.{within // 1000:03d}Z"


class LogGroupWriter(LineFile):
    r"""Appends ``<ISO ts>\\t<message>`` lines to one log group's file."""

    def write_events(self, events: list[tuple[float, str]]) -> None:
        """Write one invocation's events together (they stay in order in the file).

        The caller hands ``events`` over: it is formatted later, on the loop.
        """
        self.write_later(partial(_event_lines, events))


def _event_lines(events: list[tuple[float, str]]) -> str:
    return "".join(f"{iso_timestamp(ts)}\t{message}\n" for ts, message in events)


def report_line(
    request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int, init_ms: float | None
) -> str:
    """Lambda's REPORT line; Billed Duration rounds up to the next 1 ms (since 2020-12)."""
    billed = max(math.ceil(duration_ms), 1)
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_used_mb} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line


@dataclass(frozen=True, slots=True)
class RuntimeProfile:
    """What a fresh interpreter costs to bring the router up, measured once per edge."""

    import_ms: float
    memory_mb: int


def measure_runtime(timeout: float = 20.0) -> RuntimeProfile:
    """Import ``router.handler`` in a fresh interpreter: its import time and peak RSS.

    Every environment of the edge shares one interpreter, where the router's
    modules are imported once; Lambda imports them in each new environment.
    That import is measured here for real, once, and each cold start spends
    that long before its own ``load_config`` and ``create_environment``.
    """
    code = (
        "import json, resource, time\n"
        "t = time.perf_counter()\n"
        "import router.handler\n"
        "ms = (time.perf_counter() - t) * 1000\n"
        "print(json.dumps([ms, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout
        import_ms, rss_kb = json.loads(out.strip().splitlines()[-1])
        return RuntimeProfile(float(import_ms), max(math.ceil(int(rss_kb) / 1024), 1))
    except (subprocess.SubprocessError, ValueError, OSError, IndexError):
        logger.warning("could not measure the router's import; Init Duration leaves it out")
        return RuntimeProfile(
            0.0, max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, 1)
        )


class _LogCapture(logging.Handler):
    """Sends log records emitted inside an invocation to that invocation's events."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        events: list[tuple[float, str]] | None = getattr(self.local, "events", None)
        if events is None:
            return
        request_id = getattr(self.local, "request_id", "")
        text = record.getMessage().replace("\n", " | ")
        # The Python runtime's format: [LEVEL]\t<timestamp>\t<request id>\t<message>
        events.append(
            (
                record.created,
                f"[{record.levelname}]\t{iso_timestamp(record.created)}\t{request_id}\t{text}",
            )
        )


_CAPTURE = _LogCapture()
logging.getLogger("router").addHandler(_CAPTURE)


class _NotPlain(Exception):
    """A value that is not made of exactly JSON's own types."""


_MAX_PLAIN_DEPTH = 64


def _plain_copy(value: Any, depth: int = 0) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if depth > _MAX_PLAIN_DEPTH:  # deep, or a cycle: json tells which
        raise _NotPlain
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            copy[key] = _plain_copy(item, depth + 1)
        return copy
    if kind is list:
        return [_plain_copy(item, depth + 1) for item in value]
    raise _NotPlain


def over_the_wire(value: Any) -> Any:
    """``value`` as CloudFront receives it: ``json.loads(json.dumps(value))``.

    Raises TypeError or ValueError as ``json.dumps`` does (the runtime's
    ``Runtime.MarshalError``). A value made only of dicts with string keys,
    lists, strings, numbers, booleans and None (what a router returns) is
    copied directly, at about half the cost; anything else (tuples, other
    keys, subclasses, cycles) takes the real round trip.
    """
    try:
        return _plain_copy(value)
    except _NotPlain:
        return json.loads(json.dumps(value))


@dataclass(slots=True)
class _Job:
    event: Any
    future: Future[Invocation] | None  # None: run inline, the caller takes the result
    deadline: float
    fault: LambdaFault | None


class ExecutionEnvironment:
    """One Lambda execution environment: a thread running one invocation at a time."""

    def __init__(self, pool: FunctionPool, number: int) -> None:
        self.pool = pool
        self.number = number
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.router: Any = None
        self.events: list[tuple[float, str]] = []
        self.dead = False
        self.current: str = ""
        self.init_ms: float | None = None
        self.invocations = 0
        self.last_used = time.monotonic()
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.stream = f"{day}/[{pool.settings.version}]{uuid.uuid4().hex}"
        self.thread = threading.Thread(target=self._run, name=f"lambda-env-{number}", daemon=True)
        self.thread.start()

    def _sink(self, line: str) -> None:
        self.events.append((time.time(), line))

    def _run(self) -> None:
        reap_s = self.pool.settings.idle_reap_s
        wait_s = reap_s
        while True:
            try:
                job = self.jobs.get(timeout=wait_s)
            except queue.Empty:
                # Invocations run inline do not pass through this queue: the
                # environment is idle for reap_s since its last use, not since
                # this thread last woke.
                wait_s = self.last_used + reap_s - time.monotonic()
                if wait_s <= 0:
                    if self.pool.reap(self):
                        return
                    wait_s = reap_s
                continue
            wait_s = reap_s
            if job is None:
                return
            if self.run(job)[1]:
                return

    def run(self, job: _Job) -> tuple[Invocation, bool]:
        """Run one invocation and hand the environment back: its result, and whether it died."""
        result = self._invoke(job)
        if result.outcome is Outcome.ERROR:
            self.pool.stats.errors += 1
        if job.future is not None and not job.future.done():
            job.future.set_result(result)
        if self.dead:
            self.pool.discard(self)
            return result, True
        self.pool.release(self)
        return result, False

    def runs_inline(self) -> bool:
        """Whether a warm invocation here can run without blocking its caller on I/O."""
        router = self.router
        return router is not None and router.cache.answers_without_query(_INLINE_MARGIN_S)

    def _init(self) -> float:
        started = time.perf_counter()
        # The router's modules are already imported in this shared interpreter;
        # a new Lambda environment imports them afresh, so the init takes that
        # long too (measured for real in a fresh interpreter, see measure_runtime).
        time.sleep(self.pool.profile.import_ms / 1000.0)
        config = (
            load_config(self.pool.settings.router_config)
            if self.pool.settings.router_config
            else None
        )
        self.router = create_environment(config, sink=self._sink)
        return (time.perf_counter() - started) * 1000.0

    def _invoke(self, job: _Job) -> Invocation:
        settings = self.pool.settings
        request_id = str(uuid.uuid4())
        self.current = request_id
        self.events = []
        init_ms: float | None = None
        self.init_ms = None
        if self.router is None:
            try:
                init_ms = self.init_ms = self._init()
            except Exception as exc:
                self.dead = True
                message = f"[ERROR] Runtime.ImportModuleError: {type(exc).__name__}: {exc}"
                self.pool.log.write_events([(time.time(), message)])
                return Invocation(Outcome.ERROR, error=message, request_id=request_id)
        self.events.append(
            (time.time(), f"START RequestId: {request_id} Version: {settings.version}")
        )
        context = LambdaContext(settings, request_id, self.stream, job.deadline)
        _CAPTURE.local.events, _CAPTURE.local.request_id = self.events, request_id
        started = time.perf_counter()
        outcome, value, error = Outcome.OK, None, ""
        try:
            value = self._call(job, context)
        except Exception as exc:
            outcome, error = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
            frames = " | ".join(line.strip() for line in traceback.format_exc().splitlines()[1:-1])
            self.events.append((time.time(), f"[ERROR] {error}\tTraceback: {frames}"))
        finally:
            _CAPTURE.local.events = None
        duration_ms = (time.perf_counter() - started) * 1000.0
        self.invocations += 1
        if self.dead:  # timed out meanwhile: the pool already wrote its lines
            return Invocation(Outcome.TIMEOUT, request_id=request_id, environment=self.number)
        if outcome is Outcome.OK:
            try:
                value = over_the_wire(value)
            except (TypeError, ValueError) as exc:
                outcome, error = Outcome.ERROR, f"Runtime.MarshalError: {exc}"
                self.events.append((time.time(), f"[ERROR] {error}"))
        self._finish(request_id, duration_ms, init_ms)
        return Invocation(outcome, value, error, request_id, duration_ms, init_ms, self.number)

    def _call(self, job: _Job, context: LambdaContext) -> Any:
        fault = job.fault
        if fault is not None and fault.kind is LambdaFaultKind.DELAY:
            time.sleep(fault.delay_ms / 1000.0)
        if fault is not None and fault.kind is LambdaFaultKind.TIMEOUT:
            time.sleep(max(job.deadline - time.monotonic(), 0.0) + 0.5)
        if fault is not None and fault.kind is LambdaFaultKind.ERROR:
            msg = "injected fault: the function raised"
            raise RuntimeError(msg)
        value = self.router.handle(job.event, context)
        if fault is not None and fault.kind is LambdaFaultKind.INVALID and isinstance(value, dict):
            value.pop("uri", None)
            value["headers"] = "not-a-header-map"
        if fault is not None and fault.kind is LambdaFaultKind.READONLY and isinstance(value, dict):
            headers = value.get("headers")
            if isinstance(headers, dict):
                headers["via"] = [{"key": "Via", "value": "1.1 changed-by-function"}]
        return value

    def _finish(self, request_id: str, duration_ms: float, init_ms: float | None) -> None:
        settings = self.pool.settings
        now = time.time()
        self.events.append((now, f"END RequestId: {request_id}"))
        used = min(self.pool.runtime_memory_mb, settings.memory_mb)
        self.events.append(
            (now, report_line(request_id, duration_ms, settings.memory_mb, used, init_ms))
        )
        self.pool.log.write_events(self.events)
        self.events = []


@dataclass(slots=True)
class PoolStats:
    """Counters of the function's environments and invocations."""

    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0
    errors: int = 0
    timeouts: int = 0
    reaped: int = 0
    peak_concurrency: int = 0
    init_ms: list[float] = field(default_factory=list)


class FunctionPool:
    """The function's environments in one region, with its concurrency limit."""

    def __init__(
        self,
        settings: FunctionSettings,
        log_dir: Path,
        faults: Callable[[], list[LambdaFault]] = list,
        profile: RuntimeProfile | None = None,
        seed: int | None = None,
    ) -> None:
        self.settings = settings
        self.log = LogGroupWriter(log_dir / "lambda" / f"{settings.region}.{settings.name}.log")
        self.profile = profile or measure_runtime()
        self.runtime_memory_mb = self.profile.memory_mb
        self._faults = faults
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self._numbers = 0
        self.concurrency_limit = settings.concurrency_limit
        self.stats = PoolStats()

    @property
    def environments(self) -> int:
        """Environments alive now, idle or busy."""
        with self._lock:
            return len(self._idle) + len(self._busy)

    def _fault(self) -> LambdaFault | None:
        for fault in self._faults():
            if self._random.random() < fault.probability:
                return fault
        return None

    def submit(self, event: Any) -> Future[Invocation]:
        """Start an invocation; the future resolves to its :class:`Invocation`.

        A throttled invocation resolves at once. The caller enforces the
        trigger timeout with :meth:`timed_out`.
        """
        started = self.invoke(event)
        if isinstance(started, Future):
            return started
        future: Future[Invocation] = Future()
        future.set_result(started)
        return future

    def invoke(self, event: Any) -> Invocation | Future[Invocation]:
        """Like :meth:`submit`, but an invocation finished on this thread is returned as is.

        That is a throttled one, or a warm one in which nothing can sleep or
        wait on the network: it runs on the caller's thread, sparing the
        hand-off to the environment's own and the future.
        """
        with self._lock:
            if self._idle:
                env = self._idle.pop()
            elif len(self._busy) >= self.concurrency_limit:
                self.stats.throttles += 1
                return Invocation(Outcome.THROTTLED, error="Rate Exceeded.")
            else:
                self._numbers += 1
                env = ExecutionEnvironment(self, self._numbers)
                self.stats.cold_starts += 1
            self._busy.add(env)
            self.stats.invocations += 1
            self.stats.peak_concurrency = max(self.stats.peak_concurrency, len(self._busy))
        deadline = time.monotonic() + self.settings.timeout_s
        fault = self._fault()
        if fault is None and env.runs_inline():
            result, died = env.run(_Job(event, None, deadline, None))
            if died:
                env.jobs.put(None)
            return result
        future: Future[Invocation] = Future()
        future.environment = env  # type: ignore[attr-defined]
        env.jobs.put(_Job(event, future, deadline, fault))
        return future

    def discard(self, env: ExecutionEnvironment) -> None:
        """Forget a dead environment (idempotent)."""
        with self._lock:
            self._busy.discard(env)
            if env in self._idle:
                self._idle.remove(env)

    def release(self, env: ExecutionEnvironment) -> None:
        """Return ``env`` to the idle list after its invocation."""
        env.last_used = time.monotonic()
        with self._lock:
            self._busy.discard(env)
            if not env.dead:
                self._idle.append(env)

    def reap(self, env: ExecutionEnvironment) -> bool:
        """Drop an environment idle for ``idle_reap_s``; False if it was just picked."""
        with self._lock:
            if env in self._idle:
                self._idle.remove(env)
                self.stats.reaped += 1
                return True
            return False

    def timed_out(self, future: Future[Invocation]) -> Invocation:
        """Record a timeout for ``future``'s invocation and discard its environment."""
        env: ExecutionEnvironment = future.environment  # type: ignore[attr-defined]
        env.dead = True
        with self._lock:
            self._busy.discard(env)
            self.stats.timeouts += 1
        request_id = env.current
        timeout_s = self.settings.timeout_s
        now = time.time()
        used = min(self.runtime_memory_mb, self.settings.memory_mb)
        events = list(env.events)
        events += [
            (
                now,
                f"{iso_timestamp(now)} {request_id} Task timed out after {timeout_s:.2f} seconds",
            ),
            (now, f"END RequestId: {request_id}"),
            (
                now,
                report_line(
                    request_id, timeout_s * 1000.0, self.settings.memory_mb, used, env.init_ms
                ),
            ),
        ]
        self.log.write_events(events)
        return Invocation(
            Outcome.TIMEOUT,
            error=f"Task timed out after {timeout_s:.2f} seconds",
            request_id=request_id,
            duration_ms=timeout_s * 1000.0,
        )

    def snapshot(self) -> dict[str, Any]:
        """Counters and sizes for the control API."""
        with self._lock:
            idle, busy = len(self._idle), len(self._busy)
        s = self.stats
        return {
            "environments": idle + busy,
            "idle": idle,
            "busy": busy,
            "concurrency_limit": self.concurrency_limit,
            "invocations": s.invocations,
            "cold_starts": s.cold_starts,
            "throttles": s.throttles,
            "errors": s.errors,
            "timeouts": s.timeouts,
            "reaped": s.reaped,
            "peak_concurrency": s.peak_concurrency,
        }

    def close(self) -> None:
        """Stop every idle environment and close the log."""
        with self._lock:
            envs = list(self._idle) + list(self._busy)
            self._idle.clear()
        for env in envs:
            env.jobs.put(None)
        with contextlib.suppress(OSError):
            self.log.close()
