"""Building the Lambda@Edge deployment zip.

The zip holds the ``router`` package (without this build module), a validated
``router/config.json`` and dnspython's ``dns`` package, laid out as Lambda
unpacks it into ``/var/task``; the handler setting is
``router.handler.handler``. Entries are written in sorted order with a fixed
timestamp, so the same inputs give the same bytes (and the same CodeSha256).
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from router.config import BUNDLED_CONFIG, RouterConfig, load_config

# Lambda@Edge quotas: origin triggers take a 50 MB zipped package, viewer
# triggers 1 MB (CloudFront developer guide, "Quotas on Lambda@Edge").
ORIGIN_TRIGGER_MAX_ZIPPED = 50 * 1024 * 1024
HANDLER = "router.handler.handler"

_ROUTER_DIR = Path(__file__).parent
_BUILD_ONLY = frozenset({"packaging.py"})
_FIXED_TIME = (2021, 4, 1, 0, 0, 0)


class PackageError(Exception):
    """The package could not be built within Lambda@Edge's limits."""


@dataclass(frozen=True, slots=True)
class Package:
    """A built deployment zip."""

    path: Path
    config: RouterConfig
    zipped_bytes: int
    files: int


def _dns_package_dir() -> Path:
    spec = importlib.util.find_spec("dns")
    if spec is None or not spec.submodule_search_locations:
        msg = "dnspython is not installed; it is vendored into the package"
        raise PackageError(msg)
    return Path(next(iter(spec.submodule_search_locations)))


def _sources() -> list[tuple[Path, str]]:
    files = [
        (path, f"router/{path.name}")
        for path in sorted(_ROUTER_DIR.glob("*.py"))
        if path.name not in _BUILD_ONLY
    ]
    dns_dir = _dns_package_dir()
    files += [
        (path, f"dns/{path.relative_to(dns_dir).as_posix()}")
        for path in sorted(dns_dir.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".typed"}
    ]
    return files


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def build_package(
    out_dir: Path,
    config_path: Path | None = None,
    *,
    max_zipped: int = ORIGIN_TRIGGER_MAX_ZIPPED,
) -> Package:
    """Validate the config and write ``edgedrill-router.zip`` into ``out_dir``."""
    source = config_path if config_path is not None else BUNDLED_CONFIG
    config = load_config(source)
    # Ship the file as written (after validation), so what was reviewed is what runs.
    config_bytes = source.read_bytes()
    json.loads(config_bytes)
    if out_dir.exists() and not out_dir.is_dir():
        msg = f"--out {out_dir}: exists and is not a folder"
        raise PackageError(msg)
    target = out_dir / "edgedrill-router.zip"
    partial = target.with_suffix(".zip.partial")
    sources = _sources()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(partial, "w") as archive:
            for path, name in sources:
                _add(archive, name, path.read_bytes())
            _add(archive, "router/config.json", config_bytes)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        msg = f"--out {out_dir}: cannot write the package: {exc.strerror or exc}"
        raise PackageError(msg) from None
    size = partial.stat().st_size
    if size > max_zipped:
        partial.unlink()
        msg = f"package is {size:,} bytes zipped; Lambda@Edge origin triggers allow {max_zipped:,}"
        raise PackageError(msg)
    partial.replace(target)
    return Package(target, config, size, len(sources) + 1)
