"""``dataset_info.json`` of a build: its splits as LLaMA-Factory datasets.

Point LLaMA-Factory's ``dataset_dir`` at the build folder and train on ``<name>_train`` (evaluate
on ``<name>_val``). Each entry names one split file of this build (JSON array, JSON Lines or
Parquet: the first of ``output.formats`` in that order) with the sources' formatting, columns and
tags, in LLaMA-Factory's own terms: ``openai`` is ``sharegpt`` with role/content tags, ``text``
and TRL's ``kto`` and string ``preference`` data are ``alpaca`` columns. Written when every source
has one formatting (mixed or unformatted sources: the manifest says why not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from splitforge.load.formats import DEFAULT_TAGS, has_content_lists, resolve_spec
from splitforge.recipe import SPLITS, Recipe
from splitforge.write.files import write_json

DATASET_INFO = "dataset_info.json"
_FILE_TYPES = ("json", "jsonl", "parquet")


def trainer_entries(recipe: Recipe, schema: pa.Schema) -> tuple[dict[str, Any] | None, str]:
    """The dataset_info entries of a build's splits, or None and why they cannot be written."""
    formats = {(s.formatting, tuple(sorted(s.columns.items())), tuple(sorted(s.tags.items())),
                s.ranking) for s in recipe.sources}
    if len(formats) != 1 or recipe.sources[0].formatting is None:
        return None, ("the sources have no formatting" if any(
            s.formatting is None for s in recipe.sources) else
            "the sources have different formattings; LLaMA-Factory reads one per dataset")
    source = recipe.sources[0]
    string_types = (pa.string(), pa.large_string())
    spec = resolve_spec(source.formatting or "", source.columns, source.tags, source.ranking,
                        schema.names)
    cols = dict(spec.columns)
    entry: dict[str, Any] = {}
    if "messages" in cols and has_content_lists(schema.field(cols["messages"]).type):
        return None, ("the messages hold content lists of typed parts (LLaMA-Factory's v1 "
                      "layout), which its dataset_info formattings do not read")
    if spec.formatting in ("sharegpt", "openai"):
        entry["formatting"] = "sharegpt"
        entry["tags"] = {k: v for k, v in spec.tags.items()
                         if spec.formatting == "openai" or DEFAULT_TAGS["sharegpt"].get(k) != v}
    elif spec.formatting == "text":
        cols = {"prompt": cols["prompt"]}
    elif spec.formatting == "kto":
        cols = {"prompt": cols["prompt"], "response": cols["completion"],
                "kto_tag": cols["label"], **{r: c for r, c in cols.items()
                                             if r in ("system", "images", "videos", "audios")}}
    elif spec.formatting == "preference":
        if "prompt" not in cols or any(schema.field(cols[r]).type not in string_types
                                       for r in ("prompt", "chosen", "rejected")):
            return None, ("preference data of message lists (TRL's conversational layout) has "
                          "no LLaMA-Factory formatting; load the split files with datasets "
                          "for TRL instead")
        entry["ranking"] = True
    if spec.ranking:
        entry["ranking"] = True
    entry["columns"] = cols
    if not entry.get("tags"):
        entry.pop("tags", None)
    return entry, ""


def write_dataset_info(folder: Path, recipe: Recipe, schema: pa.Schema, rows: dict[str, int]
                       ) -> dict[str, Any]:
    """Write ``dataset_info.json`` into a build folder when the sources allow; what was done.

    An empty split gets no entry: LLaMA-Factory (``datasets``) refuses a file without rows.
    """
    entry, why = trainer_entries(recipe, schema)
    if entry is None:
        return {"written": False, "why": why}
    kind = next(t for t in _FILE_TYPES if t == "parquet" or t in recipe.output.formats)
    info = {f"{recipe.name}_{split}": {"file_name": f"{split}.{kind}", **entry}
            for split in SPLITS if rows.get(split)}
    write_json(info, folder / DATASET_INFO)
    empty = [split for split in SPLITS if not rows.get(split)]
    return {"written": True, "file": DATASET_INFO, "datasets": sorted(info),
            **({"empty_splits_left_out": empty} if empty else {})}
