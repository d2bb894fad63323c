"""Failover time from synthetic records with known answers."""

from __future__ import annotations

import numpy as np

from results.failover import failover, observed_until
from results.run_folder import Fault


def _records(
    seconds: int, bad: dict[int, float], *, per_second: int = 10, origin: float = 100.0
) -> tuple[np.ndarray, np.ndarray]:
    """``per_second`` requests each second from ``origin``; ``bad[k]`` of them fail in second k."""
    starts, failed = [], []
    for k in range(seconds):
        share = bad.get(k, 0.0)
        for j in range(per_second):
            starts.append(origin + k + (j + 0.5) / per_second)
            failed.append(j < round(share * per_second))
    return np.array(starts), np.array(failed)


def test_errors_for_four_seconds_then_clean() -> None:
    starts, failed = _records(40, {10: 0.5, 11: 0.5, 12: 0.3, 13: 0.1})
    found = failover(
        Fault("s3:unavailable", "us-east-1", 110.0, 130.0),
        starts,
        failed,
        data_end=140.0,
        error_rate=0.01,
        stable_s=5,
    )
    assert found.failover_s == 4.0
    assert found.recovered
    assert found.peak_error_rate == 0.5
    assert found.impact_s == 4
    assert not found.after_fault_end


def test_measured_from_the_faults_own_start() -> None:
    # The fault starts mid-second; its bins are [110.5, 111.5), ...
    starts, failed = _records(30, {10: 0.0, 11: 1.0, 12: 1.0})
    found = failover(
        Fault("dns:servfail", "zone", 110.5, None), starts, failed, data_end=130.0, stable_s=3
    )
    # Failing requests start at 111.05 .. 112.95: bins 0, 1 and 2 from 110.5.
    assert found.failover_s == 3.0


def test_no_impact_is_zero() -> None:
    starts, failed = _records(20, {})
    found = failover(Fault("dns:slow", "", 105.0, 110.0), starts, failed, data_end=120.0)
    assert found.failover_s == 0.0
    assert found.impact_s == 0


def test_late_onset_errors_still_count() -> None:
    # The cached answer hides the fault for 6 s, then errors for 2 s.
    starts, failed = _records(40, {16: 1.0, 17: 1.0})
    found = failover(Fault("dns:nxdomain", "", 110.0, 125.0), starts, failed, data_end=140.0)
    assert found.failover_s == 8.0


def test_never_back_under_the_threshold() -> None:
    starts, failed = _records(30, dict.fromkeys(range(10, 30), 0.5))
    found = failover(Fault("s3:down", "", 110.0, None), starts, failed, data_end=130.0)
    assert found.failover_s is None
    assert not found.recovered


def test_too_few_clean_seconds_after_the_last_error() -> None:
    starts, failed = _records(30, {27: 1.0})
    found = failover(Fault("s3:down", "", 110.0, None), starts, failed, data_end=130.0, stable_s=5)
    assert found.failover_s is None


def test_recovery_only_after_the_fault_was_lifted() -> None:
    starts, failed = _records(40, dict.fromkeys(range(10, 20), 1.0))
    found = failover(Fault("s3:down", "", 110.0, 115.0), starts, failed, data_end=140.0)
    assert found.failover_s == 10.0
    assert found.after_fault_end


def test_the_threshold_matters() -> None:
    starts, failed = _records(30, {12: 0.1})
    fault = Fault("s3:slow", "", 110.0, None)
    assert failover(fault, starts, failed, data_end=130.0, error_rate=0.2).failover_s == 0.0
    assert failover(fault, starts, failed, data_end=130.0, error_rate=0.05).failover_s == 3.0


def test_a_later_fault_is_not_charged_to_an_earlier_one() -> None:
    # Fault A (110-115) causes nothing; fault B from 125.5 fails everything for 3 s.
    starts, failed = _records(40, dict.fromkeys(range(26, 29), 1.0))
    first = Fault("dns:servfail", "dns", 110.0, 115.0)
    second = Fault("bucket:503", "s3:eu-west-1", 125.5, 130.0)
    ends = observed_until([first, second], 140.0)
    assert ends == [125.5, 140.0]
    # The partial last second [125, 125.5) holds none of B's failures.
    assert failover(first, starts, failed, data_end=ends[0]).failover_s == 0.0
    assert failover(first, starts, failed, data_end=140.0).failover_s == 19.0
    assert failover(second, starts, failed, data_end=ends[1]).failover_s == 4.0


def test_overlapping_faults_share_the_data() -> None:
    faults = [
        Fault("a", "", 110.0, 120.0),
        Fault("b", "", 115.0, 125.0),
        Fault("c", "", 130.0, None),
    ]
    assert observed_until(faults, 140.0) == [130.0, 130.0, 140.0]
