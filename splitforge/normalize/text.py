"""Canonical text for duplicate detection: format characters dropped, NFKC, casefold, whitespace.

Unicode format characters (category Cf: zero-width space and joiners, soft hyphen, an inner BOM,
bidi marks) are invisible and NFKC keeps them, so a copy with one inside would not match its
original; they are dropped first. NFKC folds full-width forms (``ＡＢＣ１２３`` -> ``abc123``,
``，`` -> ``,``) and compatibility characters; casefold is Unicode lowercasing
(``Straße`` -> ``strasse``); runs of whitespace, newlines included, become one space and the ends
are trimmed. The output text is never modified: only ``sf_norm`` and its 64-bit hash ``sf_hash``
(xxh3, seed 0, of the UTF-8 bytes) are added. From 50,000 rows up the batches run over worker
processes (all cores unless ``num_proc``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from splitforge import columns as C
from splitforge.normalize.shingles import buffer_batches, text_buffers
from splitforge.parallel import map_batches, resolve_processes
from splitforge.progress import NO_PROGRESS, Progress

PARALLEL_ABOVE = 50_000
# Bumped whenever the canonical form changes: it is part of every build id (stage "normalize").
VERSION = "2"


def _invisible() -> tuple[list[str], list[str]]:
    """This Python's format characters (Cf) and ``str.split()`` whitespace: what is dropped.

    Only planes 0, 1 and 14 hold such characters (2-3 are ideographs, 15-16 private use), so
    only they are scanned: ~30 ms per process instead of ~250 ms for all 1.1M code points.
    """
    form, space = [], []
    for code in [*range(0x20000), *range(0xE0000, 0xE1000)]:
        c = chr(code)
        if c.isspace():
            space.append(c)
        elif unicodedata.category(c) == "Cf":
            form.append(c)
    return form, space


def _ranges(characters: list[str], item: Callable[[int], str]) -> str:
    """A regex character class's body: runs of consecutive code points as ``a-b`` ranges.

    Ranges matter: Python's ``re`` tests a class of 163 single characters (some above U+FFFF)
    one by one, ten times slower than the same class as 21 ranges.
    """
    codes = sorted(ord(c) for c in characters)
    parts, start = [], codes[0]
    for prev, code in zip(codes, [*codes[1:], -1], strict=True):
        if code != prev + 1:
            parts.append(item(start) if prev == start else f"{item(start)}-{item(prev)}")
            start = code
    return "".join(parts)


def _re2(code: int) -> str:
    return f"\\x{{{code:x}}}"


_FORMAT, _SPACE = _invisible()
FORMAT_CHARACTERS = re.compile(f"[{_ranges(_FORMAT, lambda c: re.escape(chr(c)))}]+")
# RE2 patterns (Arrow's regex engine) of the same characters, so that they cannot disagree with
# normalize_text (RE2's own \s lacks \v): a text holding a format character, a text that
# normalizes to "".
_HAS_FORMAT = f"[{_ranges(_FORMAT, _re2)}]"
BLANK_TEXT = f"^[{_ranges(_SPACE + _FORMAT, _re2)}]*$"


def strip_format(text: str) -> str:
    """``text`` without Unicode format characters (zero-width space, soft hyphen, BOM, ...)."""
    return text if text.isascii() else FORMAT_CHARACTERS.sub("", text)


def normalize_text(text: str) -> str:
    r"""The canonical form of one text.

    Example:
        >>> normalize_text("  Ｈｅｌｌｏ,\n  WO\u200bRLD ")
        'hello, world'
    """
    if text.isascii():
        return " ".join(text.lower().split())
    return _fold(FORMAT_CHARACTERS.sub("", text))


def _fold(text: str) -> str:
    """NFKC, casefold and whitespace of a text that holds no format character."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_hashes(norm: Iterable[str]) -> np.ndarray:
    """64-bit content hashes (xxh3) of normalized texts, independent of the recipe seed."""
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter((digest(t.encode("utf-8")) for t in norm), dtype=np.uint64)


_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True  # what str.split() splits ASCII on
_ASCII_SPACE_BYTES = bytes(np.flatnonzero(_ASCII_SPACE).tolist())


def normalize_buffers(data: np.ndarray, offsets: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """``normalize_text`` over a batch of text buffers, vectorized for ASCII texts.

    An ASCII text is lowercased and its whitespace runs collapsed and trimmed in NumPy, straight
    on the UTF-8 buffer; texts with other characters go through ``normalize_text`` (NFKC and
    casefold). The result equals ``[normalize_text(t) for t in texts]`` (a test checks).

    Returns:
        The normalized texts as an Arrow string array, and their ``text_hashes``.
    """
    n = len(offsets) - 1
    if not len(data):
        return pa.array([""] * n, pa.string()), text_hashes([""] * n)
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    ascii_doc = np.ones(n, dtype=bool)
    ascii_doc[nonempty] = np.maximum.reduceat(data, offsets[nonempty]) < 0x80
    space = data == 32
    control = np.flatnonzero(data < 32)
    out = data + (((data - np.uint8(65)) < 26).view(np.uint8) << 5)  # A-Z to a-z
    if len(control):
        other_space = control[_ASCII_SPACE[data[control]]]
        space[other_space] = True
        out[other_space] = 32
    # A space goes when it starts a text or follows a space; a trailing run loses its first too.
    drop = space.copy()
    drop[1:] &= space[:-1]
    starts = offsets[nonempty]
    drop[starts] = space[starts]
    ends = offsets[nonempty + 1]
    raw = data.data
    for i in np.flatnonzero(space[ends - 1]):
        kept = len(bytes(raw[starts[i]:ends[i]]).rstrip(_ASCII_SPACE_BYTES))
        if kept:
            drop[starts[i] + kept] = True
    dropped = np.flatnonzero(drop)
    new_offsets = offsets - np.searchsorted(dropped, offsets) if len(dropped) else offsets
    kept = out[~drop] if len(dropped) else out
    norm = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(new_offsets),
                                                        pa.py_buffer(kept)])
    if not ascii_doc.all():
        others = np.flatnonzero(~ascii_doc)
        # one vectorized RE2 pass says which texts hold a format character; the others skip
        # Python's regex
        texts = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets),
                                                             pa.py_buffer(data)])
        marked = pc.match_substring_regex(texts.take(pa.array(others)), _HAS_FORMAT)
        fixed = [(normalize_text if has else _fold)(
                     bytes(raw[offsets[i]:offsets[i + 1]]).decode("utf-8"))
                 for i, has in zip(others.tolist(), marked.to_pylist(), strict=True)]
        mask = np.zeros(n, dtype=bool)
        mask[others] = True
        norm = pc.replace_with_mask(norm, pa.array(mask), pa.array(fixed, pa.large_string()))
    norm_data, norm_offsets = text_buffers(norm)
    return norm.cast(pa.string()), _buffer_hashes(norm_data, norm_offsets)


def _buffer_hashes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``text_hashes`` of texts given as UTF-8 buffers."""
    digest, view = xxhash.xxh3_64_intdigest, memoryview(data)
    bounds = offsets.tolist()
    return np.fromiter((digest(view[s:e]) for s, e in zip(bounds[:-1], bounds[1:], strict=True)),
                       dtype=np.uint64, count=len(bounds) - 1)


def add_normalized(table: pa.Table, batch_size: int = 4096, num_proc: int | None = None,
                   progress: Progress = NO_PROGRESS) -> pa.Table:
    """Add ``sf_norm`` and ``sf_hash`` computed from ``sf_text``, in batches to bound memory.

    Args:
        table: A table with ``sf_text``.
        batch_size: Rows per batch.
        num_proc: Worker processes from ``PARALLEL_ABOVE`` rows up (default: all cores); the
            result does not depend on it.
        progress: Receives the rows normalized.
    """
    advance = progress.task("normalize", table.num_rows)
    text = table.column(C.TEXT)
    processes = resolve_processes(num_proc) if table.num_rows >= PARALLEL_ABOVE else 1
    norm_chunks, hash_chunks = [], []
    for norm, hashes in map_batches(normalize_buffers, buffer_batches(text, batch_size),
                                    processes):
        norm_chunks.append(norm)
        advance(len(norm))
        hash_chunks.append(pa.array(hashes, pa.uint64()))
    table = table.append_column(C.NORM, pa.chunked_array(norm_chunks, pa.string()))
    return table.append_column(C.HASH, pa.chunked_array(hash_chunks, pa.uint64()))
