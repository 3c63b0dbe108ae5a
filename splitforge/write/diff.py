"""``splitforge diff OLD NEW``: what changed between two builds, item by item.

Items are matched by ``sf_id``. Per build, every row of train/val/test gets its split and a
content hash of its original fields (``content_ids``: nulls left out, so a field that a new row
brings does not change every other row; a changed answer or label counts, splitforge's own
columns do not). An id only in NEW is ``added``, only in OLD
``removed``; one in both is ``moved`` when its split differs and ``changed`` when its content
differs (an item can be both). Each challenge set is compared the same way, by its items' ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.load.fields import content_ids
from splitforge.recipe import SPLITS
from splitforge.write.manifest import output_file, read_intact_manifest

EXAMPLES = 5


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


def _summary(ids: list[str]) -> dict[str, Any]:
    return {"count": len(ids), "examples": ids[:EXAMPLES]}


def diff_builds(old: str | Path, new: str | Path) -> dict[str, Any]:
    """The differences between two build folders, as a JSON-safe dict.

    Raises:
        InputError: A folder is not a build (no ``manifest.json``), or a file it lists is gone.
    """
    old, new = Path(old), Path(new)
    (before, old_manifest), (after, new_manifest) = _build_items(old), _build_items(new)
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
        "items": {"added": _summary(added), "removed": _summary(removed),
                  "moved": {**_summary(moved), "by_move": dict(sorted(moves.items()))},
                  "changed": _summary(changed), "unchanged": len(both) - len(
                      set(moved) | set(changed))},
        "splits": per_split,
        "challenge": challenge,
    }
