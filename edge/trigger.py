"""The origin-request trigger as CloudFront runs it: the event in, the function's result checked.

The event follows the Lambda@Edge event structure page of the CloudFront
developer guide: ``Records[0].cf.config`` (``distributionDomainName``,
``distributionId``, ``eventType``, ``requestId``, the same id CloudFront
returns in ``x-amz-cf-id`` and logs as ``x-edge-request-id``) and
``Records[0].cf.request`` with the headers CloudFront sends to the origin.

What the function returns is checked the way CloudFront does before it uses
it: an invalid request, or a change to a read-only header, is a
``LambdaValidationError`` (502).
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router.events import READ_ONLY_HEADERS

if TYPE_CHECKING:
    from edge.origins import Origin

# Headers a function may not add to an origin request (Lambda@Edge
# "disallowed headers" and the CloudFront-internal ones).
DISALLOWED_HEADERS = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
_DISALLOWED_PREFIXES = ("x-amz-cf-", "x-edge-")
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,126}[a-z0-9])?$")
_MAX_URI = 8_192


def new_request_id() -> str:
    """A CloudFront request id: 56 URL-safe base64 characters ending in ``==``."""
    return base64.urlsafe_b64encode(os.urandom(40)).decode()


@dataclass(frozen=True, slots=True)
class Distribution:
    """The distribution's identity as the event shows it."""

    id: str = "E2EDGEDRILLL0CAL"
    domain: str = "d1edgedrill0local.cloudfront.net"
    via_host: str = "0b1cf4ba7d3c2d0a9e1f6a3c5e7d9b21.cloudfront.net"


def _entry(key: str, value: str) -> list[dict[str, str]]:
    return [{"key": key, "value": value}]


def build_event(
    distribution: Distribution,
    request_id: str,
    *,
    client_ip: str,
    method: str,
    uri: str,
    querystring: str,
    origin: Origin,
    viewer_version: str,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The origin-request event for one cache miss, aimed at ``origin``."""
    headers: dict[str, list[dict[str, str]]] = {
        "x-forwarded-for": _entry("X-Forwarded-For", client_ip),
        "user-agent": _entry("User-Agent", "Amazon CloudFront"),
        "via": _entry("Via", f"{viewer_version} {distribution.via_host} (CloudFront)"),
        "host": _entry("Host", origin.domain),
    }
    for name, value in (extra_headers or {}).items():
        headers[name.lower()] = _entry(name, value)
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": distribution.domain,
                        "distributionId": distribution.id,
                        "eventType": "origin-request",
                        "requestId": request_id,
                    },
                    "request": {
                        "clientIp": client_ip,
                        "headers": headers,
                        "method": method,
                        "origin": {
                            "s3": {
                                "authMethod": "none",
                                "customHeaders": {},
                                "domainName": origin.domain,
                                "path": origin.path,
                                "region": origin.region,
                            }
                        },
                        "querystring": querystring,
                        "uri": uri,
                    },
                }
            }
        ]
    }


def copy_headers(headers: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, str]]]:
    """A copy deep enough to compare against what the function returns."""
    return {name: [dict(entry) for entry in entries] for name, entries in headers.items()}


def is_generated_response(value: object) -> bool:
    """Whether the function answered itself instead of returning the request."""
    return isinstance(value, dict) and "status" in value and "uri" not in value


def validate_request(value: object, original_headers: dict[str, Any], method: str) -> list[str]:
    """Problems that make CloudFront reject the returned request (empty: it is valid)."""
    if not isinstance(value, dict):
        return [f"the function returned {type(value).__name__}, not a request object"]
    problems: list[str] = []
    uri = value.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/") or len(uri) > _MAX_URI:
        problems.append("uri must be a string starting with '/' (at most 8,192 bytes)")
    if not isinstance(value.get("querystring", ""), str):
        problems.append("querystring must be a string")
    if value.get("method", method) != method:
        problems.append("method is read-only in an origin-request event")
    headers = value.get("headers")
    if not isinstance(headers, dict):
        problems.append("headers must be an object of lower-case names to [{key, value}] lists")
    else:
        problems.extend(_header_problems(headers, original_headers))
    problems.extend(_origin_problems(value.get("origin")))
    return problems


def _header_problems(headers: dict[str, Any], original: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for name, entries in headers.items():
        if not isinstance(name, str) or name != name.lower():
            problems.append(f"header name {name!r} must be lower case")
            continue
        if not isinstance(entries, list) or not all(
            isinstance(e, dict)
            and isinstance(e.get("value"), str)
            and str(e.get("key", name)).lower() == name
            for e in entries
        ):
            problems.append(f"header {name!r} must be a list of {{key, value}} with a matching key")
            continue
        if name not in original and (
            name in DISALLOWED_HEADERS or name.startswith(_DISALLOWED_PREFIXES)
        ):
            problems.append(f"header {name!r} may not be added by the function")
    for name in sorted(READ_ONLY_HEADERS):
        if _values(original.get(name)) != _values(headers.get(name)):
            problems.append(f"read-only header {name!r} was changed")
    return problems


def _values(entries: object) -> list[str]:
    if not isinstance(entries, list):
        return []
    return [str(e.get("value")) for e in entries if isinstance(e, dict)]


def _origin_problems(origin: object) -> list[str]:
    if not isinstance(origin, dict):
        return ["origin must be an object holding s3 or custom"]
    kinds = [kind for kind in ("s3", "custom") if kind in origin]
    if len(kinds) != 1:
        return ["origin must hold exactly one of s3 or custom"]
    body = origin[kinds[0]]
    if not isinstance(body, dict):
        return [f"origin.{kinds[0]} must be an object"]
    problems = []
    domain = body.get("domainName")
    if not isinstance(domain, str) or not _DOMAIN.match(domain):
        problems.append(
            f"origin.{kinds[0]}.domainName must be a lower-case domain of at most 128 characters"
        )
    path = body.get("path", "")
    if not isinstance(path, str) or (path and (not path.startswith("/") or path.endswith("/"))):
        problems.append(f"origin.{kinds[0]}.path must be empty or start (and not end) with '/'")
    problems.extend(_s3_problems(body) if kinds[0] == "s3" else _custom_problems(body))
    return problems


def _s3_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    if body.get("authMethod") not in ("origin-access-identity", "none"):
        problems.append("origin.s3.authMethod must be 'origin-access-identity' or 'none'")
    if not isinstance(body.get("region"), str):
        problems.append("origin.s3.region must be a string")
    return problems


def _custom_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    port = body.get("port")
    if not isinstance(port, int) or not (port in (80, 443) or 1024 <= port <= 65535):
        problems.append("origin.custom.port must be 80, 443 or 1024-65535")
    if body.get("protocol") not in ("http", "https"):
        problems.append("origin.custom.protocol must be 'http' or 'https'")
    return problems


def origin_target(value: dict[str, Any]) -> tuple[str, str, int | None]:
    """``(domain, path, port)`` of the origin the returned request is headed to."""
    origin = value["origin"]
    if "s3" in origin:
        s3 = origin["s3"]
        return s3["domainName"], s3.get("path", ""), None
    custom = origin["custom"]
    return custom["domainName"], custom.get("path", ""), int(custom["port"])


def origin_headers(value: dict[str, Any]) -> list[tuple[str, str]]:
    """The returned request's headers, flattened for the wire (custom origin headers included)."""
    flat = [
        (entry.get("key", name), entry["value"])
        for name, entries in value["headers"].items()
        for entry in entries
    ]
    origin = value["origin"]
    body = origin.get("s3") or origin.get("custom") or {}
    for name, entries in (body.get("customHeaders") or {}).items():
        flat.extend((entry.get("key", name), entry["value"]) for entry in entries)
    return flat


def generated_response(value: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes] | str:
    """A function-generated response as ``(status, headers, body)``, or the problem with it."""
    try:
        status = int(value["status"])
    except (TypeError, ValueError):
        return "status must be an HTTP status code"
    if not 200 <= status <= 599:
        return "status must be within 200-599"
    headers: list[tuple[str, str]] = []
    raw_headers = value.get("headers") or {}
    if not isinstance(raw_headers, dict):
        return "headers must be an object"
    for name, entries in raw_headers.items():
        if not isinstance(entries, list):
            return f"header {name!r} must be a list"
        headers.extend(
            (str(e.get("key", name)), str(e.get("value", "")))
            for e in entries
            if isinstance(e, dict)
        )
    body = value.get("body", "")
    if not isinstance(body, str):
        return "body must be a string"
    if value.get("bodyEncoding") == "base64":
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            return "body is not valid base64"
    else:
        data = body.encode()
    return status, headers, data
