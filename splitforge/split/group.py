"""Group split: a random split whose unit is always the group, so a group field is required."""

from __future__ import annotations

from splitforge.split.base import SPLITTERS
from splitforge.split.random_split import RandomSplitter


@SPLITTERS.register("group")
class GroupSplitter(RandomSplitter):
    """Every group goes whole to the split given by a seeded hash of its key.

    Guarantees:
        No group value appears in two splits. Adding rows or groups never moves an existing group;
        the input row order changes nothing. Shares are shares of groups, so row shares follow the
        ratios closely only when groups are many and small.
    """

    method = "group"
    needs = ("groups",)
