"""Load every source of a recipe into one table with the ``sf_*`` columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import canonical_json
from splitforge.load.fields import (
    as_string,
    check_columns,
    content_ids,
    drop_own_columns,
    find_bad_rows,
    parse_times,
    text_column,
    unique_content_ids,
)
from splitforge.load.readers import detect_format, read_source
from splitforge.recipe import FieldsConfig, SourceConfig, resolve_path

_RAW_LIMIT = 2000


@dataclass(frozen=True)
class SourceInfo:
    """What was read from one source."""

    path: str
    format: str
    rows_read: int
    rows_rejected: int


@dataclass
class LoadResult:
    """All sources as one table, what each source gave, and the rejected rows."""

    table: pa.Table
    sources: list[SourceInfo]
    rejected: list[dict[str, Any]] = field(default_factory=list)


def load_sources(sources: list[SourceConfig], fields: FieldsConfig, base_dir: Path) -> LoadResult:
    """Read and map every source; ids must be unique across all of them."""
    tables, infos, rejected = [], [], []
    for source in sources:
        table, info, bad = load_source(source, fields, base_dir)
        tables.append(table)
        infos.append(info)
        rejected.extend(bad)
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    if fields.id is None:
        ids = unique_content_ids(table.column(C.ID).to_pylist())
        table = table.set_column(table.column_names.index(C.ID), C.ID, pa.array(ids, pa.string()))
    else:
        _check_unique_ids(table)
    return LoadResult(table, infos, rejected)


def load_source(
    source: SourceConfig, fields: FieldsConfig, base_dir: Path
) -> tuple[pa.Table, SourceInfo, list[dict[str, Any]]]:
    """Read one source, reject or raise on bad rows, and add the ``sf_*`` columns."""
    path = resolve_path(base_dir, source.path)
    if not path.exists():
        raise InputError("no such file or folder", path=source.path)
    fmt = detect_format(path, source.format)
    read = read_source(path, fmt, source.on_error, source.split)
    rejected = [{"source": source.path, **r} for r in read.rejected]
    table, lines = drop_own_columns(read.table), read.lines
    if table.num_rows == 0:
        why = "every row was rejected" if rejected else "the source is empty"
        raise InputError(f"no rows: {why}", path=source.path)
    check_columns(table, fields, Path(source.path))
    times = parse_times(table.column(fields.time)) if fields.time else None
    bad = find_bad_rows(table, fields, times)
    if len(bad.index):
        first = int(bad.index[0])
        if source.on_error != "skip":
            raise InputError(bad.detail[0], path=source.path, line=int(lines[first]),
                             field=bad.field[0])
        records = table.take(pa.array(bad.index)).to_pylist()
        for i, record, name, detail, reason in zip(bad.index, records, bad.field, bad.detail,
                                                   bad.reason, strict=True):
            rejected.append({"source": source.path, "line": int(lines[i]), "reason": reason,
                             "field": name, "detail": detail,
                             "raw": canonical_json(record)[:_RAW_LIMIT]})
        keep = np.ones(table.num_rows, dtype=bool)
        keep[bad.index] = False
        table, lines = table.filter(pa.array(keep)), lines[keep]
        times = times.filter(pa.array(keep)) if times is not None else None
        if table.num_rows == 0:
            raise InputError("no rows: every row was rejected", path=source.path)
    table = add_role_columns(table, fields, source, times, lines)
    info = SourceInfo(source.path, fmt, read.rows_read, len(rejected))
    return table, info, rejected


def add_role_columns(
    table: pa.Table, fields: FieldsConfig, source: SourceConfig, times: pa.Array | None,
    lines: np.ndarray,
) -> pa.Table:
    """Append sf_id, sf_text, sf_time, sf_group, sf_label, sf_source and sf_line."""
    originals = table
    if fields.id:
        ids = as_string(table.column(fields.id))
    else:
        ids = pa.array(content_ids(originals), pa.string())
    if source.id_prefix:
        ids = pc.binary_join_element_wise(pa.scalar(source.id_prefix), ids, "")
    text = text_column(table, fields, Path(source.path))
    table = table.append_column(C.ID, ids).append_column(C.TEXT, text)
    if times is not None:
        table = table.append_column(C.TIME, times)
    if fields.group:
        table = table.append_column(C.GROUP, as_string(originals.column(fields.group)))
    if fields.label:
        table = table.append_column(C.LABEL, as_string(originals.column(fields.label)))
    table = table.append_column(C.SOURCE, pa.array([source.path] * table.num_rows, pa.string()))
    return table.append_column(C.LINE, pa.array(lines, pa.int64()))


def _check_unique_ids(table: pa.Table) -> None:
    ids = table.column(C.ID)
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return
    order = pc.sort_indices(ids).to_numpy()
    values = np.asarray(ids.take(pa.array(order)).to_numpy(zero_copy_only=False), dtype=object)
    same = np.flatnonzero(values[1:] == values[:-1])
    a, b = sorted((int(order[same[0]]), int(order[same[0] + 1])))
    sources, lines = table.column(C.SOURCE), table.column(C.LINE)
    where = [f"{sources[i].as_py()}:{lines[i].as_py()}" for i in (a, b)]
    hint = ""
    if sources[a].as_py() != sources[b].as_py():
        hint = "; give each source its own sources[].id_prefix"
    raise InputError(f"id {values[same[0]]!r} is not unique: it appears at {where[0]} and "
                     f"{where[1]}{hint}", path=sources[b].as_py(), line=lines[b].as_py())
