"""The edge's fault vocabulary: every target, kind and typed fault, and the spec parser.

The fault engines (the DNS zone, each S3 region's fault proxy, the edge's
function runtime) take these values; the control API and the agents turn
plain specs into them. A spec is a JSON object::

    {"target": "s3:us-east-1", "kind": "slowdown", "probability": 0.5, "lease_s": 30}

Targets and kinds:

* ``dns``: the zone server (:class:`DnsFault`). ``servfail``, ``nxdomain``,
  ``refused``, ``noanswer``, ``drop`` (never answer), ``delay`` (answer
  ``delay_ms`` late, plus a uniform 0..``jitter_ms`` when given),
  ``truncate`` (TC over UDP), ``garbage`` (bytes that are not DNS),
  ``wrong_answer`` (TXT queries get the one string ``wrong-answer.invalid``,
  A queries ``192.0.2.1``), ``ttl`` (normal answers carrying TTL ``ttl``),
  ``flap`` (``period_ms`` of SERVFAIL, then ``period_ms`` of normal answers,
  and so on, failing first, counted from when the fault was set; 5000 by
  default). ``name`` (one owner name) or ``names`` (1 to 16 of them) limit
  the fault to those names.
* ``s3:<region>``: the region's fault proxy (:class:`S3Fault`). ``slowdown``
  (503 SlowDown), ``internal_error`` (500 InternalError), ``access_denied``
  (403 AccessDenied), ``no_such_key`` (404 NoSuchKey), each with S3's XML
  error body; ``refused`` (the listener closes: connections are refused),
  ``reset`` (the connection is reset after the request is read), ``delay``
  (``delay_ms`` before the origin answers), ``drop`` or ``timeout`` (the
  request is read and never answered), ``bandwidth`` (the headers at once,
  the body at ``bytes_per_s``), ``truncate`` (the headers announce the full
  ``Content-Length``, half the body follows, then the connection closes).
  ``path_prefix`` limits it to keys under a prefix.
* ``lambda``: the origin-request function's runtime (:class:`LambdaFault`).
  ``delay`` (the invocation takes ``delay_ms`` longer), ``error`` (it
  raises), ``invalid`` (it returns an invalid request), ``readonly`` (it
  changes a read-only header), ``timeout`` (it runs past the trigger
  timeout).

Every spec has ``probability`` (share of matching requests, default 1) and
``lease_s`` (default 30): the fault ends on its own unless renewed; ``id``
makes an injection idempotent. Refused, naming the field: an unknown field, a
field of another kind (``ttl`` on ``servfail``), kind ``none`` (remove the
fault instead), a name that is not a DNS name (RFC 1035 §2.3.4 lengths,
letters, digits and hyphens, plus RFC 8552's underscored labels).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

DEFAULT_LEASE_S = 30.0
MAX_DELAY_MS = 600_000.0
DEFAULT_FLAP_PERIOD_MS = 5000.0
MAX_TTL = 2**31 - 1  # RFC 2181 §8
MAX_NAMES = 16
# What wrong_answer serves: a name under .invalid (RFC 6761 §6.4) and TEST-NET-1 (RFC 5737).
WRONG_TXT = "wrong-answer.invalid"
WRONG_ADDRESS = "192.0.2.1"

DNS_TARGET = "dns"
LAMBDA_TARGET = "lambda"
_S3_PREFIX = "s3:"

_REGION_TARGET = re.compile(r"^s3:([a-z]{2}(?:-[a-z]+)+-\d+)$")
_COMMON = frozenset({"target", "kind", "probability", "lease_s", "id"})
# RFC 1035 §2.3.1 labels (letters, digits, inner hyphens), with RFC 8552's underscores.
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_MAX_NAME = 253  # the presentation form of a 255-octet wire name, without the root dot


def s3_target(region: str) -> str:
    """The target naming the fault proxy of S3 ``region``."""
    return f"{_S3_PREFIX}{region}"


class SpecError(ValueError):
    """A fault spec field is missing or invalid."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"fault spec field {field!r}: {reason}")
        self.field = field
        self.reason = reason


def dns_name_problem(name: object) -> str | None:
    """Why ``name`` is not a DNS owner name (``None`` when it is one)."""
    if not isinstance(name, str) or not name:
        return "must be a DNS name (a non-empty string)"
    bare = name[:-1] if name.endswith(".") else name
    if len(bare) > _MAX_NAME:
        return f"must be at most {_MAX_NAME} characters, got {len(bare)}"
    if not bare or not all(_LABEL.match(label) for label in bare.split(".")):
        return (
            f"{_shown(name)} is not a DNS name (labels of 1-63 letters, digits, '-' or '_', "
            "no '-' at either end)"
        )
    return None


def _shown(value: object) -> str:
    # A hostile spec may carry megabytes; an error message quotes only the start.
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


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
    WRONG_ANSWER = "wrong_answer"  # a well-formed answer pointing nowhere
    TTL = "ttl"  # the right answer with another TTL
    FLAP = "flap"  # SERVFAIL and answers in turn


@dataclass(frozen=True, slots=True)
class DnsFault:
    """A fault the zone applies to matching queries.

    ``probability`` is the share of matching queries affected; ``delay_ms`` and
    ``jitter_ms`` are used by ``delay``, ``ttl`` by ``ttl``, ``period_ms`` by
    ``flap`` (``None``: 5000). ``name`` and ``names`` limit the fault to those
    owner names (neither: every name).
    """

    kind: DnsFaultKind = DnsFaultKind.NONE
    probability: float = 1.0
    delay_ms: float = 0.0
    name: str | None = None
    jitter_ms: float | None = None
    ttl: int | None = None
    period_ms: float | None = None
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_ranges(self.probability, self.delay_ms)
        if self.jitter_ms is not None and not 0 <= self.jitter_ms <= MAX_DELAY_MS:
            msg = f"jitter_ms must be within [0, {MAX_DELAY_MS:g}], got {self.jitter_ms}"
            raise ValueError(msg)
        if self.kind is DnsFaultKind.TTL and self.ttl is None:
            msg = "ttl is required for kind 'ttl'"
            raise ValueError(msg)
        if self.ttl is not None and not 0 <= self.ttl <= MAX_TTL:
            msg = f"ttl must be within [0, {MAX_TTL}], got {self.ttl}"
            raise ValueError(msg)
        if self.period_ms is not None and not 0 < self.period_ms <= MAX_DELAY_MS:
            msg = f"period_ms must be within (0, {MAX_DELAY_MS:g}], got {self.period_ms}"
            raise ValueError(msg)
        if len(self.names) > MAX_NAMES:
            msg = f"names holds at most {MAX_NAMES} names, got {len(self.names)}"
            raise ValueError(msg)
        for owner in (self.name, *self.names) if self.name is not None else self.names:
            problem = dns_name_problem(owner)
            if problem is not None:
                msg = f"name {problem}"
                raise ValueError(msg)

    def owners(self) -> frozenset[str]:
        """The owner names it is limited to, lower-case with the root dot (empty: every name)."""
        listed = (self.name, *self.names) if self.name is not None else self.names
        return frozenset(owner.lower().rstrip(".") + "." for owner in listed)


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
    BANDWIDTH = "bandwidth"  # the body trickles at bytes_per_s
    TRUNCATE = "truncate"  # the body stops halfway and the connection closes


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
    bytes_per_s: float | None = None

    def __post_init__(self) -> None:
        _check_ranges(self.probability, self.delay_ms)
        if self.kind is S3FaultKind.BANDWIDTH and self.bytes_per_s is None:
            msg = "bytes_per_s is required for kind 'bandwidth'"
            raise ValueError(msg)
        if self.bytes_per_s is not None and not 0 < self.bytes_per_s < float("inf"):
            msg = f"bytes_per_s must be a positive number, got {self.bytes_per_s}"
            raise ValueError(msg)


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
    return {k: v for k, v in asdict(fault).items() if v not in (None, "", ())}


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
    raise SpecError("target", f'must be "dns", "lambda" or "s3:<region>", got {_shown(target)}')


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
    # "none" is how the zone spells "no fault"; a spec asking for it would hold a lease for nothing.
    valid = [k.value for k in kinds if k.value != DnsFaultKind.NONE.value]
    raw = spec.get("kind")
    if not isinstance(raw, str):
        raise SpecError("kind", f"is required, one of {', '.join(valid)}")
    value = (aliases or {}).get(raw.lower(), raw.lower())
    if value not in valid:
        if value == DnsFaultKind.NONE.value:
            raise SpecError("kind", "'none' is not a fault: remove the fault instead")
        raise SpecError("kind", f"{_shown(raw)} is not one of {', '.join(valid)}")
    return value


def _extra(spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(spec) - _COMMON - allowed)
    if unknown:
        field = unknown[0] if len(unknown[0]) <= 60 else f"{unknown[0][:57]}..."
        raise SpecError(field, "unknown field (typo?)")


def _only_for(spec: dict[str, Any], kind: StrEnum, fields: dict[str, StrEnum]) -> None:
    # A field of another kind is most likely a mistaken kind: say so rather than ignore it.
    for key, owner in fields.items():
        if key in spec and kind is not owner:
            raise SpecError(key, f"only applies to kind {owner.value!r}, not {kind.value!r}")


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


def _names(spec: dict[str, Any]) -> tuple[str | None, tuple[str, ...]]:
    name, names = spec.get("name"), spec.get("names")
    if name is not None and names is not None:
        raise SpecError("names", "give either 'name' or 'names', not both")
    if name is not None:
        problem = dns_name_problem(name)
        if problem is not None:
            raise SpecError("name", problem)
        return name, ()
    if names is None:
        return None, ()
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_NAMES:
        raise SpecError("names", f"must be a list of 1 to {MAX_NAMES} DNS names")
    for index, owner in enumerate(names):
        problem = dns_name_problem(owner)
        if problem is not None:
            raise SpecError("names", f"entry {index} {problem}")
    return None, tuple(names)


def _dns(spec: dict[str, Any]) -> DnsFault:
    _extra(spec, {"delay_ms", "jitter_ms", "ttl", "period_ms", "name", "names"})
    kind = DnsFaultKind(_kind(spec, DnsFaultKind))
    _only_for(
        spec,
        kind,
        {
            "jitter_ms": DnsFaultKind.DELAY,
            "ttl": DnsFaultKind.TTL,
            "period_ms": DnsFaultKind.FLAP,
        },
    )
    name, names = _names(spec)
    if kind is DnsFaultKind.DELAY and "delay_ms" not in spec:
        raise SpecError("delay_ms", "is required for kind 'delay'")
    jitter = None
    if "jitter_ms" in spec:
        jitter = _number(spec, "jitter_ms", 0.0)
        if not 0.0 <= jitter <= MAX_DELAY_MS:
            raise SpecError("jitter_ms", f"must be within [0, {MAX_DELAY_MS:g}], got {jitter:g}")
    ttl = None
    if kind is DnsFaultKind.TTL:
        ttl = spec.get("ttl")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
            raise SpecError("ttl", f"is required for kind 'ttl': an integer within [0, {MAX_TTL}]")
    period = None
    if kind is DnsFaultKind.FLAP:
        period = _number(spec, "period_ms", DEFAULT_FLAP_PERIOD_MS)
        if not 0.0 < period <= MAX_DELAY_MS:
            raise SpecError("period_ms", f"must be within (0, {MAX_DELAY_MS:g}], got {period:g}")
    return DnsFault(kind, _probability(spec), _delay(spec), name, jitter, ttl, period, names)


def _s3(spec: dict[str, Any]) -> S3Fault:
    _extra(spec, {"delay_ms", "path_prefix", "bytes_per_s"})
    kind = S3FaultKind(_kind(spec, S3FaultKind, {"timeout": "drop"}))
    _only_for(spec, kind, {"bytes_per_s": S3FaultKind.BANDWIDTH})
    if kind is S3FaultKind.DELAY and "delay_ms" not in spec:
        raise SpecError("delay_ms", "is required for kind 'delay'")
    rate = None
    if kind is S3FaultKind.BANDWIDTH:
        if "bytes_per_s" not in spec:
            raise SpecError("bytes_per_s", "is required for kind 'bandwidth'")
        rate = _number(spec, "bytes_per_s", 0.0)
        if not 0.0 < rate < float("inf"):
            raise SpecError("bytes_per_s", f"must be a positive number, got {rate:g}")
    prefix = spec.get("path_prefix", "")
    if not isinstance(prefix, str):
        raise SpecError("path_prefix", "must be a string")
    return S3Fault(kind, _probability(spec), _delay(spec), prefix.lstrip("/"), rate)


def _lambda(spec: dict[str, Any]) -> LambdaFault:
    _extra(spec, {"delay_ms"})
    kind = LambdaFaultKind(_kind(spec, LambdaFaultKind))
    if kind is LambdaFaultKind.DELAY and "delay_ms" not in spec:
        raise SpecError("delay_ms", "is required for kind 'delay'")
    return LambdaFault(kind, _probability(spec), _delay(spec))
