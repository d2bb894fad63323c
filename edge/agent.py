"""The control endpoint inside each process of the local distribution.

The public control API (:mod:`edge.control`) checks a spec and forwards it
here; the agent keeps it in a :class:`~edge.leases.LeaseTable` so that it
expires in the process that applies it. Each process adds routes of its own
(DNS records, cache invalidation, statistics). An agent takes the same bearer
token as the control API (``control_token``, handed to each child in its
config file), so its URL in the state file is no way around the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from edge.fault_specs import Fault, SpecError, fault_fields, parse_spec
from edge.jsonapi import ApiError, Json, JsonServer, Route, route
from edge.leases import LeaseTable

F = TypeVar("F", bound=Fault)


class FaultAgent(Generic[F]):
    """Holds the leased faults of one or more targets of this process."""

    def __init__(
        self,
        targets: set[str],
        table: LeaseTable[tuple[str, F]] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.targets = targets
        self.table: LeaseTable[tuple[str, F]] = table if table is not None else LeaseTable()
        self._on_change = on_change or (lambda: None)

    def faults(self, target: str) -> list[F]:
        """The live faults of ``target``, oldest first."""
        return [value for t, value in (lease.value for lease in self.table.active()) if t == target]

    def routes(self, extra: list[Route] | None = None) -> list[Route]:
        """The fault routes plus ``extra``."""
        return [
            route("GET", "/faults", self._list),
            route("PUT", "/faults/{id}", self._put),
            route("POST", "/faults/{id}/renew", self._renew),
            route("DELETE", "/faults/{id}", self._delete),
            route("DELETE", "/faults", self._clear),
            route("GET", "/health", lambda _b, _p: (200, {"ok": True})),
            *(extra or []),
        ]

    def serve(self, extra: list[Route] | None = None, *, token: str) -> JsonServer:
        """Start the agent's server on a free loopback port, answering only ``token``'s bearer."""
        return JsonServer(self.routes(extra), token=token).start()

    def _describe(self, lease_id: str) -> Json | None:
        for lease in self.table.active():
            if lease.id == lease_id:
                target, fault = lease.value
                return _fault_json(
                    lease_id, target, fault, lease.lease_s, self.table.remaining(lease)
                )
        return None

    def _list(self, _body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        faults = []
        for lease in self.table.active():
            target, fault = lease.value
            faults.append(
                _fault_json(lease.id, target, fault, lease.lease_s, self.table.remaining(lease))
            )
        return 200, {"faults": faults}

    def _put(self, body: Json, params: dict[str, str]) -> tuple[int, Json]:
        try:
            spec = parse_spec(body)
        except SpecError as exc:
            raise ApiError(400, str(exc)) from exc
        if spec.target not in self.targets:
            raise ApiError(404, f"target {spec.target!r} is not served here")
        self.table.put(params["id"], (spec.target, spec.fault), spec.lease_s)  # type: ignore[arg-type]
        self._on_change()
        return 200, self._describe(params["id"]) or {}

    def _renew(self, body: Json, params: dict[str, str]) -> tuple[int, Json]:
        lease_s = body.get("lease_s")
        if lease_s is not None and (
            isinstance(lease_s, bool) or not isinstance(lease_s, int | float)
        ):
            raise ApiError(400, "fault spec field 'lease_s': must be a number")
        try:
            lease = self.table.renew(params["id"], None if lease_s is None else float(lease_s))
        except ValueError as exc:
            raise ApiError(400, f"fault spec field 'lease_s': {exc}") from exc
        if lease is None:
            raise ApiError(404, f"fault {params['id']!r} is not active (expired or removed)")
        return 200, self._describe(params["id"]) or {}

    def _delete(self, _body: Json, params: dict[str, str]) -> tuple[int, Json]:
        removed = self.table.remove(params["id"])
        self._on_change()
        return 200, {"id": params["id"], "removed": removed}

    def _clear(self, _body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        removed = self.table.clear()
        self._on_change()
        return 200, {"removed": removed}


def _fault_json(lease_id: str, target: str, fault: Fault, lease_s: float, remaining: float) -> Json:
    return {
        "id": lease_id,
        "target": target,
        **fault_fields(fault),
        "lease_s": lease_s,
        "expires_in_s": round(remaining, 3),
    }


StatsFn = Callable[[], Json]
