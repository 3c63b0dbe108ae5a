"""The split stage: every kept row goes to train, val or test, or is dropped with a reason.

A splitter sees a ``SplitFrame`` (one entry per row that survived dedup) and returns an
``Assignment`` (a split code per row, a reason per dropped row). Subclasses write ``_assign`` only;
``Splitter.assign`` validates the inputs first and runs ``check_partition`` on the result, so a
buggy splitter fails the build with ``LeakageError`` instead of leaking.

The unit of assignment is the row's group when a group field is mapped, else its duplicate-cluster
key: every method keeps a unit in one split. The seeded number of a unit is
``stable_uniform(key, seed, "split")``, computed once per distinct key, so it depends on the seed
and the key alone, never on row positions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from splitforge.dedup.clusters import UnionFind
from splitforge.errors import InputError, LeakageError
from splitforge.recipe import SPLITS, SplitConfig
from splitforge.registry import Registry
from splitforge.seeding import stable_uniform

SPLIT_NAMES = SPLITS  # the recipe defines them
TRAIN, VAL, TEST, DROPPED = 0, 1, 2, -1
SPLITTERS: Registry[type[Splitter]] = Registry("split method")

_CODES = (DROPPED, TRAIN, VAL, TEST)
_ROLES = ("clusters", "groups", "labels", "times")
_SHOWN = 5  # how many offending keys or ids an error message names
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SplitFrame:
    """What a splitter sees: one entry per kept row (duplicates are already removed).

    Attributes:
        ids: Object array of the unique row ids (str).
        clusters: Object array of each row's duplicate-cluster key (str).
        groups: Object array of each row's group key (str), or None when no group field is mapped.
        labels: Object array of each row's label (str), or None.
        times: Int64 array of UTC microseconds since the epoch, or None.
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
        """Each row's unit of assignment: its cluster, or when groups are mapped its group.

        Groups that share a duplicate cluster (its kept rows, linked by chaining, sit in two
        groups) are one unit, named by the smallest of their keys.
        """
        if self.groups is None:
            return self.clusters
        return merged_groups(self.groups, self.clusters)

    def take(self, rows: np.ndarray) -> SplitFrame:
        """The frame restricted to (or reordered by) ``rows``, an index or boolean mask."""

        def pick(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[rows]

        return SplitFrame(self.ids[rows], self.clusters[rows], pick(self.groups),
                          pick(self.labels), pick(self.times))


@dataclass
class Assignment:
    """A split code per row, and a reason per dropped row.

    Attributes:
        split: Int8 array: 0 train, 1 val, 2 test, -1 dropped (``SPLIT_NAMES`` holds the names).
        reasons: Object array: None for an assigned row, a reason such as ``"temporal_gap"`` for a
            dropped one.
        info: JSON-safe details for the manifest. ``Splitter.assign`` adds ``method``,
            ``version``, ``unit``, ``rows`` (per split) and ``dropped`` (per reason); a temporal
            split adds its ``cutoffs`` and gap.
        linked: Object array: per dropped row, the id of the row it was dropped for (a leak
            link's train row), else None.
    """

    split: np.ndarray
    reasons: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    linked: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.linked is None:
            self.linked = np.full(len(self.split), None, dtype=object)

    @classmethod
    def from_codes(cls, codes: np.ndarray, info: dict[str, Any] | None = None) -> Assignment:
        """An assignment that drops no row."""
        codes = np.asarray(codes, dtype=np.int8)
        return cls(codes, np.full(len(codes), None, dtype=object), dict(info or {}))


class Splitter(ABC):
    """Base of every split method; a subclass writes ``_assign`` and nothing else.

    ``assign`` checks that the frame holds what the method ``needs`` (and no missing keys), calls
    ``_assign``, verifies the result with ``check_partition`` and fills ``Assignment.info`` with
    the counts per split and per drop reason.

    Args:
        config: The recipe's ``split`` section; ``config.resolved_ratios`` gives the shares
            (default 0.8/0.1/0.1).
        seed: The recipe seed. It decides which units go where (through each unit key's seeded
            hash); the temporal method does not use it.
    """

    method: ClassVar[str]
    version: ClassVar[str] = "1"
    needs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: SplitConfig, seed: int) -> None:
        self.config = config
        self.seed = int(seed)
        self.ratios = config.resolved_ratios

    def assign(self, frame: SplitFrame) -> Assignment:
        """Assign every row of ``frame`` to train, val or test, or drop it with a reason.

        Raises:
            InputError: The frame lacks a column the method needs, its columns differ in length,
                or a key is missing.
            LeakageError: The result breaks a guarantee (a bug in the splitter).
        """
        self._check_inputs(frame)
        assignment = self._assign(frame)
        check_partition(frame, assignment, self.gap_us())
        codes = assignment.split
        assignment.info = {
            "method": self.method,
            "version": self.version,
            "unit": "group" if frame.groups is not None else "cluster",
            "rows": {name: int(np.count_nonzero(codes == i)) for i, name in enumerate(SPLIT_NAMES)},
            "dropped": _reason_counts(assignment.reasons[codes == DROPPED]),
            **assignment.info,
        }
        return assignment

    @abstractmethod
    def _assign(self, frame: SplitFrame) -> Assignment:
        """Assign the rows of a checked frame (the only method a subclass writes)."""

    def gap_us(self) -> int | None:
        """The temporal embargo in microseconds, or None for a method without time order."""
        return None

    def _check_inputs(self, frame: SplitFrame) -> None:
        n = len(frame.ids)
        for role in _ROLES:
            values = getattr(frame, role)
            if values is not None and np.shape(values) != (n,):
                raise InputError(f"the split frame's {role} hold {np.shape(values)} values for "
                                 f"{n} ids; every column needs one value per row")
        for role in self.needs:
            if getattr(frame, role) is None:
                raise InputError(f"split method {self.method} needs the {role[:-1]} of every row; "
                                 f"map the input field that holds it in fields.{role[:-1]}")
        checked = {"clusters", "groups", *self.needs} - {"times"}
        for role in sorted(checked):
            values = getattr(frame, role)
            if values is not None:
                _refuse_missing(frame.ids, pd.isna(values), role)
        if "times" in self.needs:
            times = np.asarray(frame.times)
            if not np.issubdtype(times.dtype, np.integer):
                if np.issubdtype(times.dtype, np.floating):
                    _refuse_missing(frame.ids, np.isnan(times), "times")
                raise InputError(f"split times must be int64 microseconds since the epoch, got "
                                 f"dtype {times.dtype}")

    def units(self, frame: SplitFrame) -> tuple[np.ndarray, np.ndarray]:
        """Each row's unit index and the distinct unit keys (groups if mapped, else clusters)."""
        index, keys = pd.factorize(frame.units)
        return index, keys

    def unit_uniform(self, keys: np.ndarray) -> np.ndarray:
        """Each unit key's seeded number in [0, 1), from the seed and the key alone."""
        return stable_uniform(map(str, keys), self.seed, "split")

    def codes_by_threshold(self, u: np.ndarray) -> np.ndarray:
        """Split codes from numbers in [0, 1): train below r.train, val below r.train + r.val."""
        r = self.ratios
        codes = np.where(u < r.train, TRAIN, np.where(u < r.train + r.val, VAL, TEST))
        return codes.astype(np.int8)


def _refuse_missing(ids: np.ndarray, missing: np.ndarray, role: str) -> None:
    if missing.any():
        shown = ", ".join(map(str, ids[missing][:_SHOWN]))
        raise InputError(f"{int(missing.sum())} of {len(ids)} rows have no {role[:-1]} (ids "
                         f"{shown}); the split needs it on every row")


def merged_groups(groups: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Each row's group, where groups joined by a shared cluster take the smallest key of them."""
    cluster, cluster_keys = pd.factorize(clusters)
    if len(cluster_keys) == len(cluster):
        return groups  # one row per cluster: nothing joins two groups
    group, group_keys = pd.factorize(groups)
    order = np.argsort(cluster, kind="stable")
    same = cluster[order][1:] == cluster[order][:-1]
    union = UnionFind(len(group_keys))
    union.union(group[order][:-1][same], group[order][1:][same])
    root = union.find_all()
    if np.array_equal(root, np.arange(len(group_keys))):
        return groups
    by_name = np.argsort(np.asarray(group_keys, dtype=str), kind="stable")
    rank = np.empty(len(group_keys), dtype=np.int64)
    rank[by_name] = np.arange(len(group_keys))
    first = np.full(len(group_keys), len(group_keys), dtype=np.int64)
    np.minimum.at(first, root, rank)
    return np.asarray(group_keys, dtype=object)[by_name[first[root]]][group]


SMALL_SPLIT = 10  # rows below which a requested split is warned about


def small_split_warnings(rows: dict[str, int], config: Any) -> list[str]:
    """Warnings for requested splits that came out empty or under ``SMALL_SPLIT`` rows.

    A split is requested when its ratio is above 0, or under cutoffs when its cutoff is set.
    The warning names the rows each split really has, so a tiny file is not mistaken for a build
    that evaluates anything.
    """
    if config.cutoffs is not None:
        wanted = {"train": True, "val": config.cutoffs.val is not None,
                  "test": config.cutoffs.test is not None}
    else:
        ratios = config.resolved_ratios
        wanted = {name: getattr(ratios, name) > 0 for name in SPLIT_NAMES}
    small = [name for name in SPLIT_NAMES if wanted[name] and rows.get(name, 0) < SMALL_SPLIT]
    if not small:
        return []
    counts = ", ".join(f"{name} {rows.get(name, 0)}" for name in SPLIT_NAMES)
    which = " and ".join(f"{name} is {'empty' if not rows.get(name) else 'under 10 rows'}"
                         for name in small)
    return [f"{which} ({counts} rows): a metric on so few rows says little; add data, or lower "
            f"the split's share (split.ratios)"]


def _reason_counts(reasons: np.ndarray) -> dict[str, int]:
    if not len(reasons):
        return {}
    counts = pd.Series(reasons, dtype=object).value_counts(sort=False)
    return {str(k): int(counts[k]) for k in sorted(counts.index, key=str)}


def _crossing(keys: np.ndarray, codes: np.ndarray) -> tuple[int, list[str]]:
    """How many keys have rows in more than one split, and the first few of them (sorted)."""
    index, uniques = pd.factorize(keys, use_na_sentinel=False)
    seen = np.zeros((len(SPLIT_NAMES), len(uniques)), dtype=bool)
    for code in (TRAIN, VAL, TEST):
        seen[code, index[codes == code]] = True
    crossing = seen.sum(axis=0) > 1
    return int(crossing.sum()), sorted(map(str, uniques[crossing]))[:_SHOWN]


def iso_us(value: int) -> str:
    """ISO 8601 UTC text of microseconds since the epoch (``2024-01-31T00:00:00+00:00``)."""
    try:
        return (_EPOCH + timedelta(microseconds=int(value))).isoformat()
    except OverflowError:
        return f"{int(value)} us after the epoch"


def check_partition(frame: SplitFrame, assignment: Assignment, gap_us: int | None) -> None:
    """Verify the guarantees of a split; raise ``LeakageError`` naming what broke.

    Checked, in order: one integer code in {-1, 0, 1, 2} and one reason slot per row; a non-empty
    reason string on every dropped row and None on every assigned row; no group (when groups are
    given) and no cluster key among the assigned rows in two splits; and with ``gap_us`` set,
    ``max(train time) + gap < min(val time)``, the same for val -> test and train -> test (an
    empty split passes).

    Args:
        frame: The rows that were split.
        assignment: The splitter's result for ``frame``.
        gap_us: The temporal embargo in microseconds (0 for none), or None for a method without
            time order.

    Raises:
        LeakageError: A guarantee is broken; the message names the keys, ids or times at fault.

    Example:
        >>> import numpy as np
        >>> ids = np.array(["a", "b"], dtype=object)
        >>> frame = SplitFrame(ids, clusters=np.array(["c", "c"], dtype=object))
        >>> check_partition(frame, Assignment.from_codes(np.array([0, 2])), None)
        Traceback (most recent call last):
        ...
        splitforge.errors.LeakageError: 1 cluster keys are in more than one split: c
    """
    n = len(frame.ids)
    codes = np.asarray(assignment.split)
    reasons = np.asarray(assignment.reasons, dtype=object)
    if codes.shape != (n,) or reasons.shape != (n,):
        raise LeakageError(f"the split gave {codes.shape} codes and {reasons.shape} reasons for "
                           f"{n} rows; it needs one of each per row")
    if not np.issubdtype(codes.dtype, np.integer):
        raise LeakageError(f"split codes must be integers, got dtype {codes.dtype}")
    invalid = ~np.isin(codes, _CODES)
    if invalid.any():
        raise LeakageError(f"split codes must be -1 (dropped), 0, 1 or 2, got "
                           f"{sorted(set(codes[invalid].tolist()))[:_SHOWN]}")
    dropped = codes == DROPPED
    no_reason = pd.isna(reasons)
    for rows, what in ((dropped & no_reason, "dropped rows have no reason"),
                       (~dropped & ~no_reason, "assigned rows carry a drop reason")):
        if rows.any():
            shown = ", ".join(map(str, frame.ids[rows][:_SHOWN]))
            raise LeakageError(f"{int(rows.sum())} {what} (ids {shown})")
    bad_reasons = [r for r in pd.unique(reasons[dropped]) if not (isinstance(r, str) and r)]
    if bad_reasons:
        raise LeakageError(f"drop reasons must be non-empty strings, got {bad_reasons[:_SHOWN]}")
    kept = ~dropped
    for role in ("groups", "clusters"):
        keys = getattr(frame, role)
        if keys is None:
            continue
        count, shown = _crossing(keys[kept], codes[kept])
        if count:
            raise LeakageError(f"{count} {role[:-1]} keys are in more than one split: "
                               f"{', '.join(shown)}")
    if gap_us is None:
        return
    if frame.times is None:
        raise LeakageError("a temporal split was checked without the times of its rows")
    for early, late in ((TRAIN, VAL), (VAL, TEST), (TRAIN, TEST)):
        a, b = frame.times[codes == early], frame.times[codes == late]
        if len(a) and len(b) and not int(a.max()) + gap_us < int(b.min()):
            raise LeakageError(
                f"{SPLIT_NAMES[late]} is not later than {SPLIT_NAMES[early]} by more than the gap "
                f"({gap_us / 1e6:g} s): latest {SPLIT_NAMES[early]} row {iso_us(a.max())}, "
                f"earliest {SPLIT_NAMES[late]} row {iso_us(b.min())}"
            )


def make_splitter(config: SplitConfig, seed: int) -> Splitter:
    """The splitter registered under ``config.method``, built with ``config`` and ``seed``.

    Raises:
        RecipeError: No splitter is registered under that name; the message lists the valid ones.
    """
    return SPLITTERS.get(config.method)(config, seed)
