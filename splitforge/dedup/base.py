"""The dedup stage: every enabled method links rows and the links merge into clusters.

Each cluster keeps its survivor (see ``clusters.py``). Removed rows keep the id they duplicate and
the method that linked them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.dedup.clusters import Clusters, UnionFind, survivors
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.recipe import DedupConfig
from splitforge.registry import Registry
from splitforge.tables import take_rows

DEDUPERS: Registry[type[Deduper]] = Registry("dedup method")
TEXT_PREVIEW = 300


@dataclass(frozen=True)
class Links:
    """Pairs of row indices that one method found to be duplicates, with its score per pair."""

    left: np.ndarray
    right: np.ndarray
    score: np.ndarray
    method: str


class Deduper(ABC):
    """A dedup method: ``find_links`` is the only method a subclass writes."""

    method: ClassVar[str]
    reason: ClassVar[str]
    version: ClassVar[str] = "1"

    @abstractmethod
    def find_links(self, table: pa.Table, progress: Progress = NO_PROGRESS) -> Links:
        """Return duplicate pairs among the rows of ``table``, reporting rows done."""


@dataclass
class DedupResult:
    """The table with ``sf_cluster``, which rows survive, the removed rows, and counts."""

    table: pa.Table
    keep: np.ndarray
    removed: pa.Table
    clusters: pa.Table
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def kept(self) -> pa.Table:
        """The surviving rows (a copy; the pipeline takes rows by index instead)."""
        return self.table.filter(pa.array(self.keep))


def enabled_dedupers(config: DedupConfig) -> list[Deduper]:
    """The dedup methods a recipe turns on, in priority order (exact first)."""
    dedupers: list[Deduper] = []
    if config.exact:
        dedupers.append(DEDUPERS.get("exact")())
    if config.minhash is not None:
        dedupers.append(DEDUPERS.get("minhash")(config.minhash))
    if config.semantic is not None:
        dedupers.append(DEDUPERS.get("semantic")(config.semantic))
    return dedupers


def deduplicate(table: pa.Table, config: DedupConfig, progress: Progress = NO_PROGRESS
                ) -> DedupResult:
    """Run every enabled method, merge their clusters and split off the non-survivors."""
    n = table.num_rows
    union = UnionFind(n)
    reason = np.full(n, None, dtype=object)
    method = np.full(n, None, dtype=object)
    score = np.full(n, np.nan)
    per_method: dict[str, int] = {}
    for deduper in enabled_dedupers(config):
        links = deduper.find_links(table, progress)
        union.union(links.left, links.right)
        best = np.full(n, -np.inf)
        np.maximum.at(best, links.left, links.score)
        np.maximum.at(best, links.right, links.score)
        new = np.isfinite(best) & (method == None)  # noqa: E711 (elementwise)
        reason[new], method[new], score[new] = deduper.reason, deduper.method, best[new]
        per_method[deduper.method] = int(len(links.left))
    clusters: Clusters = survivors(table, union.find_all(), config.keep)
    table = table.append_column(C.CLUSTER, take_rows(table.column(C.ID), clusters.label))
    keep = clusters.is_survivor
    removed = table.filter(pa.array(~keep))
    removed_reason = reason[~keep]
    removed = removed.append_column("sf_stage", pa.array(["dedup"] * removed.num_rows, pa.string()))
    removed = removed.append_column("sf_reason", pa.array(removed_reason.tolist(), pa.string()))
    removed = removed.append_column("sf_kept_id", removed.column(C.CLUSTER))
    sizes = np.bincount(clusters.label, minlength=n)
    sizes = sizes[sizes > 1]
    stats = {
        "rows_in": n,
        "rows_kept": int(keep.sum()),
        "rows_removed": int((~keep).sum()),
        "links": per_method,
        "duplicate_clusters": int(len(sizes)),
        "largest_cluster": int(sizes.max()) if len(sizes) else 1,
        "removed_by_reason": _counts(removed_reason),
    }
    members = cluster_members(table, clusters, method, score)
    return DedupResult(table=table, keep=keep, removed=removed, clusters=members, stats=stats)


def cluster_members(table: pa.Table, clusters: Clusters, method: np.ndarray,
                    score: np.ndarray) -> pa.Table:
    """One row per member of every duplicate cluster: the method and score that linked it."""
    sizes = np.bincount(clusters.label, minlength=table.num_rows)[clusters.label]
    rows = np.flatnonzero(sizes > 1)
    text = pc.utf8_slice_codeunits(take_rows(table.column(C.TEXT), rows), 0, TEXT_PREVIEW)
    members = pa.table({
        C.CLUSTER: take_rows(table.column(C.CLUSTER), rows),
        C.ID: take_rows(table.column(C.ID), rows),
        "sf_kept": pa.array(clusters.is_survivor[rows]),
        "sf_method": pa.array(np.where(clusters.is_survivor[rows], None, method[rows]).tolist(),
                              pa.string()),
        "sf_score": pa.array(np.where(clusters.is_survivor[rows], np.nan, score[rows]),
                             pa.float64(), from_pandas=True),
        "sf_cluster_size": pa.array(sizes[rows], pa.int64()),
        "sf_text": text,
    })
    return members.sort_by([(C.CLUSTER, "ascending"), (C.ID, "ascending")])


def _counts(values: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return {str(k): int(v) for k, v in zip(names, counts, strict=True)}
