"""Near copies: eval items whose estimated Jaccard similarity to a training text is high.

Signatures are the dedup stage's (``splitforge.dedup.minhash``, datasketch 2.x ``affine32``):
shingles of ``ngram`` words (``char_ngram`` characters for CJK text) hashed to 32 bits, and the
minimum of ``num_perm`` permutations ``a_k * h + b_k mod 2^32`` drawn from ``seed``. The eval
signatures are cut into ``b`` bands of ``r`` values with datasketch's optimal ``(b, r)`` for the
threshold (``lsh_params``); each band's keys (a hash of its ``r`` values, as the dedup stage
computes them) are sorted once. Every training batch is signed and banded, its keys are looked up
with ``searchsorted``, and every (eval item, training text) pair that shares a band is verified by
its estimated Jaccard similarity: the share of equal signature values.

A pair of Jaccard similarity ``s`` shares at least one band with probability
``1 - (1 - s^r)^b``; the threshold sits near ``(1/b)^(1/r)``. A copy with a fraction ``e`` of its
words changed keeps about ``(1-e)^k`` of its ``k``-word shingles, so its Jaccard similarity is
about ``(1-e)^k / (2 - (1-e)^k)``: with word bigrams (the default), 10% edits give ~0.68 and
20% edits ~0.47, hence the default threshold of 0.5.

This is whole-text similarity: an eval item copied into a much longer training text has a low
Jaccard similarity. ``ExactCheck`` (containment) and ``NgramOverlapCheck`` (coverage) catch those.

An LSH bucket that holds more than ``SHARED_CAP`` (100) eval items in some band is left out of
that band (counted as ``buckets_over_cap``): its members would pair with every training text in
it, and such a bucket is a template the items share, not a copy. Each training text then meets
at most ``bands * SHARED_CAP`` eval items, whatever the data.

A training text counts only for the eval item it resembles most (``closest_group``, among the
eval items that share an LSH band with it): benchmarks hold templates that differ in one
expression ("Find all c in Z_3 such that Z_3[x]/(x^3 + x^2 + c) is a field" and its ``cx^2 + 1``
sibling), and a copy of one is a near copy of the others too. Its pairs with the other items are
set aside and counted (``set_aside``, in training rows); an item's answer keeps the texts its
input wins (``groups``). ``ExactCheck`` and ``NgramOverlapCheck`` have no such step:
a training text that contains two eval items contains both.

Per eval item: ``score`` = the best estimated Jaccard among its LSH candidates that were not set
aside (0.0 when it has none; a candidate below the threshold still counts, so scores under the
threshold are only what LSH happened to surface), ``evidence_id`` = that candidate's training id
(ties: the smallest id in string order), ``matched_text`` = the start of that training text
(normalized, at most 300 characters: what the verdict's ``matched_text`` shows beside the item),
``flagged`` = ``score >= threshold``. The text is cut while the batch is probed, so the check keeps
one short text per eval item whatever the corpus; an id given to two training rows that tie keeps
the smaller text, so it does not depend on the batching or order either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge.audit.base import (
    CHECKS,
    CONTAMINATED,
    PREVIEW,
    SHARED_CAP,
    SUSPECT,
    AuditCheck,
    CheckResult,
    TrainingBatch,
    closest_group,
    eval_lengths,
    graded,
    match_sorted,
    merge_best,
)
from splitforge.normalize.affixes import MAX_TOKENS as AFFIX_MAX_TOKENS
from splitforge.normalize.affixes import affix_copies
from splitforge.normalize.shingles import shingle_hashes
from splitforge.signatures import band_keys, lsh_params, permutations, signatures

_PAIR_CHUNK = 1 << 16


@dataclass(frozen=True)
class MinHashResult(CheckResult):
    """``CheckResult`` of ``MinHashCheck``; ``score`` is the best estimated Jaccard similarity.

    Attributes:
        candidates: LSH candidate training texts verified per eval item (over all batches).
        affix_copy: whether an item of at most 15 tokens has a candidate holding the same words
            but for a prefix or trailing tag (``normalize/affixes.py``); its evidence is that
            candidate.
        set_aside: Candidate training rows per eval item that another item resembles more (not
            evidence).
        tokens: the item's length in words, a CJK character counting as one.
        matched_text: the start of the ``evidence_id`` training text (normalized, at most 300
            characters), or None when the item has no candidate (``minhash_matched_text`` in
            ``audit.parquet``).
    """

    candidates: np.ndarray
    set_aside: np.ndarray
    tokens: np.ndarray
    affix_copy: np.ndarray
    matched_text: list[str | None] | None = None

    def __post_init__(self) -> None:
        if self.matched_text is None:  # a result built without the training texts
            object.__setattr__(self, "matched_text", [None] * len(self.score))

    def levels(self, thresholds: Any) -> np.ndarray:
        """Jaccard against ``minhash_contaminated`` / ``minhash_suspect``.

        An item shorter than ``min_tokens`` is at most suspect, as ``exact`` has it: two
        five-word phrases that share four words ("how much money does he" / "... she") reach
        any Jaccard threshold without one being a copy of the other. An equal short text is
        still contaminated, by ``exact``, and so is an item of at most 15 words whose training
        text holds the same words but for a prefix or a trailing tag (``affix_copy``:
        "Show HN: …", "… (2019)").
        """
        level = graded(self.score, thresholds.minhash_suspect, thresholds.minhash_contaminated)
        short = np.asarray(self.tokens) < thresholds.min_tokens
        level[short & (level == CONTAMINATED)] = SUSPECT
        # Calibrated up to AFFIX_MAX_TOKENS (15) words, shorter or not than min_tokens: an affix
        # copy is contaminated, so its evidence (which replaces the best Jaccard) never lowers
        # an item's verdict.
        level[np.asarray(self.affix_copy, dtype=bool)] = CONTAMINATED
        return level

    def evidence_text(self, item: int, eval_text: str) -> str:
        """The start of the training text that matched (the item itself where none is known)."""
        text = self.matched_text[item]
        return eval_text[:PREVIEW] if text is None else text

    @property
    def jaccard(self) -> np.ndarray:
        """Best estimated Jaccard similarity per eval item (same as ``score``)."""
        return self.score


@CHECKS.register("minhash")
class MinHashCheck(AuditCheck):
    """Best estimated Jaccard similarity of each eval item to any training text, via LSH.

    Args:
        eval_norm: Normalized eval texts.
        threshold: Similarity from which an item is flagged, in (0, 1] (default 0.5); it also
            sets the LSH bands.
        num_perm: Permutations per signature (default 128); more is slower and more accurate
            (the estimate's standard error is about ``sqrt(s(1-s)/num_perm)``).
        ngram: Words per shingle (default 2).
        char_ngram: Characters per shingle for CJK text (default 2).
        seed: Seed of the permutations; results depend on it only through the estimate's noise.
        unit: ``auto`` (characters for CJK text, words otherwise), ``word`` or ``char``.
        groups: One number per eval text; texts of one group (an item's input and its answer)
            never set aside each other's candidates. Default: every text its own group.

    Guarantees: the result does not depend on how the training corpus is batched or ordered.
    """

    name = "minhash"

    def __init__(self, eval_norm: Sequence[str], threshold: float = 0.5, num_perm: int = 128,
                 ngram: int = 2, char_ngram: int = 2, seed: int = 1, unit: str = "auto",
                 groups: Sequence[int] | None = None) -> None:
        super().__init__(eval_norm)
        items = len(self.eval_norm)
        self.groups = np.arange(items) if groups is None else np.asarray(groups, dtype=np.int64)
        if len(self.groups) != items:
            raise ValueError("groups must hold one number per eval item")
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold={threshold} must be in (0, 1]: it is the estimated "
                             f"Jaccard similarity from which an eval item is flagged")
        self.threshold, self.num_perm, self.seed = threshold, num_perm, seed
        self.ngram, self.char_ngram, self.unit = ngram, char_ngram, unit
        self._a, self._b = permutations(num_perm, seed)
        self.bands, self.rows = lsh_params(threshold, num_perm)
        shingles = shingle_hashes(self.eval_norm, ngram, char_ngram, unit)
        self._tokens = eval_lengths(self.eval_norm)
        self._items = np.flatnonzero(np.diff(shingles.offsets) > 0)  # empty texts sign nothing
        self._sig = signatures(shingles.values, shingles.offsets, self._a, self._b)[self._items]
        self._band_keys, self._band_items = [], []
        self._over_cap = 0
        for band in range(self.bands):
            keys = band_keys(self._sig, band, self.rows)
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else \
                np.zeros(0, np.int64)
            sizes = np.diff(np.r_[starts, len(keys)])
            small = np.repeat(sizes <= SHARED_CAP, sizes)  # a bucket of many items pairs none
            self._over_cap += int((sizes > SHARED_CAP).sum())
            self._band_keys.append(keys[small])
            self._band_items.append(order[small])
        self._best_equal = np.full(items, -1, dtype=np.int64)
        self._best_id = np.full(items, None, dtype=object)
        self._best_text = np.full(items, None, dtype=object)
        self._copy_equal = np.full(items, -1, dtype=np.int64)
        self._copy_id = np.full(items, None, dtype=object)
        self._copy_text = np.full(items, None, dtype=object)
        self._candidates = np.zeros(items, dtype=np.int64)
        self._set_aside = np.zeros(items, dtype=np.int64)

    def _probe(self, batch: TrainingBatch) -> dict[str, Any]:
        if not len(self._items) or not len(batch):
            return {}
        shingles = batch.shingles(self.ngram, self.char_ngram, self.unit)
        rows = np.flatnonzero(np.diff(shingles.offsets) > 0)
        if not len(rows):
            return {}
        sig = signatures(shingles.values, shingles.offsets, self._a, self._b)[rows]
        codes = []
        width = len(rows)
        for band in range(self.bands):
            keys = band_keys(sig, band, self.rows)
            order = np.argsort(keys)
            query, position = match_sorted(self._band_keys[band], keys[order])
            if not len(query):
                continue
            item = self._band_items[band][position]
            codes.append(item * width + order[query])
        if not codes:
            return {}
        code = np.unique(np.concatenate(codes))
        item, local = code // width, code % width
        equal = np.empty(len(code), dtype=np.int64)
        for lo in range(0, len(code), _PAIR_CHUNK):
            hi = lo + _PAIR_CHUNK
            equal[lo:hi] = (self._sig[item[lo:hi]] == sig[local[lo:hi]]).sum(axis=1)
        item = self._items[item]  # eval item numbers from here on
        candidates = np.bincount(item, minlength=len(self.eval_norm))
        mine = closest_group(local, self.groups[item], equal)
        set_aside = np.bincount(item[~mine], minlength=len(self.eval_norm))
        item, row, equal = item[mine], rows[local[mine]], equal[mine]
        copies = self._affix_copies(batch, item, row, equal)
        return {"best": _best_pairs(batch, item, row, equal),
                "candidates": candidates, "set_aside": set_aside, "copies": copies}

    def _affix_copies(self, batch: TrainingBatch, item: np.ndarray, row: np.ndarray,
                      equal: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Among the candidates of short items, the training texts that are affix copies.

        Returns per copied item its best such candidate (``_best_pairs``):
        ``(items, equal, ids, texts)``.
        """
        short = self._tokens[item] <= AFFIX_MAX_TOKENS
        if not short.any():
            return _best_pairs(batch, item[:0], row[:0], equal[:0])
        item, row, equal = item[short], row[short], equal[short]
        same = affix_copies([self.eval_norm[i] for i in item.tolist()],
                            [batch.text(r) for r in row.tolist()])
        return _best_pairs(batch, item[same], row[same], equal[same])

    def _merge(self, payload: dict[str, Any]) -> None:
        if not payload:
            return
        item, equal, ids, texts = payload["best"]
        merge_best(self._best_equal, self._best_id, item, equal, ids, self._best_text, texts)
        item, equal, ids, texts = payload["copies"]
        merge_best(self._copy_equal, self._copy_id, item, equal, ids, self._copy_text, texts)
        self._candidates += payload["candidates"]
        self._set_aside += payload["set_aside"]

    def _result(self) -> MinHashResult:
        copied = self._copy_equal >= 0
        best_equal = np.where(copied, self._copy_equal, self._best_equal)
        best_id = np.where(copied, self._copy_id, self._best_id)
        best_text = np.where(copied, self._copy_text, self._best_text)
        score = np.maximum(best_equal, 0) / self.num_perm
        summary = {"threshold": self.threshold, "num_perm": self.num_perm, "bands": self.bands,
                   "rows": self.rows, "ngram": self.ngram, "char_ngram": self.char_ngram,
                   "seed": self.seed, "candidates": int(self._candidates.sum()),
                   "buckets_over_cap": self._over_cap, "shared_cap": SHARED_CAP,
                   "items_with_candidates_set_aside": int((self._set_aside > 0).sum()),
                   "affix_copies": int(copied.sum())}
        return MinHashResult(self.name, (score >= self.threshold) | copied,
                             score.astype(np.float64), best_id.tolist(), summary,
                             self._candidates.copy(), self._set_aside.copy(), self._tokens.copy(),
                             copied, best_text.tolist())


def _best_pairs(batch: TrainingBatch, item: np.ndarray, row: np.ndarray, equal: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per eval item, its best pair of the batch: most equal values, then the smallest id.

    Returns ``(items, equal, ids, texts)``, ``texts`` the start of each evidence row's
    normalized text (``PREVIEW`` characters). An id given to two rows with the same count keeps
    the smaller text, as ``merge_best`` does across batches.
    """
    order = np.lexsort((batch.id_rank[row], -equal, item))
    item, row, equal = item[order], row[order], equal[order]
    first = np.ones(len(item), dtype=bool)
    first[1:] = item[1:] != item[:-1]
    lead = np.flatnonzero(first)
    ids = np.array(batch.ids, dtype=object)
    texts = np.empty(len(lead), dtype=object)
    texts[:] = _previews(batch, row[lead])
    group = np.cumsum(first) - 1
    tied = np.flatnonzero(~first & (equal == equal[lead][group]))
    tied = tied[ids[row[tied]] == ids[row[lead[group[tied]]]]]  # rows that share one id
    for k, text in zip(tied.tolist(), _previews(batch, row[tied]), strict=True):
        if text < texts[group[k]]:
            texts[group[k]] = text
    return item[lead], equal[lead], ids[row[lead]], texts


def _previews(batch: TrainingBatch, rows: np.ndarray) -> list[str]:
    """The first ``PREVIEW`` characters of some rows' normalized texts."""
    if not len(rows):
        return []
    taken = batch.norm.take(pa.array(rows, pa.int64()))
    return pc.utf8_slice_codeunits(taken, 0, PREVIEW).to_pylist()
