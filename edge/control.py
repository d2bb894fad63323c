"""The local distribution's control API (``control_url``): plain fault specs in, leases out.

JSON over HTTP on 127.0.0.1, served by the ``up`` process. It checks each
spec against the edge's fault vocabulary (:mod:`edge.fault_specs`) and
forwards it to the agent of the process that applies it (the DNS zone, an S3
region's fault proxy, the edge's function runtime), where its lease runs out
on its own.

Every route needs ``Authorization: Bearer <control_token>`` (the state
file's, mode 0600); requests with an ``Origin`` header or a foreign ``Host``
are refused (:mod:`edge.jsonapi`). The API calls the agents with the same token.

=======  ==============================  ==============================================
method   path                            what
=======  ==============================  ==============================================
GET      /health                         ``{"ok": true}``
GET      /faults                         every live fault, with ``expires_in_s``
POST     /faults                         inject a spec; 201 ``{"id", ...}`` (``id`` in
                                         the spec makes it idempotent)
POST     /faults/{id}/renew              extend the lease (``{"lease_s"}`` optional);
                                         404 once it has ended
DELETE   /faults/{id}                    remove; ``{"removed": bool}``, idempotent
DELETE   /faults                         remove every fault
PUT      /dns/records                    ``{"name", "type": "TXT"|"A", "values"|"address", "ttl"}``
DELETE   /dns/records/{name}             remove a name (it answers NXDOMAIN)
POST     /cache/invalidations            ``{"paths": ["/media/*"]}``
PUT      /edge/settings                  ``{"concurrency_limit": N}``
GET      /stats                          counters of every process
=======  ==============================  ==============================================
"""

from __future__ import annotations

import http.client
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edge.fault_specs import DNS_TARGET, LAMBDA_TARGET, SpecError, parse_spec
from edge.jsonapi import ApiError, Json, JsonServer, call, route

if TYPE_CHECKING:
    from collections.abc import Mapping


class ControlApi:
    """Routes control requests to the agents of the distribution's processes."""

    def __init__(self, agents: Mapping[str, str], token: str) -> None:
        # agents: "dns", "edge", "s3:<region>" -> agent URL
        self._agents = dict(agents)
        self._token = token
        self._server: JsonServer | None = None

    def _agent_for(self, target: str) -> str:
        # The edge's agent serves the function runtime's faults.
        agent = self._agents.get("edge" if target == LAMBDA_TARGET else target)
        if agent is None:
            known = ", ".join(sorted([LAMBDA_TARGET, *(k for k in self._agents if k != "edge")]))
            raise ApiError(
                404, f"fault spec field 'target': no target {target!r} here (known: {known})"
            )
        return agent

    def _forward(
        self, agent: str, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, Json]:
        try:
            return call(agent, method, path, body, timeout=10.0, token=self._token)
        except (OSError, http.client.HTTPException) as exc:
            raise ApiError(502, f"agent at {agent} unreachable: {exc}") from exc

    def _fault_agents(self) -> list[str]:
        return list(self._agents.values())

    def inject(self, body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """POST /faults."""
        try:
            spec = parse_spec(body)
        except SpecError as exc:
            raise ApiError(400, str(exc)) from exc
        agent = self._agent_for(spec.target)
        fault_id = spec.id or f"f-{uuid.uuid4().hex[:12]}"
        status, payload = self._forward(agent, "PUT", f"/faults/{fault_id}", body)
        return (201 if status == 200 else status), payload

    def list(self, _body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """GET /faults."""
        faults: list[Any] = []
        for agent in self._fault_agents():
            _, payload = self._forward(agent, "GET", "/faults")
            faults.extend(payload.get("faults", []))
        return 200, {"faults": faults}

    def renew(self, body: Json, params: dict[str, str]) -> tuple[int, Json]:
        """POST /faults/{id}/renew."""
        last: tuple[int, Json] = (
            404,
            {"error": f"fault {params['id']!r} is not active (expired or removed)"},
        )
        path = f"/faults/{_segment(params)}/renew"
        for agent in self._fault_agents():
            status, payload = self._forward(agent, "POST", path, body)
            if status == 200:
                return status, payload
            if status != 404:
                last = (status, payload)
        return last

    def remove(self, _body: Json, params: dict[str, str]) -> tuple[int, Json]:
        """DELETE /faults/{id}: idempotent."""
        removed = False
        for agent in self._fault_agents():
            _, payload = self._forward(agent, "DELETE", f"/faults/{_segment(params)}")
            removed = removed or bool(payload.get("removed"))
        return 200, {"id": params["id"], "removed": removed}

    def clear(self, _body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """DELETE /faults."""
        removed = 0
        for agent in self._fault_agents():
            _, payload = self._forward(agent, "DELETE", "/faults")
            removed += int(payload.get("removed", 0))
        return 200, {"removed": removed}

    def put_record(self, body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """PUT /dns/records."""
        kind = str(body.get("type", "")).upper()
        if kind not in ("TXT", "A"):
            raise ApiError(400, "field 'type': must be 'TXT' or 'A'")
        forwarded = {k: v for k, v in body.items() if k != "type"}
        agent = self._agent_for(DNS_TARGET)
        return self._forward(agent, "PUT", f"/records/{kind.lower()}", forwarded)

    def delete_record(self, _body: Json, params: dict[str, str]) -> tuple[int, Json]:
        """DELETE /dns/records/{name}."""
        path = f"/records/{_segment(params, 'name')}"
        return self._forward(self._agent_for(DNS_TARGET), "DELETE", path)

    def invalidate(self, body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """POST /cache/invalidations."""
        return self._forward(self._agent_for(LAMBDA_TARGET), "POST", "/cache/invalidations", body)

    def settings(self, body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """PUT /edge/settings."""
        return self._forward(self._agent_for(LAMBDA_TARGET), "PUT", "/settings", body)

    def stats(self, _body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        """GET /stats."""
        out: Json = {}
        for name, agent in sorted(self._agents.items()):
            status, payload = self._forward(agent, "GET", "/stats")
            out[name] = payload if status == 200 else {"error": payload.get("error", status)}
        return 200, out

    def serve(self, port: int = 0) -> JsonServer:
        """Start serving on 127.0.0.1."""
        self._server = JsonServer(
            [
                route("GET", "/health", lambda _b, _p: (200, {"ok": True})),
                route("GET", "/faults", self.list),
                route("POST", "/faults", self.inject),
                route("POST", "/faults/{id}/renew", self.renew),
                route("DELETE", "/faults/{id}", self.remove),
                route("DELETE", "/faults", self.clear),
                route("PUT", "/dns/records", self.put_record),
                route("DELETE", "/dns/records/{name}", self.delete_record),
                route("POST", "/cache/invalidations", self.invalidate),
                route("PUT", "/edge/settings", self.settings),
                route("GET", "/stats", self.stats),
            ],
            port=port,
            token=self._token,
        ).start()
        return self._server


def _segment(params: dict[str, str], name: str = "id") -> str:
    # A captured segment goes into the agent's path as one segment, whatever it holds.
    return quote(params[name], safe="%")
