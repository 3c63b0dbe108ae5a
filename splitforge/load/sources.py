"""Load every source of a recipe into one table with the ``sf_*`` columns.

Each source is read, its bad rows raise (``on_error: fail``) or are rejected (``skip``), and the
role columns are added: ``sf_id``, ``sf_text``, ``sf_time``, ``sf_group``, ``sf_label``,
``sf_source`` and ``sf_line``. The original fields stay as they were read. Ids must be unique
across all sources; content-hash ids of identical records get ``-2``, ``-3``... suffixes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import sha256_path
from splitforge.load.fields import (
    as_text,
    check_columns,
    content_ids,
    find_bad_rows,
    is_chat,
    parse_messages,
    parse_times,
    reserved_columns,
    text_column,
    to_json,
    unique_content_ids,
    with_nested,
)
from splitforge.load.formats import (
    TRAINER_FIELDS,
    FormatSpec,
    format_text,
    identity_column,
    prompt_groups,
    resolve_spec,
    standard_chat,
)
from splitforge.load.hashing import check_unchanged
from splitforge.load.readers import CONVERTED, ReadResult, detect_format, read_source
from splitforge.recipe import FieldsConfig, SourceConfig, resolve_path
from splitforge.templates import optional_fields, template_fields

VERSION = "2"  # 2: formattings, a row's identity, content lists read as their text parts
IDENTITY_FIELDS = b"splitforge:identity"  # sf_identity metadata: the fields it holds
ACROSS = b"across sources: "  # CONVERTED metadata of a field that clashed between sources


@dataclass(frozen=True)
class SourceInfo:
    """What was read from one source.

    ``rows_read`` counts every record found, bad ones included; ``rows_rejected`` those dropped
    by ``on_error: skip``; ``notes`` say what was converted to read it (a field mixing numbers
    and strings is written as text; a number used as the text).
    """

    path: str
    format: str
    sha256: str
    rows_read: int
    rows_rejected: int
    notes: tuple[str, ...] = ()


@dataclass
class LoadResult:
    """All sources as one table, what each source gave, and the rejected rows.

    Each rejected row is ``{"source", "line", "reason", "field", "detail", "raw"}``, sorted by
    source (in recipe order), then line.
    """

    table: pa.Table
    sources: list[SourceInfo]
    rejected: list[dict[str, Any]] = field(default_factory=list)


def load_sources(sources: list[SourceConfig], fields: FieldsConfig, base_dir: Path,
                 expected_sha256: list[str] | None = None, during: str = "the build"
                 ) -> LoadResult:
    """Read and map every source (paths relative to ``base_dir``); ids must be unique across all.

    ``expected_sha256`` holds each source's hash as taken before (the build's fingerprint): the
    bytes a reader parsed must hash the same, or the error says the source changed ``during``.

    Raises:
        InputError: a missing or unreadable source, a bad row under ``on_error: fail``, a mapped
            field that is not in the data, an id that appears twice, or a source whose bytes
            changed since ``expected_sha256`` was taken.
    """
    tables, infos, rejected = [], [], []
    names = [s.name or n for s, n in zip(sources, source_names([s.path for s in sources]),
                                         strict=True)]
    for k, source in enumerate(sources):
        table, info, bad = load_source(source, fields, base_dir, names[k])
        if expected_sha256 is not None:
            check_unchanged(source.path, expected_sha256[k], info.sha256, during)
        tables.append(table)
        infos.append(info)
        rejected.extend(bad)
    table = concat_sources(tables, [s.path for s in sources])
    across = [f.name for f in table.schema if f.metadata and CONVERTED in f.metadata
              and f.metadata[CONVERTED].startswith(ACROSS)]
    if across:
        note = (f"fields {', '.join(map(repr, across))} have different types in different "
                f"sources: written as text in every source")
        infos = [replace(info, notes=(*info.notes, note)) if any(
            name in t.column_names for name in across) else info
            for info, t in zip(infos, tables, strict=True)]
    if fields.id is None:
        table = table.set_column(table.column_names.index(C.ID), C.ID,
                                 unique_content_ids(table.column(C.ID)))
    else:
        _check_unique_ids(table)
    if C.GROUP in table.column_names and table.column(C.GROUP).null_count:
        # a source grouped by prompt beside one without groups: each row of that is its own
        table = table.set_column(table.column_names.index(C.GROUP), C.GROUP, pc.coalesce(
            table.column(C.GROUP), pc.binary_join_element_wise("row:", table.column(C.ID), "")))
    return LoadResult(table, infos, rejected)


def load_source(
    source: SourceConfig, fields: FieldsConfig, base_dir: Path, name: str | None = None
) -> tuple[pa.Table, SourceInfo, list[dict[str, Any]]]:
    """Read one source, reject or raise on bad rows, and add the ``sf_*`` columns.

    Content-hash ids are not made unique here; ``load_sources`` does that across all sources.
    """
    path = resolve_path(base_dir, source.path)
    if not path.exists():
        raise InputError("no such file or folder", path=source.path)
    try:
        fmt = detect_format(path, source.format)
        read = read_source(path, fmt, source.on_error, source.split, source.format,
                           max_line=int(source.max_line_mb * 2**20), text_unit=source.text_unit)
    except InputError as exc:  # name the source as the recipe wrote it
        raise InputError(exc.detail, path=source.path, line=exc.line, field=exc.field) from None
    table, lines = reserved_columns(read.table, source.path), read.lines
    table, stored_notes = storable(table)
    rejected = [{"source": source.path, **r} for r in read.rejected]
    if table.num_rows == 0:
        why = "every row was rejected" if rejected else "the source is empty"
        raise InputError(f"no rows: {why}", path=source.path)
    spec = (resolve_spec(source.formatting, source.columns, source.tags, source.ranking,
                         table.column_names) if source.formatting else None)
    checked = fields if spec is None else _format_fields(fields, spec)
    nested_names = checked.source_fields() + (sorted(optional_fields(checked.text))
                                              if checked.text else [])
    table, nested = with_nested(table, nested_names)
    check_columns(table, checked, source.path)
    times = parse_times(table.column(fields.time)) if fields.time else None
    try:
        messages = (parse_messages(standard_chat(table.column(checked.messages), _tags(spec)),
                                   source.path, checked.messages) if checked.messages else None)
        texts = (text_column(table, fields, messages) if spec is None
                 else format_text(table, spec, fields.roles))
    except InputError as exc:
        raise InputError(exc.detail, path=source.path, field=exc.field) from None
    bad = find_bad_rows(table, checked, times, messages, texts)
    if len(bad.index):
        if source.on_error != "skip":
            raise InputError(bad.detail[0], path=source.path, line=int(lines[bad.index[0]]),
                             field=bad.field[0])
        records = table.take(pa.array(bad.index)).to_pylist()
        for i, record, bad_field, reason, detail in zip(bad.index, records, bad.field,
                                                        bad.reason, bad.detail, strict=True):
            rejected.append({"source": source.path, "line": int(lines[i]), "reason": reason,
                             "field": bad_field, "detail": detail, "raw": to_json(record)})
        rejected.sort(key=lambda r: r["line"])
        keep = np.ones(table.num_rows, dtype=bool)
        keep[bad.index] = False
        mask = pa.array(keep)
        table, lines = table.filter(mask), lines[keep]
        times = times.filter(mask) if times is not None else None
        messages = messages.filter(mask) if messages is not None else None
        texts = texts.filter(mask)
        if table.num_rows == 0:
            raise InputError(f"no rows: every row was rejected ({len(rejected)})",
                             path=source.path)
    notes = stored_notes + conversion_notes(table, checked, spec is None)
    if read.format == "txt":
        unit = "line" if source.text_unit == "line" else "blank-line separated paragraph"
        notes += (f"plain text: one document per {unit} (sources[].text_unit), blank lines "
                  f"skipped",)
    table = add_role_columns(table, fields, source, times, texts, lines,
                             name or source.name or source_names([source.path])[0], nested)
    table = add_identity(table, fields, spec)
    if spec is not None and spec.grouped and not fields.group:
        table = table.append_column(C.GROUP, prompt_groups(table, spec, fields.roles))
    info = SourceInfo(source.path, read.format, _sha256(read, path), read.rows_read,
                      len(rejected), notes)
    return table, info, rejected


def recipe_text(table: pa.Table, recipe: Any) -> pa.ChunkedArray:
    """``sf_text`` of rows read back from a build's files, by the recipe's mapping.

    With formatted sources each row gets its own source's text (by ``sf_source``); a row of
    another name (the control set) gets the control set's.
    """
    fields = recipe.fields
    if fields.mapped:
        return text_column(table, fields)
    sources = list(recipe.sources)
    names = [s.name or n for s, n in zip(sources, source_names([s.path for s in sources]),
                                         strict=True)]
    out = np.full(table.num_rows, "", dtype=object)
    where = (table.column(C.SOURCE).to_numpy(zero_copy_only=False)
             if C.SOURCE in table.column_names else np.full(table.num_rows, "", dtype=object))
    fallback = recipe.control if getattr(recipe, "control", None) is not None else sources[0]
    todo = np.ones(table.num_rows, dtype=bool)
    for source, name in [*zip(sources, names, strict=True), (fallback, None)]:
        rows = np.flatnonzero(todo & (where == name)) if name is not None else np.flatnonzero(
            todo)
        if not len(rows) or source.formatting is None:
            continue
        part = table.take(pa.array(rows))
        spec = resolve_spec(source.formatting, source.columns, source.tags, source.ranking,
                            part.column_names)
        out[rows] = format_text(part, spec, fields.roles).to_numpy(zero_copy_only=False)
        todo[rows] = False
    return pa.chunked_array([pa.array(out.tolist(), pa.string())])


def _tags(spec: FormatSpec | None) -> dict[str, str]:
    return spec.tags if spec is not None else {}


def _format_fields(fields: FieldsConfig, spec: FormatSpec) -> FieldsConfig:
    """The fields a formatted source is checked with: its required columns must be present."""
    if spec.formatting in ("sharegpt", "openai"):
        others = [c for c in spec.required if c != spec.columns["messages"]]
        # Not validated: text lists the other required columns, only for the null checks.
        return fields.model_copy(update={"messages": spec.columns["messages"], "text": "".join(
            f"{{{c}}}" for c in others) or None})
    return fields.model_copy(update={"text": "".join(f"{{{c}}}" for c in spec.required)})


def add_identity(table: pa.Table, fields: FieldsConfig, spec: FormatSpec | None) -> pa.Table:
    """Append ``sf_identity``: what the trainer reads beyond the text (when there is any).

    The field's metadata names the fields it holds, so dedup can say which of them differ.
    """
    if spec is not None:
        names, chat = spec.identity, spec.columns.get("messages")
    else:
        used = set(template_fields(fields.text)) if fields.text else set()
        names = fields.identity if fields.identity is not None else [
            n for n in TRAINER_FIELDS if n in table.column_names and n not in used]
        chat = fields.messages
        if fields.identity == []:
            chat = None
    if chat is not None and not is_chat(standard_chat(table.column(chat), _tags(spec)).type):
        chat = None
    identity = identity_column(table.drop_columns([c for c in table.column_names if c.startswith(
        C.PREFIX)]), list(names), chat, _tags(spec), fields.roles)
    if identity is None:
        return table
    listed = list(names)  # the chat itself differs in any near copy: not counted by name
    return table.append_column(pa.field(C.IDENTITY, pa.uint64(), metadata={
        IDENTITY_FIELDS: json.dumps(listed).encode()}), identity)


def _unstorable(kind: pa.DataType) -> bool:
    """Whether Parquet cannot store a type: a struct without fields, at any depth."""
    if pa.types.is_struct(kind):
        return kind.num_fields == 0 or any(_unstorable(f.type) for f in kind)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _unstorable(kind.value_type)
    return False


def storable(table: pa.Table) -> tuple[pa.Table, tuple[str, ...]]:
    """The table with every column Parquet cannot store (empty objects ``{}``) as JSON text."""
    notes = []
    for i, f in enumerate(table.schema):
        if _unstorable(f.type):
            values = [None if v is None else to_json(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, pa.field(f.name, pa.string()),
                                     pa.array(values, pa.string()))
            notes.append(f"field {f.name!r} holds empty objects ({{}}), which Parquet cannot "
                         f"store: written as JSON text")
    return table, tuple(notes)


def source_names(paths: list[str]) -> list[str]:
    """How ``sf_source`` names each source: as the recipe wrote it, relative to the recipe.

    An absolute path would put the user's folders into every output row and make the same data
    at another place give other bytes: it is recorded by its last two parts (folder and file),
    or as many more as it takes to tell it from another source's.
    """
    pure = [PurePath(p) for p in paths]
    depth = {i: 2 for i, p in enumerate(pure) if p.is_absolute()}

    def name(i: int) -> str:
        p = pure[i]
        if i not in depth:
            return p.as_posix()
        return PurePath(*p.parts[-depth[i]:]).as_posix() if len(p.parts) > depth[i] else \
            p.as_posix()

    while True:
        names = [name(i) for i in range(len(pure))]
        clash = {i for i in depth for j in range(len(pure))
                 if i != j and names[i] == names[j] and pure[i] != pure[j]
                 and len(pure[i].parts) > depth[i]}
        if not clash:
            return names
        for i in clash:
            depth[i] += 1


def conversion_notes(table: pa.Table, fields: FieldsConfig, templated: bool = True
                     ) -> tuple[str, ...]:
    """What the load converted in the mapped fields, said plainly (the output keeps the rest).

    ``templated``: the text is a template over fields (not a formatting, which reads each
    field by its role), so a field that is no string is said to be read as text.
    """
    notes = []
    text_fields = set(template_fields(fields.text)) if fields.text and templated else set()
    for name in fields.source_fields():
        f = table.schema.field(name)
        if f.metadata and CONVERTED in f.metadata:
            kinds = f.metadata[CONVERTED].decode()
            notes.append(f"field {name!r} mixes kinds of values ({kinds}): written as text in "
                         f"the output (a number 1 reads \"1\", a list or object as its JSON)")
        elif name in text_fields and not (pa.types.is_string(f.type)
                                          or pa.types.is_large_string(f.type)
                                          or is_chat(f.type)):
            notes.append(f"field {name!r} is used as text but holds {f.type} values: read as "
                         f"their text (JSON for lists and objects); the output keeps them as "
                         f"they were")
    return tuple(notes)


def _sha256(read: ReadResult, path: Path) -> str:
    return read.sha256 if read.sha256 is not None else sha256_path(path)


def add_role_columns(
    table: pa.Table,
    fields: FieldsConfig,
    source: SourceConfig,
    times: pa.ChunkedArray | None,
    texts: pa.ChunkedArray,
    lines: np.ndarray,
    name: str,
    nested: Sequence[str] = (),
) -> pa.Table:
    """Append sf_id, sf_text (``texts``, from ``text_column``), sf_time, sf_group and the rest.

    ``nested`` names the columns ``with_nested`` added for dotted fields: read, then dropped.
    """
    record = table.drop_columns(list(nested)) if nested else table
    ids = as_text(table.column(fields.id)) if fields.id else content_ids(record)
    if source.id_prefix:
        ids = pc.binary_join_element_wise(pa.scalar(source.id_prefix, pa.string()), ids, "")
    out = record.append_column(C.ID, ids)
    out = out.append_column(C.TEXT, texts)
    if times is not None:
        out = out.append_column(C.TIME, times)
    if fields.group:
        out = out.append_column(C.GROUP, as_text(table.column(fields.group)))
    if fields.label:
        out = out.append_column(C.LABEL, label_column(table.column(fields.label)))
    out = out.append_column(C.SOURCE, pa.repeat(pa.scalar(name, pa.string()),
                                                 table.num_rows))
    return out.append_column(C.LINE, pa.array(lines, pa.int64()))


def label_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``sf_label``: the label as text; a list of labels as their sorted set joined by ``|``.

    A multi-label row is stratified by its combination of labels (label powerset): rows with
    the same labels are dealt together, so every combination, and so every label, meets the
    ratios to within a unit per combination.
    """
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        return as_text(column)
    values = [None if v is None else C.LABEL_JOIN.join(sorted({str(x) for x in v}))
              for v in column.to_pylist()]
    return pa.chunked_array([pa.array(values, pa.string())])


def concat_sources(tables: list[pa.Table], names: list[str]) -> pa.Table:
    """Concatenate sources; a field whose types cannot be promoted becomes text in every source."""
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    types: dict[str, list[pa.DataType]] = {}
    for table in tables:
        for f in table.schema:
            types.setdefault(f.name, []).append(f.type)
    clash = []
    for name, kinds in types.items():
        try:
            pa.unify_schemas([pa.schema([(name, k)]) for k in kinds],
                             promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            clash.append(name)
    fixed = []
    for table in tables:
        for name in clash:
            if name in table.column_names:
                i = table.column_names.index(name)
                table = table.set_column(i, pa.field(name, pa.string(), metadata={
                    CONVERTED: ACROSS + b"types"}), as_text(table.column(name)))
        fixed.append(table)
    try:
        return pa.concat_tables(fixed, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"the sources {', '.join(names)} cannot be combined into one table: "
                         f"{exc}") from None


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
