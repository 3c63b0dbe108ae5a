"""The dedup stage: every enabled method links rows and the links merge into clusters.

A cluster decides where its rows go; removal is per row (see ``clusters.py``): a row is removed
only as a direct, verified copy of a row that is kept. Removed rows keep the id they duplicate and
the method and score of that link. Clusters that grew by chaining (more than one kept row) are
counted with their weakest link; a giant one (``max_cluster_share``) is not placed whole.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.dedup.clusters import (
    Clusters,
    UnionFind,
    control_copies,
    direct_pair_removal,
    survivors,
)
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.recipe import DedupConfig
from splitforge.registry import Registry
from splitforge.tables import take_rows, take_table

DEDUPERS: Registry[type[Deduper]] = Registry("dedup method")
TEXT_PREVIEW = 300
CHAINS_SHOWN = 10  # chained clusters listed in the manifest and report
GIANT_MIN_KEPT = 10  # a cluster keeping at most this many rows is always placed whole


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
    """The table with ``sf_cluster``, which rows survive, the removed rows, and counts.

    ``same_text`` holds per row a row with the identical normalized text (itself if none), and
    ``near_pairs`` the verified near-duplicate links (exact ones are in ``same_text``);
    ``control_of`` maps the exact-group roots that copy a control item to that item's id.
    """

    table: pa.Table
    keep: np.ndarray
    removed: pa.Table
    clusters: pa.Table
    stats: dict[str, Any] = field(default_factory=dict)
    same_text: np.ndarray | None = None
    near_pairs: tuple[np.ndarray, np.ndarray] | None = None
    control_of: dict[int, str] = field(default_factory=dict)

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


def deduplicate(table: pa.Table, config: DedupConfig, progress: Progress = NO_PROGRESS,
                control: np.ndarray | None = None) -> DedupResult:
    """Run every enabled method, merge their clusters and split off the direct copies.

    ``control`` marks control items: they and their direct copies (``control_copies``) are
    taken out before removal is decided, so no row is removed for a row that then goes too.
    """
    n = table.num_rows
    union, same_text = UnionFind(n), UnionFind(n)
    dedupers = enabled_dedupers(config)
    near: list[tuple[np.ndarray, ...]] = []
    per_method: dict[str, int] = {}
    for index, deduper in enumerate(dedupers):
        links = deduper.find_links(table, progress)
        union.union(links.left, links.right)
        if deduper.method == "exact":
            # one text, but a copy only when the rest the trainer reads is equal too
            same = same_identity(table, links.left, links.right)
            same_text.union(links.left[same], links.right[same])
        else:
            near.append((links.left, links.right, links.score,
                         np.full(len(links.left), index, dtype=np.int64)))
        per_method[deduper.method] = int(len(links.left))
    clusters: Clusters = survivors(table, union.find_all(), config.keep)
    same_text_root = same_text.find_all()
    left, right, score, via = (np.concatenate(parts) for parts in zip(*near, strict=True)) \
        if near else (np.zeros(0, np.int64),) * 2 + (np.zeros(0), np.zeros(0, np.int64))
    exact_via = next((i for i, d in enumerate(dedupers) if d.method == "exact"), -1)
    forced_out, copied = None, {}
    if control is not None and control.any():
        ids_np = table.column(C.ID).to_numpy(zero_copy_only=False)
        copied = control_copies(same_text_root, left, right, control, ids_np)
        forced_out = np.isin(same_text_root, np.array(sorted(copied), dtype=np.int64)) | control
    removal = direct_pair_removal(clusters.preference, same_text_root, left, right, score,
                                  via, exact_via, forced_out)
    keep = removal.keep
    ids = table.column(C.ID)
    methods = np.array([d.method for d in dedupers] + [None], dtype=object)
    reasons = np.array([d.reason for d in dedupers] + [None], dtype=object)
    method, reason = methods[removal.via], reasons[removal.via]  # -1 (kept) reads None
    label = clusters.label
    chains = chained_clusters(table, label, keep, np.concatenate((left, right)),
                              np.concatenate((score, score)))
    giant = giant_rows(label, keep, config.max_cluster_share)
    placement = label.copy()
    placement[giant] = np.flatnonzero(giant)  # placed one by one
    table = table.append_column(C.CLUSTER, take_rows(ids, placement))
    gone = np.flatnonzero(~keep if forced_out is None else ~keep & ~forced_out)
    removed = take_table(table, gone)  # control rows and their copies: the control step
    removed = removed.append_column("sf_stage", pa.array(["dedup"] * len(gone), pa.string()))
    removed = removed.append_column("sf_reason", pa.array(reason[gone].tolist(), pa.string()))
    removed = removed.append_column("sf_kept_id", take_rows(ids, removal.kept_for[gone]))
    sizes = np.bincount(label, minlength=n)
    sizes = sizes[sizes > 1]
    stats = {
        "rows_in": n,
        "rows_kept": int(keep.sum()),
        "rows_removed": int(len(gone)),
        "links": per_method,
        "duplicate_clusters": int(len(sizes)),
        "largest_cluster": int(sizes.max()) if len(sizes) else 1,
        "removed_by_reason": _counts(reason[gone]),
        "removed_differing": differing_removed(table, gone, removal.kept_for),
        "chained_clusters": chains,
        "giant_clusters": {"max_share": config.max_cluster_share,
                           "clusters": int(len(np.unique(label[giant]))),
                           "rows_placed_one_by_one": int(giant.sum())},
    }
    members = cluster_members(table, label, keep, removal, method)
    return DedupResult(table=table, keep=keep, removed=removed, clusters=members, stats=stats,
                       same_text=same_text_root, near_pairs=(left, right), control_of=copied)


def same_identity(table: pa.Table, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair, whether both rows have the same ``sf_identity`` (tools, media...); True without.

    A null identity (nothing beyond the text) reads as 0, which no xxh3 hash is in practice.
    """
    if C.IDENTITY not in table.column_names:
        return np.ones(len(left), dtype=bool)
    identity = pc.fill_null(table.column(C.IDENTITY), 0).to_numpy()
    return identity[np.asarray(left, np.int64)] == identity[np.asarray(right, np.int64)]


def differing_removed(table: pa.Table, gone: np.ndarray, kept_for: np.ndarray
                      ) -> dict[str, int]:
    """Removed rows whose kept row differs in a field the trainer reads, counted per field."""
    if C.IDENTITY not in table.column_names or not len(gone):
        return {}
    partner = kept_for[gone]
    has = partner >= 0
    rows, partner = gone[has], partner[has]
    differ = ~same_identity(table, rows, partner)
    if not differ.any():
        return {}
    from splitforge.load.formats import differing_fields
    from splitforge.load.sources import IDENTITY_FIELDS

    meta = table.schema.field(C.IDENTITY).metadata or {}
    names = json.loads(meta.get(IDENTITY_FIELDS, b"[]"))
    counts: dict[str, int] = {}
    for a, b in zip(rows[differ].tolist(), partner[differ].tolist(), strict=True):
        for name in differing_fields(table, names, a, b) or ["(turns not compared or media)"]:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def chained_clusters(table: pa.Table, label: np.ndarray, keep: np.ndarray, ends: np.ndarray,
                     scores: np.ndarray) -> dict[str, Any]:
    """Clusters that grew by chaining: more than one kept row, so not all members are copies.

    Each is listed (largest first, then by id) with its size, its kept rows and its weakest
    near-duplicate link, the lowest score on any link inside it.
    """
    n = len(label)
    kept_per = np.bincount(label[keep], minlength=n)
    chained = np.flatnonzero(kept_per > 1)
    info: dict[str, Any] = {"count": int(len(chained)),
                            "rows": int(np.isin(label, chained).sum()) if len(chained) else 0,
                            "largest": []}
    if not len(chained):
        return info
    sizes = np.bincount(label, minlength=n)
    weakest = np.full(n, np.inf)
    np.minimum.at(weakest, label[ends], scores)
    shown = chained[np.lexsort((take_rows(table.column(C.ID), chained).to_numpy(
        zero_copy_only=False), -sizes[chained]))][:CHAINS_SHOWN]
    ids = take_rows(table.column(C.ID), shown).to_pylist()
    info["largest"] = [
        {"cluster": cid, "rows": int(sizes[row]), "kept": int(kept_per[row]),
         "weakest_link": round(float(weakest[row]), 4) if np.isfinite(weakest[row]) else None}
        for cid, row in zip(ids, shown.tolist(), strict=True)]
    return info


def giant_rows(label: np.ndarray, keep: np.ndarray, max_share: float) -> np.ndarray:
    """Kept rows of clusters keeping more than ``max_share`` of all kept rows (and > 10 rows)."""
    kept_per = np.bincount(label[keep], minlength=len(label))
    too_big = kept_per > max(GIANT_MIN_KEPT, max_share * int(keep.sum()))
    return keep & too_big[label]


def cluster_members(table: pa.Table, label: np.ndarray, keep: np.ndarray, removal: Any,
                    method: np.ndarray) -> pa.Table:
    """One row per member of every duplicate cluster: kept or the kept row it copies, and how."""
    sizes = np.bincount(label, minlength=table.num_rows)[label]
    rows = np.flatnonzero(sizes > 1)
    ids = table.column(C.ID)
    text = pc.utf8_slice_codeunits(take_rows(table.column(C.TEXT), rows), 0, TEXT_PREVIEW)
    gone = removal.kept_for[rows] >= 0  # control rows and their copies have no partner here
    partner = take_rows(ids, np.where(gone, removal.kept_for[rows], rows))
    members = pa.table({
        C.CLUSTER: take_rows(ids, label[rows]),
        C.ID: take_rows(ids, rows),
        "sf_kept": pa.array(keep[rows]),
        "sf_kept_id": pc.if_else(pa.array(gone), partner, pa.nulls(len(rows), partner.type)),
        "sf_method": pa.array(method[rows].tolist(), pa.string()),
        "sf_score": pa.array(removal.score[rows], pa.float64(), from_pandas=True),
        "sf_cluster_size": pa.array(sizes[rows], pa.int64()),
        "sf_text": text,
    })
    return members.sort_by([(C.CLUSTER, "ascending"), (C.ID, "ascending")])


def _counts(values: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return {str(k): int(v) for k, v in zip(names, counts, strict=True)}
