"""Temporal split: train, then val, then test in time, with an embargo gap before each cutoff.

With ratios, test is the newest ``round(n * test)`` rows (extended to every row sharing the
cutoff's timestamp), and val the newest ``round(n * val)`` rows before ``c_test - gap``. Rows with
``c - gap <= t < c`` for a cutoff ``c`` are dropped (``temporal_gap``). With groups, each group
goes whole to the split holding most of its rows (ties: the earlier split) and its rows outside
that split's window are dropped (``group_straddles_cutoff``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from splitforge.errors import InputError
from splitforge.split.base import (
    DROPPED,
    SPLITTERS,
    TEST,
    TRAIN,
    VAL,
    Assignment,
    SplitFrame,
    Splitter,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
GAP_REASON = "temporal_gap"
STRADDLE_REASON = "group_straddles_cutoff"


def to_us(moment: datetime) -> int:
    """UTC microseconds since the epoch."""
    return (moment - _EPOCH) // _US


def from_us(value: int) -> str:
    """ISO 8601 UTC text of microseconds since the epoch."""
    return (_EPOCH + timedelta(microseconds=int(value))).isoformat()


@SPLITTERS.register("temporal")
class TemporalSplitter(Splitter):
    """Time-ordered split with an embargo.

    Guarantees:
        Every val row is later than every train row by more than ``gap``, and every test row later
        than every val and train row by more than ``gap``; rows with the same timestamp fall on
        the same side. A group (when mapped) is in one split; rows that would break either
        guarantee are dropped with their reason, never moved.
    """

    method = "temporal"
    needs = ("times",)

    def gap_us(self) -> int:
        """The embargo in microseconds."""
        return self.config.gap_delta // _US

    def cutoffs(self, times: np.ndarray) -> tuple[int | None, int | None]:
        """(val cutoff, test cutoff) in microseconds; None where that split is empty."""
        if self.config.cutoffs is not None:
            c = self.config.cutoffs
            return (to_us(c.val) if c.val else None), to_us(c.test)
        gap = self.gap_us()
        ordered = np.sort(times)
        n = len(ordered)
        n_test = int(np.floor(n * self.ratios.test + 0.5))
        n_val = int(np.floor(n * self.ratios.val + 0.5))
        c_test = int(ordered[n - n_test]) if n_test else None
        before = n if c_test is None else int(np.searchsorted(ordered, c_test - gap, "left"))
        c_val = None
        if n_val:
            if before - n_val <= 0:
                self._too_few(ordered)
            c_val = int(ordered[before - n_val])
        first_after_train = c_val if c_val is not None else c_test
        if first_after_train is not None and not (ordered < first_after_train - gap).any():
            self._too_few(ordered)
        return c_val, c_test

    def _too_few(self, ordered: np.ndarray) -> None:
        raise InputError(
            f"cannot place temporal cutoffs at ratios {self.ratios.train:g}/{self.ratios.val:g}/"
            f"{self.ratios.test:g} with gap {self.config.gap or 0}: {len(ordered)} rows span "
            f"{from_us(ordered[0]) if len(ordered) else '-'} to "
            f"{from_us(ordered[-1]) if len(ordered) else '-'} and no rows would be left for "
            f"train; give split.cutoffs, a smaller gap, or more data"
        )

    def _assign(self, frame: SplitFrame) -> Assignment:
        times = frame.times
        gap = self.gap_us()
        c_val, c_test = self.cutoffs(times)
        codes = np.full(len(times), TRAIN, dtype=np.int8)
        if c_val is not None:
            codes[times >= c_val - gap] = DROPPED
            codes[times >= c_val] = VAL
        if c_test is not None:
            codes[times >= c_test - gap] = DROPPED
            codes[times >= c_test] = TEST
        reasons = np.full(len(times), None, dtype=object)
        reasons[codes == DROPPED] = GAP_REASON
        if frame.groups is not None:
            self._keep_groups_whole(frame.groups, codes, reasons)
        info = {
            "cutoffs": {"val": from_us(c_val) if c_val is not None else None,
                        "test": from_us(c_test) if c_test is not None else None},
            "gap": str(self.config.gap) if self.config.gap is not None else None,
            "gap_seconds": self.config.gap_delta.total_seconds(),
        }
        return Assignment(codes, reasons, info)

    @staticmethod
    def _keep_groups_whole(groups: np.ndarray, codes: np.ndarray, reasons: np.ndarray) -> None:
        _, inverse = np.unique(groups.astype(str), return_inverse=True)
        inverse = inverse.ravel()
        kept = codes != DROPPED
        counts = np.zeros((inverse.max() + 1 if len(inverse) else 0, 3), dtype=np.int64)
        np.add.at(counts, (inverse[kept], codes[kept]), 1)
        home = counts.argmax(axis=1)
        stray = kept & (codes != home[inverse])
        codes[stray] = DROPPED
        reasons[stray] = STRADDLE_REASON
