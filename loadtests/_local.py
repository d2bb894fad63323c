"""The embedded default: the local distribution started for one Locust run.

A scenario run without ``--host`` drives the local distribution
(:mod:`edge.stack`): its DNS zone, two S3 regions and the edge server, each
in its own process, bound to 127.0.0.1. They are started here with a state
file and log folder in a private temporary folder, and stopped (processes by
their PIDs, the folder removed) by :meth:`LocalDistribution.stop`, which the
hooks call on every way out of Locust.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edge.settings import MEMORY_MB, OBJECTS

logger = logging.getLogger(__name__)

STATE_FILE = "state.json"
LOG_DIR = "logs"


class LocalDistribution:
    """A running local distribution and the folder it writes into."""

    def __init__(self, running: Any, workdir: Path, memory_mb: int) -> None:
        self._running = running
        self.workdir = workdir
        state = running.state
        self.edge_url: str = str(_get(state, "edge_url"))
        self.keys: tuple[str, ...] = tuple(_get(state, "sample_keys"))
        self.log_dir = Path(str(_get(state, "log_dir", workdir / LOG_DIR)))
        self.regions: dict[str, str] = dict(_get(state, "regions", {}) or {})
        self.bucket: str = str(_get(state, "bucket", "") or "")
        # For faults: the control API and its bearer token (every call needs it).
        self.state_path = workdir / STATE_FILE
        self.control_url: str = str(_get(state, "control_url", "") or "")
        self.control_token: str = str(_get(state, "control_token", "") or "")
        self.memory_mb = memory_mb
        self._stopped = False

    @property
    def state(self) -> Any:
        """The distribution's state (the fields of the state file)."""
        return self._running.state

    def flush_logs(self) -> None:
        """Ask the distribution to write out buffered log lines, if it can."""
        flush = getattr(self._running, "flush_logs", None)
        if callable(flush):
            flush()

    def stop(self) -> None:
        """Stop every process of the distribution and remove its folder (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._running.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _get(state: Any, name: str, default: Any = ...) -> Any:
    value = state.get(name, default) if isinstance(state, dict) else getattr(state, name, default)
    if value is ...:
        msg = f"the local distribution's state has no {name!r}"
        raise KeyError(msg)
    return value


def start_local(
    *,
    objects: int = OBJECTS.default,
    memory_mb: int = MEMORY_MB.default,
    extra_args: tuple[str, ...] = (),
) -> LocalDistribution:
    """Start the local distribution (its function at ``memory_mb``) and wait until it serves."""
    from edge import stack

    workdir = Path(tempfile.mkdtemp(prefix="edgedrill-local-"))
    try:
        running = stack.launch(
            workdir / STATE_FILE,
            objects=objects,
            log_dir=workdir / LOG_DIR,
            extra_args=("--memory-mb", str(memory_mb), *extra_args),
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        return LocalDistribution(running, workdir, memory_mb)
    except BaseException:
        running.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
