"""``edgedrill fetch-logs``: a real distribution's router logs, from CloudWatch Logs.

Lambda@Edge logs to ``/aws/lambda/us-east-1.<function>`` in the region of each
edge location that ran it, so the regions that hold the group are those where
viewers were served. Without ``--regions`` they are found: the account's
enabled regions (EC2 ``DescribeRegions``), then ``DescribeLogGroups`` in each,
a few regions at a time. Three uses:

- ``fetch-logs RUN_DIR``: the events of RUN_DIR's span (its ``run.json``) into
  ``RUN_DIR/logs/lambda/<region>.<function>.log``;
- ``fetch-logs RUN_DIR --since 30m [--until ISO]``: a window of a distribution
  edgedrill did not drive, into a new run folder (``run.json`` of scenario
  ``fetched``, a header-only ``requests.csv``) that ``edgedrill report`` analyses;
- ``fetch-logs --request-id ID``: every line holding the id, with its region
  and log stream; exit 1 when no region holds one.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import platform
import re
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edgedrill.aws_options import (
    add_aws_arguments,
    add_function_and_regions,
    aws_api,
    aws_errors,
)
from edgedrill.errors import CliError
from edgedrill_formats.log_dir import LAMBDA_DIR, log_group_file
from edgedrill_formats.records import REQUESTS_COLUMNS
from edgedrill_formats.run_folder import LOGS_DIR, REQUESTS_CSV, RUN_JSON

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from chaos.aws_api import AwsApi

T = TypeVar("T")

_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
# A region the account has not opted in to does not know its credentials:
# STS-signed calls there fail with these codes ("Specify which AWS Regions
# your account can use", AWS Account Management guide).
REFUSING_CODES = frozenset({"UnrecognizedClientException", "AuthFailure", "InvalidClientTokenId"})
# Threads for the per-region calls: enough to cover ~30 regions in a few
# round trips, few enough to stay under CloudWatch Logs' per-account rates.
WORKERS = 8
PROGRESS_EVERY_S = 2.0
FETCHED_SCENARIO = "fetched"
NOT_FOUND_EXIT = 1
# A router line found by a CloudFront request id names the invocation's own
# request id; its START/END/REPORT lines are searched for too (two invocations
# at most per viewer request with an origin group, a few more to spare).
MAX_FOLLOW_UPS = 4


def register(subparsers: Any) -> None:
    """Add ``fetch-logs``."""
    fetch = subparsers.add_parser(
        "fetch-logs",
        help="copy a real distribution's router logs from CloudWatch into a run folder",
        description="Copy the router's CloudWatch log events from /aws/lambda/us-east-1.FUNCTION "
        "in each region into RUN_DIR/logs/lambda/<region>.FUNCTION.log, for edgedrill report "
        "and check. The span is RUN_DIR's run.json, or --since/--until (RUN_DIR is then "
        "created as a run folder of scenario 'fetched'). With --request-id, print that "
        f"request's lines instead (exit {NOT_FOUND_EXIT} when no region holds one).",
    )
    fetch.add_argument(
        "run_dir",
        type=Path,
        metavar="RUN_DIR",
        nargs="?",
        help="the run folder: its run.json gives the span; with --since, a folder to create "
        "(not needed with --request-id)",
    )
    add_function_and_regions(
        fetch,
        "comma-separated regions whose edge locations ran the function (default: every "
        "enabled region of the account that holds the log group)",
    )
    fetch.add_argument(
        "--since",
        type=since_time,
        default=None,
        metavar="30m|2h|ISO",
        help="start of the window: a duration ago (s, m, h, d) or an ISO 8601 time "
        "(UTC unless it names its offset)",
    )
    fetch.add_argument(
        "--until",
        type=until_time,
        default=None,
        metavar="ISO|now",
        help="end of the window: now, a duration ago or an ISO 8601 time (default: now; "
        "needs --since)",
    )
    fetch.add_argument(
        "--request-id",
        default=None,
        metavar="ID",
        help="print the invocation lines (START, the router's line, END, REPORT) of this "
        "Lambda request id, or of CloudFront's request id (the viewer's x-amz-cf-id, the "
        "router line's cf_request_id: both attempts of a failover), with their region and "
        "log stream; writes nothing",
    )
    add_aws_arguments(fetch)
    fetch.set_defaults(func=fetch_logs_command)


# --- flags ---------------------------------------------------------------------


def parse_time(text: str, *, now: float) -> float:
    """``now``, a duration before it (``30m``) or an ISO 8601 time, as epoch seconds."""
    text = text.strip()
    if text.lower() == "now":
        return now
    relative = _DURATION.fullmatch(text)
    if relative:
        return now - int(relative.group(1)) * _UNIT_S[relative.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is not 'now', a duration ago (30m, 2h, 1d) or an ISO 8601 time"
        raise argparse.ArgumentTypeError(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def since_time(text: str) -> float:
    """The argparse ``type`` of ``--since``: not in the future."""
    now = time.time()
    value = parse_time(text, now=now)
    if value > now:
        raise argparse.ArgumentTypeError(f"{text!r} is in the future")
    return value


def until_time(text: str) -> float:
    """The argparse ``type`` of ``--until``."""
    return parse_time(text, now=time.time())


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """A window of log events, epoch seconds; ``None`` leaves that end open."""

    start: float | None
    end: float | None

    def millis(self) -> tuple[int | None, int | None]:
        """Both ends in epoch milliseconds, as FilterLogEvents takes them."""
        return (
            None if self.start is None else int(self.start * 1000),
            None if self.end is None else int(self.end * 1000),
        )


def flag_window(args: argparse.Namespace) -> tuple[float, float] | None:
    """The window ``--since``/``--until`` give, epoch seconds (None without ``--since``)."""
    if args.since is None:
        if args.until is not None:
            raise CliError("--until: needs --since")
        return None
    since = float(args.since)
    until = time.time() if args.until is None else float(args.until)
    if since >= until:
        raise CliError(f"--since: {_iso(since)} is not before --until ({_iso(until)})")
    return since, until


def run_span(run_dir: Path) -> Span:
    """RUN_DIR's span from its run.json, with the analysis' margins for late log lines."""
    from results.analysis import LOG_GRACE_S
    from results.errors import ResultsError
    from results.run_folder import read_run_info

    try:
        info = read_run_info(run_dir / RUN_JSON)
    except ResultsError as exc:
        raise CliError(f"{exc}; or give --since for a window of your own") from exc
    return Span(info.start - 1.0, info.end + LOG_GRACE_S)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- regions -------------------------------------------------------------------


class Cancelled(Exception):
    """Another region's error, or Ctrl-C, stopped this region's work between two pages."""


def in_regions(
    regions: Iterable[str], work: Callable[[str], T], *, cancel: threading.Event | None = None
) -> dict[str, T]:
    """``work(region)`` for each region, a few at a time; the first error stops the rest.

    Regions not started yet are not started; those under way stop at their
    next page when ``cancel`` is the event their progress checks
    (:meth:`_Progress.page`), instead of reading every page of their span first.
    """
    regions = list(regions)
    if not regions:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(WORKERS, len(regions)), thread_name_prefix="region")
    try:
        futures = {region: pool.submit(work, region) for region in regions}
        # The first error, not the first region's end: a region still paging
        # must not hold back the error of one after it.
        wait(futures.values(), return_when=FIRST_EXCEPTION)
        for future in futures.values():
            if future.done() and future.exception() is not None:
                future.result()
        return {region: future.result() for region, future in futures.items()}
    except BaseException:
        if cancel is not None:
            cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def note(text: str) -> None:
    """One line on stderr."""
    print(text, file=sys.stderr, flush=True)  # noqa: T201


def enabled_regions(api: AwsApi) -> list[str]:
    """The account's enabled regions (EC2 DescribeRegions in us-east-1; it has no paginator)."""
    from chaos.aws_api import EDGE_REGION, AwsError, aws_call

    try:
        with aws_call("DescribeRegions", f"the account's regions (ec2 in {EDGE_REGION})"):
            response = api.client("ec2", EDGE_REGION).describe_regions(AllRegions=False)
    except AwsError as exc:
        raise AwsError(
            f"{exc}; or name the regions with --regions",
            operation=exc.operation,
            resource=exc.resource,
            code=exc.code,
        ) from None
    return sorted(
        str(region["RegionName"])
        for region in response.get("Regions") or []
        if region.get("RegionName")
    )


def find_log_regions(
    api: AwsApi,
    function: str,
    *,
    regions: Iterable[str] | None = None,
    client_for: Callable[[str], Any] | None = None,
) -> tuple[str, ...]:
    """The regions (of ``regions``, else the enabled ones) that hold the function's log group.

    A region that refuses the credentials (not opted in) is skipped with a note.
    """
    from chaos.aws_api import AwsError, aws_call
    from results.cloudwatch import edge_log_group, holds_log_group

    group = edge_log_group(function)
    candidates = list(regions) if regions is not None else enabled_regions(api)
    make = client_for or functools.partial(api.client, "logs")

    def probe(region: str) -> bool | None:
        try:
            with aws_call("DescribeLogGroups", f"{group} in {region}"):
                return holds_log_group(make(region), group)
        except AwsError as exc:
            if exc.code in REFUSING_CODES:
                note(
                    f"{region}: skipped, the region refuses these credentials ({exc.code}; "
                    "not enabled for the account?)"
                )
                return None
            raise

    found = tuple(region for region, held in in_regions(candidates, probe).items() if held)
    note(
        f"{group}: in {', '.join(found) or 'no region'} "
        f"({len(found)} of {len(candidates)} regions looked at)"
    )
    return found


# --- the command ---------------------------------------------------------------


def fetch_logs_command(args: argparse.Namespace) -> int:
    """Fetch a span of the router's logs into a run folder, or find one request's lines."""
    window = flag_window(args)
    api = aws_api(args)
    if args.request_id is not None:
        from results.cloudwatch import quoted_term
        from results.errors import ResultsError

        try:
            quoted_term(args.request_id)
        except ResultsError as exc:
            raise CliError(f"--request-id: {exc}") from exc
        if window is not None:
            span = Span(*window)
        else:
            span = run_span(args.run_dir) if args.run_dir else Span(None, None)
        with aws_errors():
            return _find_request(api, args.function, args.regions, args.request_id, span)
    if args.run_dir is None:
        raise CliError("RUN_DIR: required to fetch a span of logs (or give --request-id)")
    if window is None:
        span = run_span(args.run_dir)
        with aws_errors():
            _fetch(api, args.function, args.regions, args.run_dir, span)
        return 0
    _claim(args.run_dir)
    created = not args.run_dir.exists()
    try:
        with aws_errors():
            regions = _fetch(api, args.function, args.regions, args.run_dir, Span(*window))
        _write_fetched_run(args.run_dir, args.function, regions, *window)
    except BaseException:
        if created:
            shutil.rmtree(args.run_dir, ignore_errors=True)
        raise
    return 0


def _claim(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise CliError(f"RUN_DIR: {run_dir} is not a directory")
    if (run_dir / RUN_JSON).exists() or (run_dir / REQUESTS_CSV).exists():
        raise CliError(
            f"RUN_DIR: {run_dir} already holds a run; drop --since/--until to fetch its own "
            "span, or name a new folder"
        )


class _Progress:
    """Events fetched (or found) so far per region, a line on stderr every few seconds."""

    def __init__(self, what: str = "events", clock: Callable[[], float] = time.monotonic) -> None:
        self._what = what
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        # Set by in_regions when the command stops: every region's next page raises.
        self.cancel = threading.Event()

    def page(self, region: str) -> Callable[[int], None]:
        """The ``on_page`` callback of one region's fetch."""
        with self._lock:
            self._last[region] = self._clock()

        def report(count: int) -> None:
            if self.cancel.is_set():
                raise Cancelled(region)
            now = self._clock()
            with self._lock:
                if now - self._last[region] < PROGRESS_EVERY_S:
                    return
                self._last[region] = now
            note(f"{region}: {count:,} {self._what} so far")

        return report


def _fetch(
    api: AwsApi, function: str, regions: tuple[str, ...] | None, run_dir: Path, span: Span
) -> tuple[str, ...]:
    """Write each region's events of ``span``; the regions that held the group."""
    from chaos.aws_api import AwsError, aws_call
    from results.cloudwatch import edge_log_group, fetch_events, write_events
    from results.errors import ResultsError

    group = edge_log_group(function)
    where = regions if regions is not None else find_log_regions(api, function)
    start_ms, end_ms = span.millis()
    progress = _Progress()
    clients = functools.partial(api.client, "logs")

    def fetch(region: str) -> int | None:
        path = run_dir / LOGS_DIR / LAMBDA_DIR / log_group_file(region, function)
        try:
            client = clients(region)
            with aws_call("FilterLogEvents", f"{group} in {region}"):
                events = fetch_events(
                    client, group, start_ms, end_ms, on_page=progress.page(region)
                )
                return write_events(events, path)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                path.unlink(missing_ok=True)
                note(f"{region}: no log group {group} (the function did not run there)")
                return None
            raise
        except ResultsError as exc:
            raise CliError(f"{region} {group}: {exc}") from exc
        except OSError as exc:
            raise CliError(f"{path}: cannot write it ({exc.strerror or exc})") from exc

    counts = in_regions(where, fetch, cancel=progress.cancel)
    held = tuple(region for region, count in counts.items() if count is not None)
    if not held:
        raise CliError(f"--function: no log group {group} in {', '.join(where) or 'any region'}")
    for region in held:
        path = run_dir / LOGS_DIR / LAMBDA_DIR / log_group_file(region, function)
        print(f"{path} ({counts[region]:,} events)")  # noqa: T201
    return held


def _write_fetched_run(
    run_dir: Path, function: str, regions: Iterable[str], start: float, end: float
) -> None:
    """run.json (scenario ``fetched``) and a header-only requests.csv: a run folder of logs only."""
    from results.cloudwatch import edge_log_group

    found = {"python": platform.python_version()}
    try:
        found["edgedrill"] = metadata.version("edgedrill")
    except metadata.PackageNotFoundError:
        found["edgedrill"] = "unknown"
    document = {
        "scenario": FETCHED_SCENARIO,
        "start": start,
        "end": end,
        "local": False,
        "host": "",
        # Logs only, no viewer requests: for a reader that judges the viewers' side.
        "logs_only": True,
        "function": function,
        "log_group": edge_log_group(function),
        "regions": list(regions),
        "args": {"since": _iso(start), "until": _iso(end)},
        "versions": found,
    }
    # No viewer requests were recorded: the header alone says so to the analysis.
    (run_dir / REQUESTS_CSV).write_text(",".join(REQUESTS_COLUMNS) + "\n", encoding="utf-8")
    partial = run_dir / (RUN_JSON + ".partial")
    partial.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(run_dir / RUN_JSON)
    print(  # noqa: T201
        f"{run_dir / RUN_JSON} (scenario {FETCHED_SCENARIO}, {_iso(start)} to {_iso(end)}): "
        f"edgedrill report {run_dir}"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Found:
    """One line holding the request id."""

    timestamp: int
    stream: str
    line: str


def _find_request(
    api: AwsApi, function: str, regions: tuple[str, ...] | None, request_id: str, span: Span
) -> int:
    """Print every line holding ``request_id``, region and stream first; 1 when none."""
    from chaos.aws_api import AwsError, aws_call
    from results.cloudwatch import edge_log_group, fetch_events, quoted_term
    from results.errors import ResultsError

    group = edge_log_group(function)
    where = regions if regions is not None else find_log_regions(api, function)
    start_ms, end_ms = span.millis()
    clients = functools.partial(api.client, "logs")
    # A search reads every page of the span, most of them empty: say it is under way.
    progress = _Progress("matching lines")

    def search(client: Any, region: str, wanted: str) -> list[Mapping[str, object]]:
        try:
            with aws_call("FilterLogEvents", f"{group} in {region} ({wanted})"):
                events = fetch_events(
                    client,
                    group,
                    start_ms,
                    end_ms,
                    filter_pattern=quoted_term(wanted),
                    on_page=progress.page(region),
                )
                return list(events)
        except ResultsError as exc:
            raise CliError(f"{region} {group}: {exc}") from exc

    def find(region: str) -> list[Found] | None:
        client = clients(region)
        try:
            events = search(client, region, request_id)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                note(f"{region}: no log group {group}")
                return None
            raise
        # An invocation's own search comes first: its lines in the order they were logged.
        for other in _invocation_ids(events, request_id)[:MAX_FOLLOW_UPS]:
            events = search(client, region, other) + events
        return _lines(events)

    searched = in_regions(where, find, cancel=progress.cancel)
    found = {region: lines for region, lines in searched.items() if lines}
    for region, lines in found.items():
        for item in lines:
            print(f"{region}\t{item.stream}\t{item.line}")  # noqa: T201
    if not found:
        within = "" if span.start is None else f" from {_iso(span.start)}"
        within += "" if span.end is None else f" to {_iso(span.end)}"
        raise CliError(
            f"--request-id: {request_id} is in no line of {group} in "
            f"{', '.join(where) or 'any region'}{within}",
            exit_code=NOT_FOUND_EXIT,
        )
    summary = ", ".join(f"{region} ({len(lines)} lines)" for region, lines in found.items())
    note(f"{request_id}: from {summary}")
    return 0


def _invocation_ids(events: Iterable[Mapping[str, object]], searched: str) -> list[str]:
    """Request ids of router lines found by another id (a CloudFront request id).

    An id that is no quoted term (a line written by something else) is not
    followed: it would stop the search that found it.
    """
    from results.cloudwatch import quoted_term
    from results.errors import ResultsError

    ids: list[str] = []
    for event in events:
        message = event.get("message")
        if not isinstance(message, str) or not message.lstrip().startswith("{"):
            continue
        try:
            document = json.loads(message)
        except ValueError:
            continue
        own = document.get("request_id") if isinstance(document, dict) else None
        if not isinstance(own, str) or own == searched or own in ids:
            continue
        try:
            quoted_term(own)
        except ResultsError:
            continue
        ids.append(own)
    return ids


def _lines(events: Iterable[Mapping[str, object]]) -> list[Found]:
    """The events as lines in time order (logged order within a millisecond), each once."""
    from results.cloudwatch import event_line

    seen: dict[tuple[str, str], Found] = {}
    for event in events:
        line = event_line(event)
        stamp = event.get("timestamp")
        if line is None or not isinstance(stamp, int):
            continue
        stream = str(event.get("logStreamName") or "-")
        key = (str(event.get("eventId") or line), stream)
        seen.setdefault(key, Found(stamp, stream, line))
    return sorted(seen.values(), key=lambda item: item.timestamp)
