"""Temporal split: train, then val, then test in time, with an embargo gap before each cutoff.

Two cutoffs ``c_val < c_test`` cut the time axis into windows; with an embargo ``gap``::

    time ->   train   | dropped |   val   | dropped |   test
                      ^         ^         ^         ^
               c_val - gap    c_val  c_test - gap  c_test

A row is train if ``t < c_val - gap``, val if ``c_val <= t < c_test - gap``, test if
``t >= c_test``; rows in ``[c - gap, c)`` for either cutoff are dropped (reason ``temporal_gap``).
Without a val cutoff there is no val window, only train and test.

The cutoffs come from ``split.cutoffs`` or from the ratios on the sorted times: with ``n`` rows,
``c_test`` is the time at index ``n - round(n * r.test)``, so test holds the newest ~``r.test``
share (rows sharing that timestamp all go to test); ``c_val`` is the time ``round(n * r.val)`` rows
before the first row earlier than ``c_test - gap``, so val holds ~``r.val`` of all rows; train is
what lies before ``c_val - gap``.

A unit (group if mapped, else duplicate cluster) whose rows fall in several windows goes whole to
the window holding most of its non-gap rows (ties: the earliest); its rows in other windows are
dropped (``group_straddles_cutoff``, or ``cluster_straddles_cutoff``). Rows are only ever dropped,
never moved, so the time order of the windows survives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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

    def cutoffs(self, times: np.ndarray) -> tuple[int | None, int | None]:
        """The (val, test) cutoffs in microseconds for these times; None where a split is empty.

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
        c_val, c_test = self.cutoffs(times)
        codes = np.full(len(times), TRAIN, dtype=np.int8)
        for cutoff, code in ((c_val, VAL), (c_test, TEST)):
            if cutoff is not None:
                codes[times >= cutoff - self._gap] = DROPPED
                codes[times >= cutoff] = code
        reasons = np.full(len(times), None, dtype=object)
        reasons[codes == DROPPED] = GAP_REASON
        if frame.groups is not None:
            keep_units_whole(frame.groups, codes, reasons, STRADDLE_REASON)
        else:
            keep_units_whole(frame.clusters, codes, reasons, CLUSTER_STRADDLE_REASON)
        info = {
            "cutoffs": {"val": iso_us(c_val) if c_val is not None else None,
                        "test": iso_us(c_test) if c_test is not None else None},
            "cutoffs_from": "recipe" if self.config.cutoffs is not None else "ratios",
            "gap": str(self.config.gap) if self.config.gap is not None else None,
            "gap_seconds": self._gap / 1e6,
        }
        return Assignment(codes, reasons, info)


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
