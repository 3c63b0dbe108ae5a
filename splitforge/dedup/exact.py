"""Exact duplicates: rows whose normalized text (``sf_norm``) is identical.

Such rows are linked (placed together); ``deduplicate`` removes one as a copy only when its
``sf_identity`` (what the trainer reads beyond the text: tools, media, a system prompt) is equal.

Rows are grouped by the 64-bit hash of the normalized text; the hash is then confirmed by
comparing the normalized texts, so a hash collision cannot merge two different texts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.dedup.base import DEDUPERS, Deduper, Links
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.tables import take_rows


@DEDUPERS.register("exact")
class ExactDeduper(Deduper):
    """Links every row to the first row (in hash order) with the same normalized text."""

    method = "exact"
    reason = "exact_duplicate"
    version = "2"  # 2: a copy only when sf_identity (tools, media, system prompt) is equal too

    def find_links(self, table: pa.Table, progress: Progress = NO_PROGRESS) -> Links:
        """Pairs (row, representative) for rows sharing a normalized text."""
        hashes = table.column(C.HASH).to_numpy()
        order = np.argsort(hashes, kind="stable")
        sorted_hashes = hashes[order]
        same = sorted_hashes[1:] == sorted_hashes[:-1]
        candidates = np.flatnonzero(same)
        if len(candidates):
            # Confirm equal hashes with the texts themselves, for the candidate rows only.
            rows = np.unique(np.concatenate((order[candidates], order[candidates + 1])))
            norm = dict(zip(rows.tolist(), take_rows(table.column(C.NORM), rows).to_pylist(),
                            strict=True))
            texts_equal = [norm[a] == norm[b] for a, b in
                           zip(order[candidates].tolist(), order[candidates + 1].tolist(),
                               strict=True)]
            same[candidates[~np.array(texts_equal, dtype=bool)]] = False
        start = np.ones(len(order), dtype=bool)
        start[1:] = ~same
        head = order[start][np.cumsum(start) - 1]
        dup = ~start
        left = order[dup]
        right = head[dup]
        return Links(left=left, right=right, score=np.ones(len(left)), method=self.method)
