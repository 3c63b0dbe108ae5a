"""Stream a training corpus past the audit checks, batch by batch, over worker processes.

``iter_training_batches`` reads JSONL (optionally compressed: ``.gz``, ``.bz2``, ``.zst``) and
Parquet files, or in-memory Arrow tables, as ``(ids, texts)`` batches of at most ``batch_rows``
rows without loading a whole file. ``scan_training`` normalizes each batch (``normalize_buffers``,
the same canonical form as ``normalize_text``) and hands it to every check; memory follows the
batch size and the eval index, never the corpus.

With ``num_proc > 1`` the per-batch work (normalizing, hashing, the index lookups: each check's
``probe``) runs in spawned worker processes that receive the checks once, through the pool
initializer; the main process only merges each batch's matches into the running results. Merges
are order-free, so the results equal a single-process run exactly (a test checks).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from splitforge.audit.base import AuditCheck, CheckResult, Found, as_string_array
from splitforge.audit.probe import init_worker, probe_all, probe_batch
from splitforge.errors import InputError
from splitforge.fingerprint import sha256_file
from splitforge.load.fields import CHAT_KEYS, as_text, is_chat
from splitforge.load.hashing import check_unchanged, compressed_error, compression_of, open_stream
from splitforge.load.readers import lone_surrogate
from splitforge.memory import release_memory
from splitforge.normalize.boilerplate import NO_BOILERPLATE, Boilerplate
from splitforge.normalize.shingles import piece_bounds, text_buffers
from splitforge.normalize.text import normalize_buffers
from splitforge.parallel import map_batches, resolve_processes, shared_start
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.templates import render_template, template_fields


@dataclass(frozen=True)
class SimilarBatch:
    """Training texts already in the checks' form: normalized and without the boilerplate.

    A build holds its rows so (``sf_sim``, else ``sf_norm`` with ``sf_hash`` as ``hashes``), and
    its own audit hands them over as they are instead of normalizing and stripping them again.

    Attributes:
        ids: Training id of each text.
        texts: The similarity texts (``Boilerplate.strip`` of ``normalize_text`` forms).
        hashes: Their ``text_hashes``, when known.
    """

    ids: Sequence[Any]
    texts: pa.Array | pa.ChunkedArray | Sequence[str]
    hashes: np.ndarray | None = None


Batch = tuple[Sequence[Any], pa.Array | pa.ChunkedArray | Sequence[str]] | SimilarBatch
Source = str | Path | pa.Table
_JSON_BLOCK = 1 << 24
BATCH_BYTES = 8 << 20


def scan_training(checks: Sequence[AuditCheck], batches: Iterable[Batch],
                  progress: Progress = NO_PROGRESS, num_proc: int | None = None,
                  total_rows: int = 0, batch_bytes: int = BATCH_BYTES,
                  boilerplate: Boilerplate = NO_BOILERPLATE) -> list[CheckResult]:
    """Feed every training batch to every check; return each check's result, in order.

    Args:
        checks: Checks built over the eval items (``ExactCheck``, ``NgramOverlapCheck``, ...).
            With workers, each check's state is swapped for a copy whose arrays share their
            pages with the workers' (``shared_start``): its own arrays go, and the indexes
            are held once for all processes. The checks end merged either way.
        batches: ``(ids, texts)`` pairs of *raw* training texts (normalized here), for example
            from ``iter_training_batches``, or ``SimilarBatch`` es of texts normalized and
            stripped already; consumed lazily.
        progress: Receives the training rows done (task ``audit: training rows``).
        num_proc: Worker processes (default: every core). A corpus of a single piece always
            runs here; the results never depend on it.
        total_rows: Rows expected, for the progress bar only (0 if unknown).
        batch_bytes: Batches are cut into pieces of about this much text (UTF-8 bytes; a longer
            text is a piece of its own): the working memory of a piece is about 20 times its
            text, whatever the batch size in rows.
        boilerplate: Runs left out of every training text after normalizing
            (``normalize.boilerplate``); give the checks eval texts stripped the same way.

    Returns:
        ``check.result()`` of every check, in the order of ``checks``.
    """
    checks = list(checks)
    advance = progress.task("audit: training rows", total_rows)
    batches = (piece for batch in batches for piece in _pieces(batch, batch_bytes))
    head = [b for b in (next(batches, None), next(batches, None)) if b is not None]
    processes = resolve_processes(num_proc) if len(head) > 1 else 1
    stream = chain(head, batches)
    if processes <= 1:
        _merge_all(checks, (probe_all(checks, *piece, boilerplate=boilerplate)
                            for piece in stream), advance)
    else:
        with shared_start(init_worker, (checks, boilerplate)) as start:
            for check, copy in zip(checks, start.initargs[0], strict=True):
                check.__dict__ = copy.__dict__  # the same checks, on views of the shared file
            release_memory()  # what their own arrays held
            _merge_all(checks, map_batches(probe_batch, stream, processes, start=start),
                       advance)
    for check in checks:
        check.finish(progress)
    return [check.result() for check in checks]


def _merge_all(checks: list[AuditCheck], results: Iterable[list[Found]],
               advance: Callable[[int], None]) -> None:
    """Merge every piece's matches into the checks, in order."""
    for found in results:
        for check, part in zip(checks, found, strict=True):
            check.merge(part)
        advance(found[0].rows if found else 0)


def _pieces(batch: Batch, max_bytes: int
            ) -> Iterator[tuple[list[Any], np.ndarray, np.ndarray, bool, np.ndarray | None]]:
    """One batch cut into consecutive pieces of about ``max_bytes`` of text each.

    Each piece travels as its own UTF-8 bytes and offsets (``text_buffers``): pickling an Arrow
    slice would copy the whole parent buffer to the worker. With them go whether the texts are
    similarity texts already (a ``SimilarBatch``) and their hashes, when known.
    """
    similar = isinstance(batch, SimilarBatch)
    ids, texts = (batch.ids, batch.texts) if similar else batch
    hashes = batch.hashes if similar else None
    data, offsets = text_buffers(as_string_array(texts))
    ids = list(ids)
    if len(ids) != len(offsets) - 1:
        raise ValueError(f"a training batch has {len(ids)} ids for {len(offsets) - 1} texts; "
                         f"give one id per text")
    for lo, hi in piece_bounds(offsets, max_bytes):
        yield (ids[lo:hi], data[offsets[lo]:offsets[hi]], offsets[lo:hi + 1] - offsets[lo],
               similar, None if hashes is None else np.asarray(hashes[lo:hi]))


def iter_training_batches(sources: Source | Sequence[Source], text_field: str,
                          id_field: str | None = None, batch_rows: int = 16384,
                          sha256: Sequence[str | None] | None = None,
                          roles: Sequence[str] | None = None,
                          ) -> Iterator[tuple[list[str], pa.Array]]:
    r"""Read training files (or tables) as ``(ids, texts)`` batches of at most ``batch_rows`` rows.

    Args:
        sources: Paths of JSONL files (``.jsonl``, ``.json`` with one object per line, optionally
            ``.gz``/``.bz2``/``.zst``) or Parquet files (``.parquet``), Arrow tables, or a list.
        text_field: The top-level string field holding the text, or a template over string
            fields such as ``"{instruction}\n{output}"`` (a missing or null field reads as empty).
        id_field: The field holding the training id (strings or numbers, read as strings). Rows
            without one (or every row, when None) get ``"<file stem>:<row>"`` (row numbers
            start at 1 and count records, so blank JSONL lines are not counted; tables are
            named ``table<k>`` by their position in ``sources``).
        batch_rows: Rows per batch read (default 16384: Parquet readers hold about a batch of
            decoded text; ``scan_training`` cuts batches into pieces by bytes anyway).
        sha256: Each source's hash as taken before the scan (None: not checked). A JSONL file
            is hashed as it is read, a Parquet file again after it; a file whose bytes differ
            is an InputError ("the source changed during the audit").
        roles: The chat roles a chat field is read with (``fields.roles``; default: every role
            but system).

    Yields:
        Each batch's ids and texts (an Arrow string array; a missing text is null).

    Raises:
        InputError: A file that cannot be read, holds no rows, or a field that is missing or not
            text.
    """
    if isinstance(sources, str | Path | pa.Table):
        sources = [sources]
    try:
        names = template_fields(text_field)
    except ValueError as error:
        raise InputError(f"text template {text_field!r}: {error}") from None
    stems = [None if isinstance(s, pa.Table) else Path(s).name.split(".")[0] for s in sources]
    for k, source in enumerate(sources):
        if isinstance(source, pa.Table):
            stem, where = f"table{k}", f"table {k}"
            _require_fields(source.schema, names, id_field, where)
            columns = list(dict.fromkeys(names + ([id_field] if id_field else [])))
            record_batches = source.select(columns).to_batches(max_chunksize=batch_rows)
        else:
            path = Path(source)
            # two files named alike (d1/train.jsonl, d2/train.jsonl): their paths tell them apart
            stem = stems[k] if stems.count(stems[k]) == 1 else str(path)
            where = str(path)
            record_batches = _read_file(path, names, id_field, batch_rows,
                                        sha256[k] if sha256 is not None else None)
        row = 0
        for record_batch in _rebatch(record_batches, batch_rows):
            for name in names:
                kind = record_batch.column(name).type
                if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                        or is_chat(kind)):
                    raise InputError(f"needs text or a chat list, got values of type {kind}",
                                     path=where, field=name)
            if names == [text_field]:
                texts = as_text(pa.chunked_array([record_batch.column(text_field)]), roles)
            else:
                texts = render_template(text_field, lambda n, b=record_batch: as_text(
                    pa.chunked_array([b.column(n)]), roles).fill_null(""))
            n = record_batch.num_rows
            fallback = [f"{stem}:{row + i + 1}" for i in range(n)]
            if id_field:
                given = pc.cast(record_batch.column(id_field), pa.string()).to_pylist()
                ids = [g if g is not None else f for g, f in zip(given, fallback, strict=True)]
            else:
                ids = fallback
            row += n
            yield ids, texts
        if not row and not isinstance(source, pa.Table):
            raise InputError("holds no rows; a training file must hold the text to audit "
                             "against (an empty file would pass every gate)", path=where)


def _rebatch(record_batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches regrouped into batches of exactly ``rows`` rows (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for record_batch in record_batches:
        pending.append(record_batch)
        count += record_batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).combine_chunks().to_batches()[0]
            rest = table.slice(rows)
            pending, count = rest.combine_chunks().to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _require_fields(schema: pa.Schema, text_fields: list[str], id_field: str | None,
                    where: str) -> None:
    for field in [*text_fields, id_field]:
        if field is not None and field not in schema.names:
            raise InputError(f"no such field; the fields are {', '.join(schema.names)}",
                             path=where, field=field)


def _read_file(path: Path, text_fields: list[str], id_field: str | None, batch_rows: int,
               sha256: str | None = None) -> Iterator[pa.RecordBatch]:
    if not path.exists():
        raise InputError("training file not found", path=path)
    if path.is_dir():
        raise InputError("is a folder; the training side takes JSON lines or Parquet files "
                         "(name each file)", path=path)
    columns = list(dict.fromkeys(text_fields + ([id_field] if id_field else [])))
    if ".parquet" in path.suffixes:
        # pre-buffering would keep every row group read so far: the whole file, in the end
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        _require_fields(parquet.schema_arrow, text_fields, id_field, str(path))
        yield from parquet.iter_batches(batch_size=batch_rows, columns=columns)
        if sha256 is not None:
            check_unchanged(path, sha256, sha256_file(path), "the audit")
        return
    fields = [(name, _json_text_type(path, name)) for name in text_fields if name != id_field]
    id_type = _json_id_type(path, id_field) if id_field else None
    if id_field:
        fields.append((id_field, id_type))
    options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    seen = dict.fromkeys(columns, False)
    first = True
    stream = raw = None
    try:
        stream, raw = open_stream(path, hashed=sha256 is not None)
        reader = pj.open_json(stream, read_options=pj.ReadOptions(block_size=_JSON_BLOCK),
                              parse_options=options)
        for record_batch in reader:
            record_batch.validate(full=True)  # Arrow's reader can build bad list offsets
            for name in columns:
                seen[name] = seen[name] or record_batch.column(name).null_count < len(record_batch)
            if first:  # a mistyped field: say so now, not after the whole corpus
                unseen = [f for f in text_fields if not seen[f]]
                head = "\n".join(_head_lines(path)) if unseen else ""  # read once, if at all
                missing = [f for f in unseen if json.dumps(f) not in head]
                if missing:
                    raise InputError("no such field in the first rows (or it is always "
                                     "null)", path=path, field=missing[0])
                first = False
            yield record_batch
        if raw is not None:
            raw.read_rest()
            check_unchanged(path, sha256, raw.hexdigest(), "the audit")
    except OSError as error:  # a compressed file that does not decompress, a folder, ...
        if compression_of(path) and not isinstance(error, PermissionError | IsADirectoryError):
            raise compressed_error(path, error) from None
        raise InputError(f"cannot read the file: {error.strerror or error}", path=path) from None
    except pa.ArrowInvalid as error:
        line, why = _first_bad_line(path, text_fields, id_field, id_type)
        raise InputError(f"cannot read it as JSON lines with text field(s) "
                         f"{', '.join(map(repr, text_fields))}"
                         f"{f' and an id field {id_field!r}' if id_field else ''}: "
                         f"{why or error}", path=path, line=line) from None
    finally:
        for opened in (stream, raw):
            if opened is not None:
                opened.close()
    for name, present in seen.items():
        if not present:
            raise InputError("no row has this field (or it is always null)", path=path,
                             field=name)


def _head_lines(path: Path) -> list[str]:
    """The complete lines of the first MiB of a (possibly compressed) JSON lines file."""
    with open_stream(path)[0] as stream:
        head = stream.read(1 << 20).decode("utf-8", "replace").splitlines()
    return head[:-1] or head


def _first_bad_line(path: Path, text_fields: list[str], id_field: str | None = None,
                    id_type: pa.DataType | None = None) -> tuple[int | None, str | None]:
    """The line number and the reason of the first line Arrow refused (read again, in Python).

    Only runs once reading failed; Arrow's own message counts rows per block, from 0. Ids must
    all have the type of the first one (``_json_id_type``).
    """
    with open_stream(path)[0] as stream:
        lines = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as error:
                return number, f"invalid JSON ({error.msg} at column {error.colno})"
            if not isinstance(record, dict):
                return number, "expected a JSON object per line"
            if lone_surrogate(record):
                return number, ("a lone surrogate escape such as \\ud800, which is no "
                                "character; fix the value")
            for name in text_fields:
                value = record.get(name)
                if value is not None and not isinstance(value, str):
                    return number, f"field {name!r} holds {type(value).__name__}, not text"
            value = record.get(id_field) if id_field else None
            kind = id_type if value is None else _id_type(value)
            if kind != id_type and not (kind == pa.int64() and id_type == pa.float64()):
                return number, (f"id field {id_field!r} holds {type(value).__name__} here, but "
                                f"ids are read as {id_type} (the type of the first ids): ids "
                                f"must be text or numbers, all of one type")
    return None, None


def _json_text_type(path: Path, name: str) -> pa.DataType:
    """``string``, or a list of structs for a chat field (its first value a list of objects).

    The structs hold the role/content or from/value keys the first rows use. A file that
    cannot be read is read as text here; the read itself reports it.
    """
    try:
        head = _head_lines(path)
    except OSError:
        return pa.string()
    for line in head:
        try:
            value = json.loads(line).get(name) if line.strip() else None
        except (json.JSONDecodeError, AttributeError):
            continue
        if value is None or value == []:
            continue
        if isinstance(value, list) and all(isinstance(v, dict) for v in value) and any(
                k in CHAT_KEYS for v in value for k in v):
            # every chat key: a later row may use from/value where the first used role/content
            return pa.list_(pa.struct([(k, pa.string()) for k in sorted(CHAT_KEYS)]))
        return pa.string()
    return pa.string()


def _json_id_type(path: Path, id_field: str) -> pa.DataType:
    """The Arrow type of the id field, read from the first record that has it."""
    for line in _head_lines(path):
        try:
            value = json.loads(line).get(id_field) if line.strip() else None
        except (json.JSONDecodeError, AttributeError):
            continue
        if value is not None:
            return _id_type(value) or pa.string()
    return pa.string()


def _id_type(value: Any) -> pa.DataType | None:
    """The Arrow type Arrow's JSON reader needs for an id value; None for a list or object."""
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string() if isinstance(value, str) else None


def read_eval(source: Source, text_field: str, id_field: str | None = None
              ) -> tuple[list[str], list[str]]:
    """The ids and normalized texts of an eval set (read whole: it is small).

    Args:
        source: A JSONL or Parquet file, or an Arrow table.
        text_field: The field holding the text.
        id_field: The field holding the eval id (default: ``"<file stem>:<row>"``).

    Returns:
        The eval ids and their ``normalize_text`` forms, in file order.
    """
    ids: list[str] = []
    norm: list[str] = []
    for batch_ids, texts in iter_training_batches(source, text_field, id_field):
        ids.extend(batch_ids)
        normalized, _ = normalize_buffers(*text_buffers(texts))
        norm.extend(normalized.to_pylist())
    return ids, norm


