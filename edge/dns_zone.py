"""The local distribution's DNS zone: an authoritative server for the routing name.

It answers the router's TXT lookups over UDP and TCP on 127.0.0.1, the way a
Route 53 multivalue-answer record set would: one TXT string per healthy origin,
with a TTL. It also resolves A queries for any name it is told about (the
origin domains CloudFront itself resolves before calling the router).

Fault modes are plain values (:class:`~edge.fault_specs.DnsFault`, from the
edge's fault vocabulary) set through :meth:`Zone.set_fault`; ``chaos/`` turns
``dns:servfail`` and friends into them. The server never decides on its own
to fail. A ``flap`` fault counts its periods from when it was first set, on the
zone's clock (injected, so tests can step it).

Records are checked where they enter the zone (:class:`RecordError`): a bad
one is refused instead of being held and failing every later query for its
name.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from edge.fault_specs import (
    DEFAULT_FLAP_PERIOD_MS,
    MAX_TTL,
    NO_FAULT,
    WRONG_ADDRESS,
    WRONG_TXT,
    DnsFault,
    DnsFaultKind,
    dns_name_problem,
)

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)

_MAX_TXT_STRING = 255  # octets in one <character-string> (RFC 1035 §3.3)
_WRONG_TTL = 60


class RecordError(ValueError):
    """A record the zone refuses; ``field`` names the part that is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(slots=True)
class _Record:
    values: tuple[str, ...]
    ttl: int


@dataclass(slots=True)
class ZoneStats:
    """Counters the zone keeps, read by tests and the control API."""

    queries: int = 0
    udp: int = 0
    tcp: int = 0
    faulted: int = 0
    by_name: dict[str, int] = field(default_factory=dict)


def _key(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _checked_name(name: object) -> str:
    problem = dns_name_problem(name)
    if problem is not None:
        raise RecordError("name", problem)
    return _key(str(name))


def _checked_ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise RecordError("ttl", f"must be an integer within [0, {MAX_TTL}], got {ttl!r:.40}")
    return ttl


class Zone:
    """The records and the current fault, shared by the UDP and TCP listeners."""

    def __init__(
        self, *, seed: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._txt: dict[str, _Record] = {}
        self._a: dict[str, _Record] = {}
        self._faults: tuple[DnsFault, ...] = ()
        self._since: dict[DnsFault, float] = {}
        self._random = random.Random(seed)
        self._clock = clock
        self.stats = ZoneStats()

    def set_txt(self, name: str, values: Iterable[str], ttl: int = 60) -> None:
        """Publish ``values`` as the TXT strings of ``name`` (one RR per value).

        Raises:
            RecordError: the name is not a DNS name, a value is not a string of
                at most 255 bytes, or the TTL is not within [0, 2^31 - 1].
        """
        key = _checked_name(name)
        strings = tuple(values)
        for value in strings:
            if not isinstance(value, str) or len(value.encode()) > _MAX_TXT_STRING:
                raise RecordError(
                    "values", f"each value must be a string of at most {_MAX_TXT_STRING} bytes"
                )
        record = _Record(strings, _checked_ttl(ttl))
        with self._lock:
            self._txt[key] = record

    def set_a(self, name: str, address: str = "127.0.0.1", ttl: int = 60) -> None:
        """Publish an A record for ``name``.

        Raises:
            RecordError: the name is not a DNS name, the address is not an IPv4
                address in dotted-quad form, or the TTL is out of range.
        """
        key = _checked_name(name)
        # ipaddress takes an int too (12345 is 0.0.48.57): only the written form is an address here.
        if not isinstance(address, str):
            raise RecordError("address", f"must be an IPv4 address string, got {address!r:.40}")
        try:
            ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise RecordError("address", f"{address!r:.40} is not an IPv4 address") from exc
        record = _Record((address,), _checked_ttl(ttl))
        with self._lock:
            self._a[key] = record

    def remove(self, name: str) -> None:
        """Remove every record of ``name`` (it then answers NXDOMAIN)."""
        with self._lock:
            self._txt.pop(_key(name), None)
            self._a.pop(_key(name), None)

    def txt(self, name: str) -> tuple[str, ...]:
        """The TXT strings currently published for ``name``."""
        with self._lock:
            record = self._txt.get(_key(name))
            return record.values if record else ()

    def set_fault(self, fault: DnsFault) -> None:
        """Apply ``fault`` to queries from now on (``NO_FAULT`` clears it)."""
        self.set_faults([fault])

    def set_faults(self, faults: Iterable[DnsFault]) -> None:
        """Apply several faults at once; a query gets the first that matches it and fires."""
        active = tuple(fault for fault in faults if fault.kind is not DnsFaultKind.NONE)
        now = self._clock()
        with self._lock:
            changed = active != self._faults
            self._faults = active
            # A fault set again (the agent re-derives the list) keeps its start for flap.
            self._since = {fault: self._since.get(fault, now) for fault in active}
        if changed:
            logger.info("dns zone faults set to %s", active)

    @property
    def fault(self) -> DnsFault:
        """The first fault in force (``NO_FAULT`` when there is none)."""
        with self._lock:
            return self._faults[0] if self._faults else NO_FAULT

    @property
    def faults(self) -> tuple[DnsFault, ...]:
        """Every fault in force, in the order they are tried."""
        with self._lock:
            return self._faults

    def _active_fault(self, qname: str) -> DnsFault:
        now = self._clock()
        with self._lock:
            for fault in self._faults:
                owners = fault.owners()
                if owners and qname not in owners:
                    continue
                if fault.kind is DnsFaultKind.FLAP and not self._failing_half(fault, now):
                    continue
                if self._random.random() >= fault.probability:
                    continue
                self.stats.faulted += 1
                return fault
            return NO_FAULT

    def _failing_half(self, fault: DnsFault, now: float) -> bool:
        period_s = (fault.period_ms or DEFAULT_FLAP_PERIOD_MS) / 1000.0
        elapsed = max(0.0, now - self._since.get(fault, now))
        return int(elapsed // period_s) % 2 == 0

    def _delay_s(self, fault: DnsFault) -> float:
        jitter_ms = 0.0
        if fault.jitter_ms:
            with self._lock:
                jitter_ms = self._random.uniform(0.0, fault.jitter_ms)
        return (fault.delay_ms + jitter_ms) / 1000.0

    def _count(self, qname: str, transport: str) -> None:
        with self._lock:
            self.stats.queries += 1
            if transport == "udp":
                self.stats.udp += 1
            else:
                self.stats.tcp += 1
            self.stats.by_name[qname] = self.stats.by_name.get(qname, 0) + 1

    def respond(self, wire: bytes, transport: str) -> bytes | None:
        """Answer one query in wire format; ``None`` means stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        qname = question.name.to_text().lower()
        self._count(qname, transport)
        fault = self._active_fault(qname)
        if fault.kind is DnsFaultKind.DROP:
            return None
        if fault.kind is DnsFaultKind.GARBAGE:
            return b"\x00\x01not-dns"
        if fault.kind is DnsFaultKind.DELAY:
            time.sleep(self._delay_s(fault))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        rcode = {
            DnsFaultKind.SERVFAIL: dns.rcode.SERVFAIL,
            DnsFaultKind.FLAP: dns.rcode.SERVFAIL,  # only returned in a failing half
            DnsFaultKind.NXDOMAIN: dns.rcode.NXDOMAIN,
            DnsFaultKind.REFUSED: dns.rcode.REFUSED,
        }.get(fault.kind)
        if rcode is not None:
            response.set_rcode(rcode)
            return response.to_wire()
        if fault.kind is DnsFaultKind.TRUNCATE and transport == "udp":
            response.flags |= dns.flags.TC
            return response.to_wire()
        if fault.kind is DnsFaultKind.WRONG_ANSWER:
            self._fill_wrong(response, question.name, question.rdtype)
        elif fault.kind is not DnsFaultKind.NOANSWER:
            self._fill(response, question.name, question.rdtype, fault.ttl)
        return response.to_wire()

    def _fill(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        rdtype: int,
        ttl: int | None = None,
    ) -> None:
        key = qname.to_text().lower()
        with self._lock:
            txt = self._txt.get(key)
            a = self._a.get(key)
        if txt is None and a is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return
        if rdtype == dns.rdatatype.TXT and txt is not None:
            quoted = [_quote(value) for value in txt.values]
            response.answer.append(
                dns.rrset.from_text_list(
                    qname, txt.ttl if ttl is None else ttl, dns.rdataclass.IN, "TXT", quoted
                )
            )
        elif rdtype == dns.rdatatype.A and a is not None:
            response.answer.append(
                dns.rrset.from_text_list(
                    qname, a.ttl if ttl is None else ttl, dns.rdataclass.IN, "A", list(a.values)
                )
            )

    def _fill_wrong(self, response: dns.message.Message, qname: dns.name.Name, rdtype: int) -> None:
        # Answered whether or not the name exists: a resolver pointing at the wrong place.
        if rdtype == dns.rdatatype.TXT:
            rrset = dns.rrset.from_text_list(
                qname, _WRONG_TTL, dns.rdataclass.IN, "TXT", [_quote(WRONG_TXT)]
            )
        elif rdtype == dns.rdatatype.A:
            rrset = dns.rrset.from_text_list(
                qname, _WRONG_TTL, dns.rdataclass.IN, "A", [WRONG_ADDRESS]
            )
        else:
            return
        response.answer.append(rrset)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _UdpServer

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.respond(data, "udp")
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5.0)
        with contextlib.suppress(OSError):
            while True:
                header = _recv_exact(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack("!H", header)
                data = _recv_exact(sock, length)
                if data is None:
                    return
                reply = self.server.zone.respond(data, "tcp")
                if reply is None:
                    return
                sock.sendall(struct.pack("!H", len(reply)) + reply)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class _UdpServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], zone: Zone) -> None:
        self.zone = zone
        super().__init__(address, _UdpHandler)


class _TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], zone: Zone) -> None:
        self.zone = zone
        super().__init__(address, _TcpHandler)


class DnsZoneServer:
    """A zone served over UDP and TCP on the same loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, zone: Zone | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.zone = zone if zone is not None else Zone()
        self._host = host
        self._requested_port = port
        self._udp: _UdpServer | None = None
        self._tcp: _TcpServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The port both listeners are bound to."""
        if self._udp is None:
            msg = "server is not started"
            raise RuntimeError(msg)
        return int(self._udp.server_address[1])

    @property
    def address(self) -> str:
        """``host:port``, the form the router's ``nameservers`` take."""
        return f"{self._host}:{self.port}"

    def start(self) -> DnsZoneServer:
        """Bind both listeners (retrying until UDP and TCP share a free port)."""
        for _ in range(50):
            udp = _UdpServer((self._host, self._requested_port), self.zone)
            port = int(udp.server_address[1])
            try:
                tcp = _TcpServer((self._host, port), self.zone)
            except OSError:
                udp.server_close()
                if self._requested_port:
                    raise
                continue
            self._udp, self._tcp = udp, tcp
            break
        else:
            msg = "could not find a port free for both UDP and TCP"
            raise OSError(msg)
        for server in (self._udp, self._tcp):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        logger.info("dns zone serving on %s", self.address)
        return self

    def stop(self) -> None:
        """Stop both listeners and wait for their threads."""
        for server in (self._udp, self._tcp):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._udp = self._tcp = None

    def __enter__(self) -> DnsZoneServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
