"""Numeric settings of the local distribution, each declared once: flag, default, range, help.

A :class:`Setting` is added to every parser that takes it (``edgedrill up``,
``python -m edge.stack up``, the Locust scenarios, ``edgedrill run``) with
:meth:`Setting.add_to`, whose argparse ``type`` refuses an out-of-range value
in the first process that parses it. Values that arrive another way (Locust's
web UI converts an edited field to the type of its default, without the
parser's ``type``) are checked again with :meth:`Setting.check`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

N = TypeVar("N", int, float)


class SettingError(ValueError):
    """A setting's value is outside its range or not a number."""

    def __init__(self, flag: str, reason: str) -> None:
        super().__init__(f"{flag}: {reason}")
        self.flag = flag
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Setting(Generic[N]):
    """One numeric option: its flag, type, default and inclusive (or open) range."""

    flag: str
    kind: type[N]
    default: N
    minimum: float
    maximum: float
    help: str
    min_open: bool = False
    max_open: bool = False

    @property
    def dest(self) -> str:
        """The attribute name argparse gives the option."""
        return self.flag.lstrip("-").replace("-", "_")

    def describe_range(self) -> str:
        """The range as a reader writes it: ``1..100000``, ``(0, 30]``."""
        low, high = _show(self.minimum), _show(self.maximum)
        if not self.min_open and not self.max_open:
            return f"{low}..{high}"
        return f"{'(' if self.min_open else '['}{low}, {high}{')' if self.max_open else ']'}"

    def check(self, value: object) -> N:
        """``value`` as this setting's type, or :class:`SettingError` naming the flag."""
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SettingError(self.flag, f"must be a number, got {value!r}")
        try:
            number = (
                self.kind(float(value))
                if self.kind is int and isinstance(value, float)
                else (self.kind(value))
            )
        except (TypeError, ValueError):
            kind = "a whole number" if self.kind is int else "a number"
            raise SettingError(self.flag, f"must be {kind}, got {value!r}") from None
        if isinstance(value, float) and self.kind is int and value != number:
            raise SettingError(self.flag, f"must be a whole number, got {value!r}")
        if not math.isfinite(number) or not self._in_range(number):
            raise SettingError(self.flag, f"must be within {self.describe_range()}, got {value!r}")
        return number

    def _in_range(self, number: float) -> bool:
        above = number > self.minimum if self.min_open else number >= self.minimum
        below = number < self.maximum if self.max_open else number <= self.maximum
        return above and below

    def parse(self, text: str) -> N:
        """The argparse ``type``: a bad value is a usage error naming the flag."""
        try:
            return self.check(text.strip())
        except SettingError as exc:
            # argparse puts "argument --flag:" before it.
            raise argparse.ArgumentTypeError(exc.reason) from None

    def add_to(self, parser: Any, *, default: object = ..., **extra: Any) -> Any:
        """Add the option to ``parser`` (or an argument group); returns the action."""
        # ``default=None`` passes the option on only when given; the help still
        # shows the declared default, which is what the receiving process uses.
        value = self.default if default is ... else default
        shown = self.default if value is None else value
        return parser.add_argument(
            self.flag,
            type=self.parse,
            default=value,
            help=f"{self.help} (default: {shown}; {self.describe_range()})",
            **extra,
        )


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def setting(
    flag: str,
    kind: type[N],
    default: N,
    bounds: tuple[float, float],
    help_text: str,
    *,
    open_bounds: str = "",
) -> Setting[N]:
    """Declare a setting; ``open_bounds`` holds ``"<"`` and/or ``">"`` for exclusive ends."""
    return Setting(
        flag,
        kind,
        default,
        bounds[0],
        bounds[1],
        help_text,
        min_open="<" in open_bounds,
        max_open=">" in open_bounds,
    )


_PORT = (0.0, 65_535.0)

# With the default spike's Zipf popularity, 1,000 objects leave about 20 % of
# requests to miss the edge cache: several hundred router invocations per drill,
# enough for its DNS cache and billing figures to mean something, well within
# what two moto regions serve here.
OBJECTS = setting("--objects", int, 1000, (1, 100_000), "objects seeded in each region")
# Lambda's memory sizes, MB.
MEMORY_MB = setting("--memory-mb", int, 128, (128, 10_240), "the router function's memory, MB")
TXT_TTL = setting("--txt-ttl", int, 60, (0, 2_147_483_647), "TTL of the routing TXT record, s")
A_TTL = setting("--a-ttl", int, 60, (0, 2_147_483_647), "TTL of the origins' A records, s")
CORPUS_SEED = setting("--seed", int, 7, (0, 2**32 - 1), "seed of the object corpus")
MIN_TTL = setting("--min-ttl", float, 0.0, (0, 31_536_000), "cache behaviour minimum TTL, s")
DEFAULT_TTL = setting("--default-ttl", float, 86_400.0, (0, 31_536_000), "default TTL, s")
MAX_TTL = setting("--max-ttl", float, 31_536_000.0, (0, 31_536_000), "maximum TTL, s")
ERROR_TTL = setting("--error-ttl", float, 10.0, (0, 31_536_000), "error caching minimum TTL, s")
CACHE_MB = setting("--cache-mb", int, 512, (1, 1_048_576), "POP cache size, MiB")
CONCURRENCY_LIMIT = setting(
    "--concurrency-limit", int, 1000, (1, 100_000), "Lambda concurrency limit"
)
IDLE_REAP_S = setting(
    "--idle-reap-s", float, 300.0, (0, 86_400), "idle environment lifetime, s", open_bounds="<"
)
# Origin-request triggers time out after at most 30 s (the Lambda@Edge quotas page).
TRIGGER_TIMEOUT_S = setting(
    "--trigger-timeout-s", float, 30.0, (0, 30), "origin trigger timeout, s", open_bounds="<"
)
# CloudFront's origin settings: 1-3 connection attempts, a 1-10 s connection
# timeout, a 1-120 s response timeout (60 s by request: not modelled).
CONNECTION_ATTEMPTS = setting("--connection-attempts", int, 3, (1, 3), "origin connection attempts")
CONNECTION_TIMEOUT_S = setting(
    "--connection-timeout-s", float, 10.0, (0, 10), "origin connect timeout, s", open_bounds="<"
)
RESPONSE_TIMEOUT_S = setting(
    "--response-timeout-s", float, 30.0, (0, 120), "origin response timeout, s", open_bounds="<"
)
# The router's lookup deadline stays below the default 50 ms billing threshold.
LOOKUP_TIMEOUT_MS = setting(
    "--lookup-timeout-ms", float, 20.0, (0, 50), "router DNS deadline, ms", open_bounds="<>"
)
ROUTER_MIN_TTL = setting("--router-min-ttl", int, 5, (0, 86_400), "router min_ttl, s")
CONTROL_PORT = setting("--control-port", int, 0, _PORT, "control API port (0: any free)")
EDGE_PORT = setting("--edge-port", int, 0, _PORT, "edge port (0: any free)")

UP_SETTINGS: tuple[Setting[Any], ...] = (
    OBJECTS,
    TXT_TTL,
    A_TTL,
    CORPUS_SEED,
    MIN_TTL,
    DEFAULT_TTL,
    MAX_TTL,
    ERROR_TTL,
    CACHE_MB,
    CONCURRENCY_LIMIT,
    IDLE_REAP_S,
    TRIGGER_TIMEOUT_S,
    MEMORY_MB,
    CONNECTION_ATTEMPTS,
    CONNECTION_TIMEOUT_S,
    RESPONSE_TIMEOUT_S,
    LOOKUP_TIMEOUT_MS,
    ROUTER_MIN_TTL,
    CONTROL_PORT,
    EDGE_PORT,
)
