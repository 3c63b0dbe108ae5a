"""Exact duplicates: rows whose normalized text (``sf_norm``) is identical.

Rows are grouped by the 64-bit hash of the normalized text; the hash is then confirmed by
comparing the normalized texts, so a hash collision cannot merge two different texts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.dedup.base import DEDUPERS, Deduper, Links


@DEDUPERS.register("exact")
class ExactDeduper(Deduper):
    """Links every row to the first row (in hash order) with the same normalized text."""

    method = "exact"
    reason = "exact_duplicate"

    def find_links(self, table: pa.Table) -> Links:
        """Pairs (row, representative) for rows sharing a normalized text."""
        keys = pa.table({"h": table.column(C.HASH), "n": table.column(C.NORM)})
        order = pc.sort_indices(keys, sort_keys=[("h", "ascending"), ("n", "ascending")])
        order = order.to_numpy()
        hashes = table.column(C.HASH).to_numpy()[order]
        norm = np.asarray(table.column(C.NORM).take(order).to_numpy(zero_copy_only=False))
        same = (hashes[1:] == hashes[:-1]) & (norm[1:] == norm[:-1])
        start = np.ones(len(order), dtype=bool)
        start[1:] = ~same
        head = order[start][np.cumsum(start) - 1]
        dup = ~start
        left = order[dup]
        right = head[dup]
        return Links(left=left, right=right, score=np.ones(len(left)), method=self.method)
