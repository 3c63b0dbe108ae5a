"""Readers: one function per format, each returning the records as an Arrow table.

JSON Lines go through ``pyarrow.json`` (multi-threaded C++). Only when that fails is the file
read again line by line in Python, to name the exact bad line or, with ``on_error: skip``, to drop
it; the good lines are then parsed by pyarrow again so that types are inferred the same way. Every
reader keeps the user's values as written: strings that look like dates stay strings.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from splitforge.errors import InputError
from splitforge.load.hashing import (
    check_unchanged,
    compressed_error,
    compression_of,
    open_stream,
)

FORMATS = ("jsonl", "json", "csv", "parquet", "txt", "datasets")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
               ".parquet": "parquet", ".txt": "txt"}
_GZIP_OK = ("jsonl", "json", "csv", "txt")
SUPPORTED = (".jsonl, .ndjson, .json, .csv, .txt (each optionally .gz), .parquet, or a datasets "
             "folder")
TXT_COLUMN = "text"  # the one column of a plain-text source
_BLOCK = 32 << 20          # pyarrow block: a JSON line must fit in one, so it is retried larger
_MAX_BLOCK = 1 << 30
MAX_LINE = 16 << 20  # default bound of one JSON line (sources[].max_line_mb)
_SCAN = 64 << 20           # bytes per chunk when scanning a file for line numbers and UTF-8


@dataclass
class ReadResult:
    """Records of one source, the 1-based line (or record number) of each, and rejected lines.

    ``sha256`` is filled when the reader hashed the file's bytes on the way (saves a second read).
    """

    table: pa.Table
    lines: np.ndarray
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    format: str = ""
    sha256: str | None = None


def detect_format(path: Path, declared: str) -> str:
    """The format of a source: the declared one, a datasets folder, or from the file extension."""
    if path.is_dir():
        if declared not in ("auto", "datasets"):
            raise InputError(f"is a folder, but sources[].format is {declared}; a folder must be "
                             f"a datasets folder (save_to_disk)", path=path)
        return "datasets"
    if declared == "datasets":
        raise InputError("sources[].format is datasets, but this is a file, not a folder "
                         "written by save_to_disk", path=path)
    if declared != "auto":
        return declared
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    if gzipped:
        suffixes = suffixes[:-1]
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None or (gzipped and fmt not in _GZIP_OK):
        raise InputError(f"cannot tell the format from the extension; supported: {SUPPORTED}; "
                         f"or set sources[].format", path=path)
    return fmt


def read_source(path: Path, fmt: str, on_error: str, split: str | None = None,
                declared: str = "auto", max_line: int = MAX_LINE, text_unit: str = "line"
                ) -> ReadResult:
    """Read one source of the given format (``on_error`` is ``fail`` or ``skip``).

    ``max_line`` bounds a JSON line in bytes (``sources[].max_line_mb``): parsing holds many
    times a line in memory, so one 50 MB line once took 926 MB. ``text_unit`` is how a ``.txt``
    source splits into documents: ``line`` or ``paragraph`` (blank-line separated).
    """
    if fmt == "jsonl":
        result = read_jsonl(path, on_error, max_line)
    elif fmt == "json":
        result = read_json(path, on_error, allow_lines=declared == "auto")
    elif fmt == "csv":
        result = read_csv(path, on_error)
    elif fmt == "parquet":
        result = read_parquet(path)
    elif fmt == "txt":
        result = read_txt(path, text_unit)
    elif fmt == "datasets":
        result = _numbered(read_datasets(path, split))
    else:
        raise InputError(f"unknown format {fmt!r}; supported: {', '.join(FORMATS)}", path=path)
    result.format = result.format or fmt
    return result


def read_txt(path: Path, unit: str = "line") -> ReadResult:
    """Plain text as one ``text`` column: a document per line, or per blank-line paragraph.

    ``line`` is how LLaMA-Factory (``datasets``' text builder) reads a ``.txt`` file. Blank lines
    hold no document and are skipped; a record's line is the line its document starts on.
    """
    data, digest = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    docs: list[str] = []
    starts: list[int] = []
    if unit == "paragraph":
        current: list[str] = []
        for number, line in enumerate(lines, 1):
            if line.strip():
                if not current:
                    starts.append(number)
                current.append(line.rstrip("\r"))
            elif current:
                docs.append("\n".join(current))
                current = []
        if current:
            docs.append("\n".join(current))
    else:
        for number, line in enumerate(lines, 1):
            if line.strip():
                docs.append(line.rstrip("\r"))
                starts.append(number)
    table = pa.table({TXT_COLUMN: pa.array(docs, pa.string())})
    return ReadResult(table, np.array(starts, dtype=np.int64), rows_read=len(docs),
                      format="txt", sha256=digest)


def _numbered(table: pa.Table) -> ReadResult:
    return ReadResult(table, np.arange(1, table.num_rows + 1, dtype=np.int64),
                      rows_read=table.num_rows)


def _gzipped(path: Path) -> bool:
    return compression_of(path) == "gzip"


def _read_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes (decompressed for ``.gz``) and the sha256 of the stored bytes."""
    try:
        stored = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    digest = hashlib.sha256(stored).hexdigest()
    if not _gzipped(path):
        return stored, digest
    try:
        return gzip.decompress(stored), digest
    except (EOFError, OSError, zlib.error) as exc:
        raise compressed_error(path, exc) from None


def _not_utf8(path: Path, data: bytes, exc: UnicodeDecodeError) -> InputError:
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
    return InputError(f"not valid UTF-8 at byte {column} of the line ({exc.reason}); save the file "
                      f"as UTF-8", path=path, line=line)


# -- JSON Lines --------------------------------------------------------------------------------


def read_jsonl(path: Path, on_error: str, max_line: int = MAX_LINE) -> ReadResult:
    """JSON Lines: a fast pyarrow parse; a Python pass finds bad lines only when that fails.

    The fast path streams the file (it is never held whole as Python bytes), so memory follows
    the parsed table. A scan of the raw bytes then checks UTF-8 (pyarrow does not), numbers the
    lines and, for a plain file, hashes it.
    """
    parsed: list[str] = []
    try:
        table = _pyarrow_json(path, parsed, max_block=max(_BLOCK, 2 * max_line))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        table = None
    except (OSError, EOFError) as exc:
        raise _unreadable(path, exc) from None
    if table is not None:
        scan = _scan(path)
        check_unchanged(path, parsed[-1], scan.sha256, "the read")
        if scan.utf8 and len(scan.lines) == table.num_rows and scan.longest <= max_line:
            return ReadResult(table, scan.lines, rows_read=table.num_rows, sha256=scan.sha256)
        del table
    return _read_jsonl_slow(path, on_error, max_line)


def _unreadable(path: Path, exc: BaseException) -> InputError:
    """An OS or decompression error while streaming a file, as an InputError naming it."""
    if _gzipped(path) and not isinstance(exc, PermissionError | IsADirectoryError):
        return compressed_error(path, exc)
    return InputError(f"cannot read the file: {getattr(exc, 'strerror', None) or exc}",
                      path=path)


@contextmanager
def _stream(source: Path | bytes, hashes: list[str] | None = None) -> Iterator[pa.NativeFile]:
    """An input stream over ``source``, decompressed for ``.gz``.

    With ``hashes``, the sha256 of the stored bytes is appended to it when the stream closes
    (the rest of the file read first, so it covers the whole file).
    """
    if isinstance(source, bytes):
        with pa.BufferReader(source) as stream:
            yield stream
        return
    stream, raw = open_stream(source, hashed=hashes is not None)
    with stream:
        yield stream
        if raw is not None and hashes is not None:
            raw.read_rest()
            hashes.append(raw.hexdigest())


def _chunks(path: Path, hashes: list[str]) -> Iterator[bytes]:
    with _stream(path, hashes) as stream:
        while chunk := stream.read(_SCAN):
            yield chunk


@dataclass
class _Scan:
    lines: np.ndarray
    utf8: bool
    sha256: str | None
    longest: int = 0  # bytes of the longest line


def _scan(path: Path) -> _Scan:
    """One pass over a JSON Lines file: UTF-8 check, the lines that hold an object, and sha256.

    The hash is of the stored bytes, compressed or not. Called after pyarrow parsed the file,
    so every non-blank line holds an object and so has a ``{``; blank lines have none. Line
    numbers therefore come from the positions of newlines and braces, with no Python loop over
    lines.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    hashes: list[str] = []
    found: list[np.ndarray] = []
    line_base, utf8 = 0, True
    offset, last_newline, longest = 0, -1, 0
    for data in _chunks(path, hashes):
        if utf8:
            try:
                decoder.decode(data)
            except UnicodeDecodeError:
                utf8 = False
        chunk = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(chunk == 10)
        if len(newlines):
            ends = newlines + offset
            longest = max(longest, int(np.diff(ends, prepend=last_newline).max()) - 1)
            last_newline = int(ends[-1])
        offset += len(chunk)
        braces = np.flatnonzero(chunk == 123)
        if len(braces):
            found.append(_distinct_sorted(np.searchsorted(newlines, braces)) + line_base)
        line_base += len(newlines)
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    lines = np.zeros(0, dtype=np.int64)
    if found:
        # A line that spans two chunks shows up in both; the values are sorted, so diff dedupes.
        lines = (_distinct_sorted(np.concatenate(found)) + 1).astype(np.int64)
    longest = max(longest, offset - last_newline - 1)
    return _Scan(lines, utf8, hashes[-1], longest)


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _pyarrow_json(source: Path | bytes, hashes: list[str] | None = None,
                  max_block: int = _MAX_BLOCK) -> pa.Table:
    """Parse JSON Lines with pyarrow, keeping strings that look like timestamps as strings.

    Arrow's JSON reader turns ISO 8601 strings into naive UTC timestamps, which would change the
    user's original fields. The schema is inferred from the first line; fields it shows as
    timestamps are then read as strings, and in the rare case a later field still comes out as a
    timestamp, the whole file is read again with an explicit schema. A line longer than the block
    is retried with a larger block. ``hashes`` gets the sha256 of the bytes the table came from.
    """
    block = _BLOCK
    while True:
        try:
            table = _pyarrow_json_once(source, block, hashes)
            # Arrow 26's reader can build a list column whose offsets overrun its values
            # ([null, "x"] in a one-row file), which crashes a later take: check, and let the
            # caller fall back to the Python parse. It costs about 15 ms per 45 MB.
            table.validate(full=True)
            return table
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc) or block >= max_block:
                raise
            block *= 4


def _pyarrow_json_once(source: Path | bytes, block: int, hashes: list[str] | None) -> pa.Table:
    options = pjson.ReadOptions(block_size=block)
    probe = _first_line_schema(source, options)
    parse = None
    if probe is not None:
        changed = [f.with_type(_timestamps_as_strings(f.type)) for f in probe]
        changed = [f for f, old in zip(changed, probe, strict=True) if not f.type.equals(old.type)]
        if changed:
            parse = pjson.ParseOptions(explicit_schema=pa.schema(changed),
                                       unexpected_field_behavior="infer")
    with _stream(source, hashes) as stream:
        table = pjson.read_json(stream, read_options=options, parse_options=parse)
    schema = pa.schema([f.with_type(_timestamps_as_strings(f.type)) for f in table.schema])
    if not schema.equals(table.schema):
        del table
        parse = pjson.ParseOptions(explicit_schema=schema)
        with _stream(source, hashes) as stream:
            table = pjson.read_json(stream, read_options=options, parse_options=parse)
    if parse is None or probe is None:
        return table
    # An explicit schema puts its fields first; restore the order of the file's first line.
    first = [n for n in probe.names if n in table.column_names]
    return table.select(first + [n for n in table.column_names if n not in set(first)])


def _first_line_schema(source: Path | bytes, options: pjson.ReadOptions) -> pa.Schema | None:
    """The schema pyarrow infers from the first line, or None when that line is not plain."""
    with _stream(source) as stream:
        head = stream.read(1 << 20)
    head = head.lstrip()
    end = head.find(b"\n")
    if end < 0 and len(head) >= (1 << 20) - 1:
        return None  # a first line over 1 MB: infer from the whole read instead
    head = head[: end if end >= 0 else len(head)]
    if not head.strip():
        return None
    try:
        return pjson.read_json(io.BytesIO(head), read_options=options).schema
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _timestamps_as_strings(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_timestamps_as_strings(f.type)) for f in kind])
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_timestamps_as_strings(kind.value_type)))
    return kind


def _read_jsonl_slow(path: Path, on_error: str, max_line: int = MAX_LINE) -> ReadResult:
    """Line by line: name (fail) or reject (skip) each bad line, then parse the good ones."""
    data, digest = _read_bytes(path)
    good: list[bytes] = []
    lines: list[int] = []
    rejected: list[dict[str, Any]] = []
    rows_read = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        rows_read += 1
        problem = _json_line_problem(raw) if len(raw) <= max_line else (
            "line_too_long", f"the line holds {len(raw) / 2**20:.1f} MB, more than "
            f"sources[].max_line_mb ({max_line / 2**20:g} MB): parsing holds many times a line "
            f"in memory; raise the bound, or drop the line with on_error: skip")
        if problem is None:
            good.append(raw)
            lines.append(number)
            continue
        if on_error != "skip":
            raise InputError(problem[1], path=path, line=number)
        rejected.append({"line": number, "reason": problem[0], "field": None,
                         "detail": problem[1],
                         "raw": (raw if len(raw) <= max_line else raw[:1000] + b"...")
                         .rstrip(b"\r").decode("utf-8", "replace")})
    del data
    table = _parse_lines(good)
    return ReadResult(table, np.array(lines, dtype=np.int64), rejected, rows_read,
                      sha256=digest)


def _json_line_problem(raw: bytes) -> tuple[str, str] | None:
    """``(reason, message)`` of a line that is not one UTF-8 JSON object, else None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return "invalid_utf8", (f"not valid UTF-8 at byte {exc.start} of the line ({exc.reason}); "
                                f"save the file as UTF-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return "invalid_json", f"invalid JSON: {_json_msg(exc)}"
    if not isinstance(value, dict):
        return "not_an_object", f"expected a JSON object, got {_json_kind(value)}"
    if b"\\u" in raw and lone_surrogate(value):
        return "lone_surrogate", ("holds a lone surrogate escape such as \\ud800, which is no "
                                  "character and cannot be written as UTF-8; fix the value, or "
                                  "drop the line with on_error: skip")
    return None


def lone_surrogate(value: Any) -> bool:
    r"""Whether a parsed JSON value holds half of a UTF-16 surrogate pair (``"\ud800"``)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_kind(value: Any) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _json_msg(exc: json.JSONDecodeError) -> str:
    return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"


def _parse_lines(lines: list[bytes]) -> pa.Table:
    """Parse known-good JSON lines with pyarrow; fields with mixed types fall back to text."""
    if not lines:
        return pa.table({})
    try:
        return _pyarrow_json(b"\n".join(lines))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return records_to_table([json.loads(line) for line in lines])


CONVERTED = b"splitforge:converted"  # field metadata: the kinds of values made text


def records_to_table(records: list[dict[str, Any]]) -> pa.Table:
    """Build a table from dicts, one column per key of any record.

    A field whose values have mixed types (a number here, a string there) becomes text: strings
    as they are, other values as JSON (NaN as null, which JSON has no NaN for). Such a field
    carries the kinds it mixed in its metadata (``CONVERTED``), so the load can say so. Keys
    missing from a record are null.
    """
    names = list(dict.fromkeys(k for r in records for k in r))
    columns: list[pa.Array] = []
    schema: list[pa.Field] = []
    for name in names:
        values = [r.get(name) for r in records]
        try:
            columns.append(pa.array(values))
            schema.append(pa.field(name, columns[-1].type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            kinds = sorted({_json_kind(v) for v in values if v is not None})
            columns.append(pa.array([_as_text(v) for v in values], pa.string()))
            schema.append(pa.field(name, pa.string(),
                                   metadata={CONVERTED: ", ".join(kinds).encode()}))
    if not columns:
        return pa.table({})
    return pa.Table.from_arrays(columns, schema=pa.schema(schema))


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:
        return None
    return json.dumps(value, ensure_ascii=False)


# -- JSON --------------------------------------------------------------------------------------


def read_json(path: Path, on_error: str, allow_lines: bool = True) -> ReadResult:
    """A JSON document: a list of objects, or an object holding exactly one such list.

    A ``.json`` file that is really JSON Lines (one object per line, a common naming slip) is read
    as JSON Lines when the format was not set explicitly.
    """
    data, digest = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from None
    if not text.strip():
        return ReadResult(pa.table({}), np.zeros(0, dtype=np.int64), sha256=digest)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if allow_lines and exc.msg == "Extra data" and _looks_like_lines(text):
            result = read_jsonl(path, on_error)
            result.format = "jsonl"
            return result
        raise InputError(f"invalid JSON: {_json_msg(exc)}", path=path,
                         line=exc.lineno) from None
    del text, data
    if isinstance(value, dict):
        lists = [k for k, v in value.items() if isinstance(v, list)]
        if len(lists) != 1:
            found = ", ".join(repr(k) for k in lists) if lists else "none"
            raise InputError(f"expected a list of records, or an object holding exactly one list "
                             f"of records (such as {{\"data\": [...]}}); lists found: {found}",
                             path=path)
        value = value[lists[0]]
    if not isinstance(value, list):
        raise InputError(f"expected a list of records, got {_json_kind(value)}", path=path)
    records, numbers, rejected = [], [], []
    for number, record in enumerate(value, start=1):
        if isinstance(record, dict) and not lone_surrogate(record):
            records.append(record)
            numbers.append(number)
            continue
        reason, detail = ("not_an_object", f"record {number}: expected a JSON object, got "
                                           f"{_json_kind(record)}") \
            if not isinstance(record, dict) else (
            "lone_surrogate", f"record {number} holds a lone surrogate escape such as \\ud800, "
                              f"which is no character; fix it, or drop it with on_error: skip")
        if on_error != "skip":
            raise InputError(detail, path=path, line=number)
        rejected.append({"line": number, "reason": reason, "field": None, "detail": detail,
                         "raw": json.dumps(record, ensure_ascii=True)})
    return ReadResult(records_to_table(records), np.array(numbers, dtype=np.int64), rejected,
                      rows_read=len(value), sha256=digest)


def _looks_like_lines(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


# -- CSV ---------------------------------------------------------------------------------------


def read_csv(path: Path, on_error: str) -> ReadResult:
    """CSV with a header row; line 1 is the header, so the first record is on line 2.

    Values may hold quoted newlines. Strings that look like dates stay strings. A row with the
    wrong number of fields stops the read (``fail``) or is rejected (``skip``).
    """
    data, digest = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, data, exc) from None
    if not text.strip():
        return ReadResult(pa.table({}), np.zeros(0, dtype=np.int64), sha256=digest)
    try:
        table: pa.Table | None = _pyarrow_csv(data, skip_invalid=False)
    except pa.ArrowInvalid as exc:
        if "Expected" not in str(exc) or "columns" not in str(exc):
            raise InputError(f"malformed CSV: {exc}", path=path) from None
        table = None
    if table is not None and _physical_lines(data) == table.num_rows + 1:
        lines = np.arange(2, table.num_rows + 2, dtype=np.int64)
        return ReadResult(table, lines, rows_read=table.num_rows, sha256=digest)
    # Blank lines, quoted newlines or malformed rows: the csv module tells which line is which.
    layout = _csv_layout(text)
    width, records = layout[0][2], layout[1:]
    bad = [(start, end, n) for start, end, n in records if n != width]
    if bad and on_error != "skip":
        start, _, n = bad[0]
        raise InputError(f"malformed CSV row: expected {width} fields (as in the header), got {n}",
                         path=path, line=start)
    rejected = []
    if bad:
        physical = [line.rstrip("\r\n") for line in io.StringIO(text, newline="")]
        rejected = [{"line": start, "reason": "malformed_row", "field": None,
                     "detail": f"expected {width} fields (as in the header), got {n}",
                     "raw": "\n".join(physical[start - 1:end])} for start, end, n in bad]
    if table is None:
        try:
            table = _pyarrow_csv(data, skip_invalid=True)
        except pa.ArrowInvalid as exc:
            raise InputError(f"malformed CSV: {exc}", path=path) from None
    lines = np.array([start for start, _, n in records if n == width], dtype=np.int64)
    if len(lines) != table.num_rows:
        raise InputError(f"malformed CSV: found {len(lines)} records but pyarrow read "
                         f"{table.num_rows}; check the quoting", path=path)
    return ReadResult(table, lines, rejected, rows_read=len(records), sha256=digest)


def _pyarrow_csv(data: bytes, skip_invalid: bool) -> pa.Table:
    parse = pcsv.ParseOptions(newlines_in_values=True,
                              invalid_row_handler=(lambda _row: "skip") if skip_invalid else None)
    read = pcsv.ReadOptions(block_size=_BLOCK)
    table = pcsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse)
    temporal = {f.name: pa.string() for f in table.schema if pa.types.is_temporal(f.type)}
    if not temporal:
        return table
    convert = pcsv.ConvertOptions(column_types=temporal)
    return pcsv.read_csv(io.BytesIO(data), read_options=read, parse_options=parse,
                         convert_options=convert)


def _physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _csv_layout(text: str) -> list[tuple[int, int, int]]:
    """``(first line, last line, number of fields)`` of the header and each record."""
    reader = csv.reader(io.StringIO(text, newline=""))
    out = []
    previous = 0
    for row in reader:
        start, previous = previous + 1, reader.line_num
        if row:
            out.append((start, reader.line_num, len(row)))
    return out


# -- Parquet and datasets ----------------------------------------------------------------------


def read_parquet(path: Path) -> ReadResult:
    """A Parquet file, parsed from the bytes that were hashed (read whole: it is compressed)."""
    data, digest = _read_bytes(path)
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", path=path) from None
    result = _numbered(table)
    result.sha256 = digest
    return result


def read_datasets(path: Path, split: str | None) -> pa.Table:
    """A Hugging Face ``datasets`` folder written by ``save_to_disk``."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise InputError(f"not a datasets folder (one written by save_to_disk): {exc}",
                         path=path) from None
    if isinstance(loaded, datasets.DatasetDict):
        names = sorted(loaded)
        if split is None:
            raise InputError(f"this datasets folder holds several splits ({', '.join(names)}); "
                             f"choose one with sources[].split", path=path)
        if split not in loaded:
            raise InputError(f"no split {split!r}; available: {', '.join(names)}", path=path)
        loaded = loaded[split]
    elif split is not None:
        raise InputError(f"sources[].split is {split!r}, but this folder holds a single dataset",
                         path=path)
    return loaded.data.table
