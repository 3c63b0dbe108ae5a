"""Every registered splitter against the shared guarantees, plus ratios and determinism."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge.errors import InputError, LeakageError
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
from tests.split.conftest import (
    DAY,
    LABELS,
    T0,
    assert_valid,
    by_id,
    config_for,
    make_frame,
    objects,
)

METHODS = SPLITTERS.names()
SEEDED = [m for m in METHODS if m != "temporal"]
FRAMES = {False: make_frame(3000), True: make_frame(3000, groups=400)}
REASONS = {"random": set(), "group": set(), "stratified": set(),
           "temporal": {"temporal_gap", "group_straddles_cutoff", "cluster_straddles_cutoff"}}


def runnable(method, grouped):
    return grouped or method != "group"


CASES = [(m, g) for m in METHODS for g in (False, True) if runnable(m, g)]


def test_registry_holds_the_four_methods_under_their_own_names():
    assert METHODS == ["group", "random", "stratified", "temporal"]
    for name in METHODS:
        assert SPLITTERS.get(name).method == name


@pytest.mark.parametrize(("method", "grouped"), CASES)
def test_guarantees_hold_and_every_split_gets_rows(method, grouped):
    frame, config = FRAMES[grouped], config_for(method)
    a = make_splitter(config, 7).assign(frame)
    assert_valid(frame, config, a)
    assert set(a.split.tolist()) - {DROPPED} == {TRAIN, VAL, TEST}
    assert {r for r in a.reasons.tolist() if r} <= REASONS[method]
    assert a.info["method"] == method and a.info["unit"] == ("group" if grouped else "cluster")
    assert a.info["version"] == SPLITTERS.get(method).version
    json.dumps(a.info)  # JSON-safe for the manifest


@pytest.mark.parametrize(("method", "grouped"), CASES)
def test_same_seed_same_split_and_row_order_does_not_matter(method, grouped):
    frame, config = FRAMES[grouped], config_for(method)
    a = make_splitter(config, 7).assign(frame)
    again = make_splitter(config, 7).assign(frame)
    assert np.array_equal(a.split, again.split) and a.info == again.info
    order = np.random.default_rng(1).permutation(len(frame))
    shuffled = frame.take(order)
    b = make_splitter(config, 7).assign(shuffled)
    assert by_id(shuffled, b.split) == by_id(frame, a.split)
    assert by_id(shuffled, b.reasons) == by_id(frame, a.reasons)


@pytest.mark.parametrize(("method", "grouped"), [c for c in CASES if c[0] in SEEDED])
def test_a_different_seed_gives_a_different_split(method, grouped):
    frame, config = FRAMES[grouped], config_for(method)
    a, b = (make_splitter(config, seed).assign(frame) for seed in (7, 8))
    assert (a.split != b.split).mean() > 0.1


@pytest.mark.parametrize("grouped", [False, True])
def test_temporal_ignores_the_seed(grouped):
    frame, config = FRAMES[grouped], config_for("temporal")
    a, b = (make_splitter(config, seed).assign(frame) for seed in (7, 8))
    assert np.array_equal(a.split, b.split)


def test_random_with_groups_equals_group():
    frame = FRAMES[True]
    a = make_splitter(config_for("random"), 3).assign(frame)
    b = make_splitter(config_for("group"), 3).assign(frame)
    assert np.array_equal(a.split, b.split)


# -- ratios on 10,000+ rows -----------------------------------------------------------------

RATIOS = {"train": .7, "val": .1, "test": .2}


def shares(codes):
    kept = codes[codes != DROPPED]
    return np.bincount(kept, minlength=3) / len(kept)


@pytest.mark.parametrize("method", ["random", "stratified"])
def test_ratios_within_two_points(method):
    frame = make_frame(12_000, seed=3)
    a = make_splitter(config_for(method, ratios=RATIOS), 3).assign(frame)
    assert np.allclose(shares(a.split), [.7, .1, .2], atol=0.02), shares(a.split)
    if method == "stratified":
        for label in LABELS:
            part = a.split[frame.labels == label]
            assert len(part) >= 200
            assert np.allclose(shares(part), [.7, .1, .2], atol=0.02), (label, shares(part))


def test_group_ratios_with_many_small_groups():
    frame = make_frame(20_000, groups=5000, seed=4)
    a = make_splitter(config_for("group", ratios=RATIOS), 3).assign(frame)
    assert np.allclose(shares(a.split), [.7, .1, .2], atol=0.02), shares(a.split)


def test_temporal_ratios_give_the_counts_per_split():
    frame = make_frame(12_000, seed=5)
    a = make_splitter(config_for("temporal", ratios=RATIOS, gap="1d"), 0).assign(frame)
    counts = np.bincount(a.split[a.split != DROPPED], minlength=3)
    assert np.allclose(counts / len(frame), [.7, .1, .2], atol=0.02), counts
    assert a.info["rows"] == dict(zip(("train", "val", "test"), counts.tolist(), strict=True))


# -- inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "role"), [("group", "groups"), ("stratified", "labels"),
                                              ("temporal", "times")])
def test_a_method_refuses_a_frame_without_its_column(method, role):
    frame = FRAMES[True]
    lacking = SplitFrame(**{**frame.__dict__, role: None})
    with pytest.raises(InputError, match=f"needs the {role[:-1]}.*fields.{role[:-1]}"):
        make_splitter(config_for(method), 0).assign(lacking)


@pytest.mark.parametrize("method", METHODS)
def test_missing_keys_and_ragged_columns_are_input_errors(method):
    frame = FRAMES[True]
    groups = frame.groups.copy()
    groups[[3, 9]] = None
    with pytest.raises(InputError, match=r"2 of 3000 rows have no group \(ids r000003, r000009\)"):
        make_splitter(config_for(method), 0).assign(SplitFrame(**{**frame.__dict__,
                                                                   "groups": groups}))
    with pytest.raises(InputError, match="labels hold"):
        make_splitter(config_for(method), 0).assign(SplitFrame(**{**frame.__dict__,
                                                                   "labels": frame.labels[:-1]}))


@pytest.mark.parametrize("method", METHODS)
def test_groups_joined_by_a_cluster_are_placed_as_one(method):
    # A chained cluster whose kept rows sit in two groups joins those groups.
    frame = make_frame(3000, groups=300)
    clusters = frame.clusters.copy()
    g = frame.groups
    a, b = sorted(set(g))[:2]
    clusters[np.flatnonzero(g == a)[0]] = clusters[np.flatnonzero(g == b)[0]] = "joined"
    joined = SplitFrame(**{**frame.__dict__, "clusters": clusters})
    assert set(joined.units[(g == a) | (g == b)]) == {a}
    result = make_splitter(config_for(method), 0).assign(joined)
    kept = result.split != DROPPED
    assert len(set(result.split[((g == a) | (g == b)) & kept])) <= 1
    assert_valid(joined, config_for(method), result)


def test_temporal_refuses_float_times():
    frame = make_frame(10)
    times = frame.times.astype(float)
    times[4] = np.nan
    with pytest.raises(InputError, match="1 of 10 rows have no time"):
        make_splitter(config_for("temporal"), 0).assign(SplitFrame(**{**frame.__dict__,
                                                                      "times": times}))


def test_an_empty_frame_splits_into_nothing():
    empty = SplitFrame(objects([]), objects([]), objects([]), objects([]),
                       np.array([], dtype=np.int64))
    for method in METHODS:
        a = make_splitter(config_for(method), 0).assign(empty)
        assert len(a.split) == 0 and a.info["rows"] == {"train": 0, "val": 0, "test": 0}


# -- the checker on malformed assignments ---------------------------------------------------


def test_check_partition_refuses_malformed_assignments():
    frame = make_frame(6)
    none = np.full(6, None, dtype=object)
    good = np.array([0, 0, 1, 2, 0, 0], dtype=np.int8)
    check_partition(frame, Assignment(good, none.copy()), None)
    cases = [
        (Assignment(good[:5], none[:5]), "codes and"),
        (Assignment(good.astype(float), none.copy()), "integers"),
        (Assignment(np.array([0, 0, 1, 3, 0, 0]), none.copy()), r"got \[3\]"),
        (Assignment(np.array([0, 0, 1, -1, 0, 0]), none.copy()),
         r"1 dropped rows have no reason \(ids r000003\)"),
    ]
    reasoned = none.copy()
    reasoned[1] = "temporal_gap"
    cases.append((Assignment(good, reasoned), r"1 assigned rows carry a drop reason \(ids r000001"))
    empty_reason = none.copy()
    empty_reason[3] = ""
    cases.append((Assignment(np.array([0, 0, 1, -1, 0, 0]), empty_reason), "non-empty strings"))
    for broken, message in cases:
        with pytest.raises(LeakageError, match=message):
            check_partition(frame, broken, None)


# -- a property over small random tables, for every method ----------------------------------


@st.composite
def small_frames(draw):
    n = draw(st.integers(0, 40))
    ids = objects(f"r{i}" for i in range(n))
    grouped = draw(st.booleans())
    groups = draw(st.lists(st.sampled_from("ABCDEFGH"), min_size=n, max_size=n))
    # without groups, duplicate clusters may repeat (the cluster is then the unit)
    clusters = ids.copy() if grouped else objects(
        draw(st.lists(st.sampled_from([f"c{i}" for i in range(30)]), min_size=n, max_size=n)))
    labels = draw(st.lists(st.sampled_from("xyz"), min_size=n, max_size=n))
    hours = draw(st.lists(st.integers(0, 24 * 60), min_size=n, max_size=n))
    times = T0 + np.array(hours, dtype=np.int64) * (DAY // 24)
    return SplitFrame(ids, clusters, objects(groups) if grouped else None, objects(labels), times)


@settings(max_examples=150, deadline=None)
@given(small_frames(), st.sampled_from(METHODS), st.integers(0, 3),
       st.sampled_from([None, "1d", "3d"]))
def test_property_every_method_keeps_its_guarantees(frame, method, seed, gap):
    config = config_for(method, gap=gap) if method == "temporal" else config_for(method)
    try:
        a = make_splitter(config, seed).assign(frame)
    except InputError as exc:
        if method == "group":
            assert frame.groups is None and "needs the group" in str(exc)
        else:
            assert method == "temporal" and "cannot place temporal cutoffs" in str(exc)
            distinct = len(set(frame.times.tolist()))
            assert gap is not None or distinct < len(frame) or len(frame) < 5, str(exc)
        return
    assert method != "group" or frame.groups is not None
    assert_valid(frame, config, a)
    assert {r for r in a.reasons.tolist() if r} <= REASONS[method]
    order = np.random.default_rng(seed).permutation(len(frame))
    b = make_splitter(config, seed).assign(frame.take(order))
    assert by_id(frame.take(order), b.split) == by_id(frame, a.split)
