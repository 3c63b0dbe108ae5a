"""Semantic duplicates: rows whose embeddings have cosine similarity at or above the threshold.

Each row's ``k`` nearest neighbours come from faiss (``embed/neighbors.py``: exact below
``exact_below`` rows, IVF above, GPU when present); a neighbour joins the row's cluster only if
its exact cosine similarity reaches the threshold, so pairs are verified as MinHash pairs are.
The default embedder (hashed TF-IDF + SVD) sees shared wording, not meaning: at 0.92 it links
rewordings that keep most of the words; a local sentence-transformers model catches paraphrases.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.dedup.base import DEDUPERS, Deduper, Links
from splitforge.embed import Embedder, SentenceTransformerEmbedder, TfidfEmbedder, nearest
from splitforge.normalize.text import strip_format
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.recipe import SemanticConfig


def make_embedder(config: SemanticConfig, seed: int = 0) -> Embedder:
    """The embedder a semantic config names."""
    if config.embedder == "sentence-transformers":
        return SentenceTransformerEmbedder(str(config.model))
    return TfidfEmbedder(dim=config.dim, fit_rows=config.fit_rows, seed=seed,
                         num_proc=config.num_proc)


@DEDUPERS.register("semantic")
class SemanticDeduper(Deduper):
    """Links rows whose embeddings are at least ``threshold`` cosine-similar."""

    method = "semantic"
    reason = "semantic_duplicate"
    version: ClassVar[str] = "2"  # 2: format characters (zero-width space, ...) dropped first

    def __init__(self, config: SemanticConfig) -> None:
        self.config = config
        self.index_kind = ""

    def find_links(self, table: pa.Table, progress: Progress = NO_PROGRESS) -> Links:
        """Verified pairs (i < j) of semantically similar rows."""
        texts = [strip_format(t) for t in table.column(C.TEXT).to_pylist()]
        if len(texts) < 2:
            return Links(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), self.method)
        embedder = make_embedder(self.config).fit(texts)
        vectors = embedder.embed(texts, progress.task("semantic: embeddings", len(texts)))
        found = nearest(vectors, vectors, self.config.k + 1, exact_below=self.config.exact_below,
                        nprobe=self.config.nprobe, device=self.config.device)
        self.index_kind = found.kind
        rows = np.repeat(np.arange(len(texts)), found.index.shape[1])
        cols, scores = found.index.ravel(), found.scores.ravel()
        ok = (cols >= 0) & (cols != rows) & (scores >= self.config.threshold)
        low, high = np.minimum(rows[ok], cols[ok]), np.maximum(rows[ok], cols[ok])
        codes, first = np.unique(low * len(texts) + high, return_index=True)
        return Links(codes // len(texts), codes % len(texts), scores[ok][first].astype(np.float64),
                     self.method)
