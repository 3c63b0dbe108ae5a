"""Cross-validation folds over train, with the guarantees of the split itself.

``split.folds: k`` gives every train row ``sf_fold`` in ``0..k-1``. The unit of assignment is the
split's own (a group when mapped, else a duplicate cluster; groups joined by a cluster are one),
so a group or a cluster of near copies never sits in two folds. A unit's fold comes from a seeded
hash of its key (``stable_uniform(key, seed, "folds")``): with ``random`` and ``group`` splits
``fold = floor(u * k)``, so adding rows never moves an existing row to another fold; with
``stratified`` the units of each label are ordered by ``(u, key)`` and cut into ``k`` runs of
equal size (each fold within one unit of its share of every label; adding a unit moves at most
``k - 1`` units of its label). Temporal splits have no folds (time order is the point of them).
The build then audits each fold against the others and joins the units of linked rows
(``merged_units``; ``pipeline._folds``), so a leak link never crosses two folds either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from splitforge.errors import LeakageError
from splitforge.seeding import stable_uniform
from splitforge.split.base import TRAIN, SplitFrame
from splitforge.split.stratified import stratum_order, stratum_ranks, unit_labels


def assign_folds(frame: SplitFrame, codes: np.ndarray, k: int, seed: int, stratified: bool
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """Per row of ``frame``, its fold (-1 for rows not in train), and the manifest's summary."""
    folds = np.full(len(frame), -1, dtype=np.int64)
    train = np.flatnonzero(codes == TRAIN)
    if not len(train):
        return folds, {"k": k, "rows": [0] * k}
    sub = frame.take(train)
    index, keys = pd.factorize(sub.units)
    u = stable_uniform(map(str, keys), seed, "folds")
    if stratified and sub.labels is not None:
        label_index, _ = pd.factorize(sub.labels, sort=True)
        label = unit_labels(index, label_index, len(keys))
        order = stratum_order(label, u, keys)
        rank, size = stratum_ranks(label[order])
        unit_fold = np.empty(len(keys), dtype=np.int64)
        unit_fold[order] = np.minimum(rank * k // np.maximum(size, 1), k - 1)
    else:
        unit_fold = np.minimum((u * k).astype(np.int64), k - 1)
    folds[train] = unit_fold[index]
    check_folds(sub, folds[train])
    rows = np.bincount(folds[train], minlength=k)
    return folds, {"k": k, "unit": "group" if frame.groups is not None else "cluster",
                   "rows": rows.tolist(), "units": np.bincount(unit_fold, minlength=k).tolist()}


def merged_units(frame: SplitFrame, rows: np.ndarray, links: list[tuple[int, int]]
                 ) -> SplitFrame:
    """The frame with units joined by leak links (``rows[i]`` is frame row ``i``'s table row).

    Joined units take the smallest key among them, so a fold assignment of the result keeps
    each linked pair in one fold.
    """
    from splitforge.dedup.clusters import UnionFind

    units = np.asarray(frame.units, dtype=object)
    index, keys = pd.factorize(units)
    position = {int(r): i for i, r in enumerate(rows.tolist())}
    pairs = [(position[a], position[b]) for a, b in links if a in position and b in position]
    if not pairs:
        return frame
    union = UnionFind(len(keys))
    left, right = zip(*pairs, strict=True)
    union.union(index[np.array(left)], index[np.array(right)])
    root = union.find_all()
    by_name = np.argsort(np.asarray(keys, dtype=str), kind="stable")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[by_name] = np.arange(len(keys))
    first = np.full(len(keys), len(keys), dtype=np.int64)
    np.minimum.at(first, root, rank)
    joined = np.asarray(keys, dtype=object)[by_name[first[root]]][index]
    return SplitFrame(frame.ids, joined, None, frame.labels, frame.times)


def check_folds(frame: SplitFrame, folds: np.ndarray) -> None:
    """Every cluster and group sits in one fold (the split's invariant, between folds)."""
    for name, keys in (("duplicate cluster", frame.clusters), ("group", frame.groups)):
        if keys is None:
            continue
        spread = pd.Series(folds).groupby(pd.Series(keys, dtype=object)).nunique()
        if (spread > 1).any():
            raise LeakageError(f"{int((spread > 1).sum())} {name}s sit in two folds; the fold "
                               f"assignment broke its guarantee")
