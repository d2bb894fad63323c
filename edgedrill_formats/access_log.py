"""CloudFront standard access log (W3C extended format): its header and its 33 fields.

A file opens with ``#Version: 1.0`` and a ``#Fields:`` line naming the
fields, then holds one line per viewer request: the values tab-separated in
that order, ``-`` for an empty one ("Standard logging (access logs)",
Amazon CloudFront developer guide). :data:`FIELDS` is CloudFront's order,
which the local edge writes and a reader assumes when a file has no
``#Fields:`` line.
"""

from __future__ import annotations

VERSION_LINE = "#Version: 1.0"
FIELDS_DIRECTIVE = "#Fields:"
SEPARATOR = "\t"
EMPTY = "-"

FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
    "cs(Cookie)",
    "x-edge-result-type",
    "x-edge-request-id",
    "x-host-header",
    "cs-protocol",
    "cs-bytes",
    "time-taken",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-response-result-type",
    "cs-protocol-version",
    "fle-status",
    "fle-encrypted-fields",
    "c-port",
    "time-to-first-byte",
    "x-edge-detailed-result-type",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
)


def header(fields: tuple[str, ...] = FIELDS) -> str:
    """The ``#Version:`` and ``#Fields:`` lines that open a log file, each ending in a newline."""
    return f"{VERSION_LINE}\n{FIELDS_DIRECTIVE} {' '.join(fields)}\n"


def field_names(line: str) -> list[str] | None:
    """The names a ``#Fields:`` line lists, in order (None for any other line)."""
    if not line.startswith(FIELDS_DIRECTIVE):
        return None
    return line[len(FIELDS_DIRECTIVE) :].split()
