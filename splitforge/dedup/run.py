"""The runner of the ``splitforge dedup`` command: the dedup stage alone, on one file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from splitforge.dedup import deduplicate
from splitforge.errors import RecipeError
from splitforge.load import load_sources
from splitforge.normalize import add_normalized
from splitforge.progress import Reporter, SilentReporter, Timed
from splitforge.recipe import DedupConfig, SourceConfig, validate_fields
from splitforge.write import (
    output_table,
    output_target,
    publish,
    sort_by_id,
    staging_folder,
    write_batches,
    write_records_jsonl,
)
from splitforge.write.build_folder import CLUSTERS, REJECTED, REMOVED


@dataclass
class DedupRunResult:
    """What ``dedup_file`` wrote and its counts."""

    path: Path
    stats: dict[str, Any]


DEDUP_METHODS = ("exact", "minhash", "semantic")


def dedup_file(
    source: str | Path,
    *,
    text: str,
    out: str | Path,
    id_field: str | None = None,
    methods: tuple[str, ...] = DEDUP_METHODS,
    minhash: dict[str, Any] | None = None,
    semantic: dict[str, Any] | None = None,
    keep: str = "earliest",
    force: bool = False,
    reporter: Reporter | None = None,
) -> DedupRunResult:
    """Run the dedup stage alone on one file and write the kept rows, removed rows and clusters.

    Writes ``deduplicated.parquet``, ``removed.parquet`` and ``dedup_clusters.parquet`` into
    ``out`` (which must not exist unless ``force``), through a temporary folder.
    """
    unknown = [m for m in methods if m not in DEDUP_METHODS]
    if unknown:
        raise RecipeError([f"--method: unknown {', '.join(unknown)}; available: "
                           f"{', '.join(DEDUP_METHODS)}"])
    fields = validate_fields({"text": text, "id": id_field})
    config = DedupConfig.model_validate({
        "exact": "exact" in methods, "keep": keep,
        "minhash": (minhash or {}) if "minhash" in methods else None,
        "semantic": (semantic or {}) if "semantic" in methods else None,
    })
    timed = Timed(reporter or SilentReporter())
    target = output_target(out, force, [Path(source)], "dedup")
    with timed.stage("load"):
        loaded = load_sources([SourceConfig(path=str(source))], fields, Path.cwd())
    with timed.stage("normalize") as progress:
        table = add_normalized(loaded.table, progress=progress)
    with timed.stage("dedup") as progress:
        deduped = deduplicate(table, config, progress)
    with timed.stage("write"), staging_folder(target.parent, target.name, "dedup") as staging:
        out_table = output_table(deduped.table)
        kept = sort_by_id(out_table.filter(pa.array(deduped.keep)))
        write_batches([kept], kept.schema, staging, "deduplicated", ["parquet"])
        removed = sort_by_id(output_table(deduped.removed))
        write_batches([removed], removed.schema, staging, REMOVED, ["parquet"])
        write_batches([deduped.clusters], deduped.clusters.schema, staging, CLUSTERS,
                      ["parquet"])
        if loaded.rejected:
            write_records_jsonl(loaded.rejected, staging / REJECTED)
        publish(staging, target, force, latest=False)
    return DedupRunResult(target, deduped.stats)
