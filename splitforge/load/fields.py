"""Field mapping: the recipe's ``fields`` turn input columns into the ``sf_*`` columns.

Every mapped field must be present and non-null in every row; timestamps must parse. Bad rows
are found with vectorized masks, then either raise (naming file, line and field) or are rejected.
"""

from __future__ import annotations

import difflib
import hashlib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import canonical_json
from splitforge.recipe import FieldsConfig, template_fields

_EPOCH_MS_ABOVE = 1e11  # epoch seconds stay below this until the year 5138
_ROLE_KEYS = (("role", "content"), ("from", "value"))


@dataclass
class BadRows:
    """Rows that break the mapping: index into the table, field and message of each."""

    index: np.ndarray
    field: list[str]
    detail: list[str]
    reason: list[str]


def drop_own_columns(table: pa.Table) -> pa.Table:
    """Drop ``sf_*`` columns: they are splitforge's own, so a build's output can be read again."""
    own = [n for n in table.column_names if n.startswith(C.PREFIX)]
    return table.drop_columns(own) if own else table


def check_columns(table: pa.Table, fields: FieldsConfig, path: Path) -> None:
    """Every mapped field is a column (``sf_*`` names are splitforge's own and cannot be mapped)."""
    for name in fields.source_fields():
        if name.startswith(C.PREFIX):
            raise InputError(f"names starting with '{C.PREFIX}' are splitforge's own columns; map "
                             f"the original field instead", path=path, field=name)
        if name not in table.column_names:
            close = difflib.get_close_matches(name, table.column_names, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InputError(f"is not in the data{hint}; fields are: "
                             f"{', '.join(table.column_names)}", path=path, field=name)


def find_bad_rows(table: pa.Table, fields: FieldsConfig, times: pa.Array | None) -> BadRows:
    """Rows where a mapped field is missing or null, or the timestamp does not parse."""
    first_field = np.full(table.num_rows, "", dtype=object)
    first_reason = np.full(table.num_rows, "", dtype=object)
    bad = np.zeros(table.num_rows, dtype=bool)

    def mark(mask: np.ndarray, name: str, reason: str) -> None:
        new = mask & ~bad
        first_field[new] = name
        first_reason[new] = reason
        bad[new] = True

    for name in fields.source_fields():
        mark(table.column(name).is_null().to_numpy(zero_copy_only=False), name, "missing_field")
    if times is not None and fields.time:
        unparsed = times.is_null().to_numpy(zero_copy_only=False)
        mark(unparsed, fields.time, "bad_timestamp")
    index = np.flatnonzero(bad)
    details = []
    for i in index:
        if first_reason[i] == "bad_timestamp":
            value = table.column(fields.time)[int(i)].as_py()
            details.append(f"cannot parse {value!r} as a timestamp (ISO 8601, a date, or epoch "
                           f"seconds/milliseconds)")
        else:
            details.append("missing or null")
    return BadRows(index, first_field[index].tolist(), details, first_reason[index].tolist())


def parse_times(column: pa.ChunkedArray) -> pa.Array:
    """UTC timestamps (microseconds) from ISO strings, dates, timestamps or epoch numbers.

    Values that do not parse become null; ``find_bad_rows`` reports them.
    """
    array = column.combine_chunks()
    utc = pa.timestamp("us", tz="UTC")
    kind = array.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return pc.cast(pc.cast(array, pa.timestamp("us")), utc)
        return pc.cast(array, utc)
    if pa.types.is_date(kind):
        return pc.cast(pc.cast(array, pa.timestamp("us")), utc)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
        finite = values[np.isfinite(values)]
        scale = 1e3 if len(finite) and np.abs(finite).max() > _EPOCH_MS_ABOVE else 1e6
        micros = np.round(values * scale)
        mask = ~np.isfinite(micros)
        micros[mask] = 0
        return pa.array(micros.astype(np.int64), utc, mask=mask)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        parsed = pd.to_datetime(pd.Series(array.to_numpy(zero_copy_only=False)), utc=True,
                                format="ISO8601", errors="coerce")
        return pc.cast(pa.array(parsed), utc)
    return pa.nulls(len(array), utc)


def text_column(table: pa.Table, fields: FieldsConfig, path: Path) -> pa.Array:
    """``sf_text``: one field, a template over fields, or a flattened chat list."""
    if fields.messages:
        return flatten_messages(table.column(fields.messages).combine_chunks(), path,
                                fields.messages)
    template = fields.text or ""
    names = template_fields(template)
    if names == [template]:
        return _as_text(table.column(template))
    parts: list[Any] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(pa.scalar(literal))
        if name is not None:
            parts.append(_as_text(table.column(name)))
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.array([template] * table.num_rows, pa.string())
    return pc.binary_join_element_wise(*parts, "")


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    if pa.types.is_string(array.type):
        return array
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([canonical_json(v) if v is not None else None for v in array.to_pylist()],
                        pa.string())


def flatten_messages(array: pa.Array, path: Path, name: str) -> pa.Array:
    """A chat list of {role, content} or {from, value} as ``role: content`` lines."""
    kind = array.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(
            kind.value_type):
        raise InputError(f"expected a list of {{role, content}} or {{from, value}} objects, got "
                         f"{kind}", path=path, field=name)
    keys = [f.name for f in kind.value_type]
    pair = next(((r, c) for r, c in _ROLE_KEYS if r in keys and c in keys), None)
    if pair is None:
        raise InputError(f"chat messages need role/content or from/value keys, found "
                         f"{', '.join(keys)}", path=path, field=name)
    flat = pc.list_flatten(array)
    role = _as_text(pa.chunked_array([pc.struct_field(flat, pair[0])])).fill_null("")
    content = _as_text(pa.chunked_array([pc.struct_field(flat, pair[1])])).fill_null("")
    lines = pc.binary_join_element_wise(role, content, ": ")
    offsets = pc.subtract(array.offsets, array.offsets[0])
    nested = pa.ListArray.from_arrays(offsets, lines)
    return pc.binary_join(nested, "\n").fill_null("")


def content_ids(table: pa.Table) -> list[str]:
    """Stable ids from each record's canonical JSON (first 16 hex of its sha256)."""
    return [hashlib.sha256(canonical_json(r).encode("utf-8")).hexdigest()[:16]
            for r in table.to_pylist()]


def unique_content_ids(ids: list[str]) -> list[str]:
    """Identical records get ``-2``, ``-3``... so ids stay unique (their order cannot matter)."""
    seen: dict[str, int] = {}
    out = []
    for value in ids:
        count = seen.get(value, 0) + 1
        seen[value] = count
        out.append(value if count == 1 else f"{value}-{count}")
    return out


def as_string(column: pa.ChunkedArray) -> pa.Array:
    """A column cast to text (ids, groups, labels)."""
    return _as_text(column)
