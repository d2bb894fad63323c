"""``edgedrill package`` and ``edgedrill invoke``: build and run the router."""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgedrill.errors import CliError

if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the router commands."""
    package = subparsers.add_parser(
        "package",
        help="build the Lambda@Edge deployment zip",
        description="Build the router's Lambda@Edge zip (router, validated config, dnspython) "
        "and print its path.",
    )
    package.add_argument(
        "--config", type=Path, help="router config JSON (default: router/config.json)"
    )
    package.add_argument(
        "--out", type=Path, default=Path("dist"), help="output folder (default: dist)"
    )
    package.set_defaults(func=package_command)

    invoke = subparsers.add_parser(
        "invoke",
        help="run the router on an event in a fresh execution environment",
        description="Run router.handler on EVENT.json in a fresh execution environment: a cold "
        "start, then N warm invocations. The last returned request goes to stdout, log lines "
        "and a timing summary to stderr.",
    )
    invoke.add_argument("event", type=Path, metavar="EVENT.json")
    invoke.add_argument(
        "--config", type=Path, help="router config JSON (default: router/config.json)"
    )
    invoke.add_argument(
        "--repeat", type=int, default=0, metavar="N", help="warm invocations after the first"
    )
    invoke.set_defaults(func=invoke_command)


def package_command(args: argparse.Namespace) -> int:
    """Build the zip and print its path."""
    from router.errors import ConfigError
    from router.packaging import PackageError, build_package

    try:
        package = build_package(args.out, args.config)
    except (ConfigError, PackageError) as exc:
        raise CliError(str(exc)) from exc
    print(  # noqa: T201
        f"built {package.files} files, {package.zipped_bytes:,} bytes zipped "
        f"(limit {50 * 1024 * 1024:,}); handler router.handler.handler",
        file=sys.stderr,
    )
    print(package.path)  # noqa: T201
    return 0


def _read_event(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start}): an event is JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}:{exc.lineno}:{exc.colno}: malformed event JSON: {exc.msg}") from exc
    except RecursionError:
        raise CliError(f"{path}: unusable event JSON: nested too deeply") from None


def _percentile(sorted_values: list[float], share: float) -> float:
    index = max(0, min(len(sorted_values) - 1, round(share * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def invoke_command(args: argparse.Namespace) -> int:
    """Cold start, then ``--repeat`` warm invocations, timed around the handler call alone."""
    from router.config import load_config
    from router.errors import ConfigError, EventError
    from router.handler import create_environment

    if args.repeat < 0:
        raise CliError("--repeat must be >= 0")
    event = _read_event(args.event)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    lines: list[str] = []
    env = create_environment(config, sink=lines.append)
    timings: list[float] = []
    result: object = None
    for _ in range(args.repeat + 1):
        payload = copy.deepcopy(event)
        started = time.perf_counter()
        try:
            result = env.handle(payload, None)
        except EventError as exc:
            raise CliError(f"{args.event}: {exc}") from exc
        timings.append((time.perf_counter() - started) * 1e6)
        if lines:
            sys.stderr.write("\n".join(lines) + "\n")
            lines.clear()
    print(json.dumps(result, indent=2))  # noqa: T201
    ordered = sorted(timings)
    summary = (
        f"invocations={len(timings)} p50_us={_percentile(ordered, 0.50):.1f} "
        f"p99_us={_percentile(ordered, 0.99):.1f} max_us={ordered[-1]:.1f} "
        f"dns_queries={env.dns_queries}"
    )
    sys.stderr.write(summary + "\n")
    return 0
