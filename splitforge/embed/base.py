"""Embedders turn texts into L2-normalized float32 vectors, so inner product = cosine similarity."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from splitforge.progress import Advance
from splitforge.registry import Registry

EMBEDDERS: Registry[type[Embedder]] = Registry("embedder")


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


class Embedder(ABC):
    """Fit on a corpus (or a sample of it), then embed any texts into the same space."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    @abstractmethod
    def fit(self, texts: Sequence[str]) -> Embedder:
        """Learn what the embedding needs from the texts; returns self."""

    @abstractmethod
    def embed(self, texts: Sequence[str], advance: Advance | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; ``advance(rows)`` after each batch."""
