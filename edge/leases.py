"""Leased values: a fault stays in force only while whoever set it keeps renewing it.

Each process that applies faults holds its own :class:`LeaseTable`, so a fault
expires on time even when the control plane or the client that set it has
died. Removal is idempotent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

MAX_LEASE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Lease(Generic[T]):
    """One value with its id and expiry (on the table's clock)."""

    id: str
    value: T
    lease_s: float
    expires_at: float
    created_at: float


class LeaseTable(Generic[T]):
    """Values by id, in the order they were first set, dropped when their lease ends."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._leases: dict[str, Lease[T]] = {}
        self._next_expiry = float("inf")
        self.version = 0  # bumps on every change, so readers can cache what they derive

    def put(self, lease_id: str, value: T, lease_s: float) -> Lease[T]:
        """Set (or replace) ``lease_id`` for ``lease_s`` seconds from now."""
        if not 0 < lease_s <= MAX_LEASE_S:
            msg = f"lease_s must be within (0, {MAX_LEASE_S:g}], got {lease_s}"
            raise ValueError(msg)
        now = self._clock()
        with self._lock:
            old = self._leases.get(lease_id)
            lease = Lease(lease_id, value, lease_s, now + lease_s, old.created_at if old else now)
            self._leases[lease_id] = lease
            self._changed()
            return lease

    def renew(self, lease_id: str, lease_s: float | None = None) -> Lease[T] | None:
        """Extend a live lease by its own length (or ``lease_s``); None if it has ended."""
        self.active()
        with self._lock:
            old = self._leases.get(lease_id)
            if old is None:
                return None
        return self.put(lease_id, old.value, lease_s if lease_s is not None else old.lease_s)

    def remove(self, lease_id: str) -> bool:
        """Drop ``lease_id``; True if it was live. Removing twice is harmless."""
        with self._lock:
            removed = self._leases.pop(lease_id, None) is not None
            if removed:
                self._changed()
            return removed

    def clear(self) -> int:
        """Drop every lease; returns how many were live."""
        with self._lock:
            count = len(self._leases)
            self._leases.clear()
            self._changed()
            return count

    def active(self) -> list[Lease[T]]:
        """The live leases, oldest first, after dropping the expired ones."""
        now = self._clock()
        with self._lock:
            if now >= self._next_expiry:
                for lease_id in [k for k, v in self._leases.items() if v.expires_at <= now]:
                    del self._leases[lease_id]
                self._changed()
            return list(self._leases.values())

    def remaining(self, lease: Lease[T]) -> float:
        """Seconds left on ``lease``."""
        return max(lease.expires_at - self._clock(), 0.0)

    def _changed(self) -> None:
        self.version += 1
        self._next_expiry = min((v.expires_at for v in self._leases.values()), default=float("inf"))
