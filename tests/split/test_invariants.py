"""Every splitter against the shared guarantees (check_partition), plus ratio and order properties."""

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge.errors import InputError, LeakageError
from splitforge.recipe import SplitConfig
from splitforge.split import (
    DROPPED,
    SPLITTERS,
    TEST,
    TRAIN,
    VAL,
    Assignment,
    SplitFrame,
    check_partition,
    make_splitter,
)

DAY_US = 86_400 * 10**6
METHODS = SPLITTERS.names()


def frame(n=2000, groups=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.array([f"id{i:06d}" for i in range(n)], dtype=object)
    return SplitFrame(
        ids=ids,
        clusters=ids.copy(),
        groups=None if groups is None else np.array([f"g{i}" for i in rng.integers(0, groups, n)],
                                                    dtype=object),
        labels=np.array([["a", "b", "c", "rare"][i] for i in rng.choice(4, n, p=[.5, .3, .18, .02])],
                        dtype=object),
        times=(rng.integers(0, 3 * 365, n) * DAY_US + rng.integers(0, DAY_US, n)).astype(np.int64),
    )


def config(method, **kw):
    if method == "temporal":
        kw.setdefault("gap", "2d")
    return SplitConfig(method=method, **kw)


def gap_of(method, cfg):
    return cfg.gap_delta // timedelta(microseconds=1) if method == "temporal" else None


def take(f: SplitFrame, order):
    def pick(a):
        return None if a is None else a[order]

    return SplitFrame(f.ids[order], f.clusters[order], pick(f.groups), pick(f.labels),
                      pick(f.times))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("groups", [None, 150])
def test_guarantees_hold(method, groups):
    f = frame(groups=groups if method != "group" or groups else 150)
    cfg = config(method)
    a = make_splitter(cfg, 7).assign(f)
    check_partition(f, a, gap_of(method, cfg))
    assert set(np.unique(a.split)) <= {DROPPED, TRAIN, VAL, TEST}
    assert all((r is None) == (c != DROPPED) for r, c in zip(a.reasons, a.split, strict=True))
    assert sum(a.info["rows"].values()) + sum(a.info["dropped"].values()) == len(f)


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_split_and_row_order_does_not_matter(method):
    f = frame(groups=150 if method == "group" else None)
    cfg = config(method)
    a = make_splitter(cfg, 7).assign(f)
    order = np.random.default_rng(1).permutation(len(f))
    b = make_splitter(cfg, 7).assign(take(f, order))
    assert np.array_equal(a.split[order], b.split)
    assert np.array_equal(a.split, make_splitter(cfg, 7).assign(f).split)
    if method != "temporal":
        assert not np.array_equal(a.split, make_splitter(cfg, 8).assign(f).split)


@pytest.mark.parametrize("method", ["random", "stratified", "temporal"])
def test_ratios_within_two_points_on_10k_rows(method):
    f = frame(n=12_000)
    a = make_splitter(config(method, ratios={"train": .7, "val": .1, "test": .2}), 3).assign(f)
    kept = a.split[a.split != DROPPED]
    shares = np.bincount(kept, minlength=3) / len(kept)
    assert np.allclose(shares, [.7, .1, .2], atol=0.02), shares
    if method == "stratified":
        for label in ("a", "b", "c", "rare"):
            part = a.split[f.labels == label]
            assert np.allclose(np.bincount(part, minlength=3) / len(part), [.7, .1, .2],
                               atol=0.02 if label != "rare" else 0.05)


def test_group_ratios_with_many_small_groups():
    f = frame(n=12_000, groups=3000)
    a = make_splitter(config("group"), 3).assign(f)
    assert np.allclose(np.bincount(a.split, minlength=3) / len(f), [.8, .1, .1], atol=0.02)


@pytest.mark.parametrize("role", ["groups", "clusters"])
def test_checker_catches_a_unit_in_two_splits(role):
    f = frame(n=50, groups=5)
    a = make_splitter(config("group"), 1).assign(f)
    broken = a.split.copy()
    if role == "clusters":
        f = SplitFrame(f.ids, np.array(["c0", "c0"] + [f"c{i}" for i in range(2, 50)],
                                       dtype=object), None, f.labels, f.times)
        broken[:2] = [TRAIN, TEST]
    else:
        first_group = f.groups == f.groups[0]
        other = (broken[first_group][0] + 1) % 3
        broken[np.flatnonzero(first_group)[0]] = other
    with pytest.raises(LeakageError, match=role[:-1]):
        check_partition(f, Assignment.from_codes(broken), None)


def test_checker_catches_time_order_and_missing_reasons():
    f = frame(n=50)
    codes = np.where(f.times < np.median(f.times), TRAIN, TEST).astype(np.int8)
    check_partition(f, Assignment.from_codes(codes), 0)
    codes[np.argmax(f.times)] = TRAIN  # the newest row trains
    with pytest.raises(LeakageError, match="test is not later than train"):
        check_partition(f, Assignment.from_codes(codes), 0)
    dropped = Assignment.from_codes(np.full(50, DROPPED))
    with pytest.raises(LeakageError, match="reason"):
        check_partition(f, dropped, None)


@st.composite
def small_frames(draw):
    n = draw(st.integers(5, 60))
    ids = np.array([f"r{i}" for i in range(n)], dtype=object)
    groups = draw(st.lists(st.sampled_from("ABCDEFG"), min_size=n, max_size=n))
    labels = draw(st.lists(st.sampled_from("xyz"), min_size=n, max_size=n))
    days = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
    return SplitFrame(ids, ids.copy(), np.array(groups, dtype=object),
                      np.array(labels, dtype=object), np.array(days, dtype=np.int64) * DAY_US)


@settings(max_examples=60, deadline=None)
@given(small_frames(), st.sampled_from(METHODS), st.integers(0, 3))
def test_property_every_method_keeps_its_guarantees(f, method, seed):
    cfg = config(method)
    try:
        a = make_splitter(cfg, seed).assign(f)
    except InputError:
        assert method == "temporal"  # too few distinct times for the cutoffs is a clear error
        return
    check_partition(f, a, gap_of(method, cfg))
    kept = a.split != DROPPED
    for g in np.unique(f.groups[kept]):
        assert len(set(a.split[kept & (f.groups == g)])) == 1
