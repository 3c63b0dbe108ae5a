"""The default embedder: hashed TF-IDF over word and character n-grams, reduced by SVD.

No model download: ``HashingVectorizer`` over unigrams and bigrams of tokens (2^18 columns),
where a token is a run of letters or digits, or a single Chinese, Japanese or Korean character,
so CJK text gets character unigrams and bigrams; then ``TfidfTransformer``, ``TruncatedSVD`` to
``dim`` dimensions fitted on a seeded sample of at most ``fit_rows`` texts (a full randomized SVD
on 100k rows costs about 45 s here), and L2 normalization. Texts are embedded in batches, so
memory follows the batch, not the corpus. (Character 3-5-grams on every text were measured at 5x
the cost of word n-grams for little gain on long texts.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from splitforge.embed.base import EMBEDDERS, Embedder, l2_normalize
from splitforge.progress import Advance

if TYPE_CHECKING:
    from scipy import sparse

_FEATURES = 1 << 18
_BATCH = 4096
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKENS = f"[{_CJK}]|[^\\W{_CJK}]+"


@EMBEDDERS.register("tfidf")
class TfidfEmbedder(Embedder):
    """Hashed word + character TF-IDF, reduced with TruncatedSVD fitted on a sample."""

    name = "tfidf"

    def __init__(self, dim: int = 256, fit_rows: int = 5_000, seed: int = 0) -> None:
        self.dim = dim
        self.fit_rows = fit_rows
        self.seed = seed
        # scikit-learn loads here, not at import: worker processes that import the dedup package
        # for MinHash would otherwise pay a second and a half each to load it.
        from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

        self.vectorizer = HashingVectorizer(n_features=_FEATURES, ngram_range=(1, 2),
                                            token_pattern=_TOKENS, alternate_sign=False,
                                            norm=None, dtype=np.float32)
        self.tfidf = TfidfTransformer(sublinear_tf=True)
        self.svd: Any = None
        self.columns: np.ndarray | None = None

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self.vectorizer.transform(texts)

    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        """Fit IDF weights and the SVD on a seeded sample of the texts."""
        rng = np.random.default_rng(self.seed)
        index = np.arange(len(texts))
        if len(texts) > self.fit_rows:
            index = np.sort(rng.choice(len(texts), self.fit_rows, replace=False))
        sample = [texts[i] for i in index]
        counts = self._counts(sample)
        # Only hash columns that at least two sampled texts share: the SVD's components are dense
        # (dim x columns), so its time and memory scale with the columns kept.
        self.columns = np.flatnonzero(np.diff(counts.tocsc().indptr) >= 2)
        if not len(self.columns):
            self.columns = np.flatnonzero(np.diff(counts.tocsc().indptr))
        weighted = self.tfidf.fit_transform(counts[:, self.columns])
        dim = max(1, min(self.dim, weighted.shape[0] - 1, weighted.shape[1] - 1))
        from sklearn.decomposition import TruncatedSVD

        self.svd = TruncatedSVD(n_components=dim, random_state=self.seed, algorithm="randomized",
                                n_iter=3)
        self.svd.fit(weighted)
        return self

    def embed(self, texts: Sequence[str], advance: Advance | None = None) -> np.ndarray:
        """Unit vectors in the fitted space; ``advance(rows)`` after each batch."""
        if self.svd is None or self.columns is None:
            raise RuntimeError("fit the embedder before embedding")
        out = np.empty((len(texts), self.svd.n_components), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            batch = texts[start:start + _BATCH]
            weighted = self.tfidf.transform(self._counts(batch)[:, self.columns])
            out[start:start + len(batch)] = self.svd.transform(weighted)
            if advance is not None:
                advance(len(batch))
        return l2_normalize(out)
