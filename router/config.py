"""The router's configuration: a JSON document bundled beside the handler.

Lambda@Edge has no environment variables, so the config travels inside the
deployment package as ``config.json``. It is loaded once per execution
environment and validated into a frozen :class:`RouterConfig`; the same
validation runs when ``edgedrill package`` builds the zip, so a bad config is
never first discovered at the edge.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.errors import ConfigError

BUNDLED_CONFIG = Path(__file__).with_name("config.json")

# CloudFront rejects an origin domain that is not lowercase or is longer than
# 128 characters (Lambda@Edge "restrictions on origin" in the developer guide).
MAX_DOMAIN_LENGTH = 128
# An origin-request trigger is killed after 30 s.
ORIGIN_TRIGGER_TIMEOUT_MS = 30_000

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
# The routing name is a DNS owner name, not a host name: RFC 8552 reserves
# underscored labels (``_origins.example.com``) for names like it. Any label but
# the top-level one may carry the leading underscore.
_UNDERSCORED = r"_?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_OWNER_RE = re.compile(rf"^(?:{_UNDERSCORED})(?:\.(?:{_UNDERSCORED}))*\.{_LABEL}$")
# RFC 1035 §2.3.4: 255 octets on the wire, 253 characters in text form.
_MAX_NAME = 253
_REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")

_KNOWN_KEYS = frozenset(
    {
        "routing_name",
        "nameservers",
        "origins",
        "lookup_timeout_ms",
        "min_ttl",
        "max_ttl",
        "negative_ttl",
        "max_stale",
        "stale_answer_ttl",
        "failure_recheck_s",
        "billing_threshold_ms",
    }
)


@dataclass(frozen=True, slots=True)
class Nameserver:
    """One DNS server the router queries directly."""

    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class OriginConfig:
    """One regional origin the routing record may name.

    ``domain`` is the bucket's S3 domain name as it appears in the TXT record;
    ``custom_domain`` is what a custom origin (an S3 website endpoint) uses
    instead, when it differs.
    """

    region: str
    domain: str
    weight: int = 1
    custom_domain: str | None = None


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """The validated router configuration.

    Times ending in ``_ms`` are milliseconds, other times are seconds.
    ``stale_answer_ttl`` and ``failure_recheck_s`` default to the 30 s RFC 8767
    §4 and §5 recommend; ``negative_ttl`` is used when a negative answer carries
    no SOA to take it from (RFC 2308 §5).
    """

    routing_name: str
    origins: tuple[OriginConfig, ...]
    nameservers: tuple[Nameserver, ...] = ()
    lookup_timeout_ms: float = 20.0
    min_ttl: int = 5
    max_ttl: int = 300
    negative_ttl: int = 30
    max_stale: int = 86_400
    stale_answer_ttl: int = 30
    failure_recheck_s: int = 30
    billing_threshold_ms: float = 50.0

    def origin_for(self, domain: str) -> OriginConfig | None:
        """The configured origin whose domain is ``domain`` (case-insensitive)."""
        wanted = domain.lower().rstrip(".")
        for origin in self.origins:
            if origin.domain == wanted:
                return origin
        return None


def load_config(path: str | Path | None = None) -> RouterConfig:
    """Read and validate a config file (the bundled ``config.json`` by default)."""
    source = Path(path) if path is not None else BUNDLED_CONFIG
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            "<file>", f"cannot read: {exc.strerror or exc}", source=str(source)
        ) from exc
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start}): a router config is JSON"
        raise ConfigError("<file>", reason, source=str(source)) from None
    document = decode_json(text, "<file>", source=str(source))
    try:
        return parse_config(document)
    except ConfigError as exc:
        raise ConfigError(exc.key, exc.reason, source=str(source)) from None


def decode_json(text: str, key: str, *, source: str | None = None) -> object:
    """``json.loads`` whose every failure is a :class:`ConfigError` naming line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise ConfigError(key, reason, source=source) from None
    except RecursionError:
        raise ConfigError(key, "not usable JSON: nested too deeply", source=source) from None


def parse_config(document: object) -> RouterConfig:
    """Validate a decoded JSON document into a :class:`RouterConfig`."""
    if not isinstance(document, dict):
        raise ConfigError("<root>", "must be a JSON object")
    unknown = sorted(set(document) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(unknown[0], "unknown key (typo?)")
    defaults = RouterConfig(routing_name="x.invalid", origins=())
    lookup_timeout_ms = _number(document, "lookup_timeout_ms", defaults.lookup_timeout_ms)
    if not 0 < lookup_timeout_ms < ORIGIN_TRIGGER_TIMEOUT_MS:
        raise ConfigError(
            "lookup_timeout_ms", "must be > 0 and below the 30,000 ms trigger timeout"
        )
    billing_threshold_ms = _number(document, "billing_threshold_ms", defaults.billing_threshold_ms)
    if billing_threshold_ms <= 0:
        raise ConfigError("billing_threshold_ms", "must be > 0")
    if lookup_timeout_ms >= billing_threshold_ms:
        reason = (
            f"{lookup_timeout_ms:g} ms must be below billing_threshold_ms "
            f"({billing_threshold_ms:g} ms), or a DNS fault pushes every lookup over it"
        )
        raise ConfigError("lookup_timeout_ms", reason)
    min_ttl = _integer(document, "min_ttl", defaults.min_ttl)
    max_ttl = _integer(document, "max_ttl", defaults.max_ttl)
    if max_ttl < min_ttl:
        raise ConfigError("max_ttl", f"must be >= min_ttl ({min_ttl})")
    return RouterConfig(
        routing_name=_routing_name(document),
        origins=_origins(document),
        nameservers=_nameservers(document),
        lookup_timeout_ms=lookup_timeout_ms,
        min_ttl=min_ttl,
        max_ttl=max_ttl,
        negative_ttl=_integer(document, "negative_ttl", defaults.negative_ttl),
        max_stale=_integer(document, "max_stale", defaults.max_stale),
        stale_answer_ttl=_integer(document, "stale_answer_ttl", defaults.stale_answer_ttl),
        failure_recheck_s=_integer(document, "failure_recheck_s", defaults.failure_recheck_s),
        billing_threshold_ms=billing_threshold_ms,
    )


def _routing_name(document: dict[str, Any]) -> str:
    if "routing_name" not in document:
        raise ConfigError("routing_name", "is required")
    name = document["routing_name"]
    text = name.lower().rstrip(".") if isinstance(name, str) else ""
    too_long = len(text) > _MAX_NAME or any(len(label) > 63 for label in text.split("."))
    if too_long or not _OWNER_RE.match(text):
        raise ConfigError("routing_name", f"must be a DNS name, got {name!r}")
    return text


def _nameservers(document: dict[str, Any]) -> tuple[Nameserver, ...]:
    raw = document.get("nameservers", [])
    if not isinstance(raw, list):
        raise ConfigError("nameservers", 'must be a list of "host:port" strings')
    servers = []
    for index, entry in enumerate(raw):
        key = f"nameservers[{index}]"
        if not isinstance(entry, str) or not entry:
            raise ConfigError(key, 'must be a "host:port" string')
        host, sep, port_text = entry.rpartition(":")
        if not sep:
            host, port_text = entry, "53"
        host = host.strip("[]")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(key, f"port must be 1-65535, got {port_text!r}")
        if not _is_ip(host):
            raise ConfigError(key, f"host must be an IP address, got {host!r}")
        servers.append(Nameserver(host, int(port_text)))
    return tuple(servers)


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _origins(document: dict[str, Any]) -> tuple[OriginConfig, ...]:
    raw = document.get("origins")
    if not isinstance(raw, list) or not raw:
        raise ConfigError("origins", "must be a non-empty list of {region, domain, weight}")
    origins: list[OriginConfig] = []
    for index, entry in enumerate(raw):
        key = f"origins[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(key, "must be an object with region, domain and weight")
        extra = sorted(set(entry) - {"region", "domain", "weight", "custom_domain"})
        if extra:
            raise ConfigError(f"{key}.{extra[0]}", "unknown key (typo?)")
        region = entry.get("region")
        if not isinstance(region, str) or not _REGION_RE.match(region):
            raise ConfigError(f"{key}.region", f"must be an AWS region name, got {region!r}")
        domain = _domain(entry.get("domain"), f"{key}.domain")
        custom = entry.get("custom_domain")
        custom_domain = None if custom is None else _domain(custom, f"{key}.custom_domain")
        weight = entry.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 1000:
            raise ConfigError(f"{key}.weight", f"must be an integer in 0..1000, got {weight!r}")
        if any(origin.domain == domain for origin in origins):
            raise ConfigError(f"{key}.domain", f"{domain!r} is listed twice")
        origins.append(OriginConfig(region, domain, weight, custom_domain))
    if not any(origin.weight for origin in origins):
        raise ConfigError("origins", "at least one origin needs a weight above 0")
    return tuple(origins)


def _domain(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    if value != value.lower():
        raise ConfigError(key, f"CloudFront requires a lowercase origin domain, got {value!r}")
    if len(value) > MAX_DOMAIN_LENGTH:
        raise ConfigError(key, f"CloudFront allows at most {MAX_DOMAIN_LENGTH} characters")
    if not _DOMAIN_RE.match(value):
        raise ConfigError(key, f"not a valid domain name: {value!r}")
    return value


def _number(document: dict[str, Any], key: str, default: float) -> float:
    value = document.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"must be a number, got {value!r}")
    # JSON has no NaN or Infinity, yet Python's reader takes them: refuse both.
    if not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, got {value!r}")
    return float(value)


def _integer(document: dict[str, Any], key: str, default: int) -> int:
    value = document.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(key, f"must be a non-negative integer (seconds), got {value!r}")
    return value
