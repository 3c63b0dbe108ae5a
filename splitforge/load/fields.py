"""Field mapping: the recipe's ``fields`` turn input columns into the ``sf_*`` columns.

Every mapped field must be present and non-null in every row, timestamps must parse and chat
messages must be lists. Bad rows are found with vectorized masks over whole columns; Python only
touches the bad rows themselves, to describe them. The columns are built with pyarrow.compute,
chunk by chunk, so no string column is ever copied into one giant buffer.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import canonical_json
from splitforge.normalize.text import BLANK_TEXT
from splitforge.recipe import FieldsConfig
from splitforge.templates import render_template, template_fields

UTC_US = pa.timestamp("us", tz="UTC")

_EPOCH_MS_ABOVE = 1e11  # epoch seconds stay below this until the year 5138
_US_PER_DAY = 86_400_000_000
EARLIEST_TIME = datetime(1971, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
_AHEAD = 365 * _US_PER_DAY  # a time this far after the rest of its column (its newest 1%) is odd
_OUTLIER_SHARE = 0.01
_ROLE_KEYS = (("role", "content"), ("from", "value"))
CHAT_KEYS = frozenset(k for pair in _ROLE_KEYS for k in pair)
CONTENT_ID_LENGTH = 16

# Columns a build writes. They are dropped when read, so a build's output can be fed back in;
# any other ``sf_`` column is an error, since its name is reserved for splitforge.
BUILD_COLUMNS = frozenset({
    C.ID, C.TEXT, C.TIME, C.GROUP, C.LABEL, C.SOURCE, C.LINE, C.NORM, C.HASH, C.CLUSTER,
    C.SPLIT, C.FOLD, "sf_stage", "sf_reason", "sf_kept_id", "sf_kept", "sf_method", "sf_score",
    "sf_cluster_size", C.SOURCE_ID, C.CHALLENGE, C.PERTURBATION, C.SEED, C.EDIT_DISTANCE,
    C.ORIGINAL_TEXT,
})


@dataclass
class BadRows:
    """Rows that break the mapping: index into the table, and the first bad field of each."""

    index: np.ndarray
    field: list[str]
    reason: list[str]
    detail: list[str]


def reserved_columns(table: pa.Table, path: Path | str) -> pa.Table:
    """Drop the columns a build writes; any other ``sf_`` column is an InputError."""
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            raise InputError(f"the column {name!r} appears twice; give each column its own name",
                             path=path)
        seen.add(name)
    own = [n for n in table.column_names if n.startswith(C.PREFIX)]
    foreign = [n for n in own if n not in BUILD_COLUMNS]
    if foreign:
        raise InputError(f"column {foreign[0]!r}: names starting with '{C.PREFIX}' are reserved "
                         f"for splitforge's own columns; rename it in the input", path=path)
    return table.drop_columns(own) if own else table


def field_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A column by name, or by a dotted path into objects (``metadata.score``).

    Raises:
        KeyError: No such column, or the path does not lead to a field.
    """
    if name in table.column_names or "." not in name:
        return table.column(name)
    head, *rest = name.split(".")
    column = table.column(head)
    for key in rest:
        if not pa.types.is_struct(column.type) or column.type.get_field_index(key) < 0:
            raise KeyError(name)
        column = pa.chunked_array([pc.struct_field(c, key) for c in column.chunks],
                                  column.type.field(key).type)
    return column


def with_nested(table: pa.Table, names: Sequence[str]) -> tuple[pa.Table, list[str]]:
    """The table with a column for each dotted name (``metadata.score``) read from its object.

    A name that is a column itself is left alone. Returns the table and the columns added (the
    loader drops them again, so the output keeps the records as they were). A path that does
    not resolve is left for ``check_columns`` to report.
    """
    added = []
    for name in dict.fromkeys(names):
        if name in table.column_names or "." not in name:
            continue
        try:
            column = field_column(table, name)
        except KeyError:
            continue
        table = table.append_column(name, column)
        added.append(name)
    return table, added


def check_columns(table: pa.Table, fields: FieldsConfig, path: Path | str) -> None:
    """Every mapped field is a column of the data (with a suggestion when one is misspelt)."""
    for name in fields.source_fields():
        if name.startswith(C.PREFIX):
            raise InputError(f"names starting with '{C.PREFIX}' are splitforge's own columns; map "
                             f"the original field instead", path=path, field=name)
        if name not in table.column_names:
            close = difflib.get_close_matches(name, table.column_names, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            head = name.split(".")[0]
            if "." in name and head in table.column_names:
                kind = table.column(head).type
                keys = [f.name for f in kind] if pa.types.is_struct(kind) else []
                hint = (f" ('{head}' holds {', '.join(keys)})" if keys else
                        f" ('{head}' is no object: {kind})")
            raise InputError(f"is not in the data{hint}; fields are: "
                             f"{', '.join(table.column_names)}", path=path, field=name)


def find_bad_rows(
    table: pa.Table,
    fields: FieldsConfig,
    times: pa.ChunkedArray | None,
    messages: pa.ChunkedArray | None,
    texts: pa.ChunkedArray | None = None,
) -> BadRows:
    """Rows with a mapped field null, a time or messages that do not parse, or a blank text.

    A blank text (``texts``, the rendered ``sf_text``) is empty or only whitespace and format
    characters. ``times`` and ``messages`` are the parsed columns (null where parsing failed).
    Each bad row is reported once, with the first bad field in the order of
    ``fields.source_fields()``.
    """
    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    first_field = np.full(n, "", dtype=object)
    first_reason = np.full(n, "", dtype=object)

    def mark(mask: pa.ChunkedArray | pa.Array, name: str, reason: str) -> None:
        if not pc.any(mask).as_py():
            return
        new = np.asarray(mask, dtype=bool) & ~bad
        first_field[new] = name
        first_reason[new] = reason
        bad[new] = True

    for name in fields.source_fields():
        column = table.column(name)
        if column.null_count:
            mark(pc.is_null(column), name, "missing_field")
        if pa.types.is_floating(column.type):  # NaN is no label, group or id
            mark(pc.fill_null(pc.is_nan(column), False), name, "missing_field")
    if times is not None and fields.time:
        raw = table.column(fields.time)
        mark(pc.and_(pc.is_null(times), pc.is_valid(raw)), fields.time, "bad_timestamp")
        mark(minority_epoch_unit(raw), fields.time, "mixed_epoch_units")
        if not fields.allow_any_time:
            mark(odd_times(times), fields.time, "odd_timestamp")
    if messages is not None and fields.messages:
        mark(pc.and_(pc.is_null(messages), pc.is_valid(table.column(fields.messages))),
             fields.messages, "bad_messages")
    if texts is not None:
        mark(pc.fill_null(pc.match_substring_regex(texts, BLANK_TEXT), False),
             fields.messages or ", ".join(template_fields(fields.text or "")), "empty_text")
    index = np.flatnonzero(bad)
    details = [_describe(table, int(i), first_field[i], first_reason[i]) for i in index]
    return BadRows(index, first_field[index].tolist(), first_reason[index].tolist(), details)


def _describe(table: pa.Table, row: int, name: str, reason: str) -> str:
    if reason == "missing_field":
        value = table.column(name)[row].as_py()
        return "NaN, which is no value" if isinstance(value, float) else "missing or null"
    if reason == "empty_text":
        if name in table.column_names and is_chat(table.column(name).type) and \
                table.column(name)[row].as_py():
            return ("no turn of the roles compared holds text (fields.roles; by default every "
                    "role but system, so a conversation of only a system prompt is empty): name "
                    "its roles in fields.roles, or drop it with on_error: skip")
        return ("the text is empty or only blank or invisible characters; an empty row cannot "
                "be deduplicated, split or audited: fill it in, or drop it with on_error: skip")
    value = table.column(name)[row].as_py()
    if reason == "bad_timestamp":
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
            return (f"{value!r} is an epoch number, but the column holds ISO 8601 text too "
                    f"(read as text, where a number is no time); a column must hold one kind: "
                    f"write this value as ISO 8601, or the whole column as epoch numbers")
        return (f"cannot parse {value!r} as a timestamp (ISO 8601, date, or epoch "
                f"seconds/ms)")
    if reason == "mixed_epoch_units":
        unit, other = ("milliseconds", "seconds") if abs(value) > _EPOCH_MS_ABOVE else (
            "seconds", "milliseconds")
        return (f"{value!r} reads as epoch {unit} (above 1e11 is milliseconds), "
                f"but most of the column reads as epoch {other}; a column must hold one unit: "
                f"convert the odd values (or the column to ISO 8601 strings)")
    if reason == "odd_timestamp":
        when = parse_times(pa.chunked_array([table.column(name).slice(row, 1).combine_chunks()
                                             ]))[0].as_py()
        return (f"{value!r} is {when.isoformat()}, outside the times splitforge accepts by "
                f"default (from {EARLIEST_TIME.year}, before {LATEST_TIME.year}, not further "
                f"ahead of the rest of the column than a year and than the rest's span): usually "
                f"a unit or typing slip. Fix the "
                f"value, drop it with on_error: skip, or set fields.allow_any_time: true")
    shown = value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."
    return f"expected a list of {{role, content}} or {{from, value}} messages, got {shown!r}"


# -- time --------------------------------------------------------------------------------------


def parse_times(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """UTC timestamps (microseconds) from ISO strings, dates, timestamps or epoch numbers.

    Offsets are converted to UTC; naive times and dates are taken as UTC. Numbers are epoch
    seconds, or epoch milliseconds when above 1e11, decided per value (``find_bad_rows`` refuses
    a column that mixes the two). Values that do not parse become null; ``find_bad_rows``
    reports them.
    """
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is None:
            return pc.cast(pc.cast(column, pa.timestamp("us"), safe=False), UTC_US)
        return pc.cast(column, UTC_US, safe=False)
    if pa.types.is_date(kind):
        return pc.cast(pc.cast(column, pa.timestamp("us")), UTC_US)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return pa.chunked_array([_epoch_chunk(c) for c in column.chunks], UTC_US)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(
            kind):
        return pa.chunked_array([_iso_chunk(c) for c in column.chunks], UTC_US)
    return pa.chunked_array([pa.nulls(len(column), UTC_US)], UTC_US)


def _epoch_units(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds per unit of each epoch number, and whether it is a time at all.

    The unit is 1,000 for milliseconds (above 1e11) and 1,000,000 for seconds; a value is a
    time when it is not null, finite and in range.
    """
    values = pc.cast(chunk, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    size = np.abs(values.astype(np.float64))
    scale = np.where(size > _EPOCH_MS_ABOVE, 1_000, 1_000_000)
    with np.errstate(invalid="ignore"):
        return scale, np.isfinite(size) & (size * scale <= 9.2e18)


def _epoch_chunk(chunk: pa.Array) -> pa.Array:
    """Epoch numbers as UTC microseconds, each value in its own unit; null when out of range."""
    scale, valid = _epoch_units(chunk)
    invalid = ~valid
    if pa.types.is_signed_integer(chunk.type) or (pa.types.is_unsigned_integer(chunk.type)
                                                   and chunk.type.bit_width < 64):
        ints = pc.fill_null(pc.cast(chunk, pa.int64()), 0).to_numpy(zero_copy_only=False)
        micros = np.where(invalid, 0, ints) * scale  # exact: no float rounding of big values
    else:
        floats = pc.cast(chunk, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        micros = np.round(np.where(invalid, 0.0, floats) * scale).astype(np.int64)
    return pa.array(micros.astype(np.int64), UTC_US, mask=invalid)


def minority_epoch_unit(column: pa.ChunkedArray) -> np.ndarray:
    """Rows of a numeric time column whose epoch unit (s or ms) is the column's rarer one.

    A column that mixes seconds and milliseconds is a slip (two systems merged); reading each
    value in its own unit would hide a year-9999 typo as 1978, so the rarer unit's rows are
    refused (the milliseconds on a tie). Not numeric: no rows.
    """
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return np.zeros(len(column), dtype=bool)
    units = [_epoch_units(c) for c in column.cast(kind).chunks]
    if not units:
        return np.zeros(0, dtype=bool)
    scale, known = (np.concatenate(parts) for parts in zip(*units, strict=True))
    ms = known & (scale == 1_000)
    seconds = known & ~ms
    if not ms.any() or not seconds.any():
        return np.zeros(len(column), dtype=bool)
    return ms if ms.sum() <= seconds.sum() else seconds


def odd_times(times: pa.ChunkedArray) -> np.ndarray:
    """Parsed times outside the default window: before 1971, from 2200, or far ahead of the rest.

    "Far ahead" is, for the newest 1% of rows at most (so never in a column of under 100 rows), a
    jump from the time below it of more than a year and more than the whole span of the times
    below it: one year-9999 or 2204-for-2024 slip is caught, while a column that spans decades,
    or a project that resumed after a quiet year or two, is not.
    """
    micros = pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(times).to_numpy(zero_copy_only=False)
    low = int(EARLIEST_TIME.timestamp()) * 1_000_000
    high = int(LATEST_TIME.timestamp()) * 1_000_000
    odd = valid & ((micros < low) | (micros >= high))
    inside = np.sort(micros[valid & ~odd])
    budget = int(len(inside) * _OUTLIER_SHARE)
    if budget:
        top = inside[len(inside) - budget - 1:]
        span = top[:-1] - inside[0]  # how far the times below each jump reach back
        jumps = np.flatnonzero((np.diff(top) > _AHEAD) & (np.diff(top) > span))
        if len(jumps):
            odd |= valid & (micros >= top[jumps[0] + 1])
    return odd


def _iso_chunk(chunk: pa.Array) -> pa.Array:
    strings = pd.Series(chunk.to_numpy(zero_copy_only=False), dtype=object)
    parsed = pd.to_datetime(strings, utc=True, format="ISO8601", errors="coerce")
    return pc.cast(pa.array(parsed, from_pandas=True), UTC_US, safe=False)


# -- text --------------------------------------------------------------------------------------


def text_column(table: pa.Table, fields: FieldsConfig, messages: pa.ChunkedArray | None = None,
                ) -> pa.ChunkedArray:
    """``sf_text``: one field, a template over fields, or a flattened chat list."""
    if fields.messages:
        return flatten_messages(messages if messages is not None
                                else table.column(fields.messages), fields.roles)
    template = fields.text or ""
    return render_template(template, lambda name: as_text(field_column(table, name)))



def as_text(column: pa.ChunkedArray, roles: Sequence[str] | None = None) -> pa.ChunkedArray:
    """A column as ``string``: numbers and booleans cast, chat lists flattened, the rest JSON.

    Numbers read ``1``, ``2.5``; a chat list reads as its ``role: content`` lines of ``roles``
    (default: without the system turns; ``flatten_messages``); other nested values as JSON.
    """
    kind = column.type
    if pa.types.is_string(kind):
        return column
    if is_chat(kind):
        return flatten_messages(column, roles)
    if is_content_parts(kind):
        return content_parts_text(column)
    if pa.types.is_dictionary(kind):
        return as_text(column.cast(kind.value_type))
    if (pa.types.is_large_string(kind) or pa.types.is_string_view(kind) or pa.types.is_integer(
            kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind) or pa.types.is_null(kind)):
        return pc.cast(column, pa.string())
    chunks = []
    for chunk in column.chunks:
        try:
            chunks.append(pc.cast(chunk, pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            chunks.append(pa.array([None if v is None else to_json(v) for v in chunk.to_pylist()],
                                   pa.string()))
    return pa.chunked_array(chunks, pa.string())


# -- chat messages -----------------------------------------------------------------------------


def parse_messages(column: pa.ChunkedArray, path: Path | str, name: str) -> pa.ChunkedArray:
    """The messages field as a list of structs; rows that hold no list become null.

    A column of lists is used as it is. A column of strings (what a field with mixed types, such as
    a list here and a string there, falls back to) is parsed row by row as JSON.
    """
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = []
        for value in column.to_pylist():
            try:
                parsed = json.loads(value) if value is not None else None
            except json.JSONDecodeError:
                parsed = None
            values.append(parsed if isinstance(parsed, list) else None)
        try:
            column = pa.chunked_array([pa.array(values)])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(f"the chat messages do not share one shape: {exc}", path=path,
                             field=name) from None
        kind = column.type
    if pa.types.is_null(kind):
        return column
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not (
            pa.types.is_struct(kind.value_type) or pa.types.is_null(kind.value_type)):
        raise InputError(f"expected a list of {{role, content}} or {{from, value}} objects, got "
                         f"{kind}", path=path, field=name)
    if pa.types.is_struct(kind.value_type) and not is_chat(kind):
        keys = [f.name for f in kind.value_type]
        raise InputError(f"chat messages need role/content or from/value keys, found "
                             f"{', '.join(keys)}", path=path, field=name)
    return column


ROLE_ALIASES = {"human": "user", "gpt": "assistant"}
SYSTEM_ROLE = "system"


def role_names(roles: Sequence[str] | None) -> set[str] | None:
    """The roles a chat text keeps, aliases folded (``human`` = ``user``); None: all but system."""
    if roles is None:
        return None
    return {ROLE_ALIASES.get(r.strip().lower(), r.strip().lower()) for r in roles}


def flatten_messages(column: pa.ChunkedArray, roles: Sequence[str] | None = None,
                     invert: bool = False) -> pa.ChunkedArray:
    """A chat list of {role, content} or {from, value} as ``role: content`` lines.

    Only the turns of ``roles`` are kept (default: every role but ``system``, so that a system
    prompt shared by every conversation is not read as content); ``invert`` keeps the others.
    A content that is a list of typed parts reads as its text parts.
    """
    keep = role_names(roles)
    return pa.chunked_array([_flatten_chunk(c, keep, invert) for c in column.chunks],
                            pa.string())


_PART_TEXT_KEYS = ("text", "value")


def is_content_parts(kind: pa.DataType) -> bool:
    """A list of typed parts, ``[{type: text, value|text: ...}, {type: image_url, ...}]``."""
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(
            kind.value_type):
        return False
    keys = [f.name for f in kind.value_type]
    return "type" in keys and any(k in keys for k in _PART_TEXT_KEYS)


def content_parts_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The text parts of typed content lists, one per line; media parts are left out."""
    out = []
    for chunk in column.chunks:
        flat = pc.list_flatten(chunk)
        keys = [f.name for f in chunk.type.value_type]
        kinds = as_text(pa.chunked_array([pc.struct_field(flat, "type")])).combine_chunks()
        texts = [as_text(pa.chunked_array([pc.struct_field(flat, k)])).combine_chunks()
                 for k in _PART_TEXT_KEYS if k in keys]
        text = pc.coalesce(*texts) if len(texts) > 1 else texts[0]
        wanted = pc.fill_null(pc.equal(pc.utf8_lower(kinds), "text"), False)
        offsets = np.asarray(pc.subtract(chunk.offsets, chunk.offsets[0]).to_numpy(
            zero_copy_only=False), dtype=np.int64)
        kept = np.r_[0, np.cumsum(np.asarray(wanted, dtype=bool))]
        new_offsets = pa.array(kept[offsets].astype(np.int32), pa.int32())
        nested = pa.ListArray.from_arrays(new_offsets, pc.fill_null(text.filter(wanted), ""),
                                          mask=chunk.is_null())
        out.append(pc.binary_join(nested, "\n"))
    return pa.chunked_array(out, pa.string())


def is_chat(kind: pa.DataType) -> bool:
    """Whether an Arrow type is a chat list: a list of structs with role/content or from/value."""
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return False
    if not pa.types.is_struct(kind.value_type):
        return False
    keys = [f.name for f in kind.value_type]
    return any(r in keys and c in keys for r, c in _ROLE_KEYS)


def _flatten_chunk(array: pa.Array, keep: set[str] | None = None, invert: bool = False
                   ) -> pa.Array:
    if pa.types.is_null(array.type) or pa.types.is_null(array.type.value_type):
        return pa.array([""] * len(array), pa.string())
    keys = [f.name for f in array.type.value_type]
    flat = pc.list_flatten(array)
    roles = [_struct_text(flat, r) for r, _ in _ROLE_KEYS if r in keys]
    contents = [_struct_text(flat, c) for _, c in _ROLE_KEYS if c in keys]
    role = pc.coalesce(*roles, pa.scalar("", pa.string()))
    content = pc.coalesce(*contents, pa.scalar("", pa.string()))
    lines = pc.binary_join_element_wise(role, content, ": ")
    offsets = pc.subtract(array.offsets, array.offsets[0])
    folded = pc.utf8_lower(pc.utf8_trim_whitespace(role)).to_numpy(zero_copy_only=False)
    folded = np.array([ROLE_ALIASES.get(r, r) for r in folded], dtype=object)
    wanted = folded != SYSTEM_ROLE if keep is None else np.isin(folded, sorted(keep))
    if invert:
        wanted = ~wanted
    if not wanted.all():
        bounds = np.asarray(offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
        kept = np.r_[0, np.cumsum(wanted)]
        offsets = pa.array(kept[bounds].astype(bounds.dtype), type=offsets.type)
        lines = lines.filter(pa.array(wanted))
    if pa.types.is_large_list(array.type):
        nested = pa.LargeListArray.from_arrays(offsets, lines)
    else:
        nested = pa.ListArray.from_arrays(offsets, lines)
    return pc.binary_join(nested, "\n").fill_null("")


def _struct_text(flat: pa.Array, key: str) -> pa.Array:
    return as_text(pa.chunked_array([pc.struct_field(flat, key)])).combine_chunks()


# -- ids, groups, labels -----------------------------------------------------------------------


def content_ids(table: pa.Table) -> pa.Array:
    """Stable ids: the first 16 hex of the sha256 of each record's canonical JSON.

    Null fields are left out of the record first, so a row's id does not change when another
    row of the file brings a new field (which makes the field null in every other row).
    """
    out: list[str] = []
    for batch in table.to_batches(max_chunksize=65_536):
        for record in batch.to_pylist():
            record = {k: v for k, v in record.items() if v is not None}
            out.append(hashlib.sha256(to_json(record).encode("utf-8")).hexdigest()[
                :CONTENT_ID_LENGTH])
    return pa.array(out, pa.string())


def unique_content_ids(ids: pa.ChunkedArray) -> pa.Array:
    """Identical records get ``-2``, ``-3``... so ids stay unique.

    Identical records are interchangeable, so which copy gets which suffix cannot change the data.
    """
    values = ids.to_pylist()
    if len(set(values)) == len(values):
        return ids.combine_chunks()
    seen: dict[str, int] = {}
    out = []
    for value in values:
        count = seen.get(value, 0) + 1
        seen[value] = count
        out.append(value if count == 1 else f"{value}-{count}")
    return pa.array(out, pa.string())


def to_json(value: Any) -> str:
    """Canonical JSON of a record; bytes, decimals and times are spelled out as text first."""
    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        return canonical_json(_jsonable(value))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, Decimal | time):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
