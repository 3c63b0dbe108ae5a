"""``splitforge diff OLD NEW``: what changed between two builds, item by item.

Items are matched by ``sf_id``. Per build, every row of train/val/test gets its split and a
content hash of its original fields (``content_ids``: nulls left out, so a field that a new row
brings does not change every other row; a changed answer or label counts, splitforge's own
columns do not). An id only in NEW is ``added``, only in OLD
``removed``; one in both is ``moved`` when its split differs and ``changed`` when its content
differs (an item can be both). Each challenge set is compared the same way, by its items' ids.

The diff also explains itself from each build's ``removed.parquet`` and manifest:

- ``items.changed.by_field``: per original field, how many changed items differ in it (a field
  null or absent on both sides is equal).
- ``new_rows``: ids in NEW's data (a split or ``removed.parquet``) that were in neither file of
  OLD: how many got into a split (per split) and how many NEW removed (per ``stage:reason``).
  ``items.added`` splits into ``new_in_data`` and ``was_removed`` (kept now, removed in OLD),
  ``items.removed`` into ``gone_from_data`` and ``now_removed`` (removed in NEW).
- ``transitions``: ``kept_to_removed`` (in a split of OLD, in NEW's ``removed.parquet``) and
  ``removed_to_kept`` (the reverse), counted by the reason of the build that removed them.
- ``split``: method, ratios, gap and cutoffs of each build, and ``changed`` (``old``/``new`` of
  each that differs). When a temporal cutoff moved, ``items.moved.by_cause`` counts the moves
  whose row time lies between the cutoff's old and new value (``val cutoff``, ``test cutoff``,
  ``val and test cutoffs`` for train<->test), the rest as ``other``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.load.fields import content_ids, to_json
from splitforge.recipe import SPLITS
from splitforge.write.manifest import output_file, read_intact_manifest

EXAMPLES = 5
STAGE = "sf_stage"  # removed.parquet: the stage that removed the row (dedup, split, audit...)
OTHER = "other"


def _items(path: Path | None) -> dict[str, str]:
    """sf_id -> content hash of one output file (none when the build has no such file)."""
    if path is None:
        return {}
    table = pq.read_table(path)
    own = table.drop_columns([c for c in table.column_names if c.startswith(C.PREFIX)])
    return dict(zip(table.column(C.ID).to_pylist(), content_ids(own).to_pylist(), strict=True))


def _build_items(folder: Path) -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
    """sf_id -> (split, content hash) over train, val and test; and the manifest."""
    manifest = read_intact_manifest(folder)  # a clear error when the folder is not a build
    items: dict[str, tuple[str, str]] = {}
    for split in SPLITS:
        for item, content in _items(output_file(folder, manifest, f"{split}.parquet")).items():
            items[item] = (split, content)
    return items, manifest


def _removed(folder: Path, manifest: dict[str, Any]) -> dict[str, str]:
    """sf_id -> ``stage:reason`` of every row in the build's removed.parquet."""
    path = output_file(folder, manifest, "removed.parquet")
    if path is None:
        return {}
    names = pq.read_schema(path).names
    if C.ID not in names:
        return {}
    wanted = [c for c in (C.ID, STAGE, C.REASON) if c in names]
    table = pq.read_table(path, columns=wanted)
    ids = table.column(C.ID).to_pylist()
    stages = table.column(STAGE).to_pylist() if STAGE in names else [None] * len(ids)
    reasons = table.column(C.REASON).to_pylist() if C.REASON in names else [None] * len(ids)
    out: dict[str, str] = {}
    for item, stage, reason in zip(ids, stages, reasons, strict=True):
        label = f"{stage}:{reason}" if stage and reason else (reason or stage or "unknown")
        out.setdefault(item, label)
    return out


def _rows(folder: Path, manifest: dict[str, Any], ids: set[str]) -> dict[str, dict[str, Any]]:
    """sf_id -> record (all columns) of the chosen ids in train, val and test."""
    out: dict[str, dict[str, Any]] = {}
    if not ids:
        return out
    wanted = pa.array(sorted(ids), pa.string())
    for split in SPLITS:
        path = output_file(folder, manifest, f"{split}.parquet")
        if path is None:
            continue
        table = pq.read_table(path)
        table = table.filter(pc.is_in(table.column(C.ID), value_set=wanted))
        for record in table.to_pylist():
            out[record[C.ID]] = record
    return out


def _summary(ids: list[str]) -> dict[str, Any]:
    return {"count": len(ids), "examples": ids[:EXAMPLES]}


def _by_reason(ids: list[str], reasons: dict[str, str]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for i in ids:
        counts[reasons[i]] = counts.get(reasons[i], 0) + 1
    return {**_summary(ids), "by_reason": dict(sorted(counts.items(), key=lambda kv: (-kv[1],
                                                                                       kv[0])))}


def _field_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """The original fields whose values differ (null and absent are equal)."""
    old, new = old or {}, new or {}
    fields = {k for k in (*old, *new) if not k.startswith(C.PREFIX)}
    return sorted(k for k in fields if (None if old.get(k) is None else to_json(old[k]))
                  != (None if new.get(k) is None else to_json(new[k])))


def _split_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    """Method, ratios, gap and cutoffs the build split by (the resolved cutoffs it recorded)."""
    stage = (manifest.get("stages") or {}).get("split") or {}
    recipe = ((manifest.get("recipe") or {}).get("split")) or {}
    def ordered(value: Any) -> Any:  # train, val, test: the order a reader expects
        if not isinstance(value, dict):
            return value
        return {k: value[k] for k in sorted(value, key=lambda k: (
            SPLITS.index(k) if k in SPLITS else len(SPLITS), k))}

    return {"method": stage.get("method", recipe.get("method")),
            "ratios": ordered(recipe.get("ratios")),
            "gap": stage.get("gap", recipe.get("gap")),
            "cutoffs": ordered(stage.get("cutoffs"))}


def _flat(settings: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _split_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    a, b = _flat(old), _flat(new)
    keys = list(dict.fromkeys([*a, *b]))  # method, ratios.*, gap, cutoffs.* in that order
    return {k: {"old": a.get(k), "new": b.get(k)} for k in keys if a.get(k) != b.get(k)}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _cause(old_split: str, new_split: str, when: datetime | None,
           moved_cutoffs: dict[str, tuple[datetime, datetime]]) -> str:
    """Which moved cutoff(s) the row's time crossed, to go from one split to the other."""
    order = {s: n for n, s in enumerate(SPLITS)}
    low, high = sorted((order[old_split], order[new_split]))
    needed = [name for name in ("val", "test") if low < order[name] <= high]
    if "val" in needed and "test" in needed and "val" not in moved_cutoffs:
        needed = ["test"]  # no val cutoff on one side: train and test border at the test cutoff
    if when is None or not needed or any(name not in moved_cutoffs for name in needed):
        return OTHER
    for name in needed:
        first, last = sorted(moved_cutoffs[name])
        if not first <= when < last:
            return OTHER
    return " and ".join(needed) + (" cutoffs" if len(needed) > 1 else " cutoff")


def diff_builds(old: str | Path, new: str | Path) -> dict[str, Any]:
    """The differences between two build folders, as a JSON-safe dict.

    Raises:
        InputError: A folder is not a build (no ``manifest.json``), or a file it lists is gone.
    """
    old, new = Path(old), Path(new)
    (before, old_manifest), (after, new_manifest) = _build_items(old), _build_items(new)
    old_removed, new_removed = _removed(old, old_manifest), _removed(new, new_manifest)
    for item in before:
        old_removed.pop(item, None)  # in a split wins over removed (never both, but be sure)
    for item in after:
        new_removed.pop(item, None)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    both = sorted(set(before) & set(after))
    moved = [i for i in both if before[i][0] != after[i][0]]
    changed = [i for i in both if before[i][1] != after[i][1]]
    changed_set = set(changed)
    moves: dict[str, int] = {}
    for i in moved:
        key = f"{before[i][0]}->{after[i][0]}"
        moves[key] = moves.get(key, 0) + 1
    per_split = {}
    for split in SPLITS:
        old_ids = {i for i, (s, _) in before.items() if s == split}
        new_ids = {i for i, (s, _) in after.items() if s == split}
        per_split[split] = {"old": len(old_ids), "new": len(new_ids),
                            "added": len(new_ids - set(before)),
                            "removed": len(old_ids - set(after)),
                            "changed": len(new_ids & old_ids & changed_set)}

    # which fields changed; the row times of the moves
    old_rows = _rows(old, old_manifest, changed_set)
    new_rows_ = _rows(new, new_manifest, changed_set | set(moved))
    by_field: dict[str, int] = {}
    for i in changed:
        for field in _field_changes(old_rows.get(i), new_rows_.get(i)):
            by_field[field] = by_field.get(field, 0) + 1

    # rows new in the data, and rows between a split and removed.parquet
    old_data = set(before) | set(old_removed)
    new_kept = [i for i in added if i not in old_data]
    new_dropped = sorted(i for i in new_removed if i not in old_data)
    kept_by_split = {s: sum(1 for i in new_kept if after[i][0] == s) for s in SPLITS}
    removed_to_kept = [i for i in added if i in old_removed]
    kept_to_removed = [i for i in removed if i in new_removed]
    gone = [i for i in removed if i not in new_removed]

    # the split's settings, and the moves a moved cutoff explains
    old_split, new_split = _split_settings(old_manifest), _split_settings(new_manifest)
    moved_cutoffs: dict[str, tuple[datetime, datetime]] = {}
    for name in ("val", "test"):
        a = _time((old_split["cutoffs"] or {}).get(name))
        b = _time((new_split["cutoffs"] or {}).get(name))
        if a is not None and b is not None and a != b:
            moved_cutoffs[name] = (a, b)
    by_cause: dict[str, int] = {}
    if moved_cutoffs:
        for i in moved:
            cause = _cause(before[i][0], after[i][0],
                           _time((new_rows_.get(i) or {}).get(C.TIME)), moved_cutoffs)
            by_cause[cause] = by_cause.get(cause, 0) + 1

    challenge: dict[str, Any] = {}
    names = sorted({p.stem for folder in (old, new) for p in (folder / "challenge").glob(
        "*.parquet")} - {"all"})
    for name in names:
        a = _items(output_file(old, old_manifest, f"challenge/{name}.parquet"))
        b = _items(output_file(new, new_manifest, f"challenge/{name}.parquet"))
        challenge[name] = {
            "old": len(a), "new": len(b),
            "added": _summary(sorted(set(b) - set(a))),
            "removed": _summary(sorted(set(a) - set(b))),
            "changed": _summary(sorted(i for i in set(a) & set(b) if a[i] != b[i])),
        }
    return {
        "old": str(old), "new": str(new),
        "items": {"added": {**_summary(added), "new_in_data": len(new_kept),
                            "was_removed": len(removed_to_kept)},
                  "removed": {**_summary(removed), "gone_from_data": len(gone),
                              "now_removed": len(kept_to_removed)},
                  "moved": {**_summary(moved), "by_move": dict(sorted(moves.items())),
                            "by_cause": dict(sorted(by_cause.items()))},
                  "changed": {**_summary(changed), "by_field": dict(sorted(
                      by_field.items(), key=lambda kv: (-kv[1], kv[0])))},
                  "unchanged": len(both) - len(set(moved) | set(changed))},
        "new_rows": {"count": len(new_kept) + len(new_dropped),
                     "kept": {**_summary(new_kept), "by_split": kept_by_split},
                     "removed": _by_reason(new_dropped, new_removed)},
        "transitions": {"kept_to_removed": _by_reason(kept_to_removed, new_removed),
                        "removed_to_kept": _by_reason(removed_to_kept, old_removed),
                        "gone_from_data": _summary(gone)},
        "split": {"old": old_split, "new": new_split,
                  "changed": _split_changes(old_split, new_split)},
        "splits": per_split,
        "challenge": challenge,
    }
