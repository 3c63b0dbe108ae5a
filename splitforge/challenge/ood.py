"""Out-of-distribution challenge items: held-out rows unlike anything in train.

Embedding:
    Texts (``sf_text``) are embedded with :class:`~splitforge.embed.TfidfEmbedder` (hashed word
    TF-IDF reduced by SVD, unit vectors, so inner product = cosine). The embedder is fitted on a
    seeded sample of at most ``FIT_ROWS`` texts taken from *both* train and the candidates, up to
    half from each (the rest from whichever has more). Fitted on train alone, the SVD keeps only
    directions train has, so a foreign text is projected onto train's topics and looks ordinary:
    on 3,000 commit messages with 50 GSM8K questions among 1,000 candidates (ten resamplings,
    ``k = 5``, ``far`` below), a train-only fit put 6 to 11 of the 50 questions in the top 50, the
    shared fit 28 to 39. The fit reads no labels and writes nothing into train.

``knn`` score (higher = further out):
    ``score = far + excess``, where

    - ``far = 1 - mean cosine similarity to the k nearest train rows`` (how far the row is from
      train), and
    - ``excess = s - (m - 1) / (N + m - 1)``: ``s`` is the share of held-out rows among the row's
      k nearest neighbours in train + candidates (itself excluded), and the subtracted term is
      that share when held-out rows and train come from one distribution (``N`` train rows, ``m``
      candidates). It is the local form of the k-nearest-neighbour two-sample statistic (Schilling,
      1986): positive where held-out rows crowd a region that train barely covers.

    ``far`` alone ranks short texts with rare identifiers first: they share few words with any
    text, wherever they come from. A whole foreign distribution (a new source, a new topic) also
    forms a neighbourhood of its own among the candidates, which ``excess`` sees. On the benchmark
    above, ``far`` alone put 28 to 39 of the 50 questions in the top 50, ``far + excess`` 47 to 49
    (and 48 to 50 in the top 100; ``tests/challenge/test_ood.py`` pins one resampling).

``isolation_forest`` score:
    ``-score_samples`` of a scikit-learn ``IsolationForest`` (100 trees, 256 rows per tree)
    fitted on the embeddings of train *and* the candidates: higher = isolated in fewer random
    splits = more anomalous. A forest fitted on train alone never splits along a direction in
    which train does not vary, which is exactly where foreign text differs: with 80 weather
    sentences as train, such a forest ranked two SQL queries among 40 held-out weather sentences
    at random places (five seeds), the forest fitted on both ranked them first every time. It
    finds single rows far from the rest, not a foreign group: on the commit benchmark above it
    put 1 to 15 of the 50 questions in the top 50. Prefer ``knn`` unless the outliers are known
    to be isolated.

Rows whose text is blank are never picked (they are empty, not foreign; the edge kind's
``shortest`` rule finds them). A non-blank row none of whose n-grams the embedder kept (every
word unknown to the fitted vocabulary, such as a text in a script nothing else uses) embeds as
the zero vector: it shares nothing with train, so it is scored as far out as a single row can be
(knn: ``far = 1``, the largest distance, and ``excess = 0``, since neighbours at similarity 0
are not counted; isolation_forest: 1, the top of its scale).

Guarantees:
    The same pool, seed and config give the same picks: the embedder's sample and seed and the
    forest's ``random_state`` come from ``rng_for(seed, "challenge", "ood")``; neighbours are
    searched with faiss on CPU even where a GPU is present (exact below 50,000 indexed rows, IVF
    above); scores are rounded to 6 decimals before ranking, so float noise between machines
    does not reorder them; ties go to the smaller ``sf_id``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.challenge.base import CHALLENGES, ChallengeKind, ChallengePool, Picked
from splitforge.embed import TfidfEmbedder, nearest
from splitforge.recipe import OodConfig
from splitforge.seeding import rng_for

FIT_ROWS = 5_000
N_ESTIMATORS = 100
_DECIMALS = 6
_SHARED = 1e-6  # cosine similarity above which two rows share something


def score_quantiles(scores: np.ndarray) -> dict[str, float] | None:
    """Min, quartiles and max of finite scores, rounded to 4 decimals (None if there are none)."""
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        return None
    values = np.percentile(scores, [0, 25, 50, 75, 100])
    return {key: round(float(v), 4)
            for key, v in zip(("min", "p25", "p50", "p75", "max"), values, strict=True)}


def _fit_sample(train: list[str], candidates: list[str], rng: np.random.Generator,
                budget: int) -> tuple[list[str], int, int]:
    """A seeded sample of at most ``budget`` texts, up to half from each side."""
    take_c = min(len(candidates), budget // 2)
    take_t = min(len(train), budget - take_c)
    take_c = min(len(candidates), budget - take_t)
    pick_t = np.sort(rng.choice(len(train), take_t, replace=False))
    pick_c = np.sort(rng.choice(len(candidates), take_c, replace=False))
    sample = [train[i] for i in pick_t] + [candidates[i] for i in pick_c]
    return sample, take_t, take_c


def knn_scores(train: np.ndarray, candidates: np.ndarray, k: int,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``far`` and ``excess`` of each candidate (see the module docstring).

    Args:
        train: Unit vectors of the train rows.
        candidates: Unit vectors of the candidates.
        k: Neighbours averaged (``far``) and counted (``excess``).
        seed: Seed of an IVF index's training sample (above 50,000 rows).

    Returns:
        ``far`` and ``excess``, one value per candidate.
    """
    n_train, n_cand = len(train), len(candidates)
    near = nearest(train, candidates, k, device="cpu", seed=seed)
    valid = near.index >= 0
    far = 1 - np.where(valid, near.scores, 0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    union = np.concatenate([train, candidates])
    found = nearest(union, candidates, k + 1, device="cpu", seed=seed)
    around, around_sim = found.index, found.scores
    is_self = around == (n_train + np.arange(n_cand))[:, None]
    # A row is normally its own nearest neighbour; when an exact duplicate ties with it, drop the
    # last neighbour instead, so that k are always counted.
    drop = is_self.copy()
    drop[~is_self.any(axis=1), -1] = True
    # A neighbour sharing nothing with the row (similarity 0) says nothing about its region.
    counted = ~drop & (around >= 0) & (around_sim > _SHARED)
    held_out = (counted & (around >= n_train)).sum(axis=1)
    share = held_out / np.maximum(counted.sum(axis=1), 1)
    expected = (n_cand - 1) / (n_train + n_cand - 1)
    return far, np.where(counted.any(axis=1), share - expected, 0.0)


@CHALLENGES.register("ood")
class OodChallenge(ChallengeKind):
    """Out-of-distribution items: the held-out rows furthest from train.

    Args:
        config: ``challenge.ood`` of the recipe: ``method`` (``knn`` or ``isolation_forest``)
            and ``k``, the neighbours ``knn`` uses (default 5, 1 to 100).

    ``info`` holds ``method``, ``k`` (knn) or ``n_estimators`` (isolation_forest),
    ``train_rows``, ``candidates``, ``scored`` (non-blank candidates), ``unembedded`` (scored
    candidates that embed as the zero vector), ``fit_rows`` (train and
    candidate texts the embedder was fitted on) and ``score_quantiles`` of the ``picked`` rows
    and of ``all`` scored candidates; knn adds the mean ``far`` and ``excess`` of the picked rows.
    With fewer than two train rows nothing is picked and ``skipped`` says why.

    Guarantees:
        Deterministic for a given pool, seed and config (see the module docstring).
    """

    name = "ood"

    def __init__(self, config: OodConfig) -> None:
        self.config = config

    def _pick(self, pool: ChallengePool, n: int) -> Picked:
        """The ``n`` highest-scoring non-blank candidates, ties by ``sf_id``."""
        method = self.config.method
        info: dict[str, Any] = {"method": method}
        if method == "knn":
            info["k"] = self.config.k
        else:
            info["n_estimators"] = N_ESTIMATORS
        if pool.train.num_rows < 2:
            info["skipped"] = (f"train has {pool.train.num_rows} row(s); at least 2 are needed "
                               "to measure distance from train")
            return Picked.empty(info)
        rng = rng_for(pool.seed, "challenge", "ood")
        seed = int(rng.integers(2**31 - 1))
        train_texts = [t or "" for t in pool.train.column(C.TEXT).to_pylist()]
        cand_texts = [t or "" for t in pool.texts()]
        sample, fit_train, fit_cand = _fit_sample(train_texts, cand_texts, rng, FIT_ROWS)
        embedder = TfidfEmbedder(seed=seed, fit_rows=len(sample)).fit(sample)
        train_vectors = embedder.embed(train_texts)
        cand_vectors = embedder.embed(cand_texts)
        unembedded = ~cand_vectors.any(axis=1)
        if method == "knn":
            far, excess = knn_scores(train_vectors, cand_vectors, self.config.k, seed)
            scores = far + excess
        else:
            from sklearn.ensemble import IsolationForest

            forest = IsolationForest(n_estimators=N_ESTIMATORS, random_state=seed)
            forest.fit(np.concatenate([train_vectors, cand_vectors]))
            scores = -forest.score_samples(cand_vectors)
            # A zero vector sits amid train's coordinates, where no tree isolates it early.
            scores[unembedded] = 1.0
        scores = np.round(scores.astype(np.float64), _DECIMALS)
        blank = pc.equal(pc.utf8_trim_whitespace(pc.fill_null(pool.candidates.column(C.TEXT),
                                                                "")), "")
        blank = blank.to_numpy(zero_copy_only=False).astype(bool)
        scored = np.flatnonzero(~blank)
        rows = scored[np.argsort(-scores[scored], kind="stable")][:n]
        info.update({
            "train_rows": pool.train.num_rows,
            "candidates": pool.candidates.num_rows,
            "scored": len(scored),
            "unembedded": int((unembedded & ~blank).sum()),
            "fit_rows": {"train": fit_train, "candidates": fit_cand},
            "score_quantiles": {"picked": score_quantiles(scores[rows]),
                                "all": score_quantiles(scores[scored])},
        })
        if method == "knn" and len(rows):
            info["picked_mean"] = {"far": round(float(far[rows].mean()), 4),
                                   "excess": round(float(excess[rows].mean()), 4)}
        return Picked(rows.astype(np.int64), [method] * len(rows), scores[rows], info)
