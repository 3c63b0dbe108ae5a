"""Stratified split: each label meets the ratios to within one unit.

Within a label, units (groups, else rows) are ordered by their seeded hash; the first
``round(n * test)`` go to test, the next ``round(n * val)`` to val, the rest to train.
"""

from __future__ import annotations

import numpy as np

from splitforge.split.base import (
    SPLITTERS,
    TEST,
    TRAIN,
    VAL,
    Assignment,
    SplitFrame,
    Splitter,
)


def unit_labels(unit_index: np.ndarray, labels: np.ndarray, n_units: int) -> np.ndarray:
    """Each unit's most common label (ties: the smallest label), as an index into sorted labels."""
    label_keys, label_index = np.unique(labels.astype(str), return_inverse=True)
    width = len(label_keys)
    pairs, counts = np.unique(unit_index * width + label_index.ravel(), return_counts=True)
    unit_of, label_of = pairs // width, pairs % width
    order = np.lexsort((label_of, -counts, unit_of))
    first = np.ones(len(order), dtype=bool)
    first[1:] = unit_of[order][1:] != unit_of[order][:-1]
    result = np.empty(n_units, dtype=np.int64)
    result[unit_of[order][first]] = label_of[order][first]
    return result


@SPLITTERS.register("stratified")
class StratifiedSplitter(Splitter):
    """Per label, a seeded-hash order of units cut at the ratios.

    Guarantees:
        A group (when mapped) and a duplicate cluster are in one split; a group's label is its most
        common label. Every label's split sizes are ``round(n * test)`` and ``round(n * val)``
        units. The order depends only on the seed and the unit keys, so the input row order changes
        nothing; adding units to a label moves at most two existing units of that label across a
        split boundary per added unit, and never moves units of other labels.
    """

    method = "stratified"
    needs = ("labels",)

    def _assign(self, frame: SplitFrame) -> Assignment:
        keys, inverse, u = self.unit_uniform(frame.units)
        label = unit_labels(inverse, frame.labels, len(keys))
        order = np.lexsort((np.arange(len(keys)), u, label))
        sorted_label = label[order]
        start = np.ones(len(order), dtype=bool)
        start[1:] = sorted_label[1:] != sorted_label[:-1]
        stratum = np.cumsum(start) - 1
        stratum_start = np.flatnonzero(start)
        rank = np.arange(len(order)) - stratum_start[stratum]
        size = np.diff(np.append(stratum_start, len(order)))[stratum]
        n_test = np.floor(size * self.ratios.test + 0.5)
        n_val = np.floor(size * self.ratios.val + 0.5)
        sorted_codes = np.where(rank < n_test, TEST, np.where(rank < n_test + n_val, VAL, TRAIN))
        unit_codes = np.empty(len(keys), dtype=np.int8)
        unit_codes[order] = sorted_codes
        return Assignment.from_codes(unit_codes[inverse])
