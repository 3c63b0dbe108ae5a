from datetime import UTC, datetime

import numpy as np
import pytest

from splitforge.errors import InputError
from splitforge.recipe import SplitConfig
from splitforge.split import DROPPED, TEST, TRAIN, VAL, SplitFrame, check_partition, make_splitter
from splitforge.split.temporal import to_us

DAY = 86_400 * 10**6


def frame_from_days(days, groups=None):
    ids = np.array([f"r{i:03d}" for i in range(len(days))], dtype=object)
    t0 = to_us(datetime(2024, 1, 1, tzinfo=UTC))
    return SplitFrame(ids, ids.copy(), None if groups is None else np.array(groups, dtype=object),
                      None, t0 + np.array(days, dtype=np.int64) * DAY)


def test_explicit_cutoffs_and_gap():
    f = frame_from_days(list(range(0, 100)))
    cfg = SplitConfig(method="temporal", gap="5d",
                      cutoffs={"val": "2024-02-20", "test": "2024-03-20"})  # days 50 and 79
    a = make_splitter(cfg, 0).assign(f)
    days = np.arange(100)
    assert (a.split[days < 45] == TRAIN).all()
    assert (a.split[(days >= 45) & (days < 50)] == DROPPED).all()
    assert (a.split[(days >= 50) & (days < 74)] == VAL).all()
    assert (a.split[(days >= 74) & (days < 79)] == DROPPED).all()
    assert (a.split[days >= 79] == TEST).all()
    assert a.info["dropped"] == {"temporal_gap": 10}
    assert a.info["cutoffs"] == {"val": "2024-02-20T00:00:00+00:00",
                                 "test": "2024-03-20T00:00:00+00:00"}


def test_cutoffs_without_val():
    f = frame_from_days(list(range(30)))
    cfg = SplitConfig(method="temporal", cutoffs={"test": "2024-01-21"})
    a = make_splitter(cfg, 0).assign(f)
    assert set(a.split[:20]) == {TRAIN} and set(a.split[20:]) == {TEST}


def test_equal_timestamps_fall_on_one_side():
    f = frame_from_days([0] * 10 + [1] * 10 + [2] * 10)
    a = make_splitter(SplitConfig(method="temporal",
                                  ratios={"train": .5, "val": .2, "test": .3}), 0).assign(f)
    for day in range(3):
        assert len(set(a.split[day * 10:(day + 1) * 10])) == 1


def test_group_straddling_a_cutoff_loses_its_minority_rows():
    days = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] + [8, 9]
    groups = ["a"] * 6 + ["b"] * 4 + ["a", "a"]  # group a: 6 rows early, 2 rows in test
    f = frame_from_days(days, groups)
    cfg = SplitConfig(method="temporal", cutoffs={"test": "2024-01-08"})
    a = make_splitter(cfg, 0).assign(f)
    check_partition(f, a, 0)
    assert a.split[10] == a.split[11] == DROPPED
    assert a.reasons[10] == "group_straddles_cutoff"
    assert set(a.split[:6]) == {TRAIN}
    assert a.info["dropped"] == {"group_straddles_cutoff": 3}  # b's row on day 6 goes too
    assert set(a.split[7:10]) == {TEST}


def test_too_few_times_is_a_clear_error():
    f = frame_from_days([0] * 20)
    with pytest.raises(InputError, match="no rows would be left for train"):
        make_splitter(SplitConfig(method="temporal"), 0).assign(f)
