"""End to end over real HTTP: the cache, headers, logs, S3 regions through boto3."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from edge.access_log import FIELDS, parse_line
from edge.s3_regions import s3_client
from edge.stack import RunningStack
from tests.edge.conftest import OBJECTS, Client, Control, access_log, access_record, lambda_log

pytestmark = pytest.mark.slow

_CF_ID = re.compile(r"^[A-Za-z0-9_-]{54}==$")


def test_state_file_names_every_part(stack: RunningStack) -> None:
    state = stack.state
    assert state.edge_url.startswith("http://127.0.0.1:")
    assert state.dns.startswith("127.0.0.1:")
    assert set(state.regions) == {"us-east-1", "eu-west-1"}
    assert len(state.sample_keys) == OBJECTS
    assert set(state.pids) == {"up", "dns", "s3:us-east-1", "s3:eu-west-1", "edge"}
    assert state.bucket == "edgedrill-media"
    assert state.origins["eu-west-1"] == "edgedrill-media.s3.eu-west-1.amazonaws.com"


def test_miss_then_hit(stack: RunningStack, edge: Client, fresh_key: Callable[[], str]) -> None:
    path = fresh_key()
    first = edge.get(path)
    second = edge.get(path)
    assert first.status == 200
    assert first.header("x-cache") == "Miss from cloudfront"
    assert second.status == 200
    assert second.header("x-cache") == "Hit from cloudfront"
    assert second.body == first.body
    assert second.header("age") is not None
    assert first.header("age") is None
    for reply in (first, second):
        assert reply.header("x-amz-cf-pop") == stack.state.pop
        assert _CF_ID.match(reply.header("x-amz-cf-id") or "")
        assert (reply.header("via") or "").endswith(".cloudfront.net (CloudFront)")
    assert first.header("x-amz-cf-id") != second.header("x-amz-cf-id")
    assert first.header("cache-control") == second.header("cache-control")
    assert first.header("server") == "AmazonS3"
    # The region that served the miss is reported; a hit was served by none.
    assert first.header("x-edgedrill-origin-region") in {"us-east-1", "eu-west-1"}
    assert second.header("x-edgedrill-origin-region") is None


def test_access_log_has_one_w3c_line_per_request(
    stack: RunningStack, edge: Client, fresh_key: Callable[[], str]
) -> None:
    path = fresh_key()
    reply = edge.get(path, {"User-Agent": "drill client/1.0"})
    record = access_record(stack, reply.header("x-amz-cf-id"))
    lines = access_log(stack)
    assert lines[0] == "#Version: 1.0"
    assert lines[1] == "#Fields: " + " ".join(FIELDS)
    assert len(FIELDS) == 33
    ids = [parse_line(line)["x-edge-request-id"] for line in lines[2:]]
    assert ids.count(str(reply.header("x-amz-cf-id"))) == 1
    assert record["cs-uri-stem"] == path.split("?")[0]
    assert record["cs-uri-query"] == path.split("?")[1]
    assert record["sc-status"] == "200"
    assert record["x-edge-result-type"] == "Miss"
    assert record["x-edge-location"] == "IAD89"
    assert record["cs(User-Agent)"] == "drill%20client/1.0"
    assert record["sc-content-len"] == str(len(reply.body))
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", record["date"])


def test_miss_runs_the_router_once_and_logs_runtime_lines(
    stack: RunningStack, edge: Client, fresh_key: Callable[[], str]
) -> None:
    before = len(lambda_log(stack))
    edge.get(fresh_key())
    new = lambda_log(stack)[before:]
    messages = [line.split("\t", 1)[1] for line in new]
    assert messages[0].startswith("START RequestId: ")
    assert messages[0].endswith(" Version: 1")
    request_id = messages[0].split()[2]
    assert '"event":"route"' in messages[1]
    assert f'"request_id":"{request_id}"' in messages[1]
    assert messages[-2] == f"END RequestId: {request_id}"
    assert re.match(
        rf"^REPORT RequestId: {request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB(\tInit Duration: \d+\.\d\d ms)?$",
        messages[-1],
    )
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t", line) for line in new)


def test_head_conditional_and_range_from_the_cache(
    edge: Client, fresh_key: Callable[[], str]
) -> None:
    path = fresh_key()
    full = edge.get(path)
    head = edge.request("HEAD", path)
    assert head.status == 200
    assert head.body == b""
    assert head.header("content-length") == str(len(full.body))
    assert head.header("x-cache") == "Hit from cloudfront"
    etag = full.header("etag")
    assert etag
    not_modified = edge.get(path, {"If-None-Match": etag})
    assert not_modified.status == 304
    assert not_modified.body == b""
    changed = edge.get(path, {"If-None-Match": '"something-else"'})
    assert changed.status == 200
    part = edge.get(path, {"Range": "bytes=10-19"})
    assert part.status == 206
    assert part.body == full.body[10:20]
    assert part.header("content-range") == f"bytes 10-19/{len(full.body)}"
    beyond = edge.get(path, {"Range": f"bytes={len(full.body) + 5}-"})
    assert beyond.status == 416


def test_errors_from_s3_are_cached_for_ten_seconds(edge: Client) -> None:
    path = f"/media/missing-{time.monotonic_ns()}.jpg"
    first = edge.get(path)
    second = edge.get(path)
    assert first.status == 404
    assert b"<Code>NoSuchKey</Code>" in first.body
    assert first.header("x-cache") == "Error from cloudfront"
    assert second.status == 404
    assert second.header("age") is not None  # served from the cache


def test_ttl_expiry_revalidates_then_fetches_new_content(stack: RunningStack, edge: Client) -> None:
    key = f"media/short-{time.monotonic_ns()}.jpg"
    clients = [s3_client(url, region) for region, url in stack.state.regions.items()]
    for client in clients:
        client.put_object(
            Bucket=stack.state.bucket, Key=key, Body=b"first", CacheControl="max-age=1"
        )
    assert edge.get(f"/{key}").header("x-cache") == "Miss from cloudfront"
    assert edge.get(f"/{key}").header("x-cache") == "Hit from cloudfront"
    time.sleep(1.2)
    refreshed = edge.get(f"/{key}")
    assert refreshed.header("x-cache") == "RefreshHit from cloudfront"
    assert refreshed.body == b"first"
    for client in clients:
        client.put_object(
            Bucket=stack.state.bucket, Key=key, Body=b"second", CacheControl="max-age=1"
        )
    time.sleep(1.2)
    changed = edge.get(f"/{key}")
    assert changed.header("x-cache") == "Miss from cloudfront"
    assert changed.body == b"second"


def test_regions_hold_the_same_public_objects(stack: RunningStack) -> None:
    key = stack.state.sample_keys[3]
    heads = []
    for region, url in stack.state.regions.items():
        client = s3_client(url, region)
        heads.append(client.head_object(Bucket=stack.state.bucket, Key=key))
        acl = client.get_object_acl(Bucket=stack.state.bucket, Key=key)
        assert any(
            grant["Grantee"].get("URI", "").endswith("/AllUsers") and grant["Permission"] == "READ"
            for grant in acl["Grants"]
        )
        listed = client.list_objects_v2(Bucket=stack.state.bucket, Prefix="media/")
        assert listed["KeyCount"] > 0
    assert heads[0]["ETag"] == heads[1]["ETag"]
    assert heads[0]["CacheControl"] == heads[1]["CacheControl"]
    assert heads[0]["CacheControl"].startswith("public, max-age=")


def test_unsigned_get_reaches_every_region(stack: RunningStack) -> None:
    key = stack.state.sample_keys[0]
    for region, url in stack.state.regions.items():
        client = Client(url)
        domain = stack.state.origins[region]
        reply = client.get(f"/{key}", {"Host": domain})
        client.close()
        assert reply.status == 200
        assert reply.header("x-amz-request-id")


def test_invalidation_empties_the_cache(
    stack: RunningStack, edge: Client, control: Control, fresh_key: Callable[[], str]
) -> None:
    path = fresh_key()
    edge.get(path)
    assert edge.get(path).header("x-cache") == "Hit from cloudfront"
    status, payload = control("POST", "/cache/invalidations", {"paths": ["/media/*", "/static/*"]})
    assert status == 200
    assert payload["removed"] >= 1
    assert edge.get(path).header("x-cache") == "Miss from cloudfront"
