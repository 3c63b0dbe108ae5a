"""Near duplicates: MinHash signatures, LSH banding, and a verified Jaccard estimate.

Signatures follow datasketch 2.x's default ``affine32`` scheme exactly: each 32-bit shingle hash
``h`` is mixed once with MurmurHash3's 32-bit finalizer, then permutation ``k`` maps it to
``a_k * h + b_k mod 2^32`` (``a_k`` odd), with ``a, b`` drawn from
``numpy.random.RandomState(seed)`` as ``datasketch.MinHash(num_perm, seed)`` draws them; the
signature is the minimum per permutation.
So a row's signature equals ``datasketch.MinHash`` updated with the same shingle hashes, and tests
check that. The arithmetic runs over whole batches in NumPy instead of one object per row.

Candidates come from LSH banding with datasketch's optimal ``(b, r)`` for the threshold
(``MinHashLSH(threshold, num_perm).b, .r``): rows whose ``r`` signature values agree in some band
share a bucket. Every candidate pair is then verified: its estimated Jaccard similarity (the share
of equal signature values) must reach the threshold, so LSH false positives never chain clusters.

What the defaults catch: a copy with a fraction ``e`` of its words changed keeps about
``(1-e)^n`` of its word n-grams, so its Jaccard similarity is about ``(1-e)^n / (2 - (1-e)^n)``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.dedup.base import DEDUPERS, Deduper, Links
from splitforge.normalize.affixes import affix_copies
from splitforge.normalize.shingles import buffer_batches, reading_lengths
from splitforge.parallel import map_batches, resolve_processes
from splitforge.progress import NO_PROGRESS, Advance, Progress
from splitforge.recipe import MinHashConfig
from splitforge.signatures import (
    band_keys,
    batch_signatures,
    lsh_params,
)
from splitforge.tables import take_rows

_PAIR_CHUNK = 1 << 16


def _band_pairs(sig: np.ndarray, band: int, rows: int) -> list[np.ndarray]:
    """Pairs (2 x m) of rows that share a bucket in one band.

    Each member is paired with its bucket's head and with its predecessor, which links every
    member while keeping the pair count linear in the bucket size.
    """
    n = len(sig)
    keys = band_keys(sig, band, rows)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
    if not len(same):
        return []
    start = np.ones(n, dtype=bool)
    start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    head = np.flatnonzero(start)[np.cumsum(start) - 1]
    return [np.stack((order[head[same]], order[same])), np.stack((order[same - 1], order[same]))]


def candidate_pairs(sig: np.ndarray, bands: int, rows: int, threads: int = 1
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) that share a bucket in at least one band, sorted and distinct.

    Bands are independent and NumPy's sorts release the GIL, so ``threads`` run bands side by
    side; the result does not depend on it.
    """
    n = len(sig)
    if threads > 1 and bands > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda band: _band_pairs(sig, band, rows), range(bands)))
    else:
        parts = [_band_pairs(sig, band, rows) for band in range(bands)]
    found = [pair for part in parts for pair in part]
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.concatenate(found, axis=1)
    low, high = np.minimum(pairs[0], pairs[1]), np.maximum(pairs[0], pairs[1])
    keep = low != high
    codes = np.unique(low[keep].astype(np.int64) * n + high[keep])
    return codes // n, codes % n


def estimated_jaccard(sig: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The share of equal signature values of each pair."""
    out = np.empty(len(left), dtype=np.float64)
    for lo in range(0, len(left), _PAIR_CHUNK):
        hi = lo + _PAIR_CHUNK
        out[lo:hi] = (sig[left[lo:hi]] == sig[right[lo:hi]]).mean(axis=1)
    return out


@DEDUPERS.register("minhash")
class MinHashDeduper(Deduper):
    """Links rows whose estimated Jaccard similarity of shingles reaches the threshold."""

    method = "minhash"
    reason = "near_duplicate"
    version: ClassVar[str] = "4"  # 4: short pairs only as affix copies (min_tokens)
    batch_rows: ClassVar[int] = 4096
    parallel_above: ClassVar[int] = 50_000

    def __init__(self, config: MinHashConfig) -> None:
        self.config = config

    def signatures(self, texts: pa.ChunkedArray | pa.Array, advance: Advance | None = None
                   ) -> np.ndarray:
        """MinHash signatures of normalized texts, in batches, over ``num_proc`` processes."""
        c = self.config
        settings = (c.num_perm, c.seed, c.ngram, c.char_ngram, c.unit)
        processes = resolve_processes(c.num_proc) if len(texts) >= self.parallel_above else 1
        batches = ((data, offsets, *settings)
                   for data, offsets in buffer_batches(texts, self.batch_rows))
        out = np.empty((len(texts), c.num_perm), dtype=np.uint32)
        row = 0
        for part in map_batches(batch_signatures, batches, processes):
            out[row:row + len(part)] = part
            row += len(part)
            if advance is not None:
                advance(len(part))
        return out

    def find_links(self, table: pa.Table, progress: Progress = NO_PROGRESS) -> Links:
        """Verified near-duplicate pairs with their estimated Jaccard similarity."""
        text = C.SIM if C.SIM in table.column_names else C.NORM  # boilerplate left out
        sig = self.signatures(table.column(text),
                              progress.task("minhash: signatures", table.num_rows))
        bands, rows = lsh_params(self.config.threshold, self.config.num_perm)
        left, right = candidate_pairs(sig, bands, rows, resolve_processes(self.config.num_proc))
        score = estimated_jaccard(sig, left, right)
        ok = score >= self.config.threshold
        left, right, score = left[ok], right[ok], score[ok]
        keep = self.short_pairs_ok(table.column(text), left, right)
        return Links(left=left[keep], right=right[keep], score=score[keep], method=self.method)

    def short_pairs_ok(self, texts: pa.ChunkedArray | pa.Array, left: np.ndarray,
                       right: np.ndarray) -> np.ndarray:
        """Per pair: False when its shorter text is short and the pair is no affix copy.

        Short means fewer than ``min_tokens`` tokens; an affix copy holds the same words but for
        a prefix or a trailing tag (``normalize/affixes.py``).
        """
        keep = np.ones(len(left), dtype=bool)
        if not len(left):
            return keep
        rows = np.unique(np.concatenate((left, right)))
        lengths = np.zeros(len(texts), dtype=np.int64)
        lengths[rows] = reading_lengths(take_rows(texts, rows))
        short = np.flatnonzero(np.minimum(lengths[left], lengths[right]) < self.config.min_tokens)
        if len(short):
            pairs = np.unique(np.concatenate((left[short], right[short])))
            norm = dict(zip(pairs.tolist(), take_rows(texts, pairs).to_pylist(), strict=True))
            keep[short] = affix_copies([norm[i] for i in left[short].tolist()],
                                       [norm[i] for i in right[short].tolist()])
        return keep
