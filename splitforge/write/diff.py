"""``splitforge diff OLD NEW``: what changed between two builds, item by item.

Items are matched by ``sf_id``. Per build, every row of train/val/test gets its split and a
content hash (sha256 of the canonical JSON of its original fields, so a changed answer or label
counts, while splitforge's own columns do not). An id only in NEW is ``added``, only in OLD
``removed``; one in both is ``moved`` when its split differs and ``changed`` when its content
differs (an item can be both). Each challenge set is compared the same way, by its items' ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.fingerprint import canonical_json
from splitforge.write.manifest import read_manifest

SPLITS = ("train", "val", "test")
EXAMPLES = 5


def _content(row: dict[str, Any]) -> str:
    fields = {k: v for k, v in row.items() if not k.startswith(C.PREFIX)}
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def _items(path: Path) -> dict[str, str]:
    """sf_id -> content hash of one output file."""
    if not path.is_file():
        return {}
    return {row[C.ID]: _content(row) for row in pq.read_table(path).to_pylist()}


def _build_items(folder: Path) -> dict[str, tuple[str, str]]:
    """sf_id -> (split, content hash) over train, val and test."""
    read_manifest(folder)  # a clear error when the folder is not a build
    items: dict[str, tuple[str, str]] = {}
    for split in SPLITS:
        for item, content in _items(folder / f"{split}.parquet").items():
            items[item] = (split, content)
    return items


def _summary(ids: list[str]) -> dict[str, Any]:
    return {"count": len(ids), "examples": ids[:EXAMPLES]}


def diff_builds(old: str | Path, new: str | Path) -> dict[str, Any]:
    """The differences between two build folders, as a JSON-safe dict.

    Raises:
        InputError: A folder is not a build (no ``manifest.json``).
    """
    old, new = Path(old), Path(new)
    before, after = _build_items(old), _build_items(new)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    both = sorted(set(before) & set(after))
    moved = [i for i in both if before[i][0] != after[i][0]]
    changed = [i for i in both if before[i][1] != after[i][1]]
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
                            "changed": sum(1 for i in new_ids & old_ids if i in changed)}
    challenge: dict[str, Any] = {}
    names = sorted({p.stem for folder in (old, new) for p in (folder / "challenge").glob(
        "*.parquet")} - {"all"})
    for name in names:
        a = _items(old / "challenge" / f"{name}.parquet")
        b = _items(new / "challenge" / f"{name}.parquet")
        challenge[name] = {
            "old": len(a), "new": len(b),
            "added": _summary(sorted(set(b) - set(a))),
            "removed": _summary(sorted(set(a) - set(b))),
            "changed": _summary(sorted(i for i in set(a) & set(b) if a[i] != b[i])),
        }
    return {
        "old": str(old), "new": str(new),
        "items": {"added": _summary(added), "removed": _summary(removed),
                  "moved": {**_summary(moved), "by_move": dict(sorted(moves.items()))},
                  "changed": _summary(changed), "unchanged": len(both) - len(
                      set(moved) | set(changed))},
        "splits": per_split,
        "challenge": challenge,
    }
