"""Readers: one function per format, each returning the records as an Arrow table.

JSON Lines go through ``pyarrow.json`` (multi-threaded C++). Only when that fails is the file
read again line by line in Python, to name the exact bad line or, with ``on_error: skip``, to drop
it; the good lines are then parsed by pyarrow again so that types are inferred the same way.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from splitforge.errors import InputError

FORMATS = ("jsonl", "json", "csv", "parquet", "datasets")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
               ".parquet": "parquet"}
_BLOCK = 32 << 20
_RAW_LIMIT = 2000
_SCAN = 64 << 20


@dataclass
class ReadResult:
    """Records of one source, the 1-based line (or record number) of each, and rejected lines."""

    table: pa.Table
    lines: np.ndarray
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0


def detect_format(path: Path, declared: str) -> str:
    """The format of a source: declared, a datasets folder, or from the file extension."""
    if declared != "auto":
        return declared
    if path.is_dir():
        return "datasets"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InputError(
            "cannot tell the format from the extension; supported: .jsonl, .ndjson, .json, .csv "
            "(each optionally .gz), .parquet, or a datasets folder; or set sources[].format",
            path=path,
        )
    return fmt


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read the file: {exc}", path=path) from None


def read_source(path: Path, fmt: str, on_error: str, split: str | None = None) -> ReadResult:
    """Read one source of the given format."""
    if fmt == "jsonl":
        return read_jsonl(path, on_error)
    if fmt == "json":
        return read_json(path)
    if fmt == "csv":
        return read_csv(path)
    if fmt == "parquet":
        return _numbered(_read_parquet(path))
    if fmt == "datasets":
        return _numbered(read_datasets(path, split))
    raise InputError(f"unknown format {fmt!r}; supported: {', '.join(FORMATS)}", path=path)


def _numbered(table: pa.Table) -> ReadResult:
    return ReadResult(table, np.arange(1, table.num_rows + 1, dtype=np.int64),
                      rows_read=table.num_rows)


def read_jsonl(path: Path, on_error: str) -> ReadResult:
    """JSON Lines: fast pyarrow parse; a Python pass finds bad lines only when that fails.

    The fast path streams the file (it is never held whole as Python bytes), so memory follows
    the parsed table.
    """
    try:
        table = _pyarrow_json(path)
        fast_ok = True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        fast_ok = False
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc}", path=path) from None
    if fast_ok and _valid_utf8(path):
        lines = _object_lines(path)
        if table.num_rows == len(lines):
            return ReadResult(table, lines, rows_read=len(lines))
    return _read_jsonl_slow(path, _read_bytes(path), on_error)


def _stream(source: Path | bytes) -> pa.NativeFile:
    if isinstance(source, bytes):
        return pa.BufferReader(source)
    compression = "gzip" if source.suffix.lower() == ".gz" else None
    return pa.input_stream(str(source), compression=compression)


def _chunks(path: Path) -> Iterator[bytes]:
    with _stream(path) as stream:
        while chunk := stream.read(_SCAN):
            yield chunk


def _pyarrow_json(path: Path | bytes) -> pa.Table:
    """Parse JSON Lines with pyarrow, keeping strings that look like timestamps as strings.

    Arrow's JSON reader turns ISO 8601 strings into naive UTC timestamps, which would change the
    user's original fields. The schema is inferred from the first line; fields it shows as
    timestamps are then read as strings, and in the rare case a later field still comes out as a
    timestamp, the whole file is read again with an explicit schema.
    """
    options = pjson.ReadOptions(block_size=_BLOCK)
    with _stream(path) as stream:
        head = stream.read(1 << 20)
    head_end = head.find(b"\n")
    head = head[: head_end if head_end > 0 else len(head)]
    parse = None
    if head.strip():
        probe = pjson.read_json(io.BytesIO(head), read_options=options).schema
        strings = [f.with_type(_timestamps_as_strings(f.type)) for f in probe]
        changed = [f for f, old in zip(strings, probe, strict=True) if not f.type.equals(old.type)]
        if changed:
            parse = pjson.ParseOptions(explicit_schema=pa.schema(changed),
                                       unexpected_field_behavior="infer")
    with _stream(path) as stream:
        table = pjson.read_json(stream, read_options=options, parse_options=parse)
    schema = pa.schema([f.with_type(_timestamps_as_strings(f.type)) for f in table.schema])
    if schema.equals(table.schema):
        return table
    del table
    parse = pjson.ParseOptions(explicit_schema=schema)
    with _stream(path) as stream:
        return pjson.read_json(stream, read_options=options, parse_options=parse)


def _timestamps_as_strings(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_timestamps_as_strings(f.type)) for f in kind])
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_timestamps_as_strings(kind.value_type)))
    return kind


def _object_lines(path: Path) -> np.ndarray:
    """1-based numbers of the lines holding a JSON object (those with a '{'), in bounded memory.

    Called only after pyarrow parsed every non-blank line as an object, so each such line has a
    brace and blank lines have none.
    """
    found = []
    line_base = 0
    for data in _chunks(path):
        chunk = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(chunk == 10)
        braces = np.flatnonzero(chunk == 123)
        if len(braces):
            found.append(np.unique(np.searchsorted(newlines, braces)) + line_base)
        line_base += len(newlines)
    if not found:
        return np.zeros(0, dtype=np.int64)
    # A line that spans two chunks is counted once.
    return (np.unique(np.concatenate(found)) + 1).astype(np.int64)


def _valid_utf8(path: Path) -> bool:
    """Whether the file is UTF-8 (pyarrow's JSON reader does not check), in bounded memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in _chunks(path):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_jsonl_slow(path: Path, data: bytes, on_error: str) -> ReadResult:
    good: list[bytes] = []
    lines: list[int] = []
    rejected: list[dict[str, Any]] = []
    rows_read = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        rows_read += 1
        problem = _json_line_problem(raw)
        if problem is None:
            good.append(raw)
            lines.append(number)
            continue
        if on_error != "skip":
            raise InputError(problem, path=path, line=number)
        rejected.append({"line": number, "reason": "invalid_json", "field": None,
                         "detail": problem,
                         "raw": raw.decode("utf-8", "replace")[:_RAW_LIMIT]})
    table = _parse_lines(path, good)
    return ReadResult(table, np.array(lines, dtype=np.int64), rejected, rows_read)


def _json_line_problem(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start} of the line); save the file as UTF-8"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(value, dict):
        return f"expected a JSON object, got {type(value).__name__}"
    return None


def _parse_lines(path: Path, lines: list[bytes]) -> pa.Table:
    """Parse known-good JSON lines with pyarrow; mixed-type fields fall back to text."""
    if not lines:
        return pa.table({})
    try:
        return _pyarrow_json(b"\n".join(lines))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        records = [json.loads(line) for line in lines]
        return records_to_table(records)


def records_to_table(records: list[dict[str, Any]]) -> pa.Table:
    """Build a table from dicts; a field whose values have mixed types is kept as JSON text."""
    try:
        return pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    names = list(dict.fromkeys(k for r in records for k in r))
    columns = {}
    for name in names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array(
                [v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False)
                 for v in values], pa.string())
    return pa.table(columns)


def read_json(path: Path) -> ReadResult:
    """A JSON document: a list of objects, or an object holding exactly one such list."""
    data = _read_bytes(path)
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8",
                         path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} at column {exc.colno}", path=path,
                         line=exc.lineno) from None
    if isinstance(value, dict):
        lists = [k for k, v in value.items() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputError("expected a list of records, or an object holding exactly one list "
                             f"of records; found lists under {lists or 'no key'}", path=path)
        value = value[lists[0]]
    if not isinstance(value, list):
        raise InputError(f"expected a list of records, got {type(value).__name__}", path=path)
    for i, record in enumerate(value, start=1):
        if not isinstance(record, dict):
            raise InputError(f"record {i}: expected a JSON object, got {type(record).__name__}",
                             path=path)
    return _numbered(records_to_table(value))


def read_csv(path: Path) -> ReadResult:
    """CSV with a header row; line numbers count the header as line 1."""
    data = _read_bytes(path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8; save the file as UTF-8", path=path, line=line) from None
    try:
        table = pcsv.read_csv(io.BytesIO(data), read_options=pcsv.ReadOptions(block_size=_BLOCK))
    except pa.ArrowInvalid as exc:
        raise InputError(f"malformed CSV: {exc}", path=path) from None
    # Quoted fields may hold newlines, so record numbers stand in for line numbers past the header.
    return ReadResult(table, np.arange(2, table.num_rows + 2, dtype=np.int64),
                      rows_read=table.num_rows)


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", path=path) from None


def read_datasets(path: Path, split: str | None) -> pa.Table:
    """A Hugging Face ``datasets`` folder written by ``save_to_disk``."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise InputError(f"not a datasets folder (save_to_disk): {exc}", path=path) from None
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
    return loaded.data.table.combine_chunks()
