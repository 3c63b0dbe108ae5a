"""Canonical text for duplicate detection: NFKC, casefold, whitespace collapsed.

NFKC folds full-width forms (``ＡＢＣ１２３`` -> ``abc123``, ``，`` -> ``,``) and compatibility
characters; casefold is Unicode lowercasing (``Straße`` -> ``strasse``); runs of whitespace,
newlines included, become one space and the ends are trimmed. The output text is never modified:
only ``sf_norm`` and its 64-bit hash ``sf_hash`` are added.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.seeding import stable_hash64


def normalize_text(text: str) -> str:
    r"""The canonical form of one text.

    Example:
        >>> normalize_text("  Ｈｅｌｌｏ,\\n  WORLD ")
        'hello, world'
    """
    if text.isascii():
        return " ".join(text.lower().split())
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_hashes(norm: Iterable[str]) -> np.ndarray:
    """64-bit content hashes of normalized texts (independent of the recipe seed)."""
    return stable_hash64(norm, 0, "normalize", "text")


def add_normalized(table: pa.Table, batch_size: int = 65_536) -> pa.Table:
    """Add ``sf_norm`` and ``sf_hash`` computed from ``sf_text``, in batches to bound memory."""
    text = table.column(C.TEXT)
    norm_chunks, hash_chunks = [], []
    for start in range(0, table.num_rows, batch_size):
        norm = [normalize_text(t) for t in text.slice(start, batch_size).to_pylist()]
        norm_chunks.append(pa.array(norm, pa.string()))
        hash_chunks.append(pa.array(text_hashes(norm), pa.uint64()))
    table = table.append_column(C.NORM, pa.chunked_array(norm_chunks, pa.string()))
    return table.append_column(C.HASH, pa.chunked_array(hash_chunks, pa.uint64()))
