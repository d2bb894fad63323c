"""Child processes of the local distribution: start, handshake, watch the parent, stop.

Every part of the distribution (the DNS zone, each S3 region, the edge) runs
in a process of its own, started by the ``up`` supervisor as
``python -m <module> --config FILE``. The handshake is one JSON line on the
child's stdout (``{"ready": {...}}``) once every listener is bound; after it
the child writes nothing more to stdout.

No child may outlive the supervisor, whatever way it ends (SIGKILL included):

* Linux ``PR_SET_PDEATHSIG`` asks the kernel to send SIGTERM to the child when
  its parent dies;
* independently, the child watches its stdin, a pipe only the parent holds
  open: end of file means the parent is gone.

Stopping is always by PID: SIGTERM, a bounded wait, then SIGKILL. A process
named by a state file (not our child) is signalled only while its PID still
belongs to the process that was recorded: the PID and its start time
(:func:`create_time`) together, never its command line.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
# psutil adds /proc/stat's btime (whole seconds, moved when the wall clock is
# stepped) to the start tick, so one process can read up to a second apart.
# A reused PID cannot start that close to its predecessor: a recorded process
# ran at least until its stack wrote the state file, and the PID space had to
# wrap around after that.
_SAME_START_S = 1.5


class ChildError(RuntimeError):
    """A child process failed to start or died."""


def set_parent_death_signal(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def watch_stdin(on_eof: Callable[[], None]) -> threading.Thread:
    """Call ``on_eof`` once stdin reaches end of file (the parent closed it or died)."""

    def run() -> None:
        with contextlib.suppress(OSError, ValueError):
            while os.read(sys.stdin.fileno(), 4096):
                pass
        on_eof()

    thread = threading.Thread(target=run, name="parent-watch", daemon=True)
    thread.start()
    return thread


def run_child(
    name: str,
    start: Callable[[dict[str, Any]], tuple[dict[str, Any], Callable[[], None]]],
    argv: list[str] | None = None,
) -> int:
    """Entry point of a child: start the service, report ready, serve until told to stop.

    ``start`` receives the decoded config file and returns the ready payload
    and a function that stops the service. The process ends on SIGTERM,
    SIGINT, or end of stdin.
    """
    set_parent_death_signal()
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or args[0] != "--config":
        sys.stderr.write(f"usage: python -m {name} --config FILE\n")
        return 2
    logging.basicConfig(
        level=os.environ.get("EDGEDRILL_LOG_LEVEL", "WARNING"),
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    stop_event = threading.Event()

    def request_stop(*_: object) -> None:
        stop_event.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    watch_stdin(request_stop)
    config = json.loads(Path(args[1]).read_text(encoding="utf-8"))
    try:
        ready, stop = start(config)
    except Exception as exc:
        logger.exception("%s failed to start", name)
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        sys.stdout.flush()
        return 1
    sys.stdout.write(json.dumps({"ready": ready}) + "\n")
    sys.stdout.flush()
    while not stop_event.wait(0.5):
        pass
    try:
        stop()
    except Exception:
        logger.exception("%s failed to stop cleanly", name)
        return 1
    return 0


class Child:
    """A child process seen from the supervisor."""

    def __init__(self, name: str, module: str, config: Mapping[str, Any], run_dir: Path) -> None:
        self.name = name
        self.module = module
        self.ready: dict[str, Any] = {}
        safe = name.replace(":", "-")
        config_path = run_dir / f"{safe}.json"
        # Owner-only from the first byte: the config carries the control token.
        fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=1)
        self.stderr_path = run_dir / f"{safe}.stderr.log"
        self._stderr: IO[bytes] = self.stderr_path.open("wb")
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--config", str(config_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=False,
        )

        # Read while the child cannot have been reaped: its start time identifies it later.
        self.create_time = create_time(self.process.pid)

    @property
    def pid(self) -> int:
        """The child's PID."""
        return self.process.pid

    def wait_ready(self, deadline: float) -> dict[str, Any]:
        """Block until the child's ready line arrives (or raise ChildError)."""
        stdout = self.process.stdout
        if stdout is None:
            msg = f"{self.name}: no stdout pipe"
            raise ChildError(msg)
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"{self.name} not ready in time; see {self.stderr_path}"
                raise ChildError(msg)
            readable, _, _ = select.select([stdout], [], [], min(remaining, 0.2))
            if readable:
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    msg = f"{self.name} exited during start-up: {self.tail_stderr()}"
                    raise ChildError(msg)
                buffer += chunk
        message = json.loads(buffer.split(b"\n", 1)[0])
        if "error" in message:
            msg = f"{self.name} failed to start: {message['error']}"
            raise ChildError(msg)
        self.ready = dict(message["ready"])
        return self.ready

    def tail_stderr(self, lines: int = 15) -> str:
        """The last lines the child wrote to stderr."""
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; returns the exit code."""
        stop_process(self.process, timeout)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()
        return self.process.returncode


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """Terminate ``process`` by its PID, escalating to SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        logger.warning("pid %d ignored SIGTERM; killing it", process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=timeout)


def create_time(pid: int) -> float:
    """When ``pid`` started, in seconds since the epoch; recorded beside the PID.

    Raises:
        psutil.NoSuchProcess: no process has ``pid``.
    """
    return float(psutil.Process(pid).create_time())


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists and is not a zombie."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _recorded(pid: int, started: float | None) -> psutil.Process | None:
    """The live process ``pid`` if it is the one that started at ``started``."""
    if started is None:
        return None
    try:
        process = psutil.Process(pid)
        same = abs(process.create_time() - started) <= _SAME_START_S
    except psutil.Error:
        return None
    return process if same and _running(process) else None


def _running(process: psutil.Process) -> bool:
    # is_running() is False once the PID belongs to another process.
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def is_ours(pid: int, started: float | None) -> bool:
    """Whether ``pid`` is still the process recorded with start time ``started``.

    A state file outlives its processes, and their PIDs get reused: only the
    PID and the start time together name a process. ``None`` (a state file
    without start times) is never ours.
    """
    return _recorded(pid, started) is not None


def kill_pid(pid: int, started: float | None, timeout: float = STOP_TIMEOUT_S) -> bool:
    """SIGTERM then SIGKILL the recorded process ``pid``; True once it is gone.

    False when it outlived SIGKILL or when ``pid`` is not the process that
    started at ``started``: then it is never signalled.
    """
    process = _recorded(pid, started)
    if process is None:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            # psutil refuses to signal a PID that now names another process.
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            return True
        except psutil.AccessDenied:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _running(process):
                return True
            time.sleep(0.05)
        if sig is signal.SIGTERM:
            logger.warning("pid %d ignored SIGTERM; killing it", pid)
    return not _running(process)


def _fast_loop() -> Any:
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopThread:
    """An asyncio event loop running in a daemon thread of its own."""

    def __init__(self, name: str, fast: bool = False) -> None:
        """``fast``: run uvloop's event loop where it is installed (asyncio's otherwise)."""
        import asyncio

        self._asyncio = asyncio
        self.loop = _fast_loop() if fast else asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Any, timeout: float | None = 30.0) -> Any:
        """Run ``coroutine`` on the loop and wait for its result."""
        return self._asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        """Stop the loop and join its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
