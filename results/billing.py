"""What the router's invocations cost: billed duration under the 1 ms and 50 ms rules.

Lambda@Edge bills each invocation a request charge plus its duration times
its memory (GB-seconds). Since 2021-04-01 duration is rounded up to the next
1 ms; before, it was rounded up to the next 50 ms ("Lambda@Edge billing
granularity", CloudFront what's new, 2021-03-31), and the seed team budgeted
against that rule. Rounding is done on integer microseconds, so a logged
``Duration: 2.00 ms`` bills 2 ms, never 3 because of binary floats. Every
invocation bills at least one step. Memory is converted at 1,024 MB per GB,
as AWS's pricing examples do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from results.records import FloatArray, IntArray

BILLING_STEPS_MS = (1, 50)  # today's rule, the old one
DEFAULT_THRESHOLD_MS = 50.0  # the router's billing_threshold_ms default


@dataclass(frozen=True, slots=True)
class Prices:
    """Lambda@Edge prices in US dollars (us-east-1 list prices; a setting, not a constant)."""

    per_million_requests: float = 0.60
    per_gb_second: float = 0.00005001


def billed_ms(duration_ms: FloatArray, step_ms: int) -> IntArray:
    """Billed duration of each invocation: ``duration`` rounded up to whole ``step_ms``."""
    if step_ms <= 0:
        raise ValueError(f"billing step must be positive, got {step_ms}")
    micros = np.rint(np.asarray(duration_ms, dtype=np.float64) * 1000.0).astype(np.int64)
    step_us = step_ms * 1000
    steps = np.maximum(1, -(-micros // step_us))
    billed: IntArray = steps * step_ms
    return billed


@dataclass(frozen=True, slots=True)
class BillingRule:
    """The cost of the run's invocations under one rounding rule."""

    step_ms: int
    mean_billed_ms: float
    gb_seconds: float  # total over the run's invocations
    cost_usd: float  # total for the run's invocations
    cost_per_million_usd: float  # per million invocations


def apply_rule(
    duration_ms: FloatArray, step_ms: int, memory_mb: float, prices: Prices
) -> BillingRule:
    """Price the invocations under one rounding rule."""
    invocations = len(duration_ms)
    if invocations == 0:
        return BillingRule(step_ms, math.nan, 0.0, 0.0, math.nan)
    billed = billed_ms(duration_ms, step_ms)
    total_ms = int(billed.sum())
    gb_seconds = total_ms / 1000.0 * memory_mb / 1024.0
    cost = invocations * prices.per_million_requests / 1e6 + gb_seconds * prices.per_gb_second
    return BillingRule(
        step_ms=step_ms,
        mean_billed_ms=total_ms / invocations,
        gb_seconds=gb_seconds,
        cost_usd=cost,
        cost_per_million_usd=cost / invocations * 1e6,
    )


@dataclass(frozen=True, slots=True)
class Billing:
    """Billing of a run's invocations, today's rule against the old one."""

    invocations: int
    memory_mb: float
    memory_source: str  # where memory_mb came from
    threshold_ms: float
    threshold_source: str
    rules: tuple[BillingRule, ...]
    above_threshold: int  # invocations whose Duration exceeded the threshold
    reported_mismatches: int  # REPORT Billed Duration differing from the 1 ms rule
    prices: Prices

    @property
    def share_above_threshold(self) -> float:
        """Share of invocations whose duration exceeded the billing threshold."""
        return self.above_threshold / self.invocations if self.invocations else math.nan

    def rule(self, step_ms: int) -> BillingRule:
        """The rule with this rounding step."""
        return next(rule for rule in self.rules if rule.step_ms == step_ms)


def bill(
    duration_ms: FloatArray,
    *,
    memory_mb: float,
    memory_source: str,
    threshold_ms: float,
    threshold_source: str,
    reported_billed_ms: IntArray | None = None,
    prices: Prices | None = None,
) -> Billing:
    """Bill a run's invocation durations under each rule in :data:`BILLING_STEPS_MS`."""
    prices = prices or Prices()
    mismatches = 0
    if reported_billed_ms is not None and len(reported_billed_ms) == len(duration_ms):
        mismatches = int(np.count_nonzero(billed_ms(duration_ms, 1) != reported_billed_ms))
    return Billing(
        invocations=len(duration_ms),
        memory_mb=memory_mb,
        memory_source=memory_source,
        threshold_ms=threshold_ms,
        threshold_source=threshold_source,
        rules=tuple(apply_rule(duration_ms, step, memory_mb, prices) for step in BILLING_STEPS_MS),
        above_threshold=int(np.count_nonzero(duration_ms > threshold_ms)),
        reported_mismatches=mismatches,
        prices=prices,
    )
