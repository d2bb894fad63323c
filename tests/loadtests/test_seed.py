"""Seeding a log's objects into S3 regions: rules on unit data, then a real moto S3 server."""

from __future__ import annotations

import calendar

import boto3
import pytest
from botocore.config import Config

from loadtests._cloudfront_log import LogRequest
from loadtests._seed import DEFAULT_SIZE, SeedError, objects_from_log, seed_regions

from .conftest import free_port

T0 = float(calendar.timegm((2026, 11, 26, 17, 31, 48, 0, 0, 0)))
BUCKET = "edgedrill-media"


def request(uri, status=200, size=100, content_type=""):
    return LogRequest(T0, 0.0, "GET", uri, status, size, "t:1", content_type)


def test_served_keys_are_seeded_at_their_full_size():
    objects = objects_from_log(
        [
            request("/media/a.jpg?w=1", size=900, content_type="image/jpeg"),
            request("/media/a.jpg", status=206, size=100),
            request("/media/b%20c.png", status=206, size=300),
            request("/media/b%20c.png", status=206, size=200),
            request("/media/d.css", status=304, size=None),
            request("/media/gone.jpg", status=404, size=50),
            request("/media/", size=10),
        ]
    )
    assert [(o.key, o.size, o.content_type) for o in objects] == [
        ("media/a.jpg", 900, "image/jpeg"),
        ("media/b c.png", 300, "application/octet-stream"),
        ("media/d.css", DEFAULT_SIZE, "application/octet-stream"),
    ]
    assert len(objects[0].body()) == 900
    assert objects[0].body() == objects_from_log([request("/media/a.jpg", size=900)])[0].body()


def test_only_loopback_is_seeded():
    with pytest.raises(SeedError, match="only the local distribution"):
        seed_regions({"us-east-1": "https://s3.amazonaws.com"}, BUCKET, [])


def test_too_much_for_memory_is_refused_before_any_upload():
    huge = objects_from_log([request("/big", size=3 * 1024**3)])
    with pytest.raises(SeedError, match="GiB") as refused:
        seed_regions({"us-east-1": "http://127.0.0.1:9"}, BUCKET, huge)
    message = str(refused.value)
    assert "3.0 GiB, more than the 2 GiB" in message
    # It names what every way of seeding can do (seed, up --seed-from-log, a
    # local replay), not an option one of them lacks.
    assert "seed from a smaller log" in message
    assert "with --host" in message
    assert "replay a --window" not in message


@pytest.mark.slow
def test_objects_land_in_every_region_at_their_size(moto_server):
    regions = {"us-east-1": moto_server, "eu-west-1": moto_server}
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=BUCKET)
    objects = objects_from_log(
        [request(f"/media/k{i}.jpg", size=100 + i, content_type="image/jpeg") for i in range(30)]
    )
    total = seed_regions(regions, BUCKET, objects)
    assert total == sum(100 + i for i in range(30))
    head = client.head_object(Bucket=BUCKET, Key="media/k7.jpg")
    assert head["ContentLength"] == 107
    assert head["ContentType"] == "image/jpeg"
    listed = client.list_objects_v2(Bucket=BUCKET)["KeyCount"]
    assert listed == 30
    client.close()


def test_an_unreachable_region_is_a_seed_error_naming_it():
    # A stale state file (its distribution was killed): nothing listens there.
    objects = objects_from_log([request("/a.jpg")])
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(
        SeedError, match=f"cannot put the log's objects into eu-west-1 at {endpoint}"
    ):
        seed_regions({"eu-west-1": endpoint}, BUCKET, objects)
