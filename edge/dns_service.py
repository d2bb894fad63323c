"""The DNS zone's own process: the zone server plus its agent.

``python -m edge.dns_service --config FILE`` serves the routing name's TXT
record and the origin domains' A records on 127.0.0.1, and takes leased DNS
faults and record changes over its agent.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import TYPE_CHECKING, Any

from edge.agent import FaultAgent
from edge.dns_zone import DnsZoneServer, RecordError, Zone
from edge.fault_specs import DNS_TARGET, DnsFault
from edge.jsonapi import ApiError, Json, Route, route
from edge.process import run_child

if TYPE_CHECKING:
    from collections.abc import Iterator

_FAULT_POLL_S = 0.05


def _name_ttl(body: Json) -> tuple[str, int]:
    name, ttl = body.get("name"), body.get("ttl", 60)
    if not isinstance(name, str) or not name:
        raise ApiError(400, "field 'name': must be a DNS name")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2**31 - 1:
        raise ApiError(400, "field 'ttl': must be a non-negative integer")
    return name, ttl


@contextlib.contextmanager
def _refused_as_400() -> Iterator[None]:
    """A record the zone refuses is the caller's error: 400 with the zone's reason."""
    try:
        yield
    except RecordError as exc:
        raise ApiError(400, str(exc)) from exc


class _Records:
    """The agent's routes for the zone's records and counters."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone

    def put_txt(self, body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        name, ttl = _name_ttl(body)
        values = body.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ApiError(400, "field 'values': must be a list of strings")
        with _refused_as_400():
            self.zone.set_txt(name, values, ttl)
        return 200, {"name": name, "type": "TXT", "values": values, "ttl": ttl}

    def put_a(self, body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        name, ttl = _name_ttl(body)
        address = body.get("address", "127.0.0.1")
        with _refused_as_400():
            self.zone.set_a(name, address, ttl)
        return 200, {"name": name, "type": "A", "address": address, "ttl": ttl}

    def delete(self, _body: Json, params: dict[str, str]) -> tuple[int, Json]:
        self.zone.remove(params["name"])
        return 200, {"name": params["name"], "removed": True}

    def stats(self, _body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        s = self.zone.stats
        counters = {"queries": s.queries, "udp": s.udp, "tcp": s.tcp, "faulted": s.faulted}
        return 200, {**counters, "by_name": dict(s.by_name)}

    def routes(self) -> list[Route]:
        return [
            route("PUT", "/records/txt", self.put_txt),
            route("PUT", "/records/a", self.put_a),
            route("DELETE", "/records/{name}", self.delete),
            route("GET", "/stats", self.stats),
        ]


def start(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Start the zone server and the agent; returns the ready payload and a stop function."""
    zone = Zone(seed=config.get("seed"))
    for record in config.get("txt", []):
        zone.set_txt(record["name"], record["values"], int(record.get("ttl", 60)))
    for record in config.get("a", []):
        zone.set_a(record["name"], record.get("address", "127.0.0.1"), int(record.get("ttl", 60)))
    server = DnsZoneServer(zone).start()
    agent: FaultAgent[DnsFault] = FaultAgent(
        {DNS_TARGET}, on_change=lambda: zone.set_faults(agent.faults(DNS_TARGET))
    )
    api = agent.serve(_Records(zone).routes(), token=str(config["control_token"]))
    stopping = threading.Event()

    def apply_faults() -> None:
        # Leases end in this process: re-derive the zone's faults as they expire.
        seen = -1
        while not stopping.wait(_FAULT_POLL_S):
            faults = agent.faults(DNS_TARGET)
            if agent.table.version != seen:
                seen = agent.table.version
                zone.set_faults(faults)

    thread = threading.Thread(target=apply_faults, name="dns-faults", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=2)
        api.stop()
        server.stop()

    return {"dns": server.address, "agent": api.url}, stop


def main() -> int:
    """``python -m edge.dns_service --config FILE``."""
    return run_child("edge.dns_service", start)


if __name__ == "__main__":
    sys.exit(main())
