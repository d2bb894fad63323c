"""CloudFront standard access logs (W3C extended format), one line per viewer request.

The 33 fields in CloudFront's order, tab-separated, ``-`` for an empty value,
after ``#Version: 1.0`` and ``#Fields:`` (CloudFront developer guide,
"Standard logging (access logs)"), as :mod:`edgedrill_formats.access_log`
declares them for every writer and reader. ``cs-uri-stem``, ``cs(User-Agent)`` and
``cs(Referer)`` are URL-encoded the way CloudFront writes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import quote

from edge.linefile import LineFile, PerSecond
from edgedrill_formats.access_log import EMPTY, SEPARATOR, header
from edgedrill_formats.access_log import FIELDS as FIELDS

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(slots=True)
class AccessRecord:
    """What one viewer request logs; the writer renders it in :data:`FIELDS` order."""

    timestamp: float
    edge_location: str
    sc_bytes: int
    client_ip: str
    method: str
    host: str
    uri_stem: str
    status: int
    referer: str | None
    user_agent: str | None
    query: str
    cookie: str | None
    result_type: str
    request_id: str
    host_header: str
    cs_bytes: int
    time_taken: float
    forwarded_for: str | None
    response_result_type: str
    protocol_version: str
    client_port: int
    time_to_first_byte: float
    detailed_result_type: str
    content_type: str | None
    content_length: int | None
    range_start: int | None = None
    range_end: int | None = None


def _text(value: str | None, encode: bool = False) -> str:
    if value is None or value == "":
        return EMPTY
    if encode:
        value = quote(value, safe="/;:@&=+$,!~*'()%")
    return value.replace("\t", "%09").replace("\n", "%0A").replace(" ", "%20")


# "date\ttime" of a whole second, the first two fields of a line.
_date_time = PerSecond(lambda second: time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(second)))


def render(record: AccessRecord) -> str:
    """The record as one tab-separated line (no newline)."""
    values = [
        _date_time(int(record.timestamp)),
        record.edge_location,
        str(record.sc_bytes),
        record.client_ip,
        record.method,
        record.host,
        _text(record.uri_stem, encode=True),
        str(record.status) if record.status else "000",
        _text(record.referer, encode=True),
        _text(record.user_agent, encode=True),
        _text(record.query),
        _text(record.cookie, encode=True),
        record.result_type,
        record.request_id,
        _text(record.host_header),
        "http",
        str(record.cs_bytes),
        f"{record.time_taken:.3f}",
        _text(record.forwarded_for),
        EMPTY,
        EMPTY,
        record.response_result_type,
        record.protocol_version,
        EMPTY,
        EMPTY,
        str(record.client_port),
        f"{record.time_to_first_byte:.3f}",
        record.detailed_result_type,
        _text(record.content_type),
        EMPTY if record.content_length is None else str(record.content_length),
        EMPTY if record.range_start is None else str(record.range_start),
        EMPTY if record.range_end is None else str(record.range_end),
    ]
    return SEPARATOR.join(values)


def parse_line(line: str) -> dict[str, str]:
    """One log line back into ``{field: value}`` (for tests and quick checks)."""
    values = line.rstrip("\n").split(SEPARATOR)
    if len(values) != len(FIELDS):
        msg = f"expected {len(FIELDS)} fields, got {len(values)}"
        raise ValueError(msg)
    return dict(zip(FIELDS, values, strict=True))


class AccessLog(LineFile):
    """Appends access-log lines to ``log_dir/cloudfront/access.log``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, header=header())

    def write_record(self, record: AccessRecord) -> None:
        """Append one record (formatted later when written from the bound loop)."""
        self.write_later(partial(_line, record))


def _line(record: AccessRecord) -> str:
    return render(record) + "\n"
