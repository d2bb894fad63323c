"""Billed duration at 1 ms and 50 ms, cost per million, share above the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from results.billing import Prices, apply_rule, bill, billed_ms


@pytest.mark.parametrize(
    ("duration", "at_1", "at_50"),
    [
        (0.01, 1, 50),
        (1.0, 1, 50),
        (1.001, 2, 50),
        (2.0, 2, 50),  # an exact duration is not rounded up
        (2.25, 3, 50),
        (49.99, 50, 50),
        (50.0, 50, 50),
        (50.01, 51, 100),
        (100.0, 100, 100),
        (100.001, 101, 150),
        (0.1 + 0.2, 1, 50),
        (2.3, 3, 50),  # 2.3 is 2.29999... in binary; still 3
    ],
)
def test_rounding(duration: float, at_1: int, at_50: int) -> None:
    assert billed_ms(np.array([duration]), 1).tolist() == [at_1]
    assert billed_ms(np.array([duration]), 50).tolist() == [at_50]


def test_rounding_is_exact_for_two_decimal_durations() -> None:
    hundredths = np.arange(1, 20001)
    durations = np.array([float(f"{h / 100:.2f}") for h in hundredths])
    assert billed_ms(durations, 1).tolist() == (-(-hundredths // 100)).tolist()
    assert billed_ms(durations, 50).tolist() == (-(-hundredths // 5000) * 50).tolist()


def test_a_step_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        billed_ms(np.array([1.0]), 0)


def test_cost_per_million_by_hand() -> None:
    # 4 invocations of 10.5 ms at 128 MB: 11 ms billed each at 1 ms, 50 ms at 50 ms.
    durations = np.full(4, 10.5)
    prices = Prices(per_million_requests=0.60, per_gb_second=0.00005001)
    today = apply_rule(durations, 1, 128, prices)
    old = apply_rule(durations, 50, 128, prices)
    assert today.mean_billed_ms == 11
    assert today.gb_seconds == pytest.approx(4 * 0.011 * 0.125)
    assert today.cost_per_million_usd == pytest.approx(0.60 + 1e6 * 0.011 * 0.125 * 0.00005001)
    assert old.mean_billed_ms == 50
    assert old.cost_per_million_usd == pytest.approx(0.60 + 1e6 * 0.050 * 0.125 * 0.00005001)
    assert today.cost_usd == pytest.approx(today.cost_per_million_usd * 4 / 1e6)


def test_bill_counts_the_threshold_and_reported_mismatches() -> None:
    durations = np.array([1.2, 50.0, 50.01, 75.0])
    billing = bill(
        durations,
        memory_mb=256,
        memory_source="run.json",
        threshold_ms=50,
        threshold_source="run.json",
        reported_billed_ms=np.array([2, 50, 51, 100]),
    )
    assert billing.above_threshold == 2  # strictly above 50 ms
    assert billing.share_above_threshold == 0.5
    assert billing.reported_mismatches == 1  # 75.00 ms bills 75, not 100
    assert billing.rule(50).mean_billed_ms == (50 + 50 + 100 + 100) / 4
    assert billing.rule(1).mean_billed_ms == (2 + 50 + 51 + 75) / 4


def test_no_invocations() -> None:
    rule = apply_rule(np.zeros(0), 1, 128, Prices())
    assert rule.cost_usd == 0.0
    assert np.isnan(rule.cost_per_million_usd)
