"""The DNS zone's own process: the zone server plus its agent.

``python -m edge.dns_service --config FILE`` serves the routing name's TXT
record and the origin domains' A records on 127.0.0.1, and takes leased DNS
faults and record changes over its agent.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from edge.agent import FaultAgent
from edge.dns_zone import DnsFault, DnsZoneServer, Zone
from edge.jsonapi import ApiError, Json, route
from edge.process import run_child

_FAULT_POLL_S = 0.05


def _records_routes(zone: Zone) -> list[Any]:
    def put_txt(body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        name, values, ttl = body.get("name"), body.get("values"), body.get("ttl", 60)
        if not isinstance(name, str) or not name:
            raise ApiError(400, "field 'name': must be a DNS name")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ApiError(400, "field 'values': must be a list of strings")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 2**31 - 1:
            raise ApiError(400, "field 'ttl': must be a non-negative integer")
        zone.set_txt(name, values, ttl)
        return 200, {"name": name, "type": "TXT", "values": values, "ttl": ttl}

    def put_a(body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        name, address, ttl = body.get("name"), body.get("address", "127.0.0.1"), body.get("ttl", 60)
        if not isinstance(name, str) or not name:
            raise ApiError(400, "field 'name': must be a DNS name")
        if not isinstance(address, str) or address.count(".") != 3:  # noqa: PLR2004 - dotted quad
            raise ApiError(400, "field 'address': must be an IPv4 address")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0:
            raise ApiError(400, "field 'ttl': must be a non-negative integer")
        zone.set_a(name, address, ttl)
        return 200, {"name": name, "type": "A", "address": address, "ttl": ttl}

    def delete(_body: Json, params: dict[str, str]) -> tuple[int, Json]:
        zone.remove(params["name"])
        return 200, {"name": params["name"], "removed": True}

    def stats(_body: Json, _params: dict[str, str]) -> tuple[int, Json]:
        s = zone.stats
        return 200, {
            "queries": s.queries,
            "udp": s.udp,
            "tcp": s.tcp,
            "faulted": s.faulted,
            "by_name": dict(s.by_name),
        }

    return [
        route("PUT", "/records/txt", put_txt),
        route("PUT", "/records/a", put_a),
        route("DELETE", "/records/{name}", delete),
        route("GET", "/stats", stats),
    ]


def start(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Start the zone server and the agent; returns the ready payload and a stop function."""
    zone = Zone(seed=config.get("seed"))
    for record in config.get("txt", []):
        zone.set_txt(record["name"], record["values"], int(record.get("ttl", 60)))
    for record in config.get("a", []):
        zone.set_a(record["name"], record.get("address", "127.0.0.1"), int(record.get("ttl", 60)))
    server = DnsZoneServer(zone).start()
    agent: FaultAgent[DnsFault] = FaultAgent({"dns"})
    api = agent.serve(_records_routes(zone))
    stopping = threading.Event()

    def apply_faults() -> None:
        # Leases end in this process: re-derive the zone's faults as they expire.
        seen = -1
        while not stopping.wait(_FAULT_POLL_S):
            faults = agent.faults("dns")
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
