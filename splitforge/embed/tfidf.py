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
from splitforge.parallel import map_batches, resolve_processes
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

    parallel_above = 20_000

    def __init__(self, dim: int = 256, fit_rows: int = 5_000, seed: int = 0,
                 num_proc: int | None = None, max_columns: int = 1 << 16) -> None:
        self.dim = dim
        self.max_columns = max_columns
        self.fit_rows = fit_rows
        self.seed = seed
        self.num_proc = num_proc
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
        df = np.diff(counts.tocsc().indptr)
        self.columns = np.flatnonzero(df >= 2)
        if not len(self.columns):
            self.columns = np.flatnonzero(df)
        if len(self.columns) > self.max_columns:
            # The most frequent columns, ties by column number: projecting is a memory-bound
            # gather of one component row per nonzero, so fewer rows keep it in cache.
            order = np.lexsort((self.columns, -df[self.columns]))
            self.columns = np.sort(self.columns[order[:self.max_columns]])
        weighted = self.tfidf.fit_transform(counts[:, self.columns])
        dim = max(1, min(self.dim, weighted.shape[0] - 1, weighted.shape[1] - 1))
        from sklearn.decomposition import TruncatedSVD

        self.svd = TruncatedSVD(n_components=dim, random_state=self.seed, algorithm="randomized",
                                n_iter=3)
        self.svd.fit(weighted)
        return self

    def embed(self, texts: Sequence[str], advance: Advance | None = None) -> np.ndarray:
        """Unit vectors in the fitted space; ``advance(rows)`` after each batch.

        From ``parallel_above`` texts the batches run over ``num_proc`` worker processes (all
        cores by default), each holding one copy of the fitted model; the vectors are the same.
        """
        if self.svd is None or self.columns is None:
            raise RuntimeError("fit the embedder before embedding")
        out = np.empty((len(texts), self.svd.n_components), dtype=np.float32)
        processes = resolve_processes(self.num_proc) if len(texts) >= self.parallel_above else 1
        batches = ((texts[start:start + _BATCH],) for start in range(0, len(texts), _BATCH))
        row = 0
        for part in map_batches(_project_batch, batches, processes, _install, (self,)):
            out[row:row + len(part)] = part
            row += len(part)
            if advance is not None:
                advance(len(part))
        return l2_normalize(out)

    def _project(self, texts: Sequence[str]) -> np.ndarray:
        weighted = self.tfidf.transform(self._counts(texts)[:, self.columns])
        return self.svd.transform(weighted).astype(np.float32)


_FITTED: list[TfidfEmbedder] = []


def _install(embedder: TfidfEmbedder) -> None:
    """Keep the fitted embedder of this process (a worker's initializer)."""
    _FITTED[:] = [embedder]


def _project_batch(texts: Sequence[str]) -> np.ndarray:
    """SVD coordinates (not yet unit length) of one batch, with the installed embedder."""
    return _FITTED[0]._project(texts)
