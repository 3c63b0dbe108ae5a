"""Deterministic file writers: Parquet, JSON Lines and JSON, the same bytes for the same table."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from splitforge import columns as C

_ROW_GROUP = 64 * 1024


def sort_by_id(table: pa.Table) -> pa.Table:
    """Rows in ``sf_id`` order, so outputs do not depend on the input row order."""
    if table.num_rows == 0:
        return table
    return table.sort_by([(C.ID, "ascending")])


def output_table(table: pa.Table) -> pa.Table:
    """Drop the internal columns, keep original fields first and ``sf_*`` columns after them."""
    names = [n for n in table.column_names if n not in C.INTERNAL]
    originals = [n for n in names if not n.startswith(C.PREFIX)]
    added = [n for n in names if n.startswith(C.PREFIX)]
    return table.select(originals + added).replace_schema_metadata(None)


BATCH_ROWS = _ROW_GROUP


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write a table as Parquet with fixed settings (zstd, fixed row groups)."""
    write_batches([table], table.schema, path.parent, path.name.removesuffix(".parquet"),
                  ["parquet"])


def write_batches(batches: Iterable[pa.Table], schema: pa.Schema, folder: Path, name: str,
                  formats: list[str]) -> int:
    """Stream tables into ``name.parquet`` (and ``.jsonl``, ``.json``), one batch in memory.

    ``json`` is one JSON array, the file type of LLaMA-Factory's own data.

    Returns the number of rows written.
    """
    rows = 0
    jsonl = open(folder / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") if (
        "jsonl" in formats) else None
    array = open(folder / f"{name}.json", "w", encoding="utf-8", newline="\n") if (
        "json" in formats) else None
    written = False
    try:
        if array is not None:
            array.write("[")
        with pq.ParquetWriter(folder / f"{name}.parquet", schema, compression="zstd",
                              use_dictionary=True, write_statistics=True) as writer:
            for batch in batches:
                writer.write_table(batch, row_group_size=_ROW_GROUP)
                if jsonl is not None or array is not None:
                    for record_batch in batch.to_batches(max_chunksize=_ROW_GROUP):
                        lines = [json_line(r) for r in record_batch.to_pylist()]
                        if jsonl is not None:
                            jsonl.writelines(line + "\n" for line in lines)
                        if array is not None and lines:
                            array.write(("," if written else "") + "\n" + ",\n".join(lines))
                            written = True
                rows += batch.num_rows
        if array is not None:
            array.write("\n]\n")
    finally:
        for handle in (jsonl, array):
            if handle is not None:
                handle.close()
    return rows


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot write a {type(value).__name__} to JSON")


def json_line(record: dict[str, Any]) -> str:
    """One record as a JSON line, keys in the table's column order, UTF-8 kept as is."""
    return json.dumps(record, ensure_ascii=False, default=_json_default)


def write_records_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    """Write plain dict records as JSON Lines."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(json_line(r) + "\n" for r in records)


def write_json(obj: Any, path: Path) -> None:
    """Pretty JSON with sorted keys, ending in a newline."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=_json_default)
    path.write_text(text + "\n", encoding="utf-8")


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file whole or not at all, and never through a link.

    The text goes to a hidden temporary file beside ``path``, which then replaces ``path`` in
    one step: a reader never sees half a report, a full disk leaves the old one, and a
    ``report.html`` that is a link to a file elsewhere is replaced as a link, its target left
    alone.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
