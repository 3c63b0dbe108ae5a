"""Stratified split: exact counts per label, the label of a group, ties, and the stability bound."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge.recipe import SplitConfig
from splitforge.split import (
    DROPPED,
    TEST,
    TRAIN,
    VAL,
    SplitFrame,
    StratifiedSplitter,
    make_splitter,
)
from splitforge.split.stratified import unit_labels
from tests.split.conftest import assert_valid, concat, objects

RATIO_CHOICES = [(.8, .1, .1), (.7, .1, .2), (.5, .25, .25), (.34, .33, .33), (.9, 0, .1),
                 (.6, .4, 0), (.05, .05, .9)]


def config(train=.7, val=.1, test=.2):
    return SplitConfig(method="stratified", ratios={"train": train, "val": val, "test": test})


def labelled(labels, prefix="r", groups=None):
    ids = objects(f"{prefix}{i:05d}" for i in range(len(labels)))
    return SplitFrame(ids, ids.copy(), None if groups is None else objects(groups),
                      objects(labels))


def half_up(x):
    return int(np.floor(x + 0.5))


@pytest.mark.parametrize("ratios", RATIO_CHOICES)
def test_each_label_gets_exact_rounded_counts(ratios):
    sizes = {"one": 1, "two": 2, "seven": 7, "fifteen": 15, "many": 333, "more": 1000}
    frame = labelled([label for label, n in sizes.items() for _ in range(n)])
    cfg = config(*ratios)
    a = make_splitter(cfg, 5).assign(frame)
    assert_valid(frame, cfg, a)
    _, val, test = ratios
    for label, n in sizes.items():
        counts = np.bincount(a.split[frame.labels == label], minlength=3)
        assert counts[TEST] == half_up(n * test), (label, counts)
        assert counts[TEST] + counts[VAL] == half_up(n * (test + val)), (label, counts)
        assert counts.sum() == n


def test_units_are_counted_not_rows_when_groups_are_given():
    groups = [f"g{i // 3}" for i in range(300)]  # 100 groups of 3 rows, all labelled "x"
    frame = labelled(["x"] * 300, groups=groups)
    a = make_splitter(config(), 1).assign(frame)
    per_group = a.split.reshape(100, 3)
    assert (per_group == per_group[:, :1]).all()
    assert np.bincount(per_group[:, 0], minlength=3).tolist() == [70, 10, 20]


def test_unit_label_is_the_most_common_then_the_smallest():
    # labels index 0 < 1 < 2; units: 0 -> [1, 1, 0], 1 -> [0, 2], 2 -> [2], 3 -> [2, 0, 2, 0]
    units = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    labels = np.array([1, 1, 0, 0, 2, 2, 2, 0, 2, 0])
    assert unit_labels(units, labels, 4).tolist() == [1, 0, 2, 0]


def test_a_group_is_stratified_under_its_majority_label():
    rng = np.random.default_rng(0)
    n_groups = 600
    group_of = np.repeat(np.arange(n_groups), 3)
    majority = rng.choice(["p", "q", "s"], n_groups)
    labels = majority[group_of].astype(object)
    labels[::3] = rng.choice(["p", "q", "s"], n_groups)  # one row in three may disagree
    groups = [f"g{g}" for g in group_of]
    mixed = labelled(labels, groups=groups)
    pure = labelled(majority[group_of], groups=groups)
    minority = labelled(np.where(labels == majority[group_of], "zz", labels), groups=groups)
    split = {name: make_splitter(config(), 2).assign(f).split
             for name, f in (("mixed", mixed), ("pure", pure), ("minority", minority))}
    assert np.array_equal(split["mixed"], split["pure"])
    assert not np.array_equal(split["mixed"], split["minority"])


class _AllTied(StratifiedSplitter):
    """Every unit gets the same number, so only the key order is left to decide."""

    def unit_uniform(self, keys):
        return np.zeros(len(keys))


def test_equal_numbers_are_ordered_by_key():
    keys = [f"k{i}" for i in (3, 9, 0, 7, 1, 8, 2, 6, 4, 5)]
    frame = labelled(["x"] * 10)
    frame = SplitFrame(frame.ids, objects(keys), None, frame.labels)
    a = _AllTied(config(.6, .2, .2), 0).assign(frame)
    split_of = dict(zip(keys, a.split.tolist(), strict=True))
    assert [split_of[f"k{i}"] for i in range(10)] == [TEST] * 2 + [VAL] * 2 + [TRAIN] * 6


def moved(before: SplitFrame, a, after: SplitFrame, b):
    """Old units whose split changed, as (old code, new code) pairs."""
    old = dict(zip(before.ids.tolist(), a.split.tolist(), strict=True))
    new = dict(zip(after.ids.tolist(), b.split.tolist(), strict=True))
    return [(old[i], new[i]) for i in old if old[i] != new[i]]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 120), st.integers(0, 1000), st.sampled_from(RATIO_CHOICES),
       st.integers(0, 3))
def test_adding_one_unit_moves_at_most_one_unit_across_each_boundary(n, new_key, ratios, seed):
    others = labelled(["other"] * 20, prefix="o")
    before = concat(labelled(["x"] * n), others)
    after = concat(before, labelled(["x"], prefix=f"new{new_key}-"))
    a = make_splitter(config(*ratios), seed).assign(before)
    b = make_splitter(config(*ratios), seed).assign(after)
    changes = moved(before, a, after, b)
    assert len(changes) <= 2
    across_test = [c for c in changes if (c[0] == TEST) != (c[1] == TEST)]
    across_train = [c for c in changes if (c[0] == TRAIN) != (c[1] == TRAIN)]
    assert len(across_test) <= 1 and len(across_train) <= 1
    assert np.array_equal(a.split[n:], b.split[n:n + 20])  # the other label is untouched
    assert DROPPED not in b.split
