"""The fault vocabulary people write (``dns:servfail``, ``bucket:503``) and its engine specs.

Each spelling breaks exactly one of the four dependencies of a cache miss
(DESIGN.md: CloudFront resolves the origin's name, the router looks up the
routing name, the bucket answers, the function runs), and :class:`Dependency`
says which:

=====================================  ============================================
spelling                               engine spec (``target``, ``kind``, fields)
=====================================  ============================================
``dns:servfail|nxdomain|refused``      ``dns`` of the same kind, ``name``: the
``dns:drop|truncate``                  routing name (the router's lookup only)
``dns:delay=200ms[,jitter=50ms]``      ``dns`` ``delay``, ``delay_ms``, ``jitter_ms``
``dns:wrong-answer``                   ``dns`` ``wrong_answer``
``dns:ttl=0``                          ``dns`` ``ttl``, ``ttl``
``dns:flap[=5s]``                      ``dns`` ``flap``, ``period_ms`` (default 5 s)
``origin-dns:fail``                    ``dns`` ``servfail``, ``names``: the S3 origin
                                       domains (with a region: only its domain)
``bucket:503|500|403|404``             ``s3:<region>`` ``slowdown``, ``internal_error``,
                                       ``access_denied``, ``no_such_key``
``bucket:latency=2s``                  ``s3:<region>`` ``delay``, ``delay_ms``
``bucket:bandwidth=10kB/s``            ``s3:<region>`` ``bandwidth``, ``bytes_per_s``
``bucket:reset|blackhole|truncate``    ``s3:<region>`` ``reset``, ``drop``, ``truncate``
``lambda:error|timeout``               ``lambda`` ``error``, ``timeout``
=====================================  ============================================

The region of a bucket fault defaults to the state file's primary (first)
region. Every spelling takes ``probability`` (0..1), written as an option
(``bucket:503,probability=0.5``) or given by the caller.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from chaos.errors import FaultSyntaxError, TargetError
from edge.fault_specs import DNS_TARGET, LAMBDA_TARGET, MAX_DELAY_MS, s3_target

if TYPE_CHECKING:
    from edge.stack import StackState

DEFAULT_FLAP_S = 5.0
MAX_TTL = 2_147_483_647  # RFC 2181 §8: a TTL is a 31-bit unsigned number

# An AWS region name (us-east-1, ap-southeast-2): every command that takes one checks it so.
REGION_NAME = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d+")
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?$")
_BANDWIDTH = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB)/s$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# kB = 1000 B and KiB = 1024 B (IEC 80000-13); "KB" is read as kB, as most tools do.
_BYTE_UNITS = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "KiB": 1024,
    "MB": 1000**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "GiB": 1024**3,
}


class Dependency(StrEnum):
    """The dependency of a cache miss that a fault breaks."""

    ROUTER_DNS = "the router's DNS lookup of the routing name"
    ORIGIN_DNS = "CloudFront's resolution of the S3 origin domains"
    BUCKET = "the S3 bucket of one region"
    FUNCTION = "the origin-request function (Lambda@Edge)"


class FaultKind(StrEnum):
    """The family of a spelling: the spelling without its values and options."""

    DNS_SERVFAIL = "dns:servfail"
    DNS_NXDOMAIN = "dns:nxdomain"
    DNS_REFUSED = "dns:refused"
    DNS_DROP = "dns:drop"
    DNS_DELAY = "dns:delay"
    DNS_TRUNCATE = "dns:truncate"
    DNS_WRONG_ANSWER = "dns:wrong-answer"
    DNS_TTL = "dns:ttl"
    DNS_FLAP = "dns:flap"
    ORIGIN_DNS_FAIL = "origin-dns:fail"
    BUCKET_503 = "bucket:503"
    BUCKET_500 = "bucket:500"
    BUCKET_403 = "bucket:403"
    BUCKET_404 = "bucket:404"
    BUCKET_LATENCY = "bucket:latency"
    BUCKET_BANDWIDTH = "bucket:bandwidth"
    BUCKET_RESET = "bucket:reset"
    BUCKET_BLACKHOLE = "bucket:blackhole"
    BUCKET_TRUNCATE = "bucket:truncate"
    LAMBDA_ERROR = "lambda:error"
    LAMBDA_TIMEOUT = "lambda:timeout"

    @property
    def usage(self) -> str:
        """How the spelling is written, with an example value."""
        return _USAGE.get(self, self.value)

    @property
    def dependency(self) -> Dependency:
        """Which dependency of a cache miss this kind breaks."""
        family = self.value.split(":", 1)[0]
        return _DEPENDENCY[family]

    @property
    def engine_kind(self) -> str:
        """The ``kind`` of the engine spec."""
        return _ENGINE_KIND.get(self, self.value.split(":", 1)[1].replace("-", "_"))

    @property
    def breaks(self) -> str:
        """What a viewer's cache miss meets while the fault is active."""
        return _BREAKS[self]


_USAGE = {
    FaultKind.DNS_DELAY: "dns:delay=200ms[,jitter=50ms]",
    FaultKind.DNS_TTL: "dns:ttl=0",
    FaultKind.DNS_FLAP: "dns:flap[=5s]",
    FaultKind.BUCKET_LATENCY: "bucket:latency=2s",
    FaultKind.BUCKET_BANDWIDTH: "bucket:bandwidth=10kB/s",
}
_DEPENDENCY = {
    "dns": Dependency.ROUTER_DNS,
    "origin-dns": Dependency.ORIGIN_DNS,
    "bucket": Dependency.BUCKET,
    "lambda": Dependency.FUNCTION,
}
_ENGINE_KIND = {
    FaultKind.ORIGIN_DNS_FAIL: "servfail",
    FaultKind.BUCKET_503: "slowdown",
    FaultKind.BUCKET_500: "internal_error",
    FaultKind.BUCKET_403: "access_denied",
    FaultKind.BUCKET_404: "no_such_key",
    FaultKind.BUCKET_LATENCY: "delay",
    FaultKind.BUCKET_BLACKHOLE: "drop",
}
_BREAKS = {
    FaultKind.DNS_SERVFAIL: "SERVFAIL answers",
    FaultKind.DNS_NXDOMAIN: "NXDOMAIN answers",
    FaultKind.DNS_REFUSED: "REFUSED answers",
    FaultKind.DNS_DROP: "no answer (the lookup times out)",
    FaultKind.DNS_DELAY: "answers that come late (plus a random jitter)",
    FaultKind.DNS_TRUNCATE: "truncated UDP answers (TC set: retry over TCP)",
    FaultKind.DNS_WRONG_ANSWER: "a wrong answer (TXT wrong-answer.invalid, A 192.0.2.1)",
    FaultKind.DNS_TTL: "right answers with this TTL",
    FaultKind.DNS_FLAP: "SERVFAIL for one period, right answers the next, alternately",
    FaultKind.ORIGIN_DNS_FAIL: "SERVFAIL for the bucket domains (502 once the edge's cache ends)",
    FaultKind.BUCKET_503: "503 SlowDown with S3's XML error body",
    FaultKind.BUCKET_500: "500 InternalError with S3's XML error body",
    FaultKind.BUCKET_403: "403 AccessDenied with S3's XML error body",
    FaultKind.BUCKET_404: "404 NoSuchKey with S3's XML error body",
    FaultKind.BUCKET_LATENCY: "responses that start this late",
    FaultKind.BUCKET_BANDWIDTH: "response bodies sent at this rate",
    FaultKind.BUCKET_RESET: "connections reset once the request is read",
    FaultKind.BUCKET_BLACKHOLE: "requests read and never answered",
    FaultKind.BUCKET_TRUNCATE: "bodies cut halfway under their full Content-Length",
    FaultKind.LAMBDA_ERROR: "the function raises (the edge answers 503)",
    FaultKind.LAMBDA_TIMEOUT: "the function runs past its 30 s timeout (the edge answers 503)",
}

VALID_SPELLINGS = ", ".join(kind.usage for kind in FaultKind)

# Kinds whose spelling carries a value after "=": required, or optional with a default.
_VALUE_REQUIRED = {
    FaultKind.DNS_DELAY,
    FaultKind.DNS_TTL,
    FaultKind.BUCKET_LATENCY,
    FaultKind.BUCKET_BANDWIDTH,
}
_VALUE_OPTIONAL = {FaultKind.DNS_FLAP}
_REGIONAL = {"origin-dns", "bucket"}


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed spelling: what it breaks, its values, where, and how often.

    Durations are in seconds. ``region`` is ``None`` for the primary region
    (bucket faults) or every region (``origin-dns:fail``).
    """

    spelling: str
    kind: FaultKind
    region: str | None = None
    probability: float = 1.0
    delay_s: float | None = None
    jitter_s: float | None = None
    ttl: int | None = None
    period_s: float | None = None
    latency_s: float | None = None
    bytes_per_s: int | None = None

    def __post_init__(self) -> None:
        # A fault built in code must hold what a parsed one holds.
        if not 0.0 <= self.probability <= 1.0:
            msg = f"{self.spelling}: probability must be within [0, 1], got {self.probability}"
            raise FaultSyntaxError(msg)
        if self.region is not None and self.kind.value.split(":", 1)[0] not in _REGIONAL:
            msg = (
                f"{self.spelling}: a region applies to bucket and origin-dns faults only; "
                f"{self.kind.value} breaks {self.kind.dependency}, which has no region"
            )
            raise FaultSyntaxError(msg)

    @property
    def dependency(self) -> Dependency:
        """Which dependency of a cache miss this fault breaks."""
        return self.kind.dependency

    def region_of(self, state: StackState) -> str | None:
        """The region a bucket fault applies to (the primary one unless named)."""
        if self.kind.dependency is Dependency.BUCKET:
            region = self.region or next(iter(state.regions), None)
            if region is None or region not in state.regions:
                known = ", ".join(state.regions) or "none"
                msg = f"{self.spelling}: region {region!r} is not in the state file ({known})"
                raise TargetError(msg)
            return region
        return self.region

    def specs(self, state: StackState) -> list[dict[str, Any]]:
        """The engine specs (control API bodies, without lease or id) for this distribution."""
        kind = self.kind
        spec: dict[str, Any]
        if kind.dependency is Dependency.ROUTER_DNS:
            spec = {"target": DNS_TARGET, "kind": kind.engine_kind, "name": state.routing_name}
        elif kind.dependency is Dependency.ORIGIN_DNS:
            spec = {"target": DNS_TARGET, "kind": kind.engine_kind, "names": self._origins(state)}
        elif kind.dependency is Dependency.BUCKET:
            region = self.region_of(state)
            assert region is not None  # region_of names one for every bucket fault
            spec = {"target": s3_target(region), "kind": kind.engine_kind}
        else:
            spec = {"target": LAMBDA_TARGET, "kind": kind.engine_kind}
        spec.update(self._fields())
        spec["probability"] = self.probability
        return [spec]

    def describe(self, state: StackState) -> str:
        """Where the fault applies, for people: ``s3:eu-west-1`` or ``dns origins.example``."""
        parts = []
        for spec in self.specs(state):
            names = spec.get("names") or ([spec["name"]] if "name" in spec else [])
            parts.append(" ".join([spec["target"], *names]))
        return "; ".join(parts)

    def _origins(self, state: StackState) -> list[str]:
        if not state.origins:
            msg = f"{self.spelling}: the state file lists no S3 origin domains ('origins')"
            raise TargetError(msg)
        if self.region is None:
            return list(state.origins.values())
        if self.region not in state.origins:
            known = ", ".join(state.origins)
            msg = f"{self.spelling}: region {self.region!r} is not in the state file ({known})"
            raise TargetError(msg)
        return [state.origins[self.region]]

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.delay_s is not None:
            fields["delay_ms"] = _ms(self.delay_s)
        if self.jitter_s is not None:
            fields["jitter_ms"] = _ms(self.jitter_s)
        if self.ttl is not None:
            fields["ttl"] = self.ttl
        if self.period_s is not None:
            fields["period_ms"] = _ms(self.period_s)
        if self.latency_s is not None:
            fields["delay_ms"] = _ms(self.latency_s)
        if self.bytes_per_s is not None:
            fields["bytes_per_s"] = self.bytes_per_s
        return fields


def _ms(seconds: float) -> float | int:
    ms = round(seconds * 1000.0, 3)
    return int(ms) if ms.is_integer() else ms


def parse_fault(text: str, *, region: str | None = None, probability: float | None = None) -> Fault:
    """Parse a spelling such as ``dns:delay=200ms,jitter=50ms`` or ``bucket:503,probability=0.5``.

    ``region`` and ``probability`` may be given here or as options of the
    spelling, not both.
    """
    spelling = text.strip()
    head, *options = [part.strip() for part in spelling.split(",")]
    name, has_value, raw_value = head.partition("=")
    kind = _kind(spelling, name.strip().lower())
    values = _value(spelling, kind, raw_value.strip() if has_value else None)
    for option in options:
        key, _, raw = option.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if key == "jitter" and kind is FaultKind.DNS_DELAY and raw:
            values["jitter_s"] = _bounded_ms(spelling, "jitter", raw)
        elif key == "probability" and raw:
            probability = _given_once(spelling, key, probability, _probability_in(spelling, raw))
        elif key == "region" and raw:
            region = _given_once(spelling, key, region, raw)
        else:
            msg = (
                f"{spelling}: unknown option {option!r}; options: probability=P (0..1), "
                "region=R (bucket and origin-dns faults), jitter=D (dns:delay)"
            )
            raise FaultSyntaxError(msg)
    if region is not None and not REGION_NAME.fullmatch(region):
        msg = f"{spelling}: {region!r} is not an AWS region name (e.g. eu-west-1)"
        raise FaultSyntaxError(msg)
    if probability is not None:
        _check_probability(spelling, probability)
    return Fault(
        spelling,
        kind,
        region,
        1.0 if probability is None else probability,
        **values,
    )


def _kind(spelling: str, name: str) -> FaultKind:
    try:
        return FaultKind(name)
    except ValueError:
        pass
    close = difflib.get_close_matches(name, [k.value for k in FaultKind], n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    msg = f"unknown fault {spelling!r}{hint}; valid: {VALID_SPELLINGS}"
    raise FaultSyntaxError(msg)


def _value(spelling: str, kind: FaultKind, raw: str | None) -> dict[str, Any]:
    if raw is None or raw == "":
        if kind in _VALUE_REQUIRED:
            raise FaultSyntaxError(f"{spelling}: needs a value, as in {kind.usage}")
        return {"period_s": DEFAULT_FLAP_S} if kind is FaultKind.DNS_FLAP else {}
    if kind not in _VALUE_REQUIRED | _VALUE_OPTIONAL:
        raise FaultSyntaxError(f"{spelling}: {kind.value} takes no value")
    if kind is FaultKind.DNS_DELAY:
        return {"delay_s": _bounded_ms(spelling, "delay", raw)}
    if kind is FaultKind.DNS_TTL:
        return {"ttl": _ttl(spelling, raw)}
    if kind is FaultKind.DNS_FLAP:
        period = _duration_in(spelling, "flap period", raw, plain_seconds=True)
        if period <= 0:
            raise FaultSyntaxError(f"{spelling}: the flap period must be more than 0")
        return {"period_s": period}
    if kind is FaultKind.BUCKET_LATENCY:
        latency = _duration_in(spelling, "latency", raw, plain_seconds=True)
        if latency * 1000.0 > MAX_DELAY_MS:
            raise FaultSyntaxError(f"{spelling}: latency at most {MAX_DELAY_MS / 1000:g} s")
        return {"latency_s": latency}
    return {"bytes_per_s": _bandwidth_in(spelling, raw)}


def _given_once(spelling: str, key: str, given: Any, written: Any) -> Any:
    if given is not None and given != written:
        msg = f"{spelling}: {key} is given twice ({given} and {written})"
        raise FaultSyntaxError(msg)
    return written


def _bounded_ms(spelling: str, what: str, raw: str) -> float:
    # A bare number could be read as ms (dig, DNS tools) or as s: a unit is required.
    value = _duration_in(spelling, what, raw, plain_seconds=False)
    if value * 1000.0 > MAX_DELAY_MS:
        raise FaultSyntaxError(f"{spelling}: {what} at most {MAX_DELAY_MS / 1000:g} s")
    return value


def _ttl(spelling: str, raw: str) -> int:
    text = raw[:-1] if raw.endswith("s") else raw
    if not text.isdigit() or int(text) > MAX_TTL:
        msg = f"{spelling}: the TTL must be whole seconds within 0..{MAX_TTL}, got {raw!r}"
        raise FaultSyntaxError(msg)
    return int(text)


def _duration_in(spelling: str, what: str, raw: str, *, plain_seconds: bool) -> float:
    try:
        return parse_duration(raw, plain_seconds=plain_seconds)
    except FaultSyntaxError as exc:
        raise FaultSyntaxError(f"{spelling}: {what}: {exc}") from None


def _probability_in(spelling: str, raw: str) -> float:
    try:
        return parse_probability(raw)
    except FaultSyntaxError as exc:
        raise FaultSyntaxError(f"{spelling}: {exc}") from None


def _bandwidth_in(spelling: str, raw: str) -> int:
    try:
        return parse_bandwidth(raw)
    except FaultSyntaxError as exc:
        raise FaultSyntaxError(f"{spelling}: {exc}") from None


def parse_duration(text: str, *, plain_seconds: bool = True) -> float:
    """Seconds in ``"200ms"``, ``"2s"``, ``"1.5s"``, ``"5m"``, ``"1h"`` (a bare number: seconds)."""
    match = _DURATION.match(text.strip())
    if match is None or (match.group(2) is None and not plain_seconds):
        units = "ms, s, m or h" if plain_seconds else "a unit: ms, s, m or h"
        msg = f"{text!r} is not a duration (a number with {units}, e.g. 200ms, 1.5s, 5m)"
        raise FaultSyntaxError(msg)
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


def parse_bandwidth(text: str) -> int:
    """Bytes per second in ``"10kB/s"``, ``"1MiB/s"``, ``"512B/s"`` (kB = 1000 B, KiB = 1024 B)."""
    match = _BANDWIDTH.match(text.strip())
    if match is None:
        msg = (
            f"{text!r} is not a bandwidth (a number with B/s, kB/s, KiB/s, MB/s, MiB/s, GB/s "
            "or GiB/s, e.g. 10kB/s)"
        )
        raise FaultSyntaxError(msg)
    rate = round(float(match.group(1)) * _BYTE_UNITS[match.group(2)])
    if rate < 1:
        raise FaultSyntaxError(f"{text!r}: the bandwidth must be at least 1 B/s")
    return rate


def parse_probability(text: str) -> float:
    """A probability written as a number within 0..1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails both comparisons
        msg = f"probability must be a number within 0..1, got {text!r}"
        raise FaultSyntaxError(msg)
    return value


def _check_probability(spelling: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        msg = f"{spelling}: probability must be a number within 0..1, got {value!r}"
        raise FaultSyntaxError(msg)
