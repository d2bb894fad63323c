"""The edge's fault vocabulary: every target, kind and typed fault, and the spec parser.

The fault engines (the DNS zone, each S3 region's fault proxy, the edge's
function runtime) take these values; the control API and the agents turn
plain specs into them. A spec is a JSON object::

    {"target": "s3:us-east-1", "kind": "slowdown", "probability": 0.5, "lease_s": 30}

Targets and kinds:

* ``dns``: the zone server (:class:`DnsFault`). ``servfail``, ``nxdomain``,
  ``refused``, ``noanswer``, ``drop`` (never answer), ``delay`` (answer
  ``delay_ms`` late), ``truncate`` (TC over UDP), ``garbage`` (bytes that
  are not DNS), with ``delay_ms`` and ``name`` (one owner name only).
* ``s3:<region>``: the region's fault proxy (:class:`S3Fault`). ``slowdown``
  (503 SlowDown), ``internal_error`` (500 InternalError), ``access_denied``
  (403 AccessDenied), ``no_such_key`` (404 NoSuchKey), each with S3's XML
  error body; ``refused`` (the listener closes: connections are refused),
  ``reset`` (the connection is reset after the request is read), ``delay``
  (``delay_ms`` before the origin answers), ``drop`` or ``timeout`` (the
  request is read and never answered). ``path_prefix`` limits it to keys
  under a prefix.
* ``lambda``: the origin-request function's runtime (:class:`LambdaFault`).
  ``delay`` (the invocation takes ``delay_ms`` longer), ``error`` (it
  raises), ``invalid`` (it returns an invalid request), ``readonly`` (it
  changes a read-only header), ``timeout`` (it runs past the trigger
  timeout).

Every spec has ``probability`` (share of matching requests, default 1) and
``lease_s`` (default 30): the fault ends on its own unless renewed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

DEFAULT_LEASE_S = 30.0
MAX_DELAY_MS = 600_000.0

DNS_TARGET = "dns"
LAMBDA_TARGET = "lambda"
_S3_PREFIX = "s3:"

_REGION_TARGET = re.compile(r"^s3:([a-z]{2}(?:-[a-z]+)+-\d+)$")
_COMMON = frozenset({"target", "kind", "probability", "lease_s", "id"})


def s3_target(region: str) -> str:
    """The target naming the fault proxy of S3 ``region``."""
    return f"{_S3_PREFIX}{region}"


class SpecError(ValueError):
    """A fault spec field is missing or invalid."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"fault spec field {field!r}: {reason}")
        self.field = field
        self.reason = reason


def _check_ranges(probability: float, delay_ms: float) -> None:
    # A value built in code (tests, chaos) must hold what a parsed spec holds.
    if not 0.0 <= probability <= 1.0:
        msg = f"probability must be within [0, 1], got {probability}"
        raise ValueError(msg)
    if delay_ms < 0:
        msg = f"delay_ms must not be negative, got {delay_ms}"
        raise ValueError(msg)


class DnsFaultKind(StrEnum):
    """What the zone server does instead of answering normally."""

    NONE = "none"
    SERVFAIL = "servfail"
    NXDOMAIN = "nxdomain"
    REFUSED = "refused"
    NOANSWER = "noanswer"
    DROP = "drop"  # never answer: the client times out
    DELAY = "delay"  # answer correctly, late
    TRUNCATE = "truncate"  # set TC over UDP so the client must retry over TCP
    GARBAGE = "garbage"  # reply with bytes that are not a DNS message


@dataclass(frozen=True, slots=True)
class DnsFault:
    """A fault the zone applies to matching queries.

    ``probability`` is the share of matching queries affected; ``delay_ms`` is
    used by ``delay``. ``name`` limits the fault to one owner name (``None``:
    every name).
    """

    kind: DnsFaultKind = DnsFaultKind.NONE
    probability: float = 1.0
    delay_ms: float = 0.0
    name: str | None = None

    def __post_init__(self) -> None:
        _check_ranges(self.probability, self.delay_ms)


NO_FAULT = DnsFault()


class S3FaultKind(StrEnum):
    """What a region's fault proxy does instead of forwarding."""

    SLOWDOWN = "slowdown"
    INTERNAL_ERROR = "internal_error"
    ACCESS_DENIED = "access_denied"
    NO_SUCH_KEY = "no_such_key"
    REFUSED = "refused"
    RESET = "reset"
    DELAY = "delay"
    DROP = "drop"


# Status, S3 error code and message, as S3 sends them.
S3_ERRORS: dict[S3FaultKind, tuple[int, str, str]] = {
    S3FaultKind.SLOWDOWN: (503, "SlowDown", "Please reduce your request rate."),
    S3FaultKind.INTERNAL_ERROR: (
        500,
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
    S3FaultKind.ACCESS_DENIED: (403, "AccessDenied", "Access Denied"),
    S3FaultKind.NO_SUCH_KEY: (404, "NoSuchKey", "The specified key does not exist."),
}


@dataclass(frozen=True, slots=True)
class S3Fault:
    """A fault a region's proxy applies to matching requests."""

    kind: S3FaultKind
    probability: float = 1.0
    delay_ms: float = 0.0
    path_prefix: str = ""

    def __post_init__(self) -> None:
        _check_ranges(self.probability, self.delay_ms)


class LambdaFaultKind(StrEnum):
    """What the runtime does to an invocation."""

    DELAY = "delay"
    ERROR = "error"
    INVALID = "invalid"
    READONLY = "readonly"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class LambdaFault:
    """A fault the runtime applies to invocations."""

    kind: LambdaFaultKind
    probability: float = 1.0
    delay_ms: float = 0.0

    def __post_init__(self) -> None:
        _check_ranges(self.probability, self.delay_ms)


Fault = DnsFault | S3Fault | LambdaFault


def fault_fields(fault: Fault) -> dict[str, Any]:
    """A fault's fields as the control API shows them (empty ones left out)."""
    return {k: v for k, v in asdict(fault).items() if v not in (None, "")}


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A checked spec: where it goes, what it does, how long it lasts."""

    target: str
    fault: Fault
    lease_s: float
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The spec as the control API shows it."""
        return {"target": self.target, **fault_fields(self.fault), "lease_s": self.lease_s}


def target_of(spec: dict[str, Any]) -> str:
    """The spec's target, checked for shape (not for existence)."""
    target = spec.get("target")
    if not isinstance(target, str):
        raise SpecError("target", 'must be "dns", "lambda" or "s3:<region>"')
    if target in (DNS_TARGET, LAMBDA_TARGET) or _REGION_TARGET.match(target):
        return target
    raise SpecError("target", f'must be "dns", "lambda" or "s3:<region>", got {target!r}')


def parse_spec(spec: object) -> FaultSpec:
    """Check a decoded spec and turn it into a :class:`FaultSpec`."""
    if not isinstance(spec, dict):
        raise SpecError("<spec>", "must be a JSON object")
    target = target_of(spec)
    lease_s = _number(spec, "lease_s", DEFAULT_LEASE_S)
    if not 0 < lease_s <= 86_400:
        raise SpecError("lease_s", f"must be within (0, 86400] seconds, got {lease_s:g}")
    spec_id = spec.get("id")
    if spec_id is not None and (
        not isinstance(spec_id, str) or not re.match(r"^[\w.:-]{1,80}$", spec_id)
    ):
        raise SpecError("id", "must be 1-80 characters of letters, digits, '_', '.', ':' or '-'")
    fault: Fault
    if target == DNS_TARGET:
        fault = _dns(spec)
    elif target == LAMBDA_TARGET:
        fault = _lambda(spec)
    else:
        fault = _s3(spec)
    return FaultSpec(target, fault, lease_s, spec_id)


def _kind(spec: dict[str, Any], kinds: type[StrEnum], aliases: dict[str, str] | None = None) -> str:
    raw = spec.get("kind")
    if not isinstance(raw, str):
        raise SpecError("kind", f"is required, one of {', '.join(k.value for k in kinds)}")
    value = (aliases or {}).get(raw.lower(), raw.lower())
    if value not in {k.value for k in kinds}:
        raise SpecError("kind", f"{raw!r} is not one of {', '.join(k.value for k in kinds)}")
    return value


def _extra(spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(spec) - _COMMON - allowed)
    if unknown:
        raise SpecError(unknown[0], "unknown field (typo?)")


def _number(spec: dict[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(key, f"must be a number, got {value!r}")
    return float(value)


def _probability(spec: dict[str, Any]) -> float:
    probability = _number(spec, "probability", 1.0)
    if not 0.0 <= probability <= 1.0:
        raise SpecError("probability", f"must be within [0, 1], got {probability:g}")
    return probability


def _delay(spec: dict[str, Any]) -> float:
    delay = _number(spec, "delay_ms", 0.0)
    if not 0.0 <= delay <= MAX_DELAY_MS:
        raise SpecError("delay_ms", f"must be within [0, {MAX_DELAY_MS:g}], got {delay:g}")
    return delay


def _dns(spec: dict[str, Any]) -> DnsFault:
    _extra(spec, {"delay_ms", "name"})
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise SpecError("name", "must be a DNS name")
    kind = DnsFaultKind(_kind(spec, DnsFaultKind))
    if kind is DnsFaultKind.DELAY and "delay_ms" not in spec:
        raise SpecError("delay_ms", "is required for kind 'delay'")
    return DnsFault(kind, _probability(spec), _delay(spec), name)


def _s3(spec: dict[str, Any]) -> S3Fault:
    _extra(spec, {"delay_ms", "path_prefix"})
    kind = S3FaultKind(_kind(spec, S3FaultKind, {"timeout": "drop"}))
    if kind is S3FaultKind.DELAY and "delay_ms" not in spec:
        raise SpecError("delay_ms", "is required for kind 'delay'")
    prefix = spec.get("path_prefix", "")
    if not isinstance(prefix, str):
        raise SpecError("path_prefix", "must be a string")
    return S3Fault(kind, _probability(spec), _delay(spec), prefix.lstrip("/"))


def _lambda(spec: dict[str, Any]) -> LambdaFault:
    _extra(spec, {"delay_ms"})
    kind = LambdaFaultKind(_kind(spec, LambdaFaultKind))
    if kind is LambdaFaultKind.DELAY and "delay_ms" not in spec:
        raise SpecError("delay_ms", "is required for kind 'delay'")
    return LambdaFault(kind, _probability(spec), _delay(spec))
