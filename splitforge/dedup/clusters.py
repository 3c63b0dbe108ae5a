"""Duplicate clusters and their survivors.

Every dedup method links rows; linked rows form clusters (union-find over the links, so the
clusters of several methods merge). Each cluster keeps one survivor: the member with the
**earliest time, then the smallest id** (rows without a time come after rows with one). Keeping the
earliest copy is a domain decision, not a detail: the split stage places a cluster where its
survivor falls, so under a temporal split a later copy can never sit in val or test while the
original trains. The cluster id is the survivor's id, so it is stable when unrelated rows are added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.tables import take_rows


class UnionFind:
    """Disjoint sets over row indices 0..n-1, merged by arrays of index pairs."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)

    def find_all(self) -> np.ndarray:
        """The root of every element (full path compression, vectorized)."""
        parent = self.parent
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent
            parent = grand
            self.parent = parent

    def union(self, left: np.ndarray, right: np.ndarray) -> None:
        """Merge the sets of each pair (left[i], right[i])."""
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        while len(left):
            roots = self.find_all()
            a, b = roots[left], roots[right]
            keep = a != b
            a, b = a[keep], b[keep]
            if not len(a):
                return
            low, high = np.minimum(a, b), np.maximum(a, b)
            # Several pairs may hook the same root in one pass; the ones that lost are retried.
            self.parent[high] = low
            left, right = low, high


@dataclass(frozen=True)
class Clusters:
    """A clustering of a table's rows.

    Attributes:
        label: per row, the index of its cluster's survivor row.
        is_survivor: per row, True for the one survivor of its cluster.
    """

    label: np.ndarray
    is_survivor: np.ndarray

    @property
    def n_removed(self) -> int:
        """Rows that are not survivors."""
        return int(len(self.label) - self.is_survivor.sum())


def survivors(table: pa.Table, cluster_of: np.ndarray, keep: str = "earliest") -> Clusters:
    """Pick each cluster's survivor and relabel every row by its survivor's row.

    Args:
        table: the rows, with ``sf_id`` and optionally ``sf_time``.
        cluster_of: per row, any integer naming its cluster (equal values = same cluster).
        keep: ``earliest`` (earliest time, then smallest id), ``longest`` (longest text, then
            smallest id) or ``first-seen`` (first in input order).
    """
    n = table.num_rows
    cluster_of = np.asarray(cluster_of, dtype=np.int64)
    label = np.arange(n, dtype=np.int64)
    is_survivor = np.ones(n, dtype=bool)
    _, index, sizes = np.unique(cluster_of, return_inverse=True, return_counts=True)
    rows = np.flatnonzero(sizes[index.ravel()] > 1)  # singletons survive as they are
    if not len(rows):
        return Clusters(label=label, is_survivor=is_survivor)
    members = pa.array(rows)
    keys = pa.table({"c": pa.array(cluster_of[rows], pa.int64())})
    sort_keys = [("c", "ascending")]
    if keep == "longest":
        keys = keys.append_column("len", pc.utf8_length(take_rows(table.column(C.TEXT), rows)))
        sort_keys.append(("len", "descending"))
    elif keep == "first-seen":
        keys = keys.append_column("pos", members)
        sort_keys.append(("pos", "ascending"))
    elif C.TIME in table.column_names:
        keys = keys.append_column("t", take_rows(table.column(C.TIME), rows))
        sort_keys.append(("t", "ascending"))
    keys = keys.append_column("i", take_rows(table.column(C.ID), rows))
    sort_keys.append(("i", "ascending"))
    order = rows[pc.sort_indices(keys, sort_keys=sort_keys).to_numpy()]  # nulls sort last
    sorted_clusters = cluster_of[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_clusters[1:] != sorted_clusters[:-1]
    run = np.cumsum(first) - 1
    label[order] = order[first][run]
    is_survivor[order] = first
    return Clusters(label=label, is_survivor=is_survivor)
