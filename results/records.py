"""Per-request records: ``requests.csv`` of a run folder, read column-wise.

The file holds one row per request Locust made (docs/formats.md), in the
columns :mod:`edgedrill_formats.records` declares. A drill of a million
requests must read in about a second, so rows are never turned into Python
objects: polars reads the columns (a file it might read otherwise than numpy
goes to one ``numpy.loadtxt`` pass into a structured array), and each text
column becomes integer codes plus a short table of labels. Only when that
fast pass fails does a second, row-by-row pass run, to name the bad line and
field (and, when not strict, to skip it).
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl

from edgedrill_formats.records import REQUESTS_COLUMNS
from results.errors import FormatError, MalformedLines, RunFolderError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from pathlib import Path

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# A column of whole numbers read from a run, kept in the narrowest of int16,
# int32 and int64 that holds its values (a status takes 2 bytes, not 8).
WholeArray = npt.NDArray[np.signedinteger[Any]]
CodeArray = npt.NDArray[np.integer[Any]]  # int32 while read, then narrowed
BoolArray = npt.NDArray[np.bool_]

# The name the analysis and its tests read the columns by.
COLUMNS = REQUESTS_COLUMNS

# The columns the analysis reads, with the width kept for text. A longer text
# is cut at that width: these columns are categories, and an error text longer
# than this is still the same kind of error.
_FLOAT_COLUMNS = ("start", "duration_ms", "late_ms")
_INT_COLUMNS = ("status", "bytes")
_TEXT_COLUMNS = {"method": 8, "x_cache": 32, "pop": 24, "origin_region": 24, "error": 96}
BLOCK_BYTES = 16 << 20  # the text read at once by the block readers (whole lines)
_READ = ("start", "duration_ms", "method", "status", "bytes", "x_cache", "pop",
         "origin_region", "late_ms", "error")  # fmt: skip


_WHOLE_TYPES = (np.int16, np.int32)


def narrow(values: npt.NDArray[np.integer[Any]]) -> WholeArray:
    """Whole numbers in the narrowest of int16, int32 and int64 that holds them all."""
    if len(values):
        low, high = int(values.min()), int(values.max())
        for kind in _WHOLE_TYPES:
            limits = np.iinfo(kind)
            if limits.min <= low and high <= limits.max:
                return values.astype(kind, copy=False)
    return values.astype(np.int64, copy=False)


def narrow_fields(instance: object, *names: str) -> None:
    """Narrow the named whole-number columns of a frozen dataclass in place."""
    for name in names:
        object.__setattr__(instance, name, narrow(getattr(instance, name)))


@dataclass(frozen=True, slots=True)
class Categories:
    """A text column as integer codes into a table of labels.

    Codes are kept in the narrowest unsigned type that holds every label's
    (one byte for the usual handful): a run's columns are mostly codes.
    """

    labels: tuple[str, ...]
    codes: CodeArray

    def __post_init__(self) -> None:
        narrow = np.min_scalar_type(max(len(self.labels) - 1, 0))
        if self.codes.dtype != narrow:
            object.__setattr__(self, "codes", self.codes.astype(narrow))

    @classmethod
    def encode(cls, values: Iterable[str | bytes]) -> Categories:
        """Encode values in order of first appearance.

        ``bytes`` are numpy's fixed-width text, which holds Latin-1 (a text
        outside Latin-1 sends the reader to its row-by-row pass).
        """
        table: dict[str | bytes, int] = {}
        codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32)
        labels = tuple(v.decode("latin-1") if isinstance(v, bytes) else v for v in table)
        return cls(labels, codes)

    @classmethod
    def concatenate(cls, parts: Sequence[Categories]) -> Categories:
        """One column from several, their label tables joined."""
        labels: dict[str, int] = {}
        codes = []
        for part in parts:
            remap = np.array(
                [labels.setdefault(label, len(labels)) for label in part.labels] or [0],
                dtype=np.int32,
            )
            codes.append(remap[part.codes] if len(part.codes) else part.codes)
        joined = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int32)
        return cls(tuple(labels), joined.astype(np.int32))

    def take(self, order: npt.NDArray[np.intp]) -> Categories:
        """The same column, rows reordered (or selected) by ``order``."""
        return Categories(self.labels, self.codes[order])

    def counts(self, mask: BoolArray | None = None) -> dict[str, int]:
        """Rows per label (under ``mask`` if given), empty labels included."""
        codes = self.codes if mask is None else self.codes[mask]
        per_code = np.bincount(codes, minlength=len(self.labels))
        return {label: int(n) for label, n in zip(self.labels, per_code, strict=True) if n}

    def mask(self, predicate: Sequence[bool]) -> BoolArray:
        """Rows whose label satisfies ``predicate`` (one bool per label)."""
        if not self.labels:
            return np.zeros(len(self.codes), dtype=bool)
        return np.asarray(predicate, dtype=bool)[self.codes]

    def label_mask(self, label: str) -> BoolArray:
        """Rows holding exactly ``label``."""
        return self.mask([value == label for value in self.labels])


@dataclass(frozen=True, slots=True)
class RequestRecords:
    """Every request of a run, one array per column, sorted by start time."""

    start: FloatArray  # Unix epoch seconds
    duration_ms: FloatArray
    status: WholeArray  # 0 for a connection failure
    bytes: WholeArray
    late_ms: FloatArray
    method: Categories
    x_cache: Categories
    pop: Categories
    origin_region: Categories
    error: Categories
    malformed: MalformedLines

    def __post_init__(self) -> None:
        narrow_fields(self, "status", "bytes")

    def __len__(self) -> int:
        return len(self.start)

    @property
    def failed(self) -> BoolArray:
        """Requests that failed: no response, an HTTP error status, or an error text."""
        has_error = self.error.mask([bool(label) for label in self.error.labels])
        failed: BoolArray = (self.status == 0) | (self.status >= 400) | has_error
        return failed

    @property
    def edge_hit(self) -> BoolArray:
        """Requests the edge cache answered (``x-cache: Hit`` or ``RefreshHit``)."""
        return self.x_cache.mask([_is_hit(label) for label in self.x_cache.labels])

    @property
    def has_x_cache(self) -> BoolArray:
        """Requests whose response carried an ``x-cache`` header."""
        return self.x_cache.mask([bool(label) for label in self.x_cache.labels])


def _is_hit(x_cache: str) -> bool:
    kind = x_cache.split(" ", 1)[0].lower()
    return kind in ("hit", "refreshhit")


def read_requests(
    path: Path, *, strict: bool = False, block_bytes: int = BLOCK_BYTES
) -> RequestRecords:
    """Read ``requests.csv``; raise RunFolderError/FormatError naming the file and line.

    ``block_bytes`` is how much text polars reads at once.
    """
    malformed = MalformedLines(strict=strict)
    header = _read_header(path)
    index = {name: header.index(name) for name in COLUMNS}
    if _has_no_rows(path):
        return _empty(malformed)
    columnar = _columnar_read(path, header, index, malformed, block_bytes)
    if columnar is not None:
        return columnar
    try:
        table = _fast_read(path, [index[name] for name in _READ])
    except (ValueError, UnicodeError):
        return _slow_read(path, header, malformed)
    return _from_table(table, malformed)


def _read_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            first = handle.readline()
    except FileNotFoundError:
        raise RunFolderError(path, "missing (the run wrote no per-request records)") from None
    except (OSError, UnicodeError) as exc:
        raise RunFolderError(path, f"cannot read: {exc}") from None
    header = next(csv.reader([first]), [])
    header = [name.strip() for name in header]
    missing = [name for name in COLUMNS if name not in header]
    if not header or missing:
        raise FormatError(str(path), 1, f"header lacks column(s) {', '.join(missing)}")
    return header


def _has_no_rows(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as handle:
        handle.readline()
        return all(not line.strip() for line in handle)


def _dtype() -> np.dtype[np.void]:
    fields: list[tuple[str, str]] = []
    for name in _READ:
        if name in _FLOAT_COLUMNS:
            fields.append((name, "f8"))
        elif name in _INT_COLUMNS:
            fields.append((name, "i8"))
        else:
            fields.append((name, f"S{_TEXT_COLUMNS[name]}"))
    return np.dtype(fields)


# Text numpy would read otherwise: outside Latin-1, a NUL, a quote left in.
_ODD_TEXT = '[^\x01-\xff]|"'


def _columnar_read(
    path: Path,
    header: list[str],
    index: dict[str, int],
    malformed: MalformedLines,
    block_bytes: int,
) -> RequestRecords | None:
    """The file read column-wise by polars, or None when numpy's read must decide.

    Only a file every cell of which numpy reads the same way is taken: no
    ``#`` anywhere (numpy's comment character), no quote or carriage return,
    numbers polars reads too (both round correctly), finite, Latin-1 text;
    text is cut at its column's width as numpy's fixed-width read cuts it.
    The file is read a block of lines at a time, so that memory holds the
    columns, not the text.
    """
    commas = _commas_if_plain(path)
    if commas is None:
        return None
    if len(set(header)) != len(header):
        return None
    numbers: dict[str, list[npt.NDArray[Any]]] = {n: [] for n in (*_FLOAT_COLUMNS, *_INT_COLUMNS)}
    texts: dict[str, tuple[dict[str, int], list[CodeArray]]] = {
        name: ({}, []) for name in _TEXT_COLUMNS
    }
    rows = 0
    for block in line_blocks(path, block_bytes, skip_lines=1):
        frame = _block_frame(block, header, index)
        if frame is None:
            return None
        rows += frame.height
        for name, parts in numbers.items():
            column = frame[name].to_numpy()
            parts.append(narrow(column) if name in _INT_COLUMNS else column)
        for name, (table, codes) in texts.items():
            codes.append(_codes(frame[name], table))
    # Unquoted, every line holds as many commas as the header: none is short.
    if rows == 0 or commas != (rows + 1) * (len(header) - 1):
        return None
    # One column at a time, its blocks let go once joined: about one copy at peak.
    start = np.concatenate(numbers.pop("start"))
    order = None if in_order(start) else np.argsort(start, kind="stable")
    sorted_columns = {"start": start if order is None else start[order]}
    del start
    for name in list(numbers):
        column = np.concatenate(numbers.pop(name))
        sorted_columns[name] = column if order is None else column[order]
        del column
    categories = {}
    for name in list(texts):
        table, codes = texts.pop(name)
        joined = np.concatenate(codes)
        categories[name] = _categories(tuple(table), joined if order is None else joined[order])
        del joined
    return RequestRecords(
        start=sorted_columns["start"].astype(np.float64, copy=False),
        duration_ms=sorted_columns["duration_ms"].astype(np.float64, copy=False),
        status=sorted_columns["status"],
        bytes=sorted_columns["bytes"],
        late_ms=sorted_columns["late_ms"].astype(np.float64, copy=False),
        method=categories["method"],
        x_cache=categories["x_cache"],
        pop=categories["pop"],
        origin_region=categories["origin_region"],
        error=categories["error"],
        malformed=malformed,
    )


def _block_frame(block: bytes, header: list[str], index: dict[str, int]) -> pl.DataFrame | None:
    """One block of lines as the columns read, text cut; None when numpy must decide."""
    kinds = {
        **dict.fromkeys(_FLOAT_COLUMNS, pl.Float64),
        **dict.fromkeys(_INT_COLUMNS, pl.Int64),
        **dict.fromkeys(_TEXT_COLUMNS, pl.String),
    }
    try:
        frame = pl.read_csv(
            block,
            has_header=False,
            quote_char='"',
            schema={
                name if name in kinds else f"unread {k}": kinds.get(name, pl.String)
                for k, name in enumerate(header)
            },
            columns=[index[name] for name in _READ],
        )
    except pl.exceptions.PolarsError:
        return None  # a cell polars cannot read as its column's type
    numbers = [frame[name] for name in (*_FLOAT_COLUMNS, *_INT_COLUMNS)]
    if any(column.null_count() for column in numbers):
        return None  # an empty cell
    if not all(np.isfinite(frame[name].to_numpy()).all() for name in _FLOAT_COLUMNS):
        return None
    if (frame["duration_ms"] < 0).any() or (frame["status"] < 0).any():
        return None
    frame = frame.with_columns(
        pl.col(name).fill_null("").str.slice(0, width) for name, width in _TEXT_COLUMNS.items()
    )
    if any(frame[name].str.contains(_ODD_TEXT).any() for name in _TEXT_COLUMNS):
        return None
    return frame


def line_blocks(
    path: Path, block_bytes: int = BLOCK_BYTES, *, skip_lines: int = 0
) -> Iterator[bytes]:
    """Whole lines of ``path``, about ``block_bytes`` at a time, after its first ``skip_lines``."""
    with path.open("rb") as handle:
        for _ in range(skip_lines):
            handle.readline()
        while data := handle.read(block_bytes):
            if not data.endswith(b"\n"):
                data += handle.readline()  # the block ends at a line's end
            yield data


def sorted_columns(chunks: list[tuple[npt.NDArray[Any], ...]]) -> tuple[npt.NDArray[Any], ...]:
    """Chunked columns joined, rows sorted by the first column (stable); empties ``chunks``.

    One column at a time, each column's chunks let go once joined, so that
    the peak is about one copy of the data, not three; rows already in order
    (a log is written as time goes) are not copied a second time.
    """
    # An empty chunk could only widen the joined dtypes (int64 beside int16 chunks).
    kept = [chunk for chunk in chunks if len(chunk[0])] or chunks[:1]
    columns = [list(column) for column in zip(*kept, strict=True)]
    chunks.clear()
    del kept
    key = np.concatenate(columns[0])
    columns[0].clear()
    order = None if in_order(key) else np.argsort(key, kind="stable")
    joined = [key if order is None else key[order]]
    del key
    for parts in columns[1:]:
        column = np.concatenate(parts)
        parts.clear()
        joined.append(column if order is None else column[order])
        del column
    return tuple(joined)


def in_order(values: npt.NDArray[Any]) -> bool:
    """Whether ``values`` never decrease (a NaN anywhere: no)."""
    return bool(np.all(values[1:] >= values[:-1]))


def _commas_if_plain(path: Path) -> int | None:
    """The commas in the file, or None when it holds a ``#``, a quote or a carriage return.

    Read a window at a time, not mapped: a mapped file's pages would count in
    this process's memory, the whole file's worth, and grow with the run.
    """
    commas = 0
    with path.open("rb") as handle:
        while window := handle.read(1 << 24):
            if b"#" in window or b'"' in window or b"\r" in window:
                return None
            commas += window.count(b",")
    return commas


def _codes(column: pl.Series, table: dict[str, int]) -> CodeArray:
    """Codes into ``table``, grown with new labels in order of first appearance."""
    for label in column.unique(maintain_order=True).to_list():
        table.setdefault(label, len(table))
    codes: CodeArray = narrow(column.replace_strict(table, return_dtype=pl.Int32).to_numpy())
    return codes


def _categories(labels: tuple[str, ...], codes: CodeArray) -> Categories:
    """Codes in file order's labels, renumbered by first appearance in their own order."""
    first = _first_rows(codes, len(labels))
    present = np.flatnonzero(first < len(codes))
    ranked = present[np.argsort(first[present], kind="stable")]
    # Ranks fit the codes' own type: no wider copy of a column of them.
    renumber = np.zeros(len(labels), dtype=np.min_scalar_type(max(len(labels) - 1, 0)))
    renumber[ranked] = np.arange(len(ranked))
    renumbered = np.empty_like(codes, dtype=renumber.dtype)
    window = 1 << 16  # indexing converts the codes to a row index each: a window at a time
    for at in range(0, len(codes), window):
        renumbered[at : at + window] = renumber[codes[at : at + window]]
    return Categories(tuple(labels[code] for code in ranked), renumbered)


def _first_rows(codes: CodeArray, count: int) -> npt.NDArray[np.int64]:
    """The row where each of ``count`` codes first appears (``len(codes)`` if nowhere).

    A window at a time, stopping once every code is found: a sort of the whole
    column (``np.unique``'s) would cost a row index per row at the run's peak.
    """
    first = np.full(count, len(codes), dtype=np.int64)
    missing = count
    window = 1 << 16
    for at in range(0, len(codes), window):
        values, rows = np.unique(codes[at : at + window], return_index=True)
        new = first[values] == len(codes)
        first[values[new]] = rows[new] + at
        missing -= int(np.count_nonzero(new))
        if missing == 0:
            break
    return first


def _fast_read(path: Path, usecols: list[int]) -> npt.NDArray[np.void]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        table: npt.NDArray[np.void] = np.loadtxt(
            path,
            delimiter=",",
            skiprows=1,
            usecols=usecols,
            dtype=_dtype(),
            quotechar='"',
            encoding="utf-8",
            ndmin=1,
        )
    if not np.all(np.isfinite(table["start"])) or not np.all(np.isfinite(table["duration_ms"])):
        raise ValueError("non-finite time")
    if np.any(table["duration_ms"] < 0) or np.any(table["status"] < 0):
        raise ValueError("negative value")
    return table


def _from_table(table: npt.NDArray[np.void], malformed: MalformedLines) -> RequestRecords:
    order = np.argsort(table["start"], kind="stable")
    table = table[order]

    def text(name: str) -> Categories:
        return Categories.encode(table[name].tolist())

    return RequestRecords(
        start=np.ascontiguousarray(table["start"], dtype=np.float64),
        duration_ms=np.ascontiguousarray(table["duration_ms"], dtype=np.float64),
        status=np.ascontiguousarray(table["status"], dtype=np.int64),
        bytes=np.ascontiguousarray(table["bytes"], dtype=np.int64),
        late_ms=np.ascontiguousarray(table["late_ms"], dtype=np.float64),
        method=text("method"),
        x_cache=text("x_cache"),
        pop=text("pop"),
        origin_region=text("origin_region"),
        error=text("error"),
        malformed=malformed,
    )


def _empty(malformed: MalformedLines) -> RequestRecords:
    empty_text = Categories((), np.zeros(0, dtype=np.int32))
    return RequestRecords(
        start=np.zeros(0),
        duration_ms=np.zeros(0),
        status=np.zeros(0, dtype=np.int64),
        bytes=np.zeros(0, dtype=np.int64),
        late_ms=np.zeros(0),
        method=empty_text,
        x_cache=empty_text,
        pop=empty_text,
        origin_region=empty_text,
        error=empty_text,
        malformed=malformed,
    )


def parse_float(value: str, name: str, *, minimum: float | None) -> float:
    """A CSV cell as a finite number at or above ``minimum``; ValueError names the column."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"column {name!r}: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"column {name!r}: not finite: {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"column {name!r}: negative: {value!r}")
    return number


def parse_int(value: str, name: str) -> int:
    """A CSV cell as a whole number >= 0; ValueError names the column."""
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"column {name!r}: not an integer: {value!r}") from None
    if number < 0:
        raise ValueError(f"column {name!r}: negative: {value!r}")
    return number


def _slow_read(path: Path, header: list[str], malformed: MalformedLines) -> RequestRecords:
    index = {name: header.index(name) for name in COLUMNS}
    columns: dict[str, list[object]] = {name: [] for name in _READ}
    width = len(header)
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if not row:
                continue
            try:
                if len(row) != width:
                    raise ValueError(f"{len(row)} fields, the header has {width}")
                values = _parse_row(row, index)
            except ValueError as exc:
                malformed.add(FormatError(str(path), reader.line_num, str(exc)))
                continue
            for name, value in zip(_READ, values, strict=True):
                columns[name].append(value)
    table = np.empty(len(columns["start"]), dtype=[(name, _column_dtype(name)) for name in _READ])
    for name in _READ:
        table[name] = columns[name]
    return _from_table(table, malformed)


def _column_dtype(name: str) -> str:
    if name in _FLOAT_COLUMNS:
        return "f8"
    if name in _INT_COLUMNS:
        return "i8"
    return "O"


def _parse_row(row: list[str], index: dict[str, int]) -> tuple[object, ...]:
    return (
        parse_float(row[index["start"]], "start", minimum=None),
        parse_float(row[index["duration_ms"]], "duration_ms", minimum=0.0),
        row[index["method"]],
        parse_int(row[index["status"]], "status"),
        parse_int(row[index["bytes"]] or "0", "bytes"),
        row[index["x_cache"]],
        row[index["pop"]],
        row[index["origin_region"]],
        parse_float(row[index["late_ms"]] or "0", "late_ms", minimum=0.0),
        row[index["error"]],
    )
