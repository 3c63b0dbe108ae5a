"""Temporal split: train, then val, then test in time, with an embargo gap before each cutoff.

Two cutoffs ``c_val < c_test`` cut the time axis into windows; with an embargo ``gap``::

    time ->   train   | dropped |   val   | dropped |   test
                      ^         ^         ^         ^
               c_val - gap    c_val  c_test - gap  c_test

A row is train if ``t < c_val - gap``, val if ``c_val <= t < c_test - gap``, test if
``t >= c_test``; rows in ``[c - gap, c)`` for either cutoff are dropped (reason ``temporal_gap``).
Without a val cutoff there is no val window, only train and test.

The cutoffs come from ``split.cutoffs`` or from the ratios. From the ratios, with ``n`` rows in
time order, ``c_test`` starts at the time at index ``n - round(n * r.test)`` (rows sharing that
timestamp all go to test) and ``c_val`` ``round(n * r.val)`` rows before the first row earlier than
``c_test - gap``. Both are then moved (a binary search per cutoff, a few rounds) until the rows
that are **kept**, after the gap rows and the straddling units below are dropped, meet the ratios
as closely as the data allows: the ratios describe what the user gets, not what was read. A split
that still drops more than 5% of its rows adds a warning (``info["warnings"]``) naming the reason
and the fix.

A unit (group if mapped, else duplicate cluster) whose rows fall in several windows goes whole to
the window holding most of its non-gap rows (ties: the earliest); its rows in other windows are
dropped (``group_straddles_cutoff``, or ``cluster_straddles_cutoff``). Rows are only ever dropped,
never moved, so the time order of the windows survives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from splitforge.errors import InputError, RecipeError
from splitforge.recipe import SplitConfig
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
    iso_us,
)

GAP_REASON = "temporal_gap"
STRADDLE_REASON = "group_straddles_cutoff"
CLUSTER_STRADDLE_REASON = "cluster_straddles_cutoff"
DROP_WARNING = 0.05  # a temporal split dropping more than this share of its rows warns
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """UTC microseconds since the epoch of a datetime (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _US


def from_us(value: int) -> str:
    """ISO 8601 UTC text of microseconds since the epoch."""
    return iso_us(value)


@SPLITTERS.register("temporal")
class TemporalSplitter(Splitter):
    """Time-ordered split with an embargo gap; the seed plays no part.

    The cutoffs come from ``split.cutoffs`` (``val`` may be omitted: train and test only) or,
    when it is unset, from the ratios (default 0.8/0.1/0.1) applied to the rows in time order.
    ``split.gap`` (default none) drops the rows less than ``gap`` before each cutoff.

    Guarantees:
        Every val row is later than every train row by more than ``gap``, and every test row later
        than every val and every train row by more than ``gap``; rows with the same timestamp are
        never split by a computed cutoff. A group (when mapped) and a duplicate cluster sit in one
        split. Rows that would break these are dropped with their reason (``temporal_gap``,
        ``group_straddles_cutoff``, ``cluster_straddles_cutoff``), never moved. The input row
        order changes nothing. ``Assignment.info`` holds the cutoffs (ISO 8601, UTC), where they
        came from, and the gap.

    Raises:
        RecipeError: At construction, when ``cutoffs.test - cutoffs.val`` is not longer than the
            gap (the val window would be empty).
        InputError: From ``assign``, when the frame has no times, or the cutoffs leave no rows for
            train (too few distinct times for the ratios and gap, or every row after the cutoffs).

    Example:
        >>> import numpy as np
        >>> from splitforge.recipe import SplitConfig
        >>> day = 86_400 * 10**6
        >>> ids = np.array([f"r{i}" for i in range(10)], dtype=object)
        >>> frame = SplitFrame(ids, ids.copy(), times=np.arange(10, dtype=np.int64) * day)
        >>> config = SplitConfig(method="temporal", ratios={"train": 0.6, "val": 0.2,
        ...                                                 "test": 0.2}, gap="1d")
        >>> result = TemporalSplitter(config, seed=0).assign(frame)
        >>> result.split.tolist()
        [0, 0, 0, 0, -1, 1, 1, -1, 2, 2]
        >>> result.info["cutoffs"]
        {'val': '1970-01-06T00:00:00+00:00', 'test': '1970-01-09T00:00:00+00:00'}
    """

    method = "temporal"
    version: ClassVar[str] = "2"  # 2: ratio cutoffs fitted to the kept rows' shares
    needs = ("times",)

    def __init__(self, config: SplitConfig, seed: int) -> None:
        super().__init__(config, seed)
        self._gap = config.gap_delta // _US
        cutoffs = config.cutoffs
        if cutoffs is not None and cutoffs.val is not None:
            room = to_us(cutoffs.test) - to_us(cutoffs.val)
            if room <= self._gap:
                raise RecipeError([
                    f"split.gap: {config.gap} is not shorter than the {room / 86_400e6:g} days "
                    f"from cutoffs.val ({cutoffs.val.isoformat()}) to cutoffs.test "
                    f"({cutoffs.test.isoformat()}), so val would be empty; shorten the gap or "
                    f"move the cutoffs apart"
                ])

    def gap_us(self) -> int:
        """The embargo in microseconds (0 without a gap)."""
        return self._gap

    def cutoffs(self, times: np.ndarray, units: np.ndarray | None = None
                ) -> tuple[int | None, int | None]:
        """The (val, test) cutoffs in microseconds for these times; None where a split is empty.

        Cutoffs from the ratios start at the row counts the ratios give; with ``units`` (each
        row's group or cluster) they are then moved until the rows **kept** (after the gap and
        the units that straddle a cutoff are dropped) meet the ratios as closely as the data
        allows, so dropped rows do not shrink val and test.

        Raises:
            InputError: The cutoffs leave no row for train.
        """
        if self.config.cutoffs is not None:
            c = self.config.cutoffs
            c_val, c_test = (to_us(c.val) if c.val is not None else None), to_us(c.test)
            first, name = (c_val, "cutoffs.val") if c_val is not None else (c_test, "cutoffs.test")
            if len(times) and int(times.min()) >= first - self._gap:
                raise InputError(
                    f"no row is earlier than {name} minus the gap ({self.config.gap or 0}), so "
                    f"train would be empty: the {len(times)} rows span {iso_us(times.min())} to "
                    f"{iso_us(times.max())}; move split.cutoffs later or shorten split.gap"
                )
            return c_val, c_test
        ordered = np.sort(times)
        n = len(ordered)
        n_test = int(np.floor(n * self.ratios.test + 0.5))
        n_val = int(np.floor(n * self.ratios.val + 0.5))
        c_test = int(ordered[n - n_test]) if n_test else None
        before = n if c_test is None else int(np.searchsorted(ordered, c_test - self._gap))
        c_val = None
        if n_val:
            if before - n_val < 1:
                self._too_few(ordered, "val and train")
            c_val = int(ordered[before - n_val])
        first_held_out = c_val if c_val is not None else c_test
        if first_held_out is not None and int(ordered[0]) >= first_held_out - self._gap:
            self._too_few(ordered, "train")
        if units is not None and c_test is not None:
            c_val, c_test = _ShareFit(times, units, self._gap, self.ratios).fit(
                n - n_test, n_val)
        return c_val, c_test

    def _too_few(self, ordered: np.ndarray, left: str) -> None:
        distinct = int(np.count_nonzero(np.diff(ordered))) + 1
        r = self.ratios
        raise InputError(
            f"cannot place temporal cutoffs at ratios {r.train:g}/{r.val:g}/{r.test:g} with gap "
            f"{self.config.gap or 0}: the {len(ordered)} rows hold {distinct} distinct "
            f"timestamps from {iso_us(ordered[0])} to {iso_us(ordered[-1])}, too few to leave "
            f"rows for {left}; give split.cutoffs, shorten split.gap, or add rows spanning more "
            f"time"
        )

    def _assign(self, frame: SplitFrame) -> Assignment:
        times = np.asarray(frame.times).astype(np.int64, copy=False)
        units = frame.units if frame.groups is not None else frame.clusters
        c_val, c_test = self.cutoffs(times, units)
        codes = np.full(len(times), TRAIN, dtype=np.int8)
        for cutoff, code in ((c_val, VAL), (c_test, TEST)):
            if cutoff is not None:
                codes[times >= cutoff - self._gap] = DROPPED
                codes[times >= cutoff] = code
        reasons = np.full(len(times), None, dtype=object)
        reasons[codes == DROPPED] = GAP_REASON
        if frame.groups is not None:
            keep_units_whole(frame.units, codes, reasons, STRADDLE_REASON)
        else:
            keep_units_whole(frame.clusters, codes, reasons, CLUSTER_STRADDLE_REASON)
        info = {
            "cutoffs": {"val": iso_us(c_val) if c_val is not None else None,
                        "test": iso_us(c_test) if c_test is not None else None},
            "cutoffs_from": "recipe" if self.config.cutoffs is not None else "ratios",
            "gap": str(self.config.gap) if self.config.gap is not None else None,
            "gap_seconds": self._gap / 1e6,
        }
        dropped = int(np.count_nonzero(codes == DROPPED))
        if len(codes) and dropped > DROP_WARNING * len(codes):
            info["warnings"] = [drop_warning(reasons[codes == DROPPED], len(codes))]
        return Assignment(codes, reasons, info)


def drop_warning(reasons: np.ndarray, n: int) -> str:
    """The line printed when a temporal split drops more than 5% of its rows: why, and the fix."""
    names, counts = np.unique(reasons.astype(str), return_counts=True)
    top = names[np.argmax(counts)]
    fix = {
        GAP_REASON: "shorten split.gap",
        STRADDLE_REASON: "map a finer fields.group (groups active across a cutoff lose their "
                         "rows on the far side), or use split.method: group",
        CLUSTER_STRADDLE_REASON: "raise dedup.minhash.threshold or turn dedup.minhash off "
                                 "(chained near-duplicate clusters span a cutoff)",
    }[str(top)]
    parts = ", ".join(f"{c} {name}" for name, c in zip(names.tolist(), counts.tolist(),
                                                      strict=True))
    return (f"the temporal split dropped {len(reasons)} of {n} rows "
            f"({len(reasons) / n:.1%}: {parts}); to keep more, {fix}")


class _ShareFit:
    """Moves the two cutoffs until the kept rows of each split meet the ratios.

    ``evaluate`` counts the kept rows per split for a pair of cutoffs in O(rows); ``fit`` searches
    the test cutoff for the test share, then the val window for the val share, a few rounds, and
    keeps the best pair seen (smallest worst error of val and test, then the starting pair).
    """

    ROUNDS = 4

    def __init__(self, times: np.ndarray, units: np.ndarray, gap: int, ratios: Any) -> None:
        order = np.argsort(times, kind="stable")
        self.ordered = times[order]
        index, keys = pd.factorize(units)
        self.units = index[order]
        self.n_units = len(keys)
        self.whole = len(keys) == len(units)  # one row per unit: nothing straddles
        self.gap = gap
        self.target = np.array([ratios.train, ratios.val, ratios.test])
        self.memo: dict[tuple[int, int], np.ndarray] = {}

    def cut(self, i_test: int, k_val: int) -> tuple[int | None, int]:
        """Cutoffs for the test cutoff at sorted row ``i_test`` and ``k_val`` val-window rows."""
        c_test = int(self.ordered[i_test])
        if not k_val:
            return None, c_test
        before = int(np.searchsorted(self.ordered, c_test - self.gap))
        return int(self.ordered[max(before - k_val, 0)]), c_test

    def kept(self, i_test: int, k_val: int) -> np.ndarray:
        """Rows kept per split (train, val, test) for these cutoffs; O(rows), memoized."""
        key = (i_test, k_val)
        if key not in self.memo:
            c_val, c_test = self.cut(i_test, k_val)
            o = self.ordered
            d = int(np.searchsorted(o, c_test))
            a = b = c = int(np.searchsorted(o, c_test - self.gap))
            if c_val is not None:
                a, b = int(np.searchsorted(o, c_val - self.gap)), int(np.searchsorted(o, c_val))
            windows = ((0, a), (b, c), (d, len(o)))
            if self.whole:
                kept = np.array([hi - lo for lo, hi in windows], dtype=float)
            else:
                counts = np.stack([np.bincount(self.units[lo:hi], minlength=self.n_units)
                                   for lo, hi in windows])
                home = counts.argmax(axis=0)  # ties: the earliest split, as keep_units_whole
                kept = np.array([counts[w, home == w].sum() for w in range(3)], dtype=float)
            self.memo[key] = kept
        return self.memo[key]

    def error(self, i_test: int, k_val: int) -> float:
        """The worst share error of val and test; inf where train would be empty."""
        kept = self.kept(i_test, k_val)
        if not kept[0] or not kept[2] or (k_val and not kept[1]):
            return np.inf  # never trade a split away for the others' shares
        wanted = [1, 2] if k_val else [2]
        return float(np.abs(kept / kept.sum() - self.target)[wanted].max())

    def share(self, i_test: int, k_val: int, split: int) -> float:
        kept = self.kept(i_test, k_val)
        return float(kept[split] / kept.sum()) if kept.sum() else 0.0

    @staticmethod
    def _search(lo: int, hi: int, above: Any) -> None:
        """Binary search of the integer in [lo, hi] where ``above`` turns from > 0 to <= 0."""
        while lo < hi:
            mid = (lo + hi) // 2
            if above(mid) > 0:
                lo = mid + 1
            else:
                hi = mid

    def best(self, start: tuple[int, int]) -> tuple[int, int]:
        """The evaluated cutoffs with the smallest error (the start wins ties)."""
        return min(self.memo, key=lambda key: (self.error(*key), key != start, key))

    def fit(self, i_test: int, k_val: int) -> tuple[int | None, int]:
        """The best cutoffs found from the start ``(i_test, k_val)``."""
        n = len(self.ordered)
        start = (i_test, k_val)
        self.kept(*start)
        for _ in range(self.ROUNDS):
            # A later test cutoff shrinks test: find where its share falls to the target.
            self._search(1, n - 1, lambda i, k=k_val: self.share(i, k, 2) - self.target[2])
            i_test = self.best(start)[0]
            if k_val:
                before = int(np.searchsorted(self.ordered, int(self.ordered[i_test]) - self.gap))
                self._search(1, max(before - 1, 1),
                             lambda k, i=i_test: self.target[1] - self.share(i, k, 1))
            i_test, k_val = self.best(start)
        best = self.best(start)
        return self.cut(*(best if np.isfinite(self.error(*best)) else start))


def keep_units_whole(units: np.ndarray, codes: np.ndarray, reasons: np.ndarray,
                     reason: str) -> None:
    """Send each unit to the split holding most of its kept rows; drop its rows elsewhere.

    Ties go to the earliest split. Rows already dropped are not counted and stay as they are.
    ``codes`` and ``reasons`` are changed in place.
    """
    index, keys = pd.factorize(units)
    if len(keys) == len(units):
        return  # one row per unit: nothing can straddle
    kept = codes != DROPPED
    width = len(SPLIT_NAMES)
    counts = np.bincount(index[kept] * width + codes[kept], minlength=len(keys) * width)
    home = counts.reshape(len(keys), width).argmax(axis=1)
    stray = kept & (codes != home[index])
    codes[stray] = DROPPED
    reasons[stray] = reason
