"""The challenge stage's plumbing: the pool of held-out candidates and what a kind picks from it.

A challenge kind (edge, ood, temporal, adversarial) sees a ``ChallengePool``: the held-out rows it
may draw from (never train) and the train rows to compare them with. It returns a ``Picked``: row
indices into the pool, the reason each row was chosen (a rule, a slice or a perturbation) and a
score where the kind has one. ``ChallengeKind.pick`` checks the result, so a kind can never return
a train row, the same row twice, or more rows than asked for.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.errors import LeakageError, RecipeError
from splitforge.registry import Registry

CHALLENGES: Registry[type[ChallengeKind]] = Registry("challenge kind")


@dataclass(frozen=True)
class ChallengePool:
    """The rows a challenge kind may draw from, and the training rows it compares them with.

    Attributes:
        candidates: Held-out rows (from the splits named in ``challenge.from``), with the original
            fields and ``sf_id``, ``sf_text``, ``sf_norm``, ``sf_cluster``, ``sf_split`` and, when
            mapped, ``sf_time`` (timestamp, UTC) and ``sf_label``. Sorted by ``sf_id``.
        train: The train rows, same columns.
        seed: The recipe seed; a kind derives its generator with ``rng_for(seed, "challenge",
            name)``.
    """

    candidates: pa.Table
    train: pa.Table
    seed: int

    def texts(self) -> list[str]:
        """The candidates' ``sf_text`` values."""
        return self.candidates.column(C.TEXT).to_pylist()

    def column(self, name: str) -> np.ndarray | None:
        """A candidate column as a NumPy object/number array, or None if the table lacks it."""
        if name not in self.candidates.column_names:
            return None
        return self.candidates.column(name).to_numpy(zero_copy_only=False)


@dataclass
class Picked:
    """The rows a kind chose, best first.

    Attributes:
        rows: Indices into ``ChallengePool.candidates``.
        reasons: Why each row was chosen: a rule name (``shortest``), ``slice:<name>``, or a
            perturbation name.
        scores: A number per row where the kind has one (the OOD distance, the IDF rarity), else
            NaN.
        info: JSON-safe details for the manifest and report (per-rule counts, comparisons).
        extra: Extra output columns, one array per column, aligned with ``rows`` (adversarial
            items carry their perturbed fields, seed and edit distance here).
    """

    rows: np.ndarray
    reasons: list[str]
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, list[Any]] = field(default_factory=dict)

    @classmethod
    def empty(cls, info: dict[str, Any] | None = None) -> Picked:
        """Nothing picked."""
        return cls(np.zeros(0, np.int64), [], np.zeros(0), dict(info or {}))


class ChallengeKind(ABC):
    """A way of choosing hard held-out items; ``_pick`` is the only method a subclass writes."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    def pick(self, pool: ChallengePool, n: int) -> Picked:
        """Up to ``n`` candidates, best first.

        Raises:
            RecipeError: The kind's config names fields the candidates lack (``check_fields``).
            LeakageError: The kind broke a rule (too many rows, a row twice, a row outside).
        """
        bad_fields = self.check_fields(pool.candidates.column_names)
        if bad_fields:
            raise RecipeError(bad_fields)
        if n <= 0 or pool.candidates.num_rows == 0:
            return Picked.empty()
        picked = self._pick(pool, n)
        rows = np.asarray(picked.rows, dtype=np.int64)
        problems = []
        if len(rows) > n:
            problems.append(f"returned {len(rows)} rows for {n} asked")
        if len(np.unique(rows)) != len(rows):
            problems.append("returned a row twice")
        if len(rows) and (rows.min() < 0 or rows.max() >= pool.candidates.num_rows):
            problems.append("returned a row outside the pool")
        if len(picked.reasons) != len(rows) or len(picked.scores) != len(rows):
            problems.append("returned reasons or scores that do not match its rows")
        if any(len(values) != len(rows) for values in picked.extra.values()):
            problems.append("returned extra columns that do not match its rows")
        if problems:
            raise LeakageError(f"challenge kind {self.name} {'; '.join(problems)}")
        picked.rows = rows
        return picked

    @abstractmethod
    def _pick(self, pool: ChallengePool, n: int) -> Picked:
        """Choose up to ``n`` rows of ``pool.candidates``, best first."""

    def unavailable(self, pool: ChallengePool) -> str | None:
        """Why this kind can pick nothing from ``pool`` at all (a missing field), or None."""
        return None

    def check_fields(self, columns: Sequence[str]) -> list[str]:
        """Problems with the input fields the kind's config names (recipe key first; none here).

        ``run_challenges`` asks every kind before any picks, so a bad field is an error even
        when the kind would pick nothing.
        """
        return []

    def merge_info(self, infos: list[dict[str, Any]]) -> dict[str, Any]:
        """The manifest info of a kind picked in several rounds (shortfalls redistributed).

        By default the first round's, with the number of rounds; a kind whose info counts
        picked items per reason adds the later rounds' counts (``EdgeChallenge``).
        """
        info = copy.deepcopy(infos[0]) if infos else {}
        if len(infos) > 1:
            info["rounds"] = len(infos)
        return info
