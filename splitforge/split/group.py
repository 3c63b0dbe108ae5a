"""Group split: the random split with the group as the unit, and a group field required."""

from __future__ import annotations

from splitforge.split.base import SPLITTERS
from splitforge.split.random_split import RandomSplitter


@SPLITTERS.register("group")
class GroupSplitter(RandomSplitter):
    """Every group goes whole to the split given by the seeded hash of its key.

    It is ``random`` with the guarantee made explicit: it refuses to run without groups, where
    ``random`` would fall back to duplicate clusters. With the same seed and groups both give the
    same assignment.

    Guarantees:
        No group value appears in two splits. A group's split depends only on the seed, the ratios
        and its key: adding rows (to new or existing groups) never moves an existing row, and the
        input row order changes nothing. Shares are shares of groups, so row shares follow the
        ratios closely only when groups are many and small; no row is dropped.

    Raises:
        InputError: From ``assign``, when the frame has no groups (map ``fields.group``).
    """

    method = "group"
    needs = ("groups",)
