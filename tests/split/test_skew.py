"""Skew warnings: a held-out split that one value dominates, or that is mostly one-row groups."""

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.split.skew import skew_warnings


def test_a_dominated_held_out_split_is_warned_about_and_a_balanced_one_is_not():
    n = 400
    codes = np.zeros(n, dtype=np.int8)
    codes[300:350], codes[350:] = 1, 2
    repo = np.array(["a", "b"] * 150 + ["a", "b"] * 25 + ["b"] * 45 + ["a"] * 5, dtype=object)
    table = pa.table({"repo": repo.tolist(), C.ID: [f"r{i}" for i in range(n)]})
    [warning] = skew_warnings(table, np.arange(n), codes)
    assert warning.startswith("test is 90% one value of field 'repo' ('b': 45 of 50 rows; "
                              "50% of train)")
    balanced = pa.table({"repo": (["a", "b"] * 200), C.ID: [f"r{i}" for i in range(n)]})
    assert skew_warnings(balanced, np.arange(n), codes) == []


def test_held_out_groups_of_one_row_are_warned_about():
    n = 300
    codes = np.zeros(n, dtype=np.int8)
    codes[240:] = 2
    groups = [f"g{i // 4}" for i in range(240)] + [f"solo{i}" for i in range(60)]
    table = pa.table({C.GROUP: groups, C.ID: [f"r{i}" for i in range(n)]})
    [warning] = skew_warnings(table, np.arange(n), codes)
    assert warning.startswith("test is 100% groups of one row (0% of train)")
