"""CloudFront origin-request events, typed as they arrive on the wire.

The shapes follow the Lambda@Edge event structure page of the CloudFront
developer guide; keys keep CloudFront's camelCase. :func:`origin_request`
is the one guard: it checks exactly what the router depends on and raises
:class:`EventError` for anything else.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, cast

from router.errors import EventError


class HeaderEntry(TypedDict):
    """One value of a header; ``key`` keeps the viewer's casing."""

    key: NotRequired[str]
    value: str


Headers = dict[str, list[HeaderEntry]]


class S3Origin(TypedDict):
    """``origin.s3`` for an S3 REST origin."""

    authMethod: Literal["origin-access-identity", "none"]
    customHeaders: Headers
    domainName: str
    path: str
    region: str


class CustomOrigin(TypedDict):
    """``origin.custom`` for any HTTP origin (an S3 website endpoint included)."""

    customHeaders: Headers
    domainName: str
    keepaliveTimeout: int
    path: str
    port: int
    protocol: Literal["http", "https"]
    readTimeout: int
    sslProtocols: list[str]


class Origin(TypedDict):
    """Exactly one of ``s3`` or ``custom``."""

    s3: NotRequired[S3Origin]
    custom: NotRequired[CustomOrigin]


class RequestBody(TypedDict):
    """``request.body`` when the body is exposed to the function."""

    inputTruncated: bool
    action: Literal["read-only", "replace"]
    encoding: Literal["base64", "text"]
    data: str


class Request(TypedDict):
    """``cf.request``: the request the function may change and return."""

    clientIp: str
    headers: Headers
    method: str
    querystring: str
    uri: str
    origin: Origin
    body: NotRequired[RequestBody]


class Config(TypedDict):
    """``cf.config``."""

    distributionDomainName: str
    distributionId: str
    eventType: Literal["origin-request"]
    requestId: str


class CloudFront(TypedDict):
    """``Records[0].cf``."""

    config: Config
    request: Request


class EventRecord(TypedDict):
    """One entry of ``Records``."""

    cf: CloudFront


class OriginRequestEvent(TypedDict):
    """The whole event the origin-request trigger receives."""

    Records: list[EventRecord]


# Headers an origin-request function may not add, remove or change
# (Lambda@Edge "read-only headers for origin request events").
READ_ONLY_HEADERS = frozenset(
    {
        "accept-encoding",
        "content-length",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "transfer-encoding",
        "via",
    }
)


def origin_request(event: object) -> tuple[Config, Request]:
    """Return ``(config, request)`` of an origin-request event, or raise EventError."""
    if not isinstance(event, dict):
        raise EventError("", f"must be a JSON object, got {type(event).__name__}")
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise EventError("Records", "must be a non-empty list")
    record = records[0]
    cf = record.get("cf") if isinstance(record, dict) else None
    if not isinstance(cf, dict):
        raise EventError("Records[0].cf", "must be an object")
    config = cf.get("config")
    if not isinstance(config, dict):
        raise EventError("Records[0].cf.config", "must be an object")
    event_type = config.get("eventType")
    if event_type != "origin-request":
        raise EventError(
            "Records[0].cf.config.eventType", f"expected 'origin-request', got {event_type!r}"
        )
    request = cf.get("request")
    if not isinstance(request, dict):
        raise EventError("Records[0].cf.request", "must be an object")
    _check_request(request)
    return cast("Config", config), cast("Request", request)


def _check_request(request: dict[str, object]) -> None:
    for key in ("uri", "method"):
        if not isinstance(request.get(key), str):
            raise EventError(f"Records[0].cf.request.{key}", "must be a string")
    headers = request.get("headers")
    if not isinstance(headers, dict):
        raise EventError("Records[0].cf.request.headers", "must be an object")
    host = headers.get("host")
    if host is not None and not (
        isinstance(host, list) and all(isinstance(entry, dict) for entry in host)
    ):
        raise EventError("Records[0].cf.request.headers.host", "must be a list of {key, value}")
    origin = request.get("origin")
    if not isinstance(origin, dict):
        raise EventError("Records[0].cf.request.origin", "must be an object")
    kinds = [kind for kind in ("s3", "custom") if kind in origin]
    if len(kinds) != 1:
        raise EventError("Records[0].cf.request.origin", "must hold exactly one of s3 or custom")
    body = origin[kinds[0]]
    if not isinstance(body, dict) or not isinstance(body.get("domainName"), str):
        path = f"Records[0].cf.request.origin.{kinds[0]}.domainName"
        raise EventError(path, "must be a string")
