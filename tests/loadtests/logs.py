"""Writing CloudFront standard access logs for tests (W3C, the 33 fields in order)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loadtests._cloudfront_log import STANDARD_FIELDS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path


@dataclass(frozen=True)
class Line:
    """One viewer request: what the log's fields say about it."""

    finished: float
    path: str
    method: str = "GET"
    query: str = ""
    status: int = 200
    size: int | None = 1000
    time_taken: float = 0.002
    content_type: str = "image/jpeg"


def fields(line: Line) -> list[str]:
    moment = datetime.fromtimestamp(line.finished, UTC)
    values = dict.fromkeys(STANDARD_FIELDS, "-")
    values.update(
        {
            "date": moment.strftime("%Y-%m-%d"),
            "time": moment.strftime("%H:%M:%S"),
            "x-edge-location": "IAD89-P1",
            "sc-bytes": str((line.size or 0) + 300),
            "c-ip": "192.0.2.10",
            "cs-method": line.method,
            "cs(Host)": "d111111abcdef8.cloudfront.net",
            "cs-uri-stem": line.path,
            "sc-status": str(line.status),
            "cs(User-Agent)": "Mozilla/5.0%20(test)",
            "cs-uri-query": line.query or "-",
            "x-edge-result-type": "Miss",
            "x-edge-request-id": "id==",
            "x-host-header": "media.example.com",
            "cs-protocol": "https",
            "cs-bytes": "120",
            "time-taken": f"{line.time_taken:.3f}",
            "x-edge-response-result-type": "Miss",
            "cs-protocol-version": "HTTP/1.1",
            "c-port": "50000",
            "time-to-first-byte": f"{line.time_taken:.3f}",
            "x-edge-detailed-result-type": "Miss",
            "sc-content-type": line.content_type,
            "sc-content-len": "-" if line.size is None else str(line.size),
        }
    )
    return [values[name] for name in STANDARD_FIELDS]


def render(
    lines: Iterable[Line], *, names: Sequence[str] = STANDARD_FIELDS, header: bool = True
) -> str:
    out = []
    if header:
        out += ["#Version: 1.0", "#Fields: " + " ".join(names)]
    for line in lines:
        values = dict(zip(STANDARD_FIELDS, fields(line), strict=True))
        out.append("\t".join(values[name] for name in names))
    return "\n".join(out) + "\n"


def write_log(path: Path, text: str, *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
