"""The default embedder: hashed TF-IDF over word and character n-grams, reduced by SVD.

No model download: ``HashingVectorizer`` (word 1-2-grams and character 3-5-grams within word
boundaries, 2^20 columns each) + ``TfidfTransformer``, then ``TruncatedSVD`` to ``dim`` dimensions
fitted on a seeded sample of at most ``fit_rows`` texts (a full randomized SVD on 100k rows costs
about 45 s here), then L2 normalization. Character n-grams make it work for Chinese text too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from splitforge.embed.base import EMBEDDERS, Embedder, l2_normalize

_FEATURES = 1 << 20


@EMBEDDERS.register("tfidf")
class TfidfEmbedder(Embedder):
    """Hashed word + character TF-IDF, reduced with TruncatedSVD fitted on a sample."""

    name = "tfidf"

    def __init__(self, dim: int = 256, fit_rows: int = 20_000, seed: int = 0) -> None:
        self.dim = dim
        self.fit_rows = fit_rows
        self.seed = seed
        self.words = HashingVectorizer(n_features=_FEATURES, ngram_range=(1, 2),
                                       alternate_sign=False, norm=None, dtype=np.float32)
        self.chars = HashingVectorizer(n_features=_FEATURES, analyzer="char_wb",
                                       ngram_range=(3, 5), alternate_sign=False, norm=None,
                                       dtype=np.float32)
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        self.svd: TruncatedSVD | None = None
        self.columns: np.ndarray | None = None

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return sparse.hstack([self.words.transform(texts), self.chars.transform(texts)],
                             format="csr")

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        """Fit IDF weights and the SVD on a seeded sample of the texts."""
        rng = np.random.default_rng(self.seed)
        index = np.arange(len(texts))
        if len(texts) > self.fit_rows:
            index = np.sort(rng.choice(len(texts), self.fit_rows, replace=False))
        sample = [texts[i] for i in index]
        counts = self._counts(sample)
        # Only the hash columns the sample uses: the SVD's dense work scales with columns.
        self.columns = np.flatnonzero(np.diff(counts.tocsc().indptr))
        weighted = self.tfidf.fit_transform(counts[:, self.columns])
        dim = max(1, min(self.dim, weighted.shape[0] - 1, weighted.shape[1] - 1))
        self.svd = TruncatedSVD(n_components=dim, random_state=self.seed, algorithm="randomized",
                                n_iter=4)
        self.svd.fit(weighted)
        return self

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors in the fitted space."""
        if self.svd is None or self.columns is None:
            raise RuntimeError("fit the embedder before embedding")
        weighted = self.tfidf.transform(self._counts(texts)[:, self.columns])
        return l2_normalize(self.svd.transform(weighted))
