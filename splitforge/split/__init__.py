"""The split stage: random, stratified, group and temporal splitters behind one registry.

``make_splitter(config, seed).assign(frame)`` gives each row a split code (``SPLIT_NAMES``) or a
drop reason; ``check_partition`` is the one check of the guarantees, run after every assignment.
"""

from splitforge.split.base import (
    DROPPED,
    SPLIT_NAMES,
    SPLITTERS,
    TEST,
    TRAIN,
    VAL,
    Assignment,
    SplitFrame,
    Splitter,
    check_partition,
    make_splitter,
)
from splitforge.split.group import GroupSplitter
from splitforge.split.random_split import RandomSplitter
from splitforge.split.stratified import StratifiedSplitter
from splitforge.split.temporal import (
    CLUSTER_STRADDLE_REASON,
    GAP_REASON,
    STRADDLE_REASON,
    TemporalSplitter,
)

__all__ = [
    "CLUSTER_STRADDLE_REASON",
    "DROPPED",
    "GAP_REASON",
    "SPLITTERS",
    "SPLIT_NAMES",
    "STRADDLE_REASON",
    "TEST",
    "TRAIN",
    "VAL",
    "Assignment",
    "GroupSplitter",
    "RandomSplitter",
    "SplitFrame",
    "Splitter",
    "StratifiedSplitter",
    "TemporalSplitter",
    "check_partition",
    "make_splitter",
]
