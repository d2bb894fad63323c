"""The compiled block scanner for runtime log files (``results/_logscan.c``), when built.

``pip install`` compiles it (hatch_build.py; ``python hatch_build.py`` after
editing the C). It reads the exact lines Lambda and the router write straight
into columns, one pass over the bytes, and hands every other line back by
number for the line-by-line reader, which names what is wrong with it. A
line it reads gives the values the reference parser gives
(tests/results/test_logscan.py holds the two together). ctypes releases the
GIL for the call, so blocks scan on several threads at once.

Without a C compiler at install, or with ``EDGEDRILL_NO_LOGSCAN=1`` in the
environment, :func:`scanner` is None and the runtime log reader parses blocks
with polars instead: the same results, a few times the CPU.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import mmap

ABI = 1  # EDGEDRILL_LOGSCAN_ABI in the C: a library built from other source is not used
LABELS = 64  # distinct regions, and (cache state, reason) pairs, one block may hold
LIBRARY = Path(__file__).with_name("_logscan.so")
SOURCE = LIBRARY.with_suffix(".c")
DISABLE = "EDGEDRILL_NO_LOGSCAN"  # set to 1: read with polars, as if the scanner was not built
# Cache states in the C's order (CACHE_STATES in results/logs.py; a test holds them together).
STATES = ("hit", "miss", "stale", "negative", "fallback")

logger = logging.getLogger(__name__)

_FLOAT_COLUMNS = ("report_end", "duration", "init")
_WHOLE_COLUMNS = ("billed", "memory", "max_memory")
_ROUTE_FLOATS = ("route_time", "dns_ms", "handler_ms")
_BUFFERS = (
    *_FLOAT_COLUMNS,
    *_WHOLE_COLUMNS,
    *_ROUTE_FLOATS,
    "queries",
    "state",
    "region",
    "rest_line",
    "rest_start",
    "rest_end",
)
_DTYPES = {
    **dict.fromkeys((*_FLOAT_COLUMNS, *_ROUTE_FLOATS), np.float64),
    **dict.fromkeys((*_WHOLE_COLUMNS, "queries", "rest_line", "rest_start", "rest_end"), np.int64),
    "state": np.int32,
    "region": np.int32,
}


class _Block(ctypes.Structure):
    """``scan_block`` in the C, field for field."""

    _fields_ = (
        *((name, ctypes.c_void_p) for name in _BUFFERS),
        *(
            (name, ctypes.c_int64)
            for name in ("lines", "reports", "routes", "starts", "ends", "rests", "region_count")
        ),
        ("region_start", ctypes.c_int64 * LABELS),
        ("region_length", ctypes.c_int64 * LABELS),
        ("region_line", ctypes.c_int64 * LABELS),
        ("reason_count", ctypes.c_int64),
        ("reason_state", ctypes.c_int64 * LABELS),
        ("reason_start", ctypes.c_int64 * LABELS),
        ("reason_length", ctypes.c_int64 * LABELS),
        ("reason_n", ctypes.c_int64 * LABELS),
        ("max_stale", ctypes.c_double),
    )


@dataclass(frozen=True, slots=True)
class Scanned:
    """One block's lines: the exact ones as columns, the others by number (from 1)."""

    lines: int
    starts: int
    ends: int
    # REPORT rows: end time (epoch s), duration, billed, memory, max memory, init (NaN if warm).
    reports: tuple[np.ndarray, ...]
    # Router rows: time (epoch s), cache state code, region index, dns_ms, handler_ms, queries.
    routes: tuple[np.ndarray, ...]
    regions: list[tuple[int, str]]  # (first line, label) of each region index, in index order
    reasons: dict[tuple[str, str], int]  # (cache state, reason) counts; empty reasons not counted
    max_stale: float
    rest: list[tuple[int, str]]  # (line, text) of the lines for the line-by-line reader


class Scanner:
    """The loaded library."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._scan = library.edgedrill_logscan
        self._scan.argtypes = (ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(_Block))
        self._scan.restype = None
        self._lines = library.edgedrill_logscan_lines
        self._lines.argtypes = (ctypes.c_void_p, ctypes.c_int64)
        self._lines.restype = ctypes.c_int64

    def scan(self, data: bytes | mmap.mmap, start: int = 0, end: int | None = None) -> Scanned:
        """Scan the whole lines in ``data[start:end]`` (a file's bytes, read or mapped)."""
        end = len(data) if end is None else end
        view = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
        address = view.ctypes.data
        rows = max(1, self._lines(address, end - start))
        buffers = {name: np.empty(rows, dtype=_DTYPES[name]) for name in _BUFFERS}
        block = _Block(**{name: buffers[name].ctypes.data for name in _BUFFERS})
        self._scan(address, end - start, ctypes.byref(block))
        del view  # a mapped file cannot close while a view of it lives

        def text(at: int, length: int, encoding: str = "ascii") -> str:
            return data[start + at : start + at + length].decode(encoding, errors="replace")

        reports, routes, rests = block.reports, block.routes, block.rests
        report_names = ("report_end", "duration", "billed", "memory", "max_memory", "init")
        route_names = ("route_time", "state", "region", "dns_ms", "handler_ms", "queries")
        starts, ends, lines = buffers["rest_start"], buffers["rest_end"], buffers["rest_line"]
        return Scanned(
            lines=block.lines,
            starts=block.starts,
            ends=block.ends,
            reports=tuple(buffers[name][:reports].copy() for name in report_names),
            routes=tuple(buffers[name][:routes].copy() for name in route_names),
            regions=[
                (block.region_line[i], text(block.region_start[i], block.region_length[i]))
                for i in range(block.region_count)
            ],
            reasons={
                (STATES[state], text(at, length)): n
                for state, at, length, n in zip(
                    block.reason_state[: block.reason_count],
                    block.reason_start[: block.reason_count],
                    block.reason_length[: block.reason_count],
                    block.reason_n[: block.reason_count],
                    strict=True,
                )
            },
            max_stale=block.max_stale,
            rest=[
                (int(lines[i]), text(int(starts[i]), int(ends[i] - starts[i]), "utf-8"))
                for i in range(rests)
            ],
        )


def load(path: Path) -> Scanner | None:
    """The scanner built at ``path``; None when missing or built from other source.

    Other source: another ABI or layout, or, where the C file lies beside the
    library (a checkout, an installed wheel), a build of an earlier text of it.
    """
    try:
        library = ctypes.CDLL(str(path))
    except OSError:
        # Said out loud where its source lies beside it: the install could not build it
        # (pip shows why only with -v), and a long run's report is the slower for it.
        level = logging.WARNING if path.with_suffix(".c").is_file() else logging.INFO
        logger.log(
            level,
            "no compiled log scanner at %s (reinstall with a C compiler, or run "
            "`python hatch_build.py`): runtime logs are parsed with polars, a few times slower",
            path,
        )
        return None
    try:
        abi = int(library.edgedrill_logscan_abi())
        size_of = library.edgedrill_logscan_size
        built_from = library.edgedrill_logscan_source
    except AttributeError:
        abi, size_of, built_from = 0, None, None
    if size_of is not None:
        size_of.restype = ctypes.c_size_t
    size = int(size_of()) if size_of is not None else 0
    source = path.with_suffix(".c")
    if abi != ABI or size != ctypes.sizeof(_Block):
        reason = f"from other source (ABI {abi}, {size} bytes)"
    elif source.is_file():
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        if built_from is not None:
            built_from.restype = ctypes.c_char_p
        stamp = built_from().decode("ascii") if built_from is not None else ""
        reason = "" if stamp == digest else f"from another text of {source}"
    else:
        reason = ""
    if reason:
        logger.warning(
            "%s was built %s: rebuild it with `python hatch_build.py`; "
            "blocks are parsed with polars meanwhile",
            path,
            reason,
        )
        return None
    return Scanner(library)


@functools.cache
def scanner() -> Scanner | None:
    """The scanner ``pip install`` built beside this module, loaded once (None if not built)."""
    if os.environ.get(DISABLE, "") not in ("", "0"):
        logger.info("%s is set: runtime log blocks are parsed with polars", DISABLE)
        return None
    return load(LIBRARY)
