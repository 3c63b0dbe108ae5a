"""A local sentence-transformers model (no download); needs `pip install 'splitforge[semantic]'`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from splitforge.embed.base import EMBEDDERS, Embedder, l2_normalize
from splitforge.errors import InputError, MissingDependencyError
from splitforge.progress import Advance


@EMBEDDERS.register("sentence-transformers")
class SentenceTransformerEmbedder(Embedder):
    """Embeds with a local sentence-transformers model; fitting does nothing."""

    name = "sentence-transformers"

    def __init__(self, model: str, device: str | None = None, batch_size: int = 64) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError("sentence-transformers", "semantic",
                                         "embedder: sentence-transformers") from None
        if not Path(model).exists():
            raise InputError("no such model folder; give the path of a sentence-transformers "
                             "model saved on this machine", path=model)
        self.model = SentenceTransformer(model, device=device)
        self.batch_size = batch_size

    def fit(self, texts: Sequence[str]) -> SentenceTransformerEmbedder:
        """Nothing to learn: the model is pretrained."""
        return self

    def embed(self, texts: Sequence[str], advance: Advance | None = None) -> np.ndarray:
        """Unit vectors from the model; ``advance(rows)`` after each chunk of batches."""
        texts = list(texts)
        step = self.batch_size * 16
        parts = []
        for start in range(0, len(texts), step):
            chunk = texts[start:start + step]
            parts.append(self.model.encode(chunk, batch_size=self.batch_size,
                                           convert_to_numpy=True, show_progress_bar=False))
            if advance is not None:
                advance(len(chunk))
        if not parts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), np.float32)
        return l2_normalize(np.concatenate(parts))
