"""Stratified split: every label gets the ratios to within one unit.

A unit (group if mapped, else duplicate cluster) takes its most common label (ties: the smallest
label). Within each label the ``n`` units are ordered by ``(u, key)``, where
``u = stable_uniform(key, seed, "split")``, and cut with cumulative rounding::

    rank:  0 ........ n_test ........ n_test_val ........ n
           |   test    |      val      |       train       |
    n_test     = round(n * r.test)
    n_test_val = round(n * (r.test + r.val))

Cumulative rounding (rather than rounding each share on its own) moves each boundary by at most one
rank when a unit is added, which bounds how many existing units can change split (see
``StratifiedSplitter``). ``round`` is half-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from splitforge import columns as C
from splitforge.split.base import (
    SPLIT_NAMES,
    SPLITTERS,
    TEST,
    TRAIN,
    VAL,
    Assignment,
    SplitFrame,
    Splitter,
)


def unit_labels(unit_index: np.ndarray, label_index: np.ndarray, n_units: int) -> np.ndarray:
    """Each unit's most common label; ties go to the smallest label index.

    Args:
        unit_index: Each row's unit, in ``range(n_units)``.
        label_index: Each row's label, as an index into the sorted distinct labels.
        n_units: How many units there are.

    Returns:
        An int64 array holding each unit's label index.
    """
    width = int(label_index.max()) + 1 if len(label_index) else 1
    pairs, counts = np.unique(unit_index.astype(np.int64) * width + label_index,
                              return_counts=True)
    unit_of, label_of = pairs // width, pairs % width
    # Per unit: highest count first, then smallest label; keep the first pair of each unit.
    order = np.lexsort((label_of, -counts, unit_of))
    first = np.ones(len(order), dtype=bool)
    first[1:] = unit_of[order][1:] != unit_of[order][:-1]
    result = np.empty(n_units, dtype=np.int64)
    result[unit_of[order][first]] = label_of[order][first]
    return result


def stratum_order(label: np.ndarray, u: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Unit indices sorted by (label, u, key): a total order that ignores input positions."""
    order = np.lexsort((u, label))
    same = (label[order][1:] == label[order][:-1]) & (u[order][1:] == u[order][:-1])
    if same.any():
        # Equal numbers within a label (a 64-bit hash collision) are ordered by key; this is
        # rare enough that sorting the keys in full only then costs nothing in practice.
        key_rank = np.argsort(np.asarray(keys).astype(str), kind="stable")
        rank = np.empty(len(keys), dtype=np.int64)
        rank[key_rank] = np.arange(len(keys))
        order = np.lexsort((rank, u, label))
    return order


def stratum_ranks(sorted_label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For units sorted by label: each one's rank within its label and its label's size."""
    start = np.ones(len(sorted_label), dtype=bool)
    start[1:] = sorted_label[1:] != sorted_label[:-1]
    starts = np.flatnonzero(start)
    stratum = np.cumsum(start) - 1
    rank = np.arange(len(sorted_label)) - starts[stratum]
    size = np.diff(np.append(starts, len(sorted_label)))[stratum]
    return rank, size


def per_label(labels: np.ndarray, codes: np.ndarray) -> dict[str, Any] | None:
    """Multi-label rows (``a|b``, see ``load.sources.label_column``): rows per label and split.

    Each combination of labels is a stratum, so each single label meets the ratios too, to
    within a unit per combination it is in; the manifest shows it (``labels``).
    """
    values = [str(v) for v in labels]
    if not any(C.LABEL_JOIN in v for v in values):
        return None
    counts: dict[str, list[int]] = {}
    for value, code in zip(values, codes.tolist(), strict=True):
        for label in value.split(C.LABEL_JOIN):
            counts.setdefault(label, [0, 0, 0])[code] += 1
    return {"labels": {k: dict(zip(SPLIT_NAMES, v, strict=True))
                       for k, v in sorted(counts.items())}}


@SPLITTERS.register("stratified")
class StratifiedSplitter(Splitter):
    """Per label, units ordered by their seeded hash and cut at the ratios.

    The seed decides the order of the units within each label; the ratios (default 0.8/0.1/0.1)
    decide where the order is cut: the first ``round(n * test)`` units of a label go to test, up
    to ``round(n * (test + val))`` to val, the rest to train.

    Guarantees:
        A group (when mapped) and a duplicate cluster sit in one split; a group counts under its
        most common label (ties: the smallest label). In every label of ``n`` units, test holds
        ``round(n * test)`` units and test plus val ``round(n * (test + val))``, so each split is
        within one unit of its share (so a label with a single unit goes to train unless
        ``test + val >= 0.5``). The input row order changes nothing.

        Stability: adding one unit to a label moves at most two existing units of that label
        (at most one across each boundary), so adding ``k`` units moves at most ``2k``; labels
        that gain no unit do not change at all. New rows that join an existing group can change
        that group's label, which counts as removing and adding a unit. For splits that never
        move, use ``random`` or ``group``.

    Raises:
        InputError: From ``assign``, when the frame has no labels (map ``fields.label``).

    Example:
        >>> import numpy as np
        >>> from splitforge.recipe import SplitConfig
        >>> ids = np.array([f"r{i}" for i in range(15)], dtype=object)
        >>> labels = np.array(["x"] * 5 + ["y"] * 10, dtype=object)
        >>> config = SplitConfig(method="stratified",
        ...                      ratios={"train": 0.6, "val": 0.2, "test": 0.2})
        >>> codes = StratifiedSplitter(config, seed=0).assign(
        ...     SplitFrame(ids, ids.copy(), labels=labels)).split
        >>> [np.bincount(codes[labels == y], minlength=3).tolist() for y in ("x", "y")]
        [[3, 1, 1], [6, 2, 2]]
    """

    method = "stratified"
    version = "2"  # 2: cumulative rounding of the cut points
    needs = ("labels",)

    def _assign(self, frame: SplitFrame) -> Assignment:
        index, keys = self.units(frame)
        label_index, _ = pd.factorize(frame.labels, sort=True)
        label = unit_labels(index, label_index, len(keys))
        order = stratum_order(label, self.unit_uniform(keys), keys)
        rank, size = stratum_ranks(label[order])
        r = self.ratios
        n_test = np.floor(size * r.test + 0.5)
        n_test_val = np.floor(size * (r.test + r.val) + 0.5)
        unit_codes = np.empty(len(keys), dtype=np.int8)
        unit_codes[order] = np.where(rank < n_test, TEST,
                                     np.where(rank < n_test_val, VAL, TRAIN))
        codes = unit_codes[index]
        return Assignment.from_codes(codes, per_label(frame.labels, codes))
