"""The runner of the ``splitforge challenge`` command: challenge sets for a stored build.

``write_challenges`` writes the sets, for this command and for the build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.challenge import ChallengeResult, challenge_pool, run_challenges
from splitforge.errors import InputError
from splitforge.load.sources import recipe_text
from splitforge.normalize import add_normalized
from splitforge.progress import Reporter, SilentReporter, Timed
from splitforge.recipe import Recipe, apply_overrides, validate_recipe
from splitforge.split import SPLIT_NAMES
from splitforge.versions import stage_versions
from splitforge.write import output_target, publish, staging_folder, write_batches, write_manifest
from splitforge.write.manifest import read_intact_manifest


@dataclass
class ChallengeRunResult:
    """What ``challenge_build`` wrote: the folder, the build it came from, and the counts."""

    path: Path
    build_id: str
    info: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def challenge_build(
    build_dir: str | Path,
    *,
    out: str | Path,
    force: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> ChallengeRunResult:
    """Challenge sets for an existing build, from its held-out split files, into ``out``.

    The recipe is the build's own (``manifest.json``), with ``challenge`` defaults when it had
    none and ``overrides`` applied (``{"challenge.size": 100}``). The build folder is never
    changed: the sets go to ``out`` (which must not exist unless ``force``), with a
    ``manifest.json`` of their own naming the build they were drawn from.
    """
    timed = Timed(reporter or SilentReporter())
    folder = Path(build_dir)
    manifest_path = folder / "manifest.json"
    manifest = read_intact_manifest(folder)
    data = manifest["recipe"]
    if data.get("challenge") is None:
        data["challenge"] = {}
    recipe = validate_recipe(apply_overrides(data, overrides or {}), manifest_path)
    assert recipe.challenge is not None
    target = output_target(out, force, [], "challenge", reads=folder)
    with timed.stage("load"):
        parts = []
        for code, name in enumerate(SPLIT_NAMES):
            path = folder / f"{name}.parquet"
            if not path.is_file():
                raise InputError(f"the build has no {name}.parquet", path=folder)
            part = pq.read_table(path)
            parts.append(part.append_column("_code", pa.array(np.full(part.num_rows, code,
                                                                      np.int8))))
        table = pa.concat_tables(parts, promote_options="permissive")
        codes = table.column("_code").to_numpy()
        table = table.drop_columns(["_code", C.SPLIT])
        table = table.append_column(C.TEXT, recipe_text(table, recipe))
    with timed.stage("normalize") as progress:
        table = add_normalized(table, progress=progress)
    with timed.stage("challenge") as progress:
        pool = challenge_pool(table, np.arange(table.num_rows), codes, recipe.challenge.from_,
                              recipe.seed)
        kept, kept_info = (carry_over(Path(recipe.challenge.keep_from), pool, recipe)
                           if recipe.challenge.keep_from else ({}, None))
        result = run_challenges(pool, recipe.challenge, input_template(recipe), progress,
                                kept=kept)
        if kept_info is not None:
            result.info["kept_from"] = kept_info
    with timed.stage("write"), staging_folder(target.parent, target.name, "challenge") as staging:
        rows = write_challenges(staging, result, recipe.output.formats)
        write_manifest(staging, {"build_id": manifest.get("build_id"),
                                 "build_folder": str(folder), "seed": recipe.seed,
                                 "challenge_recipe": recipe.challenge.model_dump(
                                     mode="json", by_alias=True),
                                 "stage_versions": stage_versions(recipe),
                                 "challenge": result.info}, rows)
        publish(staging, target, force, latest=False)
    return ChallengeRunResult(target, str(manifest.get("build_id")), result.info, timed.timings)


def carry_over(folder: Path, pool: Any, recipe: Recipe) -> tuple[dict[str, pa.Table],
                                                                   dict[str, Any]]:
    """The challenge items of an earlier build (``challenge.keep_from``) that stay in this one.

    An item stays when its source row is a candidate here (held out, in ``challenge.from``)
    with the same text; it is kept as it was written (its id, perturbation and seed). At most a
    kind's target of items stay (the first by id). Returns the items per kind and what happened.
    """
    from splitforge.challenge.stage import KINDS, targets

    assert recipe.challenge is not None
    manifest = read_intact_manifest(folder)
    current = dict(zip(pool.candidates.column(C.ID).to_pylist(),
                       pool.candidates.column(C.TEXT).to_pylist(), strict=True))
    wanted = targets(recipe.challenge.size, {k: getattr(recipe.challenge.mix, k) for k in KINDS})
    kept: dict[str, pa.Table] = {}
    info: dict[str, Any] = {"build": manifest.get("build_id"), "kept": {},
                            "dropped": {"not_held_out": 0, "text_changed": 0, "over_size": 0}}
    for kind in KINDS:
        path = folder / "challenge" / f"{kind}.parquet"
        if not path.is_file():
            continue
        items = pq.read_table(path).sort_by([(C.ID, "ascending")])
        if C.ORIGINAL_TEXT in items.column_names and kind == "adversarial":
            texts = items.column(C.ORIGINAL_TEXT).to_pylist()
        else:
            texts = recipe_text(items, recipe).to_pylist()
        keep = []
        for source, text in zip(items.column(C.SOURCE_ID).to_pylist(), texts, strict=True):
            if source not in current:
                info["dropped"]["not_held_out"] += 1
                keep.append(False)
            elif current[source] != text:
                info["dropped"]["text_changed"] += 1
                keep.append(False)
            else:
                keep.append(True)
        chosen = items.filter(pa.array(keep))
        if chosen.num_rows > wanted[kind]:
            info["dropped"]["over_size"] += chosen.num_rows - wanted[kind]
            chosen = chosen.slice(0, wanted[kind])
        kept[kind] = chosen
        info["kept"][kind] = chosen.num_rows
    return kept, info


def input_template(recipe: Recipe) -> str | None:
    """What the adversarial kind perturbs by default, as a template: its first field.

    ``fields.text``; else the chat field (``fields.messages``, a formatting's messages), whose
    user turns are perturbed; else a formatting's prompt column.
    """
    if recipe.fields.text:
        return recipe.fields.text
    if recipe.fields.messages:
        return recipe.fields.messages
    source = recipe.sources[0]
    if source.formatting is None:
        return None
    from splitforge.load.formats import DEFAULT_COLUMNS

    columns = {**DEFAULT_COLUMNS[source.formatting], **source.columns}
    return columns.get("messages") or columns.get("prompt")


def write_challenges(folder: Path, result: ChallengeResult, formats: list[str]) -> dict[str, int]:
    """``<kind>.parquet`` for every kind and ``all.parquet`` in ``folder``; rows per file."""
    folder.mkdir(exist_ok=True)
    rows: dict[str, int] = {}
    for name, table in result.tables.items():
        n = write_batches([table], table.schema, folder, name, formats)
        rows.update({f"{name}.{fmt}": n for fmt in formats})
    return rows
