"""Router logs from CloudWatch Logs (moto's server over HTTP) read like the local files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from edgedrill.cli import main
from edgedrill.commands import logs as logs_command
from results.analysis import analyse, load_run
from results.cloudwatch import (
    edge_log_group,
    fetch_events,
    holds_log_group,
    quoted_term,
    write_events,
)
from results.errors import ResultsError
from results.logs import RuntimeLogReader, parse_timestamp
from tests.results.synthetic import FUNCTION, T0, Invocation, Row, invocation_lines, minimal_run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


STREAM = "2026/11/26/[1]0123456789abcdef"


def put_log_lines(url: str, region: str, lines: list[str], *, group: str = "") -> None:
    """Create ``group`` (the router's) in ``region``; put ``<ISO>\\t<message>`` lines in it."""
    import boto3

    group = group or edge_log_group(FUNCTION)
    client = boto3.client("logs", region_name=region, endpoint_url=url)
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName=STREAM)
    client.put_log_events(
        logGroupName=group,
        logStreamName=STREAM,
        logEvents=[
            {"timestamp": round(parse_timestamp(stamp) * 1000), "message": message + "\n"}
            for stamp, message in (line.split("\t", 1) for line in lines)
        ],
    )


@pytest.mark.slow
def test_paging_and_writing(moto_server: str, tmp_path: Path) -> None:
    import boto3

    client = boto3.client("logs", region_name="us-east-1", endpoint_url=moto_server)
    group = "/aws/lambda/us-east-1.fn"
    client.create_log_group(logGroupName=group)
    t0 = 1795714308123
    starts = [(t0 + i, f"START RequestId: r{i} Version: 1\n") for i in range(12)]
    traceback = (t0 + 77, "Traceback:\n  line 1\n")
    early = (t0 - 5000, "START RequestId: before Version: 1\n")
    # Two execution environments, their events interleaved in time.
    streams = {
        "2026/11/26/[1]aaa": [early, *starts[0::2], traceback],
        "2026/11/26/[1]bbb": starts[1::2],
    }
    for stream, events in streams.items():
        client.create_log_stream(logGroupName=group, logStreamName=stream)
        client.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": stamp, "message": message} for stamp, message in events],
        )
    requests: list[dict[str, object]] = []

    def seen(params: dict[str, object], **_: object) -> None:
        requests.append(dict(params))

    client.meta.events.register("provide-client-params.logs.FilterLogEvents", seen)
    pages: list[int] = []
    fetched = list(fetch_events(client, group, t0, t0 + 1000, page_size=4, on_page=pages.append))
    assert [e["message"] for e in fetched] == [m for _, m in [*starts, traceback]]
    assert pages == [4, 8, 12, 13]
    assert len(requests) == 4
    assert [r.get("limit") for r in requests] == [4] * 4
    assert "nextToken" not in requests[0]
    assert all(r.get("nextToken") for r in requests[1:])
    with pytest.raises(ResultsError, match="more than 2 pages"):
        list(fetch_events(client, group, t0, t0 + 1000, page_size=4, max_pages=2))
    path = tmp_path / "lambda" / "us-east-1.fn.log"
    assert write_events(fetched, path) == 13
    lines = path.read_text().splitlines()
    assert lines[0] == "2026-11-26T17:31:48.123Z\tSTART RequestId: r0 Version: 1"
    assert lines[12] == "2026-11-26T17:31:48.200Z\tTraceback:\\n  line 1"
    reader = RuntimeLogReader(strict=True)
    reader.read_file(path)
    logs = reader.result()
    assert (logs.starts, logs.other_lines) == (12, 1)
    # A fetch that fails half-way leaves the file it replaces as it was, and no partial one.

    def failing() -> Iterator[dict[str, object]]:
        yield {"timestamp": t0, "message": "START RequestId: x"}
        raise ResultsError("boom")

    with pytest.raises(ResultsError, match="boom"):
        write_events(failing(), path)
    assert len(path.read_text().splitlines()) == 13
    assert sorted(p.name for p in path.parent.iterdir()) == ["us-east-1.fn.log"]
    # Only the events holding a quoted term, wherever it sits in the line.
    found = fetch_events(client, group, None, None, filter_pattern=quoted_term("r7"))
    assert [e["message"] for e in found] == ["START RequestId: r7 Version: 1\n"]


@pytest.mark.slow
def test_log_group_found_by_exact_name_across_pages(moto_server: str) -> None:
    import boto3

    client = boto3.client("logs", region_name="eu-west-1", endpoint_url=moto_server)
    group = edge_log_group("fn")
    for suffix in ("-a", "-b", "-c", "-d", "-e"):
        client.create_log_group(logGroupName=group + suffix)
    requests: list[dict[str, object]] = []
    client.meta.events.register(
        "provide-client-params.logs.DescribeLogGroups",
        lambda params, **_: requests.append(dict(params)),
    )
    # Other functions whose names start with this one's are not this one's group.
    assert not holds_log_group(client, group, page_size=2)
    assert len(requests) == 3
    assert all(r["logGroupNamePrefix"] == group for r in requests)
    client.create_log_group(logGroupName=group)
    assert holds_log_group(client, group, page_size=2)
    assert holds_log_group(client, group + "-e", page_size=2)


@pytest.mark.parametrize("text", ["", "a b", 'a"b', "x" * 129, "é"])
def test_quoted_term_takes_ids_only(text: str) -> None:
    with pytest.raises(ResultsError, match="an id is 1 to 128 characters"):
        quoted_term(text)


@pytest.mark.slow
def test_fetch_logs_into_a_run_folder(
    moto_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    # A progress line after every page.
    monkeypatch.setattr(logs_command, "PROGRESS_EVERY_S", -1.0)
    run_dir = minimal_run(tmp_path / "run", [Row(T0 + 0.5, 10.0, x_cache="Miss from cloudfront")])
    invocations = [
        Invocation(
            end=T0 + 0.5 + i * 0.5,
            duration_ms=1.0 + i,
            init_ms=150.0 if i == 0 else None,
            cache_state="miss" if i == 0 else "hit",
            dns_queries=1 if i == 0 else 0,
        )
        for i in range(6)
    ]
    lines = [line for i, inv in enumerate(invocations) for line in invocation_lines(inv, i)]
    put_log_lines(moto_server, "eu-west-1", lines)
    argv = [
        "fetch-logs",
        str(run_dir),
        "--function",
        FUNCTION,
        "--regions",
        "eu-west-1,ap-south-1",
        "--endpoint-url",
        moto_server,
    ]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "eu-west-1.edgedrill-router.log (24 events)" in out
    assert "ap-south-1: no log group" in err
    assert "eu-west-1: 24 events so far" in err
    analysis = analyse(load_run(run_dir, strict=True))
    assert analysis.router is not None
    assert analysis.router.invocations == 6
    assert analysis.environments is not None
    assert analysis.environments.cold_starts == 1
    assert analysis.environments.cold_by_region == {"eu-west-1": 1}
    assert analysis.dns is not None
    assert analysis.dns.queries == 1
