"""Duplicate clusters, their survivors, and which members are removed.

Every dedup method links rows; linked rows form clusters (union-find over the links, so the
clusters of several methods merge). A cluster decides **placement** only: all its kept rows go to
one split. Its survivor is the member with the **earliest time, then the smallest id** (rows without
a time come after rows with one); the cluster id is the survivor's id, so it is stable when
unrelated rows are added. Keeping the earliest copy is a domain decision, not a detail: under a
temporal split a later copy can never sit in val or test while the original trains.

**Removal** is decided per row, not per cluster (``direct_pair_removal``): a row is removed only
when it is itself a verified copy of a row that is kept, a direct pair and never a chain. Near
duplicate links are not transitive: A~B and B~C does not make C a copy of A, so in a chain of
distinct rows that each resemble the next, every other row is kept.
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
        preference: per row, its position in the keep order (smaller = kept first); comparable
            only within a cluster, -1 for a row alone in its cluster.
    """

    label: np.ndarray
    is_survivor: np.ndarray
    preference: np.ndarray | None = None

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
    preference = np.full(n, -1, dtype=np.int64)
    if not len(rows):
        return Clusters(label=label, is_survivor=is_survivor, preference=preference)
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
    preference[order] = np.arange(len(order))
    return Clusters(label=label, is_survivor=is_survivor, preference=preference)


@dataclass(frozen=True)
class Removal:
    """Which rows dedup removes, and for each removed row the kept row it copies.

    Attributes:
        keep: per row, True when the row stays.
        kept_for: per removed row, the index of the kept row it is a direct copy of; -1 if kept.
        via: per removed row, the index (into the methods) of the link that removed it; -1 if kept.
        score: per removed row, that link's score; NaN if kept.
    """

    keep: np.ndarray
    kept_for: np.ndarray
    via: np.ndarray
    score: np.ndarray


def direct_pair_removal(preference: np.ndarray, same_text: np.ndarray, left: np.ndarray,
                        right: np.ndarray, score: np.ndarray, via: np.ndarray,
                        exact_via: int = -1, forced_out: np.ndarray | None = None) -> Removal:
    """Remove only rows that are verified copies of a kept row (greedy, in keep order).

    Rows of one exact group (``same_text``: per row the index of a row with the identical
    normalized text, itself if none) are one text: the group's most preferred row stands for it
    and the others are removed as its copies, or as copies of whatever it is removed for. The
    near-duplicate links between texts are then taken in keep order: a text is removed when it is
    linked to a text already kept (to the one its best link reaches: lowest method index, then
    highest score, then most preferred), and kept otherwise. The kept rows are never linked to
    each other, and every removed row points to a kept row it is linked to directly.

    Args:
        preference: per row, its keep-order position (see ``Clusters.preference``).
        same_text: per row, a row with the identical normalized text (union-find root).
        left: one end of each verified near-duplicate link (row indices).
        right: the other end.
        score: each link's score.
        via: the index of the method that found each link.
        exact_via: the method index recorded for a row removed as an exact copy.
        forced_out: rows that go whatever the links say (control items and their direct
            copies): never kept, so they remove no other row; their ``kept_for`` stays -1.
    """
    n = len(preference)
    # The most preferred row of each exact group stands for the group.
    rep = np.arange(n, dtype=np.int64)
    grouped = np.flatnonzero(same_text != np.arange(n))
    if len(grouped):
        members = np.concatenate((grouped, np.unique(same_text[grouped])))
        order = members[np.lexsort((preference[members], same_text[members]))]
        roots = same_text[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = roots[1:] != roots[:-1]
        rep[order] = order[first][np.cumsum(first) - 1]
    a, b = rep[np.asarray(left, np.int64)], rep[np.asarray(right, np.int64)]
    swap = preference[a] > preference[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)  # a is preferred to b
    real = a != b
    a, b, score, via = a[real], b[real], np.asarray(score)[real], np.asarray(via)[real]
    keep_list = [True] * n
    if forced_out is not None:
        for row in np.flatnonzero(forced_out).tolist():
            keep_list[row] = False
    kept_for = np.full(n, -1, dtype=np.int64)
    by = np.full(n, -1, dtype=np.int64)
    best = np.full(n, np.nan)
    if len(a):
        order = np.lexsort((preference[a], -score, via, preference[b]))
        a_l, b_l = a[order].tolist(), b[order].tolist()
        via_l, score_l = via[order].tolist(), score[order].tolist()
        decided = -1
        for i, (u, v) in enumerate(zip(a_l, b_l, strict=True)):
            if v == decided or not keep_list[u]:
                continue  # v already removed by a better link, or u is not kept
            if keep_list[v]:  # the first kept partner in link order removes v
                keep_list[v] = False
                kept_for[v], by[v], best[v] = u, via_l[i], score_l[i]
                decided = v
    keep = np.array(keep_list, dtype=bool)
    # Exact copies follow their representative: removed for it, or for what removed it.
    copies = np.flatnonzero(rep != np.arange(n))
    if forced_out is not None:
        copies = copies[~forced_out[copies]]
    if len(copies):
        head = rep[copies]
        kept_head = keep[head]
        keep[copies] = False
        kept_for[copies] = np.where(kept_head, head, kept_for[head])
        by[copies] = np.where(kept_head, exact_via, by[head])
        best[copies] = np.where(kept_head, 1.0, best[head])
    return Removal(keep=keep, kept_for=kept_for, via=by, score=best)


def control_copies(root: np.ndarray, left: np.ndarray, right: np.ndarray,
                   is_control: np.ndarray, ids: np.ndarray) -> dict[int, str]:
    """Exact-group roots that are direct copies of a control item, with its id (the smallest).

    A group copies a control item when it holds the item's normalized text or is linked to it
    directly by a near-duplicate link; a chain through another row does not count.
    """
    import pandas as pd

    items = pd.DataFrame({"root": root[is_control], "item": np.asarray(ids)[is_control]})
    of_root = items.groupby("root")["item"].min()  # a control group: its smallest control id
    a, b = root[np.asarray(left, np.int64)], root[np.asarray(right, np.int64)]
    mine = np.concatenate((a, b))
    other = np.concatenate((b, a))
    linked = np.isin(other, of_root.index.to_numpy()) & ~np.isin(mine, of_root.index.to_numpy())
    near = pd.DataFrame({"root": mine[linked], "item": of_root.reindex(other[linked]).to_numpy()})
    of_root = pd.concat([of_root, near.groupby("root")["item"].min()])
    return {int(k): str(v) for k, v in of_root.items()}
