"""The run folder: ``results/runs/<UTC stamp>-<scenario>/`` and its ``run.json``.

Other tools read a run folder by the names :mod:`edgedrill_formats.run_folder`
declares (re-exported here for the scenarios): the analysis, the report, the
capacity gate. This module names the folder, writes
``run.json`` and copies the local distribution's logs in; the per-request and
per-second files are :mod:`loadtests._records`'.
"""

from __future__ import annotations

import json
import math
import platform
import shutil
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from edgedrill_formats.run_folder import LOCUST_CSV_PREFIX as LOCUST_CSV_PREFIX
from edgedrill_formats.run_folder import LOGS_DIR as LOGS_DIR
from edgedrill_formats.run_folder import MALFORMED_TXT as MALFORMED_TXT
from edgedrill_formats.run_folder import RATE_CSV as RATE_CSV
from edgedrill_formats.run_folder import REQUESTS_CSV as REQUESTS_CSV
from edgedrill_formats.run_folder import RUN_JSON as RUN_JSON
from edgedrill_formats.run_folder import STAMP_FORMAT as STAMP_FORMAT
from loadtests._errors import LoadtestError

DEFAULT_RESULTS_DIR = Path("results") / "runs"


def stamp(moment: datetime | None = None) -> str:
    """The UTC stamp of a run folder name (``20261126T173148Z``)."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def run_dir_name(scenario: str, moment: datetime | None = None) -> str:
    """``<UTC stamp>-<scenario>``."""
    return f"{stamp(moment)}-{scenario}"


def create_run_dir(base: Path, scenario: str, moment: datetime | None = None) -> Path:
    """Create a fresh run folder under ``base``; never reuses one.

    Two runs started within the same second would share a name; the later one
    takes the next free second, so names keep their pattern and stay unique.
    """
    moment = (moment or datetime.now(UTC)).replace(microsecond=0)
    try:
        base.mkdir(parents=True, exist_ok=True)
        for bump in range(3600):
            path = base / run_dir_name(scenario, moment + timedelta(seconds=bump))
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
    except OSError as exc:
        msg = f"--out {base}: cannot make a run folder there: {exc.strerror or exc}"
        raise LoadtestError(msg) from exc
    msg = f"no free run folder name under {base} for {scenario}"
    raise FileExistsError(msg)


def claim_run_dir(path: Path) -> Path:
    """Use ``path`` as the run folder: created if missing, refused if it holds a run."""
    if (path / RUN_JSON).exists() or (path / REQUESTS_CSV).exists():
        msg = f"--run-dir: {path} already holds a run"
        raise FileExistsError(msg)
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions() -> dict[str, str]:
    """Versions of edgedrill, Locust and Python, for ``run.json``."""
    found = {"python": platform.python_version()}
    for name in ("edgedrill", "locust"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def jsonable(value: object) -> Any:
    """``value`` made JSON-safe (paths and unknown objects as strings, no NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def write_run_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``run.json`` atomically (a reader never sees half a file)."""
    target = path / RUN_JSON
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(jsonable(document), indent=2, sort_keys=True) + "\n")
    partial.replace(target)


def copy_logs(log_dir: Path, run_dir: Path) -> Path | None:
    """Copy the local distribution's ``log_dir`` to ``run_dir/logs`` (replacing it)."""
    if not log_dir.is_dir():
        return None
    target = run_dir / LOGS_DIR
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(log_dir, target)
    return target
