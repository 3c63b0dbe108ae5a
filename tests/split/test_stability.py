"""Adding 10% new rows: random and group move no old row; stratified stays within its bound."""

import numpy as np
import pytest

from splitforge.recipe import SplitConfig
from splitforge.split import SplitFrame, make_splitter
from tests.split.conftest import LABELS, by_id, concat, config_for, make_frame

N = 10_000


def changed(before: SplitFrame, a, after: SplitFrame, b) -> list[str]:
    old, new = by_id(before, a.split), by_id(after, b.split)
    return [i for i in old if old[i] != new[i]]


@pytest.mark.parametrize(("method", "groups"), [("random", None), ("random", 2000),
                                                ("group", 2000)])
def test_new_units_never_move_an_old_row(method, groups):
    before = make_frame(N, groups=groups, seed=1)
    after = concat(before, make_frame(N // 10, groups=groups and 200, seed=2, prefix="new",
                                      group_prefix="newg"))
    config = config_for(method)
    a = make_splitter(config, 11).assign(before)
    b = make_splitter(config, 11).assign(after)
    assert changed(before, a, after, b) == []
    # the new rows do land in every split, so the check above looked at a real change
    assert set(b.split[N:].tolist()) == {0, 1, 2}


def test_new_rows_in_existing_groups_never_move_an_old_row():
    before = make_frame(N, groups=2000, seed=1)
    joining = make_frame(N // 10, groups=2000, seed=3, prefix="new")  # same group names g0..
    after = concat(before, joining)
    a = make_splitter(config_for("group"), 11).assign(before)
    b = make_splitter(config_for("group"), 11).assign(after)
    assert changed(before, a, after, b) == []
    split_of_group = dict(zip(before.groups.tolist(), a.split.tolist(), strict=True))
    assert all(split_of_group.get(g, c) == c for g, c in zip(joining.groups, b.split[N:],
                                                             strict=True))


@pytest.mark.parametrize("groups", [None, 3000])
def test_stratified_moves_at_most_two_old_units_per_new_unit_of_a_label(groups):
    before = make_frame(N, groups=groups, seed=1)
    extra = make_frame(N // 10, groups=groups and 300, seed=2, prefix="new", group_prefix="newg")
    after = concat(before, extra)
    config = config_for("stratified")
    a = make_splitter(config, 11).assign(before)
    b = make_splitter(config, 11).assign(after)
    moved = set(changed(before, a, after, b))
    total_moved = 0
    for label in LABELS:
        # a group's label is its majority label; count units of this label
        old_units = _units_of(before, label)
        new_units = _units_of(extra, label)
        moved_units = {u for i, u in zip(before.ids, before.units, strict=True)
                       if i in moved and u in old_units}
        assert len(moved_units) <= 2 * len(new_units), (label, len(moved_units), len(new_units))
        total_moved += len(moved_units)
    assert total_moved < 0.05 * len(set(before.units.tolist()))


def _units_of(frame: SplitFrame, label: str) -> set[str]:
    """Units whose majority label (ties: the smallest) is ``label``."""
    counts: dict[str, dict[str, int]] = {}
    for unit, lab in zip(frame.units.tolist(), frame.labels.tolist(), strict=True):
        counts.setdefault(unit, {}).setdefault(lab, 0)
        counts[unit][lab] += 1
    return {u for u, c in counts.items() if min(c, key=lambda k: (-c[k], k)) == label}


def test_temporal_with_fixed_cutoffs_moves_no_old_row():
    before = make_frame(N, seed=1)
    after = concat(before, make_frame(N // 10, seed=2, prefix="new"))
    config = SplitConfig(method="temporal", gap="3d",
                         cutoffs={"val": "2025-06-01", "test": "2026-01-01"})
    a = make_splitter(config, 0).assign(before)
    b = make_splitter(config, 0).assign(after)
    assert changed(before, a, after, b) == []
    assert np.array_equal(np.unique(b.split[N:]), [-1, 0, 1, 2])
