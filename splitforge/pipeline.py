"""The build, top to bottom: load -> normalize -> dedup -> split -> write.

Each stage reads the table and adds columns; nothing goes back. The build id is known before any
data is read (it hashes the inputs' bytes and the resolved recipe), so an unchanged build is
skipped at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.dedup import DEDUPERS, deduplicate
from splitforge.fingerprint import sha256_path
from splitforge.load import load_sources
from splitforge.normalize import add_normalized
from splitforge.recipe import Recipe, load_recipe, resolve_path
from splitforge.split import SPLIT_NAMES, SPLITTERS, SplitFrame, make_splitter
from splitforge.write import (
    compute_build_id,
    dependency_versions,
    output_table,
    publish,
    sort_by_id,
    splitforge_version,
    staging_folder,
    write_jsonl,
    write_manifest,
    write_parquet,
    write_records_jsonl,
    write_report,
)

REMOVED = "removed"
REJECTED = "rejected.jsonl"


class Reporter(Protocol):
    """Receives stage progress; the CLI shows it with rich, the library stays silent."""

    def stage(self, name: str) -> Any:
        """A context manager around one stage."""


class SilentReporter:
    """A reporter that shows nothing."""

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Run the stage without output."""
        yield


@dataclass
class BuildResult:
    """What a build did: ``built``, ``unchanged`` (the version exists) or ``dry-run``."""

    status: Literal["built", "unchanged", "dry-run"]
    build_id: str
    path: Path
    manifest: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Timed:
    reporter: Reporter
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        with self.reporter.stage(name):
            yield
        self.timings[name] = round(time.perf_counter() - start, 3)


def stage_versions(recipe: Recipe) -> dict[str, str]:
    """Versions of the stage implementations a recipe uses; a bump changes the build id."""
    versions = {"split." + recipe.split.method: SPLITTERS.get(recipe.split.method).version}
    if recipe.dedup.exact:
        versions["dedup.exact"] = DEDUPERS.get("exact").version
    return versions


def build(
    recipe_path: str | Path,
    *,
    out: str | Path | None = None,
    force: bool = False,
    dry_run: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> BuildResult:
    """Build a recipe into ``<out>/<name>/<build_id>/``.

    Args:
        recipe_path: the recipe YAML file; its relative paths are relative to its folder.
        out: output root, instead of the recipe's ``output.dir``.
        force: rebuild and replace a build whose id already exists.
        dry_run: validate and compute the build id, but read no data and write nothing.
        overrides: dotted recipe keys to set before validation, e.g. ``{"seed": 3}``.
        reporter: receives stage progress.
    """
    timed = _Timed(reporter or SilentReporter())
    recipe = load_recipe(recipe_path, overrides)
    base = Path(recipe_path).resolve().parent
    out_root = Path(out) if out is not None else resolve_path(base, recipe.output.dir)
    resolved = recipe.model_dump(mode="json")
    with timed.stage("fingerprint"):
        input_hashes = [sha256_path(resolve_path(base, s.path)) for s in recipe.sources]
    versions = stage_versions(recipe)
    build_id = compute_build_id(resolved, input_hashes, versions)
    final = out_root / recipe.name / build_id
    if final.exists() and not force:
        return BuildResult("unchanged", build_id, final, timings=timed.timings)
    if dry_run:
        return BuildResult("dry-run", build_id, final, timings=timed.timings)

    with timed.stage("load"):
        loaded = load_sources(recipe.sources, recipe.fields, base)
    with timed.stage("normalize"):
        table = add_normalized(loaded.table)
    with timed.stage("dedup"):
        deduped = deduplicate(table, recipe.dedup)
    with timed.stage("split"):
        kept = deduped.kept
        assignment = make_splitter(recipe.split, recipe.seed).assign(split_frame(kept))
        splits, dropped = _apply_assignment(kept, assignment.split, assignment.reasons)
    removed = _concat([deduped.removed, dropped])

    with timed.stage("write"), staging_folder(out_root / recipe.name, build_id) as staging:
        rows = _write_tables(staging, splits, removed, recipe.output.formats)
        if loaded.rejected:
            write_records_jsonl(loaded.rejected, staging / REJECTED)
            rows[REJECTED] = len(loaded.rejected)
        manifest = {
            "build_id": build_id,
            "name": recipe.name,
            "seed": recipe.seed,
            "splitforge_version": splitforge_version(),
            "dependencies": dependency_versions(),
            "recipe": resolved,
            "stage_versions": versions,
            "inputs": [
                {"path": s.path, "format": s.format, "sha256": h, "rows_read": s.rows_read,
                 "rows_rejected": s.rows_rejected}
                for s, h in zip(loaded.sources, input_hashes, strict=True)
            ],
            "stages": {"dedup": deduped.stats, "split": assignment.info},
            "counts": {
                "rows_loaded": loaded.table.num_rows,
                "rows_rejected": len(loaded.rejected),
                "splits": {name: splits[name].num_rows for name in SPLIT_NAMES},
                "removed_by_reason": _removed_counts(removed),
            },
        }
        write_report(staging, manifest)
        manifest = write_manifest(staging, manifest, rows)
        publish(staging, final, force)
    return BuildResult("built", build_id, final, manifest, timed.timings)


def split_frame(table: pa.Table) -> SplitFrame:
    """The columns a splitter needs, as NumPy arrays."""

    def strings(name: str) -> np.ndarray | None:
        if name not in table.column_names:
            return None
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=object)

    times = None
    if C.TIME in table.column_names:
        times = pc.cast(table.column(C.TIME), pa.int64()).to_numpy()
    return SplitFrame(
        ids=strings(C.ID),
        clusters=strings(C.CLUSTER),
        groups=strings(C.GROUP),
        labels=strings(C.LABEL),
        times=times,
    )


def _apply_assignment(
    table: pa.Table, codes: np.ndarray, reasons: np.ndarray
) -> tuple[dict[str, pa.Table], pa.Table]:
    splits = {}
    for code, name in enumerate(SPLIT_NAMES):
        part = table.filter(pa.array(codes == code))
        splits[name] = part.append_column(C.SPLIT, pa.array([name] * part.num_rows, pa.string()))
    mask = codes < 0
    dropped = table.filter(pa.array(mask))
    dropped = dropped.append_column("sf_stage", pa.array(["split"] * dropped.num_rows, pa.string()))
    dropped = dropped.append_column("sf_reason", pa.array(reasons[mask].tolist(), pa.string()))
    dropped = dropped.append_column("sf_kept_id", pa.nulls(dropped.num_rows, pa.string()))
    return splits, dropped


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive")


def _write_tables(
    folder: Path, splits: dict[str, pa.Table], removed: pa.Table, formats: list[str]
) -> dict[str, int]:
    rows: dict[str, int] = {}
    named = {**splits, REMOVED: removed}
    for name, table in named.items():
        table = sort_by_id(output_table(table))
        write_parquet(table, folder / f"{name}.parquet")
        rows[f"{name}.parquet"] = table.num_rows
        if "jsonl" in formats:
            write_jsonl(table, folder / f"{name}.jsonl")
            rows[f"{name}.jsonl"] = table.num_rows
    return rows


def _removed_counts(removed: pa.Table) -> dict[str, int]:
    if removed.num_rows == 0:
        return {}
    keys = pc.binary_join_element_wise(removed.column("sf_stage"), removed.column("sf_reason"),
                                       ":")
    counts = pc.value_counts(keys).to_pylist()
    return {c["values"]: int(c["counts"]) for c in sorted(counts, key=lambda c: c["values"])}
