"""A client of the local distribution's control API (:mod:`edge.control`) for faults.

Every failure is a :class:`~chaos.errors.ControlError` naming the URL, the
status (``None`` when the API could not be reached) and the API's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.errors import ControlError
from edge.jsonapi import call

if TYPE_CHECKING:
    import builtins
    from collections.abc import Mapping

    from edge.stack import StackState

DEFAULT_TIMEOUT_S = 10.0


class ControlClient:
    """Inject, renew, remove and list faults through one control API."""

    def __init__(
        self, url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._token = token

    @classmethod
    def from_state(cls, state: StackState, timeout: float = DEFAULT_TIMEOUT_S) -> ControlClient:
        """The client of the distribution a state file describes."""
        return cls(state.control_url, state.control_token, timeout)

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        try:
            return call(self.url, method, path, body, self.timeout, token=self._token)
        except OSError as exc:
            raise ControlError(self.url, None, f"{method} {path}: {exc}") from exc

    def _expect(
        self, method: str, path: str, body: Mapping[str, Any] | None, ok: tuple[int, ...]
    ) -> tuple[int, dict[str, Any]]:
        status, payload = self._call(method, path, body)
        if status not in ok:
            message = str(payload.get("error") or payload)
            raise ControlError(self.url, status, f"{method} {path}: {message}")
        return status, payload

    def inject(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Apply one engine spec; the fault as the API shows it (``id``, ``expires_in_s``)."""
        return self._expect("POST", "/faults", spec, (200, 201))[1]

    def renew(self, fault_id: str, lease_s: float | None = None) -> dict[str, Any] | None:
        """Extend a fault's lease; ``None`` when it has already ended (expired or removed)."""
        body = {} if lease_s is None else {"lease_s": lease_s}
        status, payload = self._expect("POST", f"/faults/{fault_id}/renew", body, (200, 404))
        return payload if status == 200 else None

    def remove(self, fault_id: str) -> bool:
        """Remove a fault; True if it was still active (removing twice is harmless)."""
        status, payload = self._expect("DELETE", f"/faults/{fault_id}", None, (200, 404))
        return status == 200 and bool(payload.get("removed"))

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every active fault, with ``expires_in_s``."""
        payload = self._expect("GET", "/faults", None, (200,))[1]
        faults = payload.get("faults", [])
        return [f for f in faults if isinstance(f, dict)] if isinstance(faults, list) else []

    def clear(self) -> int:
        """Remove every fault; how many were active."""
        return int(self._expect("DELETE", "/faults", None, (200,))[1].get("removed", 0))
