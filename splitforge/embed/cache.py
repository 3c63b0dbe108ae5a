"""Sentence vectors kept between runs, keyed by the text's content and the model that embedded it.

An audit re-verifies mostly the same training candidates run after run (CI audits the same corpus
against each new eval version), and embedding them is its slowest step. The store is one SQLite
file, ``<cache>/embeddings.sqlite`` (``user_cache()``: ``$SPLITFORGE_CACHE``, else
``$XDG_CACHE_HOME/splitforge`` or ``~/.cache/splitforge``); delete it at any time.
``SPLITFORGE_CACHE=off`` turns every cache of this kind off.

A cached vector is the one the encoder would compute again, bit for bit: the encoder computes
each text in batches whose shape depends only on that text (``minilm._Bert.buckets``), and the
key names the model's weights, the runtime and that batch shape. So a warm cache never changes a
result, only its cost.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_CHUNK = 500  # keys per SELECT (SQLite's variable limit is 32766)


def user_cache() -> Path | None:
    """Where splitforge keeps what it reuses between runs, or None when ``SPLITFORGE_CACHE=off``."""
    root = os.environ.get("SPLITFORGE_CACHE")
    if root and root.lower() in ("off", "0", "false", "no"):
        return None
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "splitforge"


def text_key(text: str) -> bytes:
    """16 bytes of BLAKE2b of the UTF-8 text: the content part of a vector's key."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class VectorCache:
    """float32 vectors of one ``model`` key, by text: ``get`` what is stored, ``put`` more."""

    def __init__(self, folder: Path, model: str, dim: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model, self.dim = model, dim
        self._db = sqlite3.connect(folder / "embeddings.sqlite", timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, "
                         "text BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text))")

    def get(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """The stored vectors of ``texts``, by position."""
        keys = [text_key(t) for t in texts]
        where: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            where.setdefault(key, []).append(i)
        found: dict[int, np.ndarray] = {}
        unique = list(where)
        for lo in range(0, len(unique), _CHUNK):
            part = unique[lo:lo + _CHUNK]
            rows = self._db.execute(
                f"SELECT text, vector FROM vectors WHERE model = ? AND text IN "
                f"({','.join('?' * len(part))})", [self.model, *part]).fetchall()
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if len(vector) == self.dim:
                    for i in where[key]:
                        found[i] = vector
        return found

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text (an existing entry is kept: it holds the same vector)."""
        rows = [(self.model, text_key(t), np.ascontiguousarray(v, np.float32).tobytes())
                for t, v in zip(texts, vectors, strict=True)]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)

    def close(self) -> None:
        """Close the database (also done when the object is collected)."""
        self._db.close()
