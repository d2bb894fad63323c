"""The origin-request event CloudFront builds, and how it checks what the function returns."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from edge.origins import Origin
from edge.trigger import (
    Distribution,
    build_event,
    copy_headers,
    generated_response,
    is_generated_response,
    new_request_id,
    origin_headers,
    origin_target,
    validate_request,
)
from router.events import origin_request

ORIGIN = Origin("s3-us-east-1", "edgedrill-media.s3.us-east-1.amazonaws.com", "us-east-1", 80)


def make(request_id: str = "", method: str = "GET", **extra: str) -> dict[str, Any]:
    return build_event(
        Distribution(),
        request_id or new_request_id(),
        client_ip="203.0.113.178",
        method=method,
        uri="/media/00001.jpg",
        querystring="v=2",
        origin=ORIGIN,
        viewer_version="1.1",
        extra_headers=extra,
    )


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value[:1]]
    return type(value).__name__


def test_event_has_cloudfronts_shape(load_event: Callable[[str], Any]) -> None:
    sample = load_event("s3-origin")
    built = make()
    sample["Records"][0]["cf"]["request"]["headers"].pop("cache-control")
    assert _shape(built) == _shape(sample)
    config, request = origin_request(built)
    assert config["eventType"] == "origin-request"
    assert request["origin"]["s3"]["domainName"] == ORIGIN.domain
    assert request["headers"]["host"] == [{"key": "Host", "value": ORIGIN.domain}]


def test_request_id_is_the_one_given() -> None:
    request_id = new_request_id()
    assert re.match(r"^[A-Za-z0-9_-]{54}==$", request_id)
    assert make(request_id)["Records"][0]["cf"]["config"]["requestId"] == request_id


def _request(event: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = event["Records"][0]["cf"]["request"]
    return request


def test_an_unchanged_or_rerouted_request_is_valid() -> None:
    request = _request(make())
    original = copy_headers(request["headers"])
    assert validate_request(request, original, "GET") == []
    request["origin"]["s3"]["domainName"] = "edgedrill-media.s3.eu-west-1.amazonaws.com"
    request["origin"]["s3"]["region"] = "eu-west-1"
    request["headers"]["host"] = [
        {"key": "Host", "value": "edgedrill-media.s3.eu-west-1.amazonaws.com"}
    ]
    assert validate_request(request, original, "GET") == []
    assert origin_target(request) == ("edgedrill-media.s3.eu-west-1.amazonaws.com", "", None)
    assert ("Host", "edgedrill-media.s3.eu-west-1.amazonaws.com") in origin_headers(request)


def test_read_only_and_disallowed_headers_are_rejected() -> None:
    request = _request(make(**{"If-None-Match": '"abc"'}))
    original = copy_headers(request["headers"])
    request["headers"]["if-none-match"] = [{"key": "If-None-Match", "value": '"changed"'}]
    request["headers"]["x-amz-cf-secret"] = [{"key": "X-Amz-Cf-Secret", "value": "1"}]
    del request["headers"]["via"]
    problems = validate_request(request, original, "GET")
    assert "read-only header 'if-none-match' was changed" in problems
    assert "read-only header 'via' was changed" in problems
    assert "header 'x-amz-cf-secret' may not be added by the function" in problems


def test_structural_problems_are_named() -> None:
    original = copy_headers(_request(make())["headers"])
    assert validate_request(None, original, "GET") == [
        "the function returned NoneType, not a request object"
    ]
    broken = _request(make())
    broken["uri"] = "no-slash"
    broken["headers"]["User-Agent"] = [{"key": "User-Agent", "value": "x"}]
    broken["origin"] = {
        "s3": {**broken["origin"]["s3"], "domainName": "UPPER.example"},
        "custom": {},
    }
    problems = validate_request(broken, original, "GET")
    assert any(p.startswith("uri ") for p in problems)
    assert any("must be lower case" in p for p in problems)
    assert "origin must hold exactly one of s3 or custom" in problems
    assert validate_request(_request(make()), original, "HEAD") == [
        "method is read-only in an origin-request event"
    ]


def test_generated_responses() -> None:
    value = {"status": "302", "headers": {"location": [{"key": "Location", "value": "/x"}]}}
    assert is_generated_response(value)
    assert generated_response(value) == (302, [("Location", "/x")], b"")
    encoded = {"status": 200, "body": "aGk=", "bodyEncoding": "base64"}
    assert generated_response(encoded) == (200, [], b"hi")
    assert generated_response({"status": "abc"}) == "status must be an HTTP status code"
