"""Temporal-shift challenge items: the newest held-out rows, compared with train.

A model is trained on the past and used on the future; the newest held-out rows show how it
copes with what came after its data. With ``challenge.temporal.after`` set, the candidates are
the held-out rows strictly after that time (UTC), newest first; without it, the newest ``n``.
Rows without a time are never picked. Ties in time go to the smaller ``sf_id``.

The report compares the picked rows with train: label shares (when a label field is mapped),
mean length in characters, and the share of the picked rows' word occurrences that no train row
contains (words as in :class:`~splitforge.challenge.edge.TrainWords`: ``sf_norm`` split on
spaces, characters for CJK text).

Guarantees:
    Deterministic: no randomness; the same pool and config give the same rows in the same order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.challenge.base import CHALLENGES, ChallengeKind, ChallengePool, Picked
from splitforge.challenge.edge import TrainWords, char_lengths
from splitforge.recipe import TemporalChallengeConfig
from splitforge.split.base import iso_us
from splitforge.split.temporal import to_us


def epoch_micros(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (UTC) of a timestamp column, and which values are present.

    Naive timestamps are taken as UTC, as the loader does.
    """
    present = column.is_valid().to_numpy(zero_copy_only=False).astype(bool)
    micros = pc.fill_null(column.cast(pa.timestamp("us", tz=column.type.tz), safe=False)
                          .cast(pa.int64()), 0)
    return micros.to_numpy(zero_copy_only=False).astype(np.int64), present


def _iso(micros: int) -> str:
    return iso_us(micros).replace("+00:00", "Z")


def after_label(after: datetime) -> str:
    """``after`` as written in reasons: a date at midnight UTC, else the full ISO time."""
    after = after.astimezone(UTC)
    if after.time() == datetime.min.time():
        return after.date().isoformat()
    return after.isoformat().replace("+00:00", "Z")


def _label_shares(labels: list[Any], keys: list[str]) -> dict[str, float]:
    total = len(labels)
    counts: dict[str, int] = {}
    for label in labels:
        if label is not None:
            counts[str(label)] = counts.get(str(label), 0) + 1
    return {key: round(counts.get(key, 0) / total, 4) if total else 0.0 for key in keys}


NO_TIME = "the recipe maps no time field: set fields.time"


@CHALLENGES.register("temporal")
class TemporalChallenge(ChallengeKind):
    """Temporal shift: the newest held-out rows, or those after ``config.after``.

    Args:
        config: ``challenge.temporal`` of the recipe; ``after`` (UTC) keeps only rows strictly
            later than it.

    Each row's reason is ``newest`` or ``after:<date>`` and its score the time in seconds since
    the epoch. ``info`` holds ``candidates`` (rows eligible), ``picked``, ``time_range`` (oldest
    and newest ISO time of the picked rows and of train) and ``compared_with_train``:
    ``mean_chars`` and ``label_shares`` (the picked rows' labels, ``picked`` vs ``train``; only
    when a label field is mapped) and ``unseen_word_share``. Without ``sf_time`` nothing is
    picked and ``info`` says why (``skipped``: no time field).

    Guarantees:
        Every picked row is strictly later than ``after`` when it is set; rows come newest first,
        ties by ``sf_id``.
    """

    name = "temporal"

    def __init__(self, config: TemporalChallengeConfig) -> None:
        self.config = config

    def unavailable(self, pool: ChallengePool) -> str | None:
        """No time field mapped: nothing is newest."""
        if C.TIME not in pool.candidates.column_names:
            return NO_TIME
        return None

    def _pick(self, pool: ChallengePool, n: int) -> Picked:
        """The newest ``n`` timed candidates (after ``config.after`` when set)."""
        if C.TIME not in pool.candidates.column_names:
            return Picked.empty({"skipped": NO_TIME})
        micros, eligible = epoch_micros(pool.candidates.column(C.TIME))
        reason = "newest"
        if self.config.after is not None:
            reason = f"after:{after_label(self.config.after)}"
            limit = to_us(self.config.after)
            eligible &= micros > limit
        info: dict[str, Any] = {"reason": reason, "candidates": int(eligible.sum())}
        timed = np.flatnonzero(eligible)
        rows = timed[np.argsort(-micros[timed], kind="stable")][:n]
        info["picked"] = len(rows)
        if not len(rows):
            return Picked.empty(info)
        info["time_range"] = {"picked": [_iso(micros[rows].min()), _iso(micros[rows].max())]}
        if C.TIME in pool.train.column_names and pool.train.num_rows:
            train_micros, present = epoch_micros(pool.train.column(C.TIME))
            if present.any():
                info["time_range"]["train"] = [_iso(train_micros[present].min()),
                                               _iso(train_micros[present].max())]
        info["compared_with_train"] = self._compare(pool, rows)
        return Picked(rows.astype(np.int64), [reason] * len(rows),
                      micros[rows].astype(np.float64) / 1e6, info)

    @staticmethod
    def _compare(pool: ChallengePool, rows: np.ndarray) -> dict[str, Any]:
        """Label shares, mean length and unseen words of the picked rows against train."""
        picked = pool.candidates.take(pa.array(rows))
        train = pool.train

        def mean_chars(table: pa.Table) -> float | None:
            if not table.num_rows:
                return None
            return round(float(char_lengths(table.column(C.TEXT)).mean()), 4)

        out: dict[str, Any] = {"mean_chars": {"picked": mean_chars(picked),
                                              "train": mean_chars(train)}}
        if C.LABEL in pool.candidates.column_names:
            picked_labels = picked.column(C.LABEL).to_pylist()
            keys = sorted({str(v) for v in picked_labels if v is not None})
            train_labels = (train.column(C.LABEL).to_pylist()
                            if C.LABEL in train.column_names else [])
            out["label_shares"] = {"picked": _label_shares(picked_labels, keys),
                                   "train": _label_shares(train_labels, keys)}
        share = TrainWords(train.column(C.NORM)).unseen_share(picked.column(C.NORM))
        out["unseen_word_share"] = None if share is None else round(share, 4)
        return out
