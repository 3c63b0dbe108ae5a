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
from splitforge.split.temporal import TemporalSplitter

__all__ = [
    "DROPPED",
    "SPLITTERS",
    "SPLIT_NAMES",
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
