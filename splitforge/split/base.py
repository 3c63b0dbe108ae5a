"""The split stage: every kept row goes to train, val or test, or is dropped with a reason.

``check_partition`` verifies the guarantees after every assignment, so a buggy splitter fails the
build instead of leaking.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from splitforge.errors import InputError, LeakageError
from splitforge.recipe import SplitConfig
from splitforge.registry import Registry
from splitforge.seeding import stable_uniform

SPLIT_NAMES = ("train", "val", "test")
TRAIN, VAL, TEST, DROPPED = 0, 1, 2, -1
SPLITTERS: Registry[type[Splitter]] = Registry("split method")


@dataclass(frozen=True)
class SplitFrame:
    """What a splitter sees: one entry per kept row (duplicates are already removed).

    Attributes:
        ids: unique row ids (str).
        clusters: duplicate-cluster key of each row (str).
        groups: group key of each row, or None when no group field is mapped.
        labels: label of each row, or None.
        times: UTC microseconds since the epoch (int64), or None.
    """

    ids: np.ndarray
    clusters: np.ndarray
    groups: np.ndarray | None = None
    labels: np.ndarray | None = None
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def units(self) -> np.ndarray:
        """The key a row is assigned by: its group when groups are mapped, else its cluster."""
        return self.groups if self.groups is not None else self.clusters


@dataclass
class Assignment:
    """Per row: split code (0 train, 1 val, 2 test, -1 dropped) and the reason for each drop."""

    split: np.ndarray
    reasons: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_codes(cls, codes: np.ndarray, info: dict[str, Any] | None = None) -> Assignment:
        """An assignment with no dropped rows."""
        codes = np.asarray(codes, dtype=np.int8)
        return cls(codes, np.full(len(codes), None, dtype=object), info or {})


class Splitter(ABC):
    """Base of every split method: ``_assign`` is the only method a subclass writes.

    ``assign`` validates the inputs, calls ``_assign`` and checks the result with
    ``check_partition``; the counts per split and per drop reason go into ``info``.
    """

    method: ClassVar[str]
    version: ClassVar[str] = "1"
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: SplitConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.ratios = config.resolved_ratios

    def assign(self, frame: SplitFrame) -> Assignment:
        """Assign every row of ``frame``; raises LeakageError if a guarantee is broken."""
        for role in self.needs:
            if getattr(frame, role) is None:
                raise InputError(f"split method {self.method} needs the {role} of every row; "
                                 f"map it in fields")
        assignment = self._assign(frame)
        check_partition(frame, assignment, self.gap_us())
        codes = assignment.split
        assignment.info = {
            "method": self.method,
            "rows": {name: int((codes == i).sum()) for i, name in enumerate(SPLIT_NAMES)},
            "dropped": _reason_counts(assignment.reasons[codes == DROPPED]),
            **assignment.info,
        }
        return assignment

    def gap_us(self) -> int | None:
        """The temporal embargo in microseconds, or None for a method without time order."""
        return None

    @abstractmethod
    def _assign(self, frame: SplitFrame) -> Assignment:
        """Assign rows to splits (the only method a subclass writes)."""

    def unit_uniform(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct units, each row's unit index, and each unit's seeded number in [0, 1).

        The number depends only on the seed and the unit's key, never on its position.
        """
        keys, inverse = np.unique(units.astype(str), return_inverse=True)
        return keys, inverse.ravel(), stable_uniform(keys.tolist(), self.seed, "split")

    def codes_by_threshold(self, u: np.ndarray) -> np.ndarray:
        """Split codes from numbers in [0, 1): train below r.train, val below r.train + r.val."""
        r = self.ratios
        codes = np.where(u < r.train, TRAIN, np.where(u < r.train + r.val, VAL, TEST))
        return codes.astype(np.int8)


def _reason_counts(reasons: np.ndarray) -> dict[str, int]:
    if not len(reasons):
        return {}
    names, counts = np.unique(reasons.astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def _crossing(keys: np.ndarray, codes: np.ndarray) -> list[str]:
    """Keys whose assigned rows sit in more than one split (first five, sorted)."""
    keys = keys.astype(str)
    order = np.lexsort((codes, keys))
    k, c = keys[order], codes[order]
    same_key = k[1:] == k[:-1]
    bad = np.unique(k[1:][same_key & (c[1:] != c[:-1])])
    return bad[:5].tolist()


def check_partition(frame: SplitFrame, assignment: Assignment, gap_us: int | None) -> None:
    """Verify the guarantees of a split; raise LeakageError naming what broke.

    Checked: one valid code per row; a reason for every dropped row and none for the others; no
    group and no cluster in two splits; with ``gap_us`` set, every val row later than every train
    row by more than the gap, and every test row later than every val and train row likewise.
    """
    codes = np.asarray(assignment.split)
    n = len(frame)
    if codes.shape != (n,) or len(assignment.reasons) != n:
        raise LeakageError(f"the split assigned {codes.shape} codes to {n} rows")
    if not np.isin(codes, (DROPPED, TRAIN, VAL, TEST)).all():
        raise LeakageError("the split produced codes other than train, val, test or dropped")
    has_reason = np.array([r is not None for r in assignment.reasons], dtype=bool)
    dropped = codes == DROPPED
    if (dropped & ~has_reason).any() or (~dropped & has_reason).any():
        raise LeakageError("every dropped row needs a reason, and only dropped rows may have one")
    kept = ~dropped
    for role in ("groups", "clusters"):
        keys = getattr(frame, role)
        if keys is None:
            continue
        bad = _crossing(keys[kept], codes[kept])
        if bad:
            raise LeakageError(f"{role[:-1]} keys in more than one split: {', '.join(bad)}")
    if gap_us is None:
        return
    if frame.times is None:
        raise LeakageError("a temporal split was checked without times")
    times = frame.times
    for early, late in ((TRAIN, VAL), (VAL, TEST), (TRAIN, TEST)):
        a, b = times[codes == early], times[codes == late]
        if len(a) and len(b) and not int(a.max()) + gap_us < int(b.min()):
            raise LeakageError(
                f"{SPLIT_NAMES[late]} is not later than {SPLIT_NAMES[early]} by more than the gap "
                f"({gap_us} us): latest {SPLIT_NAMES[early]} {int(a.max())}, earliest "
                f"{SPLIT_NAMES[late]} {int(b.min())}"
            )


def make_splitter(config: SplitConfig, seed: int) -> Splitter:
    """The splitter a recipe asks for."""
    return SPLITTERS.get(config.method)(config, seed)
