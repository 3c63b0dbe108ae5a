"""Temporal split: cutoffs, the embargo gap, groups straddling a cutoff, and the time-order check."""

from datetime import datetime

import numpy as np
import pytest

from splitforge.errors import InputError, LeakageError, RecipeError
from splitforge.recipe import SplitConfig
from splitforge.split import DROPPED, TEST, TRAIN, VAL, Assignment, check_partition, make_splitter
from tests.split.conftest import DAY, assert_valid, frame_from_days

D, T, V, X = DROPPED, TRAIN, VAL, TEST


def temporal(**kw):
    return SplitConfig(method="temporal", **kw)


def test_explicit_cutoffs_with_a_gap():
    frame = frame_from_days(range(100))
    config = temporal(gap="5d", cutoffs={"val": "2024-02-20", "test": "2024-03-20"})  # days 50, 79
    a = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, a)
    days = np.arange(100)
    expected = np.select([days < 45, days < 50, days < 74, days < 79], [T, D, V, D], X)
    assert a.split.tolist() == expected.tolist()
    assert set(a.reasons[a.split == D]) == {"temporal_gap"}
    assert a.info["dropped"] == {"temporal_gap": 10}
    assert a.info["rows"] == {"train": 45, "val": 24, "test": 21}
    assert a.info["cutoffs"] == {"val": "2024-02-20T00:00:00+00:00",
                                 "test": "2024-03-20T00:00:00+00:00"}
    assert a.info["cutoffs_from"] == "recipe"
    assert a.info["gap"] == "5d" and a.info["gap_seconds"] == 5 * 86_400


def test_the_gap_boundary_is_exact_to_the_microsecond():
    # A row exactly gap before a cutoff is dropped; one microsecond earlier it trains.
    frame = frame_from_days([0, 8, 9, 10, 11])
    frame.times[1] = frame.times[2] - 1
    a = make_splitter(temporal(gap="1d", cutoffs={"test": "2024-01-11"}), 0).assign(frame)
    assert a.split.tolist() == [T, T, D, X, X]


def test_cutoffs_without_val_give_train_and_test_only():
    frame = frame_from_days(range(30))
    config = temporal(gap="2d", cutoffs={"test": "2024-01-21"})  # day 20
    a = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, a)
    assert a.split.tolist() == [T] * 18 + [D] * 2 + [X] * 10
    assert a.info["cutoffs"] == {"val": None, "test": "2024-01-21T00:00:00+00:00"}
    assert a.info["rows"]["val"] == 0 and a.info["dropped"] == {"temporal_gap": 2}


def test_ratio_cutoffs_place_the_counts_and_keep_equal_times_together():
    frame = frame_from_days(range(100))
    config = temporal(ratios={"train": .7, "val": .1, "test": .2}, gap="3d")
    a = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, a)
    # The 6 gap rows are dropped; the cutoffs are placed so the 94 kept rows meet 70/10/20:
    # test days 81-99, val 69-77, train < day 66 (66/9/19 = 70.2/9.6/20.2%).
    assert a.split.tolist() == [T] * 66 + [D] * 3 + [V] * 9 + [D] * 3 + [X] * 19
    assert a.info["cutoffs"]["test"].startswith("2024-03-22") and a.info["cutoffs_from"] == "ratios"

    tied = frame_from_days([0] * 10 + [1] * 10 + [2] * 10)
    b = make_splitter(temporal(ratios={"train": .5, "val": .2, "test": .3}), 0).assign(tied)
    assert b.split.tolist() == [T] * 10 + [V] * 10 + [X] * 10
    c = make_splitter(temporal(ratios={"train": .6, "val": .2, "test": .2}), 0).assign(tied)
    assert c.split.tolist() == [T] * 10 + [V] * 10 + [X] * 10  # 6 of day 2 pull in all 10


def test_a_group_straddling_a_cutoff_loses_its_minority_rows():
    days = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 9, 4]
    groups = ["a"] * 6 + ["b"] * 4 + ["a", "a", "b"]
    # test starts at day 7. a: 6 rows before it, 2 after -> train; its 2 test rows go.
    # b: 2 rows before it (days 6 and 4), 3 after -> test; its 2 train rows go.
    frame = frame_from_days(days, groups)
    config = temporal(cutoffs={"test": "2024-01-08"})
    a = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, a)
    assert a.split.tolist() == [T] * 6 + [D, X, X, X] + [D, D] + [D]
    dropped = a.split == D
    assert set(a.reasons[dropped]) == {"group_straddles_cutoff"}
    assert a.info["dropped"] == {"group_straddles_cutoff": 4}
    for group in ("a", "b"):
        assert len(set(a.split[(frame.groups == group) & ~dropped])) == 1


def test_a_straddling_group_goes_to_the_earliest_split_on_a_tie_and_gap_rows_do_not_count():
    days = [0, 1, 9, 10, 5, 5, 5]
    groups = ["a", "a", "a", "a", "b", "b", "b"]
    frame = frame_from_days(days, groups)
    config = temporal(gap="1d", cutoffs={"val": "2024-01-06", "test": "2024-01-11"})
    a = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, a)
    # a: 2 train rows, day 9 is in the gap before test (not counted), 1 test row -> train
    assert a.split.tolist() == [T, T, D, D, V, V, V]
    assert a.reasons.tolist()[2:4] == ["temporal_gap", "group_straddles_cutoff"]
    tie = frame_from_days([0, 1, 9, 10], ["a"] * 4)  # 2 train rows, 2 test rows
    b = make_splitter(temporal(cutoffs={"test": "2024-01-10"}), 0).assign(tie)
    assert b.split.tolist() == [T, T, D, D]


def test_without_groups_a_repeated_cluster_is_kept_whole():
    frame = frame_from_days([0, 1, 2, 3, 8, 9], clusters=["k", "x", "y", "z", "k", "k"])
    config = temporal(cutoffs={"test": "2024-01-08"})
    a = make_splitter(config, 0).assign(frame)
    assert_valid(frame, config, a)
    assert a.split.tolist() == [D, T, T, T, X, X]
    assert a.reasons[0] == "cluster_straddles_cutoff"


def test_too_few_distinct_times_is_a_clear_error():
    with pytest.raises(InputError) as error:
        make_splitter(temporal(), 0).assign(frame_from_days([0] * 20))
    message = str(error.value)
    assert "20 rows hold 1 distinct timestamps" in message
    assert "0.8/0.1/0.1" in message and "give split.cutoffs" in message
    # enough times, but the gap eats every train row
    with pytest.raises(InputError, match="gap 30d.*too few to leave rows for"):
        make_splitter(temporal(gap="30d"), 0).assign(frame_from_days(range(20)))


def test_explicit_cutoffs_that_leave_no_train_rows_are_an_error():
    with pytest.raises(InputError, match="no row is earlier than cutoffs.val minus the gap"):
        make_splitter(temporal(gap="2d", cutoffs={"val": "2024-01-03", "test": "2024-01-20"}),
                      0).assign(frame_from_days(range(1, 30)))


def test_a_gap_as_long_as_the_val_window_is_a_recipe_error():
    with pytest.raises(RecipeError, match="split.gap: 7d is not shorter than the 7 days"):
        make_splitter(temporal(gap="7d", cutoffs={"val": "2024-01-03", "test": "2024-01-10"}), 0)


def test_cutoffs_in_info_are_iso_utc():
    a = make_splitter(temporal(), 0).assign(frame_from_days(np.arange(50) / 7))
    for value in a.info["cutoffs"].values():
        assert datetime.fromisoformat(value).utcoffset().total_seconds() == 0


# -- the invariant helper catches hand-broken assignments ------------------------------------


def test_check_partition_catches_a_group_in_two_splits():
    frame = frame_from_days(range(6), groups=["a", "a", "b", "b", "c", "c"])
    codes = np.array([T, T, V, V, X, X], dtype=np.int8)
    check_partition(frame, Assignment.from_codes(codes), 0)
    codes[1] = V
    with pytest.raises(LeakageError, match="1 group keys are in more than one split: a"):
        check_partition(frame, Assignment.from_codes(codes), None)
    reasons = np.array([None, "temporal_gap", None, None, None, None], dtype=object)
    codes[1] = D  # dropping the stray row repairs it
    check_partition(frame, Assignment(codes, reasons), None)


def test_check_partition_catches_a_cluster_in_two_splits():
    frame = frame_from_days(range(4), clusters=["k", "x", "y", "k"])
    codes = np.array([T, T, X, X], dtype=np.int8)
    with pytest.raises(LeakageError, match="1 cluster keys are in more than one split: k"):
        check_partition(frame, Assignment.from_codes(codes), None)
    codes[3] = T
    check_partition(frame, Assignment.from_codes(codes), None)


@pytest.mark.parametrize(("codes", "message"), [
    ([T, V, T, V, X, X], "val is not later than train"),
    ([T, T, X, V, V, X], "test is not later than val"),
    ([T, T, T, T, T, X], "test is not later than train"),  # gap: day 4 + 1d is not < day 5
    ([X, T, T, T, T, T], "test is not later than train"),
])
def test_check_partition_catches_time_order(codes, message):
    frame = frame_from_days(range(6))
    with pytest.raises(LeakageError, match=message):
        check_partition(frame, Assignment.from_codes(np.array(codes)), DAY)
    check_partition(frame, Assignment.from_codes(np.array(codes)), None)  # no order asked


def test_check_partition_wants_strictly_more_than_the_gap():
    frame = frame_from_days([0, 2, 4])
    codes = Assignment.from_codes(np.array([T, V, X]))
    check_partition(frame, codes, 2 * DAY - 1)
    with pytest.raises(LeakageError, match="val is not later than train by more than the gap"):
        check_partition(frame, codes, 2 * DAY)
