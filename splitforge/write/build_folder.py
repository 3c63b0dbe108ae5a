"""A build folder's files: their names, the Hugging Face copy, and reading a stored build back.

The build writes these files; the ``dedup`` command writes some of the same names, and the
``audit --build`` and ``report`` commands read a stored build (``stored_build``,
``rebuild_reports``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import sha256_path
from splitforge.load.sources import concat_sources, recipe_text
from splitforge.recipe import validate_recipe
from splitforge.write.card import HF_SPLITS
from splitforge.write.files import write_text_atomic
from splitforge.write.html_report import HTML, render_html
from splitforge.write.manifest import output_file, read_intact_manifest
from splitforge.write.report import write_report

REMOVED = "removed"
CLUSTERS = "dedup_clusters"
REJECTED = "rejected.jsonl"
CHALLENGE_DIR = "challenge"
AUDIT_DIR = "audit"
HF_DIR = "hf"
CONTROL = "control"


def save_hf_copy(folder: Path, target: Path) -> None:
    """``DatasetDict.save_to_disk`` of the split files, with content fingerprints.

    ``datasets`` gives an in-memory dataset a random fingerprint, which ``save_to_disk`` writes
    into ``state.json``; each split's fingerprint is the sha256 of its Parquet file instead, so
    the copy is byte-identical across identical builds.
    """
    from datasets import Dataset, DatasetDict

    splits = {}
    for split, name in HF_SPLITS:
        path = folder / f"{name}.parquet"
        splits[split] = Dataset(pq.read_table(path), fingerprint=sha256_path(path)[:16])
    DatasetDict(splits).save_to_disk(str(target))


def stored_build(folder: Path) -> dict[str, Any]:
    """A stored build's recipe, id and eval rows (val, test, control) with ``sf_text``."""
    manifest = read_intact_manifest(folder)
    recipe = validate_recipe(manifest["recipe"], folder / "manifest.json")
    parts = []
    for name in ("val", "test", CONTROL):
        path = folder / f"{name}.parquet"
        if path.is_file():
            part = pq.read_table(path)
            labels = pa.array([f"{name}:{i}" for i in part.column(C.ID).to_pylist()], pa.string())
            part = part.set_column(part.schema.get_field_index(C.ID), C.ID, labels)
            parts.append(part.drop_columns([c for c in (C.SPLIT,) if c in part.column_names]))
    if not parts:
        raise InputError("the build has no val, test or control rows to audit", path=folder)
    table = concat_sources(parts, ["val", "test", CONTROL][:len(parts)])
    table = table.append_column(C.TEXT, recipe_text(table, recipe))
    return {"recipe": recipe, "build_id": str(manifest.get("build_id")), "table": table}


def rebuild_reports(folder: str | Path) -> Path:
    """Write ``report.md`` and ``report.html`` of a build folder again, from its files.

    The same build gives the same bytes, so ``splitforge verify`` still passes afterwards;
    a report written by an older splitforge is brought up to date (and verify says so).
    """
    folder = Path(folder)
    manifest = read_intact_manifest(folder)  # a damaged build is bad input, before any write
    page = render_html(folder, manifest)
    clusters_path = output_file(folder, manifest, f"{CLUSTERS}.parquet")
    write_report(folder, manifest, pq.read_table(clusters_path) if clusters_path else None)
    write_text_atomic(folder / HTML, page)
    return folder / HTML
